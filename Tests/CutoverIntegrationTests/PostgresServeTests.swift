import CutoverTestSupport
import Foundation
import Testing

/// One `cutover serve --spool postgresql://...`: signed webhooks acknowledged, delivered, inspected
/// with `cutover spool` against the URL.
@Suite(.serialized)
struct PostgresServeTests {
    @Test func oneInstanceOnAURLDeliversAndIsInspectedThroughIt() throws {
        let relays = try PostgresRelays()
        defer { relays.postgres.stop() }
        let downstream = try Downstream()
        defer { downstream.stop() }
        let config = relays.directory.path("serve.yml")
        try """
        cloud:
          app_secrets: [{env: TEST_APP_SECRET}]
        destinations:
          - name: app
            url: \(downstream.url)
            format: canonical
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let cutover = try CutoverServer(
            spool: relays.url, arguments: ["--config", config], environment: ["TEST_APP_SECRET": PostgresRelays.appSecret])
        defer { cutover.kill() }
        #expect(cutover.process.stderr.lines.contains { $0.contains("PostgreSQL spool opened") })

        let messages = (1...3).map { "wamid.serve.\($0).1" }
        for (index, id) in messages.enumerated() {
            let body = Data(
                """
                {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{\
                "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},\
                "contacts":[{"profile":{"name":"Serve"},"wa_id":"1650555000\(index)"}],"messages":[{"from":"1650555000\(index)",\
                "id":"\(id)","timestamp":"1700000000","type":"text","text":{"body":"hello"}}]}}]}]}
                """.utf8)
            let signature = try pythonSignature(body: body, secret: PostgresRelays.appSecret)
            let bodyFile = relays.directory.path("body-\(index).json")
            try body.write(to: URL(fileURLWithPath: bodyFile))
            let post = ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + bodyFile, cutover.base + "/cloud"]
            #expect(try curl(["-H", "X-Hub-Signature-256: \(signature)"] + post).status == 200)
            if index == 0 {
                #expect(try curl(["-H", "X-Hub-Signature-256: sha256=00"] + post).status == 401, "the signature is checked")
                #expect(try curl(["-H", "X-Hub-Signature-256: \(signature)"] + post).status == 200, "a retry is a dedup hit")
            }
        }
        let delivered = try PostgresRelays.deliveries(downstream, covering: Set(messages), timeout: 30)
        #expect(delivered.count == 3, "each event delivered once")
        let ready = try curl([cutover.base + "/readyz"])
        #expect(ready.status == 200 && ready.body.hasPrefix("ready"), "\(ready)")

        // The spool subcommands open the same database by its URL.
        let stats = try spoolJSON(["stats", "--spool", relays.url, "--json"]) as? [String: Any]
        #expect(stats?["spool"] as? String == relays.url)
        #expect(stats?["events"] as? Int == 3)
        #expect(stats?["requests"] as? Int == 3, "the retry's raw request is not stored")
        #expect(stats?["dedup_hits"] as? Int == 1)
        // The outcome of the last delivery is committed by the turn after its response.
        let listed = try waitFor(timeout: 30) {
            let rows = try spoolJSON(["list", "--delivered", "--spool", relays.url, "--json"]) as? [[String: Any]] ?? []
            return rows.count == 3 ? rows : nil
        }
        #expect(Set(listed.compactMap { $0["event_id"] as? String }) == Set(delivered.map(\.eventID)))
        let missing = try runCommand(cutoverBinary, ["spool", "stats", "--spool", "postgresql://cutover:secret@127.0.0.1:1/x"])
        #expect(missing.status != 0 && missing.error.contains("--spool: expected a postgresql://"), "\(missing.error)")
    }
}

/// `cutover spool ARGUMENTS`'s JSON output; throws with its stderr when it fails.
func spoolJSON(_ arguments: [String]) throws -> Any {
    let result = try runCommand(cutoverBinary, ["spool"] + arguments)
    guard result.status == 0 else { throw TestFailure("cutover spool \(arguments.joined(separator: " ")) exited \(result.status): \(result.error)") }
    return try JSONSerialization.jsonObject(with: Data(result.output.utf8))
}

/// `probe` again every 0.1 s until it gives a value (a condition another process makes true, such
/// as a commit, with no way to be told); throws after `timeout`.
func waitFor<T>(timeout: TimeInterval, _ probe: () throws -> T?) throws -> T {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if let value = try probe() { return value }
        guard Date() < deadline else { throw TestFailure("condition not met within \(timeout) s") }
        Thread.sleep(forTimeInterval: 0.1)
    }
}
