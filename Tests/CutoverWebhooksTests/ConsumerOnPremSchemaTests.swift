import CutoverTestSupport
import Foundation
import Testing
@testable import CutoverWebhooks

/// docs/schema/onprem-webhook.schema.json, the On-Prem webhook body as Meta's On-Prem reference
/// describes it, checked with the pinned jsonschema (Draft 2020-12) of the consumers venv: it
/// takes Meta's On-Prem shapes, and every On-Prem body Cutover renders from a Cloud fixture.
@Suite struct ConsumerOnPremSchemaTests {
    static let schema = Repo.path("docs/schema/onprem-webhook.schema.json")

    static func validate(_ lines: [JSONValue]) throws -> String {
        try External.consumer("validate_canonical.py", lines: lines, arguments: [schema], python: Repo.consumersPython.get())
    }

    static func line(_ name: String, _ body: JSONValue) -> JSONValue {
        ["name": .string(name), "event": body]
    }

    /// Cutover's own robustness fixtures that are deliberately off Meta's reference (they test
    /// that decoding tolerates senders that break it), and where the schema must refuse them.
    static let offReference: [String: [String]] = [
        "cutover-missing-optionals.json": ["/messages/0", "/statuses/0"],  // no timestamp, no recipient
        "cutover-numbers-and-strings-swapped.json": ["/contacts/0/wa_id", "/messages/0/from", "/messages/0/timestamp",
                                                     "/messages/0/location/latitude"],
        "cutover-unknown-type-unknown-fields.json": ["/messages/0/type"],  // "hologram": not an On-Prem type
    ]

    /// Every On-Prem fixture of Meta's shapes validates (which checks the schema is not stricter
    /// than the reference), and so does the On-Prem body fixtures/cloud-2026 expects for p02.
    @Test func schemaTakesEveryOnPremFixture() throws {
        var lines: [JSONValue] = []
        for name in Fixtures.names(.onprem) where Self.offReference[name] == nil {
            lines.append(Self.line("onprem/\(name)", try Fixtures.json(.onprem, name)))
        }
        for name in Cloud2026Fixtures.names(prefix: "onprem_expected_") {
            lines.append(Self.line("cloud-2026/\(name)", try JSONValue.parse(Cloud2026Fixtures.bytes(name))))
        }
        #expect(lines.count >= 60)
        let out = try Self.validate(lines)
        #expect(out.contains("ok \(lines.count)"), "\(out)")
    }

    /// The schema is not vacuous: each off-reference fixture is refused where it breaks Meta's
    /// reference, and so are bodies broken the ways a wrong rendering would break them.
    @Test func schemaRefusesWhatTheReferenceRules() throws {
        for (name, paths) in Self.offReference {
            let failure = #expect(throws: ConsumerFailure.self) { try Self.validate([Self.line(name, try Fixtures.json(.onprem, name))]) }
            for path in paths {
                #expect(failure?.description.contains("at \(path):") == true, "\(name): nothing refused at \(path)\n\(failure?.description ?? "")")
            }
        }
        let text = try Fixtures.json(.onprem, "meta-doc-inbound-text.json")
        let status = try Fixtures.json(.onprem, "meta-doc-status-read.json")
        let broken: [(String, JSONValue)] = [
            ("no from", try Self.removing("from", fromFirst: "messages", of: text)),
            ("text without its object", try Self.removing("text", fromFirst: "messages", of: text)),
            ("Cloud type", .object(text.objectValue!.setting("messages", .array([.object(text.at("messages", 0)!.objectValue!.setting("type", "reaction"))])))),
            ("status without recipient", try Self.removing("recipient_id", fromFirst: "statuses", of: status)),
            ("Cloud envelope", try Fixtures.json(.cloud, "msg_audio_voice.json")),
            ("contacts only", ["contacts": [["wa_id": "16315551234"]]]),
        ]
        for (name, body) in broken {
            #expect(throws: ConsumerFailure.self, "schema took \(name)") { try Self.validate([Self.line(name, body)]) }
        }
    }

