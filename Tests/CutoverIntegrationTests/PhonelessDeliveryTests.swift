import CutoverTestSupport
import Foundation
import Testing

/// Issue 11: Cloud messages from a user Meta identifies only by a business-scoped user id, posted
/// signed to the real `cutover serve`, delivered to a real On-Prem downstream.
@Suite(.serialized)
struct PhonelessDeliveryTests {
    static let secret = "phoneless-app-secret"
    static let bsuid = "US.13491208655302741918"
    static let reason = "no phone number (business-scoped user id only)"
    static let p01 = "cloud-2026/p01_text_phone_bsuid_parent_username.json"
    static let p02 = "cloud-2026/p02_text_username_no_phone.json"
    /// The id p01 and p02 share (one message, two shapes).
    static let sampleMessageID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="

    /// A sample with its message id replaced, so several of them are several messages.
    static func sample(_ path: String, messageID: String) throws -> Data {
        let text = String(decoding: try Repo.fixture(path), as: UTF8.self)
        return Data(text.replacingOccurrences(of: sampleMessageID, with: messageID).utf8)
    }

    struct Relay {
        let directory: TemporaryDirectory
        let config: URL
        var spool: String { directory.path + "/spool" }

        init(downstream: Downstream, phoneless: String?) throws {
            directory = try TemporaryDirectory()
            config = directory.url.appendingPathComponent("cutover.yml")
            try Self.write(config: config, spool: directory.path + "/spool", downstream: downstream, phoneless: phoneless)
        }

        static func write(config: URL, spool: String, downstream: Downstream, phoneless: String?) throws {
            try """
            spool: \(spool)
            cloud:
              app_secrets: [\(secret)]
            destinations:
              - name: legacy
                url: \(downstream.url)
                format: onprem
            \(phoneless.map { "    phoneless: \($0)" } ?? "")
            """.write(to: config, atomically: true, encoding: .utf8)
        }

        func start() throws -> CutoverServer { try CutoverServer(spool: spool, arguments: ["--config", config.path]) }

        func post(_ body: Data, to server: CutoverServer) throws -> Int {
            let file = directory.url.appendingPathComponent("body-\(UUID().uuidString).json")
            try body.write(to: file)
            return try curl([
                "-X", "POST", server.base + "/cloud", "-H", "Content-Type: application/json",
                "-H", "X-Hub-Signature-256: \(try pythonSignature(body: body, secret: secret))", "--data-binary", "@\(file.path)",
            ]).status
        }

