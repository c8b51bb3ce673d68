import CutoverTestSupport
import Foundation
import Testing

/// The real binary keeps ambiguous and amplification bodies in quarantine, acknowledged, with the
/// reason where an operator looks (`cutover spool list --quarantined`) and a metric per reason.
@Suite struct StrictIngressTests {
    static let secret = "strict-ingress-secret"

    @Test func duplicateKeysAndAmplificationBodiesAreQuarantinedWithTheirReason() throws {
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: ["--app-secret", Self.secret])
        defer { cutover.kill() }

        // A last-wins consumer would read message id b; Cutover would have made msg:a.
        let duplicate = Data(
            (#"{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":"#
                + #"{"messaging_product":"whatsapp","metadata":{"phone_number_id":"P"},"#
                + #""messages":[{"from":"1650","id":"a","id":"b","type":"text","text":{"body":"hi"}}]}}]}]}"#).utf8)
        let duplicateFile = spool.path("duplicate.json")
        try duplicate.write(to: URL(fileURLWithPath: duplicateFile))
        let signed = try curl([
            "-H", "Content-Type: application/json", "-H", "X-Hub-Signature-256: \(try pythonSignature(body: duplicate, secret: Self.secret))",
            "--data-binary", "@\(duplicateFile)", "\(cutover.base)/cloud",
        ])
        #expect(signed.status == 200, "quarantined bodies are acknowledged, so Meta does not retry them")

        // 5,000 statuses in one On-Prem body: 5,000 events and deliveries without the limit.
        let statuses = (0..<5_000).map { #"{"id":"s\#($0)","status":"sent","timestamp":"1700000000","recipient_id":"1650"}"# }
        let amplification = spool.path("amplification.json")
        try Data((#"{"statuses":["# + statuses.joined(separator: ",") + "]}").utf8).write(to: URL(fileURLWithPath: amplification))
        let amplified = try curl(["-H", "Content-Type: application/json", "--data-binary", "@\(amplification)", "\(cutover.base)/onprem/default"])
        #expect(amplified.status == 200)

        let listed = try runCommand(cutoverBinary, ["spool", "list", "--quarantined", "--spool", spool.path, "--json"])
        #expect(listed.status == 0, "\(listed.error)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]])
        let reasons = Dictionary(uniqueKeysWithValues: rows.compactMap { row in
            (row["route"] as? String).map { ($0, row["reason"] as? String ?? "") }
        })
        #expect(reasons["cloud"]?.hasPrefix(#"duplicate key "id" at byte "#) == true, "\(reasons)")
        #expect(reasons["onprem/default"] == "more than 1000 events in one request", "\(reasons)")

        let stats = try runCommand(cutoverBinary, ["spool", "stats", "--spool", spool.path, "--json"])
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any])
        #expect(counts["quarantined"] as? Int == 2)
        #expect(counts["events"] as? Int == 0, "neither body made an event")

        let metrics = try curl(["\(cutover.base)/metrics"]).body
        #expect(metrics.contains(#"cutover_quarantined_total{route="/cloud",reason="duplicate_key"} 1"#))
        #expect(metrics.contains(#"cutover_quarantined_total{route="/onprem/default",reason="too_many_events"} 1"#))
    }
}
