import CutoverTestSupport
import Foundation
import Testing

/// Meta resends a webhook it is not sure arrived: the real binary answers a body whose every event
/// is already stored with 200 and writes nothing (no raw row, no event, no delivery), and stores a
/// body that mixes a stored id with a new one as usual.
@Suite(.serialized)
struct RetryShortcutTests {
    static let secret = "retry-shortcut-secret"

    /// A signed Cloud body with one message per id (one contact each).
    static func body(messageIDs: [String]) -> Data {
        let messages = messageIDs.map { id in
            #"{"from":"16505551234","id":"\#(id)","timestamp":"1700000000","type":"text","text":{"body":"hi \#(id)"}}"#
        }
        return Data(
            """
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":\
            {"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},\
            "contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],"messages":[\(messages.joined(separator: ","))]}}]}]}
            """.utf8)
    }

    private func post(_ body: Data, to cutover: CutoverServer, in directory: TemporaryDirectory) throws -> Int {
        let file = directory.path("body-\(UUID().uuidString).json")
        try body.write(to: URL(fileURLWithPath: file))
        return try curl([
            "-X", "POST", "-H", "Content-Type: application/json",
            "-H", "X-Hub-Signature-256: \(try pythonSignature(body: body, secret: Self.secret))",
            "--data-binary", "@\(file)", "\(cutover.base)/cloud",
        ]).status
    }

    /// `cutover spool stats --json` on the running server's spool (the read-only view).
    private func stats(_ spool: String) throws -> [String: Any] {
        let result = try runCommand(cutoverBinary, ["spool", "stats", "--spool", spool, "--json"])
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        else { throw TestFailure("cutover spool stats exited \(result.status): \(result.error)") }
        return object
    }

    private func deliveries(_ stats: [String: Any]) -> Int {
        let destinations = stats["destinations"] as? [String: [String: Any]] ?? [:]
        return destinations.values.reduce(0) { total, counts in
            total + counts.values.reduce(0) { $0 + ($1 as? Int ?? 0) }
        }
    }

    /// The exposition line of the series `series` (a name, with its labels if it has any).
    private func metric(_ series: String, in cutover: CutoverServer) throws -> String? {
        let exposition = try curl(["\(cutover.base)/metrics"]).body
        return exposition.split(separator: "\n").first { $0.hasPrefix(series + " ") || $0.hasPrefix(series + "{") }.map(String.init)
    }

    @Test func aRetryOfStoredIdsIsAnsweredWithoutAnyNewRow() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(
            spool: spool.path, arguments: ["--forward", downstream.url, "--format", "canonical", "--app-secret", Self.secret])
        defer { cutover.kill() }

        let body = Self.body(messageIDs: ["wamid.RETRY1"])
        #expect(try post(body, to: cutover, in: spool) == 200)
        let delivered = try #require(downstream.waitForRequests(1))
        #expect(delivered.first?.eventID == "msg:wamid.RETRY1")
        let before = try stats(spool.path)
        #expect(before["requests"] as? Int == 1)
        #expect(before["events"] as? Int == 1)

        #expect(try post(body, to: cutover, in: spool) == 200, "Meta's retry is acknowledged")
        #expect(try post(body, to: cutover, in: spool) == 200)
        let after = try stats(spool.path)
        #expect(after["requests"] as? Int == 1, "the retries' raw requests are not stored")
        #expect(after["events"] as? Int == 1)
        #expect(deliveries(after) == 1, "one delivery, made for the first request only")
        #expect(try metric(#"cutover_duplicate_requests_total{route="/cloud"}"#, in: cutover) == #"cutover_duplicate_requests_total{route="/cloud"} 2"#)
        #expect(try metric("cutover_dedup_hits_total", in: cutover) == "cutover_dedup_hits_total 2")
        #expect(
            try metric(#"cutover_requests_total{route="/cloud",status="200"}"#, in: cutover)
                == #"cutover_requests_total{route="/cloud",status="200"} 3"#)
    }

    @Test func aBodyMixingAStoredAndANewIdIsStoredWithOnlyTheNewEvent() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(
            spool: spool.path, arguments: ["--forward", downstream.url, "--format", "canonical", "--app-secret", Self.secret])
        defer { cutover.kill() }

        #expect(try post(Self.body(messageIDs: ["wamid.OLD"]), to: cutover, in: spool) == 200)
        #expect(downstream.waitForRequests(1) != nil)
        #expect(try post(Self.body(messageIDs: ["wamid.OLD", "wamid.NEW"]), to: cutover, in: spool) == 200)
        let received = try #require(downstream.waitForRequests(2))
        #expect(received.compactMap(\.eventID) == ["msg:wamid.OLD", "msg:wamid.NEW"])

        let after = try stats(spool.path)
        #expect(after["requests"] as? Int == 2, "the mixed body is stored, raw, as usual")
        #expect(after["events"] as? Int == 2)
        #expect(after["dedup_hits"] as? Int == 1, "the stored id counts as a duplicate in the same commit")
        #expect(deliveries(after) == 2)
        #expect(try metric(#"cutover_duplicate_requests_total{route="/cloud"}"#, in: cutover) == #"cutover_duplicate_requests_total{route="/cloud"} 0"#, "no request was a pure duplicate")
        #expect(try metric("cutover_dedup_hits_total", in: cutover) == "cutover_dedup_hits_total 1")
    }

    /// After a restart the in-memory index is empty: the retry is recognized from the database.
    @Test func aRetryAfterARestartIsRecognizedFromTheSpool() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let arguments = ["--forward", downstream.url, "--format", "canonical", "--app-secret", Self.secret]
        var cutover: CutoverServer? = try CutoverServer(spool: spool.path, arguments: arguments)
        let body = Self.body(messageIDs: ["wamid.BEFORE_RESTART"])
        #expect(try post(body, to: cutover!, in: spool) == 200)
        #expect(downstream.waitForRequests(1) != nil)
        cutover!.kill()
        cutover = try CutoverServer(spool: spool.path, arguments: arguments)
        defer { cutover?.kill() }

        #expect(try post(body, to: cutover!, in: spool) == 200)
        let after = try stats(spool.path)
        #expect(after["requests"] as? Int == 1)
        #expect(deliveries(after) == 1)
        #expect(try metric(#"cutover_duplicate_requests_total{route="/cloud"}"#, in: cutover!) == #"cutover_duplicate_requests_total{route="/cloud"} 1"#)
    }
}