        func spoolList(_ state: String) throws -> [[String: Any]] {
            let result = try runCommand(cutoverBinary, ["spool", "list", "--\(state)", "--config", config.path, "--json"])
            guard result.status == 0, let list = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]] else {
                throw TestFailure("spool list --\(state): \(result.status) \(result.error)")
            }
            return list
        }

        /// Waits for `server` to log the dead letter, then for the spool to list it (the outcome is
        /// committed in the batch after the log line): polled every 0.1 s within the timeout.
        func waitForDeadLetter(loggedBy server: CutoverServer, timeout: TimeInterval = 30) throws -> [String: Any] {
            guard server.process.stderr.wait(timeout: timeout, until: { $0.contains { $0.contains("delivery dead-lettered") } }) != nil else {
                throw TestFailure("no dead letter logged")
            }
            let deadline = Date().addingTimeInterval(timeout)
            while true {
                if let letter = try spoolList("dead").first { return letter }
                if Date() > deadline { throw TestFailure("the dead letter was not listed") }
                Thread.sleep(forTimeInterval: 0.1)  // a pause between bounded polls, not a synchronization
            }
        }
    }

    /// The sum of `cutover_deliveries_total` samples for the destination and outcome, from /metrics.
    static func deliveries(_ server: CutoverServer, outcome: String) throws -> Double {
        let metrics = try curl([server.base + "/metrics"])
        var total = 0.0
        for line in metrics.body.split(separator: "\n") where line.hasPrefix("cutover_deliveries_total{")
            && line.contains("destination=\"legacy\"") && line.contains("outcome=\"\(outcome)\"") {
            total += Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return total
    }

    @Test func byDefaultAPhonelessMessageIsADeadLetterWithTheReasonAndRetryableUnderUserID() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let relay = try Relay(downstream: downstream, phoneless: nil)
        var server: CutoverServer? = try relay.start()
        defer { server?.kill() }

        #expect(try relay.post(try Self.sample(Self.p02, messageID: "wamid.no-phone-1"), to: server!) == 200)
        let letter = try relay.waitForDeadLetter(loggedBy: server!)
        #expect(letter["event_id"] as? String == "msg:wamid.no-phone-1")
        #expect((letter["last_error"] as? String)?.contains(Self.reason) == true, "\(letter)")
        #expect(letter["destination"] as? String == "legacy")
        #expect(downstream.requests.isEmpty, "nothing without a phone number reaches the endpoint")
        #expect(try Self.deliveries(server!, outcome: "dead") == 1)

        // The same user with the phone: delivered, in the same ordering stream as the dead letter.
        #expect(try relay.post(try Self.sample(Self.p01, messageID: "wamid.with-phone-1"), to: server!) == 200)
        let delivered = try #require(downstream.waitForRequests(1)?.first?.json)
        #expect((delivered["messages"] as? [[String: Any]])?.first?["from"] as? String == "16505551234")
        #expect(downstream.requests.count == 1)

        // After the policy changes, the dead letter is revived and arrives with the BSUID standing in.
        server?.process.terminate()
        server = nil
        let doneKeys = try relay.spoolList("delivered").compactMap { $0["contact_key"] as? String }
        #expect(doneKeys == [letter["contact_key"] as? String].compactMap { $0 }, "one user, one stream")
        try Relay.write(config: relay.config, spool: relay.spool, downstream: downstream, phoneless: "user_id")
        let retried = try runCommand(cutoverBinary, ["spool", "retry", "--all", "--config", relay.config.path])
        #expect(retried.status == 0 && retried.output == "revived 1 dead letter\n", "\(retried.error)")
        server = try relay.start()
        let revived = try #require(downstream.waitForRequests(2)?.last)
        #expect(revived.eventID == "msg:wamid.no-phone-1")
        #expect(revived.headers["x-cutover-phoneless"] == "user_id")
        #expect((revived.json?["messages"] as? [[String: Any]])?.first?["from"] as? String == Self.bsuid)
    }

    @Test func underUserIDTheBSUIDArrivesAsFromAndWaIDWithTheHeader() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let relay = try Relay(downstream: downstream, phoneless: "user_id")
        let server = try relay.start()
        defer { server.kill() }

        #expect(try relay.post(try Repo.fixture(Self.p02), to: server) == 200)
        let received = try #require(downstream.waitForRequests(1)?.first)
        #expect(received.headers["x-cutover-phoneless"] == "user_id")
        let json = try #require(received.json)
        let message = try #require((json["messages"] as? [[String: Any]])?.first)
        #expect(message["from"] as? String == Self.bsuid)
        #expect(message["from_user_id"] as? String == Self.bsuid)
        let contact = try #require((json["contacts"] as? [[String: Any]])?.first)
        #expect(contact["wa_id"] as? String == Self.bsuid)
        #expect(json["object"] == nil)
        let expected = try JSONSerialization.jsonObject(with: Repo.fixture("cloud-2026/onprem_expected_user_id_as_wa_id_for_p02.json")) as? NSObject
        #expect(try JSONSerialization.jsonObject(with: received.body) as? NSObject == expected)

        // A message with the phone carries no header and keeps its phone; both share one stream.
        #expect(try relay.post(try Self.sample(Self.p01, messageID: "wamid.with-phone-2"), to: server) == 200)
        let second = try #require(downstream.waitForRequests(2)?.last)
        #expect(second.headers["x-cutover-phoneless"] == nil)
        #expect((second.json?["messages"] as? [[String: Any]])?.first?["from"] as? String == "16505551234")
        let keys = Set(try waitForDelivered(2, relay).compactMap { $0["contact_key"] as? String })
        #expect(keys == ["106540352242922|" + Self.bsuid])
    }

    private func waitForDelivered(_ count: Int, _ relay: Relay, timeout: TimeInterval = 30) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let delivered = try relay.spoolList("delivered")
            if delivered.count >= count { return delivered }
            if Date() > deadline { throw TestFailure("\(count) deliveries were not recorded") }
            Thread.sleep(forTimeInterval: 0.1)  // a pause between bounded polls, not a synchronization
        }
    }

    @Test func translateFailsOnAPhonelessMessageUnlessTheUserIDStandsIn() throws {
        let file = Repo.path("fixtures/" + Self.p02)
        let refused = try runCommand(cutoverBinary, ["translate", "--to", "onprem", file])
        #expect(refused.status == 1)
        #expect(refused.error.contains(Self.reason), "\(refused.error)")
        #expect(refused.error.contains("msg:" + Self.sampleMessageID))
        #expect(refused.output.isEmpty)

        let standIn = try runCommand(cutoverBinary, ["translate", "--to", "onprem", "--phoneless", "user_id", file])
        #expect(standIn.status == 0, "\(standIn.error)")
        let expected = try JSONSerialization.jsonObject(with: Repo.fixture("cloud-2026/onprem_expected_user_id_as_wa_id_for_p02.json")) as? NSObject
        #expect(try JSONSerialization.jsonObject(with: Data(standIn.output.utf8)) as? NSObject == expected)
    }
}
