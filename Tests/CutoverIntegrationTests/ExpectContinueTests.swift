import CutoverTestSupport
import Foundation
import Testing

/// `Expect: 100-continue` is answered `100 Continue` only once the route exists and its
/// signature or credential is there; otherwise curl gets the final status at once and never
/// uploads the body (`size_upload` 0), however long it would wait (`--expect100-timeout`).
@Suite struct ExpectContinueTests {
    /// A 1 MB body sent by curl with a 30 s wait for `100 Continue`: status and bytes uploaded.
    private func upload(_ url: String, headers: [String] = [], file: String) throws -> (status: Int, uploaded: Int) {
        let result = try runCommand(
            "/usr/bin/curl",
            ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_upload}", "--max-time", "20", "--expect100-timeout", "30",
             "-H", "Expect: 100-continue", "--data-binary", "@\(file)", url] + headers.flatMap { ["-H", $0] }
        )
        let fields = result.output.split(separator: " ")
        return (Int(fields.first ?? "") ?? 0, Int(fields.last ?? "") ?? -1)
    }

    @Test func unauthenticatedHeadsAndUnknownRoutesAreAnsweredBeforeTheBody() throws {
        let spool = try TemporaryDirectory()
        let config = spool.path("cutover.yml")
        try """
            cloud:
              app_secrets: [{env: TEST_APP_SECRET}]
            onprem:
              routes:
                - name: locked
                  token: {env: TEST_ROUTE_TOKEN}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let cutover = try CutoverServer(
            spool: spool.path, arguments: ["--config", config],
            environment: ["TEST_APP_SECRET": "expect-test-secret", "TEST_ROUTE_TOKEN": "route-token-0123456789"]
        )
        defer { cutover.kill() }
        let body = Data("{\"object\":\"whatsapp_business_account\",\"entry\":[]}".utf8) + Data(repeating: 0x20, count: 1_000_000)
        let file = spool.path("body.json")
        try body.write(to: URL(fileURLWithPath: file))

        #expect(try upload(cutover.base + "/cloud", file: file) == (401, 0))
        #expect(try upload(cutover.base + "/nowhere", file: file) == (404, 0))
        #expect(try upload(cutover.base + "/onprem/unknown", file: file) == (404, 0))
        #expect(try upload(cutover.base + "/onprem/locked", file: file) == (401, 0))
        #expect(try upload(cutover.base + "/onprem/locked", headers: ["Authorization: Bearer wrong"], file: file) == (401, 0))

        // With the credential the body is asked for, and stored.
        let accepted = try upload(cutover.base + "/onprem/locked", headers: ["Authorization: Bearer route-token-0123456789"], file: file)
        #expect(accepted == (200, body.count))
        // A signature header present lets the body come; only the whole body can tell it is wrong.
        let forged = try upload(cutover.base + "/cloud", headers: ["X-Hub-Signature-256: sha256=00"], file: file)
        #expect(forged == (401, body.count))

        let metrics = try curl([cutover.base + "/metrics"]).body
        #expect(metrics.contains("cutover_signature_failures_total{reason=\"missing\"} 1"), "\(metrics)")
        #expect(metrics.contains("cutover_signature_failures_total{reason=\"mismatch\"} 1"))
        #expect(metrics.contains("cutover_auth_failures_total{route=\"/onprem/locked\"} 2"))
        #expect(metrics.contains("cutover_requests_total{route=\"other\",status=\"404\"} 1"))
        #expect(metrics.contains("cutover_requests_total{route=\"/onprem/unknown\",status=\"404\"} 1"))
    }
}
