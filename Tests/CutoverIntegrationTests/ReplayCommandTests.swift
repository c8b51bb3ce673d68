import CutoverSpool
import CutoverTestSupport
import CutoverWebhooks
import Foundation
import Testing

/// `cutover replay`, the real binary, into the Python downstream: from a JSON-lines capture, from
/// a spool by time range and status, as a dry run, failing, and the migration flow end to end
/// (capture on the old endpoint, replay into staging).
@Suite(.serialized)
struct ReplayCommandTests {
    private let onpremPath = Repo.path("fixtures/onprem/cutover-inbound-text-wamid-reply.json")
    private let onpremID = "msg:wamid.HBgLMTYzMTU1NTEyMzQVAgASGBRDVVRPVkVST05QUkVNUkVQTFkA"
    private let cloudPath = Repo.path("fixtures/cloud/legacy_msg_text.json")
    private let cloudID = "msg:wamid.ABGGFlCGg0cvAgo-sJQh43L5Pe4W"

    private func replay(_ arguments: [String]) throws -> CommandResult {
        try runCommand(cutoverBinary, ["replay"] + arguments)
    }

    /// One line of compact JSON (a capture line must not span lines).
    private func compact(_ path: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]), as: UTF8.self)
    }

    private func quoted(_ text: String) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed, .withoutEscapingSlashes]), as: UTF8.self)
    }

    @Test func aJSONLinesCaptureIsReplayedToADownstream() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let directory = try TemporaryDirectory()
        let capture = directory.path + "/capture.jsonl"
        let onprem = try String(contentsOfFile: onpremPath, encoding: .utf8)
        try """
        {"received_at":"2025-06-01T12:00:00.000Z","route":"onprem/default","headers":{"content-type":"application/json"},"body":\(try quoted(onprem))}

        \(try compact(cloudPath))
        {"received_at":"2025-06-01T12:00:02.000Z","route":"cloud","headers":{},"body":\(try compact(cloudPath))}
        """.write(toFile: capture, atomically: true, encoding: .utf8)

        let result = try replay([capture, "--to", downstream.url, "--format", "canonical", "--rate", "100", "--concurrency", "2"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.hasPrefix("replay to \(downstream.url): "))
        #expect(result.output.contains("sent 3, 2xx 3, failed 0, skipped 0 (3 read, 3 matched"))
        #expect(result.error.contains("replay: 3/3 read, 3 sent, 3 2xx, 0 failed"), "plain progress lines off a terminal")
        let received = try #require(downstream.waitForRequests(3))
        #expect(received.count == 3)
        #expect(received.allSatisfy { $0.headers["x-cutover-replay"] == "1" })
        #expect(Set(received.compactMap(\.eventID)) == [onpremID, cloudID])
        #expect(received.allSatisfy { $0.headers["webhook-id"] == $0.eventID })
        #expect(received.allSatisfy { $0.json?["specversion"] as? String == "1.0" })
    }

    @Test func aSpoolTimeRangeAndStatusAreReplayed() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let directory = try TemporaryDirectory()
        let now = Date().timeIntervalSince1970
        let spool = try Spool.open(directory: directory.path)
        let business = BusinessIdentity(phoneNumberID: "111", displayPhoneNumber: "15550100", wabaID: "999")
        func request(_ id: String, at time: Double) throws -> IncomingRequest {
            let body = Array(
                #"{"contacts":[{"profile":{"name":"A"},"wa_id":"15550001111"}],"messages":[{"from":"15550001111","id":"\#(id)","timestamp":"1700000000","type":"text","text":{"body":"hi \#(id)"}}]}"#
                    .utf8)
            let events = try WebhookDecoder().decode(body, api: .onprem, business: business, route: "default")
            return IncomingRequest(
                receivedAt: time, route: "onprem/default", headers: [(name: "content-type", value: "application/json")], body: body,
                events: events.map {
                    IncomingEvent(id: $0.id, type: $0.type, contactKey: $0.contactKey, payload: $0.serialized(), destinations: ["primary"])
                }
            )
        }
        _ = try spool.ingest([
            try request("wamid.three-hours", at: now - 3 * 3600),
            try request("wamid.two-hours", at: now - 2 * 3600),
            try request("wamid.half-hour", at: now - 1800),
            IncomingRequest(receivedAt: now - 3 * 3600, route: "cloud", headers: [], body: Array("not json".utf8), events: [], quarantineReason: "not JSON"),
        ])
        // One contact: its deliveries are claimable one at a time, in order.
        while let delivery = try spool.claim(destination: "primary", now: now, limit: 1).first {
            if delivery.eventID == "msg:wamid.half-hour" {
                try spool.deadLetter(id: delivery.id, error: "HTTP 500", status: 500, now: now)
            } else {
                try spool.markDelivered(id: delivery.id, status: 200, now: now)
            }
        }
        spool.close()

        // By time range: only the request received two hours ago, rendered for an On-Prem endpoint.
        let range = try replay(["spool:" + directory.path, "--since", "150m", "--until", "1h", "--to", downstream.url, "--format", "onprem"])
        #expect(range.status == 0, "\(range.error)")
        #expect(range.output.contains("sent 1, 2xx 1, failed 0"))
        var received = try #require(downstream.waitForRequests(1))
        #expect(received[0].eventID == "msg:wamid.two-hours")
        #expect(((received[0].json?["messages"] as? [[String: Any]])?.first?["id"] as? String) == "wamid.two-hours")

        // RFC 3339 bounds and the dead letters only, as Cloud with the identity they were delivered with.
        let since = Date(timeIntervalSince1970: now - 4 * 3600).formatted(.iso8601)
        let dead = try replay(["--spool", directory.path, "--since", since, "--status", "dead", "--to", downstream.url, "--format", "cloud"])
        #expect(dead.status == 0, "\(dead.error)")
        #expect(dead.output.contains("sent 1, 2xx 1, failed 0"))
        received = try #require(downstream.waitForRequests(2))
        #expect(received[1].eventID == "msg:wamid.half-hour")
        #expect(String(decoding: received[1].body, as: UTF8.self).contains(#""phone_number_id":"111""#))

        // Quarantined bodies, as received.
        let quarantined = try replay(["spool:" + directory.path, "--status", "quarantined", "--to", downstream.url, "--format", "raw"])
        #expect(quarantined.status == 0, "\(quarantined.error)")
        received = try #require(downstream.waitForRequests(3))
        #expect(received[2].body == Data("not json".utf8))
        #expect(received[2].headers["x-cutover-replay"] == "1")

        // Filters that match nothing send nothing and succeed.
        let none = try replay(["spool:" + directory.path, "--contact", "000", "--to", downstream.url, "--format", "canonical"])
        #expect(none.status == 0 && none.output.contains("sent 0, 2xx 0, failed 0"))
        #expect(try replay(["spool:" + directory.path + "/nowhere", "--to", downstream.url, "--format", "raw"]).status != 0)
    }

    @Test func aDryRunPrintsTheRenderedRequestsAndSendsNothing() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let result = try replay([onpremPath, "--dry-run", "--to", downstream.url, "--format", "cloud", "--phone-number-id", "123"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("POST \(downstream.url)\n"))
        #expect(result.output.contains("X-Cutover-Replay: 1\n"))
        #expect(result.output.contains("X-Cutover-Event-Id: \(onpremID)\n"))
        #expect(result.output.contains(#""object":"whatsapp_business_account""#))
        #expect(result.output.contains(#""phone_number_id":"123""#))
        #expect(result.error.contains("dry run: 1 request rendered, nothing sent"))

        // A request sent after the dry run exited is the first the downstream sees.
        #expect(try curl(["-X", "POST", "--data-binary", "{}", "http://127.0.0.1:\(downstream.port)/sentinel"]).status == 200)
        let received = try #require(downstream.waitForRequests(1))
        #expect(received.map(\.path) == ["/sentinel"])
    }

    @Test func aFailedReplayExitsNonZeroWithTheCounts() throws {
        let failing = try Downstream(arguments: ["--status", "500"])
        defer { failing.stop() }
        let answered = try replay([onpremPath, cloudPath, "--to", failing.url, "--format", "canonical"])
        #expect(answered.status == 1)
        #expect(answered.output.contains("sent 2, 2xx 0, failed 2"))
        #expect(answered.error.contains("failed: \(onpremPath) \(onpremID): HTTP 500"))
        #expect(failing.waitForRequests(2)?.count == 2)

        let refused = try replay([onpremPath, cloudPath, "--to", "http://127.0.0.1:\(try freePort())/hook", "--format", "onprem"])
        #expect(refused.status == 1)
        #expect(refused.output.contains("sent 2, 2xx 0, failed 2"))

        let usage = try replay([onpremPath, "--format", "canonical"])
        #expect(usage.status != 0 && usage.error.contains("--to URL is required"))
        let unsigned = try replay([onpremPath, "--to", failing.url, "--format", "canonical", "--sign"])
        #expect(unsigned.status != 0 && unsigned.error.contains("--signing-secret"))
    }

    /// The migration flow: the old endpoint captures what it receives; the capture is replayed
    /// into a staging copy of the new endpoint, translated, and byte for byte.
    @Test func aCaptureWrittenByServeIsReplayedIntoStaging() throws {
        let staging = try Downstream()
        defer { staging.stop() }
        let directory = try TemporaryDirectory()
        let capture = directory.path + "/capture/capture.jsonl"
        let config = directory.path + "/cutover.yml"
        try """
        spool: \(directory.path)/spool
        capture:
          path: \(capture)
          max_bytes: 1048576
          keep: 2
        onprem:
          routes:
            - name: main
              token: route-token
              phone_number_id: "111"
              display_phone_number: "15550100"
              waba_id: "999"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        var server: CutoverServer? = try CutoverServer(spool: directory.path + "/spool", arguments: ["--config", config])
        defer { server?.kill() }
        let onpremBody = try Data(contentsOf: URL(fileURLWithPath: onpremPath))
        let cloudBody = try Data(contentsOf: URL(fileURLWithPath: cloudPath))
        let signature = try pythonSignature(body: cloudBody, secret: "old-app-secret")
        let json = ["-X", "POST", "-H", "Content-Type: application/json"]
        #expect(try curl(json + ["-H", "Authorization: Bearer route-token", "--data-binary", "@" + onpremPath, server!.base + "/onprem/main"]).status == 200)
        #expect(try curl(json + ["-H", "X-Hub-Signature-256: \(signature)", "--data-binary", "@" + cloudPath, server!.base + "/cloud"]).status == 200)
        #expect(try curl(json + ["-H", "Authorization: Bearer wrong", "--data-binary", "@" + onpremPath, server!.base + "/onprem/main"]).status == 401)
        // SIGTERM: the server finishes, and writes out what it captured, before exiting.
        server?.process.terminate()
        server = nil

        let text = try String(contentsOfFile: capture, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2, "authenticated requests only")
        #expect(!text.contains("route-token") && !text.lowercased().contains("authorization"))
        let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(records.map { $0["route"] as? String } == ["onprem/main", "cloud"])
        #expect(records.allSatisfy { ($0["received_at"] as? String)?.hasSuffix("Z") == true })
        #expect(records.first?["body"] as? String == String(decoding: onpremBody, as: UTF8.self), "the exact text")

        // Translated: the On-Prem body gets its route's identity from the config.
        let translated = try replay([capture, "--config", config, "--to", staging.url, "--format", "cloud", "--sign", "--app-secret", "staging-secret", "--concurrency", "1"])
        #expect(translated.status == 0, "\(translated.error)")
        #expect(translated.output.contains("sent 2, 2xx 2, failed 0"))
        var received = try #require(staging.waitForRequests(2))
        #expect(received.compactMap(\.eventID) == [onpremID, cloudID])
        let metadata = (((received[0].json?["entry"] as? [[String: Any]])?.first?["changes"] as? [[String: Any]])?.first?["value"]
            as? [String: Any])?["metadata"] as? [String: Any]
        #expect(metadata?["phone_number_id"] as? String == "111")
        for request in received {
            #expect(request.headers["x-hub-signature-256"] == (try pythonSignature(body: request.body, secret: "staging-secret")))
        }

        // Raw: the same bytes, with the sender's signature, which still holds for them.
        let raw = try replay([capture, "--to", staging.url, "--format", "raw", "--since", "1h", "--concurrency", "1"])
        #expect(raw.status == 0, "\(raw.error)")
        received = try #require(staging.waitForRequests(4))
        #expect(received[2].body == onpremBody && received[3].body == cloudBody)
        #expect(received[3].headers["x-hub-signature-256"] == signature)
        #expect(received[2...].allSatisfy { $0.headers["x-cutover-replay"] == "1" })
    }
}