    static func removing(_ key: String, fromFirst array: String, of body: JSONValue) throws -> JSONValue {
        var root = try #require(body.objectValue)
        var items = try #require(root[array]?.arrayValue)
        items[0] = .object(try #require(items[0].objectValue).removing(key))
        root[array] = .array(items)
        return .object(root)
    }

    /// Cloud fixtures whose own values break the On-Prem reference; Cutover carries values as
    /// they are, so their On-Prem bodies are refused, and only at these paths.
    static let cloudInputOffReference: [String: (paths: [String], why: String)] = [
        "cloud/cutover_numbers_and_strings_swapped.json": (
            ["/contacts/0/wa_id", "/messages/0/from", "/messages/0/timestamp", "/messages/0/location/latitude",
             "/messages/0/location/longitude", "/messages/0/order/catalog_id", "/statuses/0/recipient_id", "/statuses/0/timestamp"],
            "Cutover's robustness fixture: numbers and strings swapped"
        ),
        "cloud/cutover_missing_optionals.json": (["/messages/0"], "Cutover's robustness fixture: a message without timestamp"),
        "cloud/legacy_msg_deleted_as_unsupported.json": (["/messages/0/timestamp"], "Meta's doc placeholder timestamp 'TIMESTAMP'"),
        "cloud/legacy_status_sent_cbp_user_initiated.json": (["/statuses/0/timestamp"], "Meta's doc placeholder timestamp 'TIMESTAMP'"),
    ]

    /// Cloud fixtures whose On-Prem rendering is wrong today only because the "identity" work is
    /// not merged yet, per phoneless policy. Each must still be wrong (the test says when one is
    /// not, so the list cannot go stale); the lead removes the list after merging.
    /// The business-scoped user id an event's item (or its contact) carries.
    static func userID(of event: CanonicalEvent) -> JSONValue? {
        event.message?["from_user_id"] ?? event.status?["recipient_user_id"] ?? event.contact?["user_id"]
    }

    /// The paths of the INVALID lines validate_canonical.py printed for `name`.
    static func refusedPaths(_ output: String, name: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("INVALID \(name) at ") else { return nil }
            let rest = line.dropFirst("INVALID \(name) at ".count)
            return rest.firstIndex(of: ":").map { String(rest[..<$0]) }
        }
    }

    /// What an On-Prem endpoint is sent for every event of every Cloud fixture (fixtures/cloud and
    /// fixtures/cloud-2026), one request per event as delivery sends it, with `phoneless:
    /// dead_letter` (the default) and `user_id`: every body validates; dead letters, management
    /// fields and filtered events are counted (they are not bodies). Under `user_id` no event
    /// with a business-scoped user id is left out for lacking a phone: the user id stands in.
    @Test func everyOnPremBodyRenderedFromACloudFixtureValidates() throws {
        let sets: [(set: String, names: [String], bytes: (String) throws -> [UInt8])] = [
            ("cloud", Fixtures.names(.cloud), { Fixtures.bytes(.cloud, $0) }),
            ("cloud-2026", Cloud2026Fixtures.cloudNames, Cloud2026Fixtures.bytes),
        ]
        var lines: [JSONValue] = [], offReference: [JSONValue] = []
        var report: [String] = []
        for (set, names, bytes) in sets {
            for phoneless in PhonelessPolicy.allCases {
                var bodies = 0, deadLetters = 0, management = 0, filtered = 0, refused = 0
                for name in names {
                    let key = "\(set)/\(name)"
                    let events = try WebhookDecoder().decode(try bytes(name), api: .cloud, business: nil, route: "default")
                    for event in events {
                        let label = "\(key) \(event.id) (phoneless \(phoneless.rawValue))"
                        let delivered = try DeliveredBody.of(event, as: .onprem, phoneless: phoneless)
                        switch delivered {
                        case .body(let body):
                            if Self.cloudInputOffReference[key] != nil {
                                refused += 1
                                offReference.append(Self.line(label, body))
                            } else {
                                bodies += 1
                                lines.append(Self.line(label, body))
                            }
                        case .deadLetter:
                            deadLetters += 1
                        case .managementField:
                            management += 1
                        case .filtered(let reason):
                            filtered += 1
                            let leftOutForPhone = phoneless == .userID && Self.userID(of: event) != nil && reason.contains("phone number")
                            #expect(!leftOutForPhone, "\(label): left out: \(reason)")
                        }
                    }
                }
                report.append("\(set) phoneless \(phoneless.rawValue): \(bodies) bodies valid, \(refused) refused (input off reference), "
                              + "\(deadLetters) dead letters, \(management) management fields, \(filtered) filtered")
            }
        }
        #expect(lines.count > 100)
        let out = try Self.validate(lines)
        #expect(out.contains("ok \(lines.count)"), "\(out)")

        // Off-reference input: refused, and only where the input breaks the reference.
        let refusal = #expect(throws: ConsumerFailure.self) { try Self.validate(offReference) }
        for record in offReference {
            let name = record["name"]?.stringValue ?? ""
            let key = String(name.prefix { $0 != " " })
            let paths = Self.refusedPaths(refusal?.description ?? "", name: name)
            #expect(!paths.isEmpty, "\(name): accepted; remove it from cloudInputOffReference")
            for path in paths {
                #expect(Self.cloudInputOffReference[key]?.paths.contains(path) == true, "\(name): refused at \(path)")
            }
        }

        print("On-Prem bodies rendered from Cloud fixtures:\n" + report.joined(separator: "\n"))
    }
}
