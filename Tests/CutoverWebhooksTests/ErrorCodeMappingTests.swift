import CutoverTestSupport
import Foundation
import Testing
@testable import CutoverWebhooks

/// Error codes across the two APIs (docs/mapping.md, "Error codes"), through the real decoder and
/// renderer: each mapped pair both ways in statuses, messages and value-level errors, the carried
/// original, the round trip back to it, unmapped codes, same-API rendering, and the doc's table.
private func describe(_ value: JSONValue?) -> String {
    value.map { String(decoding: $0.serialized(), as: UTF8.self) } ?? "nil"
}

@Suite struct ErrorCodeMappingTests {
    static let rows = ErrorCodeMapping.pairs

    /// One Cloud body with the code in a failed status, in a text message and at value level.
    static func cloudBody(code: JSONValue) -> [UInt8] {
        let error: JSONValue = [
            "code": code, "title": "Condition title", "message": "Condition title",
            "error_data": ["details": "Condition details."], "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        ]
        let body: JSONValue = [
            "object": "whatsapp_business_account",
            "entry": [[
                "id": "102290129340398",
                "changes": [
                    ["field": "messages", "value": [
                        "messaging_product": "whatsapp",
                        "metadata": ["display_phone_number": "15550783881", "phone_number_id": "106540352242922"],
                        "statuses": [["id": "wamid.S1", "status": "failed", "timestamp": "1750090702", "recipient_id": "16505551234", "errors": [error]]],
                    ]],
                    ["field": "messages", "value": [
                        "messaging_product": "whatsapp",
                        "metadata": ["display_phone_number": "15550783881", "phone_number_id": "106540352242922"],
                        "contacts": [["profile": ["name": "Sheena Nelson"], "wa_id": "16505551234"]],
                        "messages": [["from": "16505551234", "id": "wamid.M1", "timestamp": "1750090703", "type": "text",
                                      "text": ["body": "hi"], "errors": [error]]],
                    ]],
                    ["field": "messages", "value": [
                        "messaging_product": "whatsapp",
                        "metadata": ["display_phone_number": "15550783881", "phone_number_id": "106540352242922"],
                        "errors": [error],
                    ]],
                ],
            ]],
        ]
        return body.serialized()
    }

    /// The same three places in one On-Prem body.
    static func onPremBody(code: JSONValue) -> [UInt8] {
        let error: JSONValue = ["code": code, "title": "Condition title", "details": "Condition details.", "href": "/docs/whatsapp/api/errors"]
        let body: JSONValue = [
            "contacts": [["profile": ["name": "Sheena Nelson"], "wa_id": "16505551234"]],
            "messages": [["from": "16505551234", "id": "ABGGFlA5FpafAgo6EhnmGKMN3RDJ", "timestamp": "1750090703", "type": "text",
                          "text": ["body": "hi"], "errors": [error]]],
            "statuses": [["id": "gBGGFlA5FpafAgkOuJbRq54qwbM", "status": "failed", "timestamp": "1750090702", "recipient_id": "16505551234",
                          "type": "message", "message": ["recipient_id": "16505551234"], "errors": [error]]],
            "errors": [error],
        ]
        return body.serialized()
    }

    /// The error objects of a rendered body: status, message and value level, in that order.
    static func errors(_ body: JSONValue?, _ api: WebhookAPI) -> [JSONValue?] {
        switch api {
        case .onprem:
            return [body?.at("statuses", 0, "errors", 0), body?.at("messages", 0, "errors", 0), body?.at("errors", 0)]
        case .cloud:
            var statusError: JSONValue?, messageError: JSONValue?, valueError: JSONValue?
            for change in body?.at("entry", 0, "changes")?.arrayValue ?? [] {
                statusError = statusError ?? change.at("value", "statuses", 0, "errors", 0)
                messageError = messageError ?? change.at("value", "messages", 0, "errors", 0)
                valueError = valueError ?? change.at("value", "errors", 0)
            }
            return [statusError, messageError, valueError]
        }
    }

    static func renderBody(_ bytes: [UInt8], from api: WebhookAPI, to format: WebhookOutputFormat) throws -> JSONValue? {
        let events = try WebhookDecoder().decode(bytes, api: api == .cloud ? .cloud : .onprem, business: routeBusiness, route: "main")
        let out = WebhookRenderer.render(events: events, as: format)
        #expect(out.dropped.isEmpty, "\(out.dropped)")
        return try out.body.map { try JSONValue.parse($0) }
    }

    @Test(arguments: rows)
    func cloudCodeReachesOnPremAndComesBack(_ row: ErrorCodeMapping.Pair) throws {
        let original = Self.cloudBody(code: .int(row.cloud))
        let onprem = try Self.renderBody(original, from: .cloud, to: .onprem)
        let crossed = Self.errors(onprem, .onprem)
        #expect(crossed.count == 3)
        for e in crossed {
            #expect(e?["code"] == JSONValue.int(row.onPrem), "\(describe(e))")
            #expect(e?[ErrorCodeMapping.carriedCloudCodeKey] == JSONValue.int(row.cloud))
            #expect(e?["details"] == "Condition details.")
        }
        // The On-Prem body, decoded as On-Prem and rendered to Cloud, gives the original errors back.
        let back = try Self.renderBody(try #require(onprem).serialized(), from: .onprem, to: .cloud)
        let expected = Self.errors(try JSONValue.parse(original), .cloud)
        for (got, want) in zip(Self.errors(back, .cloud), expected) {
            #expect(got?.semanticallyEquals(try #require(want)) == true, "\(describe(got))")
        }
    }

    @Test(arguments: rows)
    func onPremCodeReachesCloudAndComesBack(_ row: ErrorCodeMapping.Pair) throws {
        let original = Self.onPremBody(code: .int(row.onPrem))
        let cloud = try Self.renderBody(original, from: .onprem, to: .cloud)
        let crossed = Self.errors(cloud, .cloud)
        #expect(crossed.count == 3)
        for e in crossed {
            #expect(e?["code"] == JSONValue.int(row.cloud), "\(describe(e))")
            #expect(e?[ErrorCodeMapping.carriedOnPremCodeKey] == JSONValue.int(row.onPrem))
            #expect(e?.at("error_data", "details") == "Condition details.")
        }
        let back = try Self.renderBody(try #require(cloud).serialized(), from: .cloud, to: .onprem)
        let expected = Self.errors(try JSONValue.parse(original), .onprem)
        for (got, want) in zip(Self.errors(back, .onprem), expected) {
            #expect(got?.semanticallyEquals(try #require(want)) == true, "\(describe(got))")
        }
    }

    /// Codes with no equivalent cross as sent, without a carried key.
    @Test(arguments: [(WebhookAPI.cloud, 131049), (.cloud, 131000), (.cloud, 137000), (.onprem, 480), (.onprem, 500), (.onprem, 1013)])
    func unmappedCodesCrossUnchanged(_ api: WebhookAPI, _ code: Int) throws {
        let body = api == .cloud ? Self.cloudBody(code: .int(code)) : Self.onPremBody(code: .int(code))
        let target: WebhookAPI = api == .cloud ? .onprem : .cloud
        let rendered = try Self.renderBody(body, from: api, to: target == .cloud ? .cloud : .onprem)
        for e in Self.errors(rendered, target) {
            #expect(e?["code"] == JSONValue.int(code))
            #expect(e?[ErrorCodeMapping.carriedCloudCodeKey] == nil && e?[ErrorCodeMapping.carriedOnPremCodeKey] == nil)
        }
    }

    /// Rendering to the API a body came from never changes a code, mapped or not.
    @Test(arguments: rows)
    func sameAPIRenderingKeepsEveryCode(_ row: ErrorCodeMapping.Pair) throws {
        for (api, code) in [(WebhookAPI.cloud, row.cloud), (.onprem, row.onPrem), (.cloud, row.onPrem), (.onprem, row.cloud)] {
            let body = api == .cloud ? Self.cloudBody(code: .int(code)) : Self.onPremBody(code: .int(code))
            let rendered = try Self.renderBody(body, from: api, to: api == .cloud ? .cloud : .onprem)
            #expect(rendered?.semanticallyEquals(try JSONValue.parse(body)) == true, "\(api) \(code)")
        }
    }

    @Test func digitStringCodesKeepTheirType() {
        let onprem = ErrorCodeMapping.codeToOnPrem(["code": "131047", "title": "Re-engagement message"])
        #expect(onprem["code"] == "470")
        #expect(onprem[ErrorCodeMapping.carriedCloudCodeKey] == "131047")
        #expect(ErrorCodeMapping.codeToCloud(onprem) == ["code": "131047", "title": "Re-engagement message"])
    }

    /// A carried key that does not agree with `code`, or one the sender put there, is left alone.
    @Test func foreignCarriedKeysAreNotTrusted() {
        let disagreeing: JSONObject = ["code": 999, "cloud_code": 131047]
        #expect(ErrorCodeMapping.codeToCloud(disagreeing) == disagreeing)
        let taken: JSONObject = ["code": 131047, "cloud_code": "sender's own"]
        #expect(ErrorCodeMapping.codeToOnPrem(taken) == taken)
    }

    /// The table is its own inverse: no code appears twice on either side.
    @Test func everyCodeHasOneCounterpart() {
        #expect(Set(Self.rows.map(\.onPrem)).count == Self.rows.count)
        #expect(Set(Self.rows.map(\.cloud)).count == Self.rows.count)
        for row in Self.rows {
            #expect(ErrorCodeMapping.onPremCode(forCloud: row.cloud) == row.onPrem)
            #expect(ErrorCodeMapping.cloudCode(forOnPrem: row.onPrem) == row.cloud)
        }
    }

    /// docs/mapping.md's error-code table and `ErrorCodeMapping.pairs` name the same pairs, each
    /// row with a source on both sides, and the doc names the carried keys the code uses.
    @Test func docTableMatchesTheSwiftTable() throws {
        let doc = try String(contentsOfFile: Repo.path("docs/mapping.md"), encoding: .utf8)
        let start = try #require(doc.range(of: "\n## Error codes\n"))
        let rest = doc[start.upperBound...]
        let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
        var documented: [ErrorCodeMapping.Pair] = []
        for line in section.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            // "", on-prem, cloud, condition, on-prem source, cloud source, ""
            #expect(cells.count == 7, "\(line)")
            guard cells.count == 7, let onPrem = Int(cells[1].trimmingCharacters(in: ["`"])),
                  let cloud = Int(cells[2].trimmingCharacters(in: ["`"])) else {
                Issue.record("unreadable row: \(line)")
                continue
            }
            #expect(!cells[3].isEmpty, "\(line)")
            #expect(cells[4].contains("https://") && cells[5].contains("https://"), "row without a source: \(line)")
            documented.append(ErrorCodeMapping.Pair(onPrem: onPrem, cloud: cloud))
        }
        #expect(documented.count == Self.rows.count)
        #expect(documented == Self.rows, "doc: \(documented.map { "\($0.onPrem)/\($0.cloud)" }) swift: \(Self.rows.map { "\($0.onPrem)/\($0.cloud)" })")
        #expect(section.contains("`\(ErrorCodeMapping.carriedCloudCodeKey)`"))
        #expect(section.contains("`\(ErrorCodeMapping.carriedOnPremCodeKey)`"))
    }
}
