import CutoverTestSupport
import Foundation
import Testing

/// Canonical deliveries signed per Standard Webhooks, verified by the `standardwebhooks` library.
@Suite(.serialized)
struct CanonicalSigningTests {
    @Test func standardWebhooksVerifiesDeliveredCanonicalEvents() throws {
        let secret = "whsec_" + Data("cutover-standard-webhooks-test-key".utf8).base64EncodedString()
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let config = spool.url.appendingPathComponent("cutover.yml")
        try """
        destinations:
          - name: canonical-endpoint
            url: \(downstream.url)
            format: canonical
            signing_secret: {env: TEST_SIGNING_SECRET}
        """.write(to: config, atomically: true, encoding: .utf8)
        let cutover = try CutoverServer(
            spool: spool.path, arguments: ["--config", config.path], environment: ["TEST_SIGNING_SECRET": secret]
        )
        defer { cutover.kill() }

        let bodyFile = Repo.url("fixtures/onprem/meta-doc-inbound-voice.json")
        #expect(try curl(["-X", "POST", cutover.base + "/onprem/default", "--data-binary", "@\(bodyFile.path)"]).status == 200)
        let received = try #require(downstream.waitForRequests(1)?.first)
        #expect(received.headers["webhook-id"] == received.eventID)
        #expect(received.headers["webhook-signature"]?.hasPrefix("v1,") == true)

        let python = try Repo.consumersPython.get()
        let record: [String: Any] = [
            "secret": secret, "body": received.body.base64EncodedString(),
            "headers": received.headers.filter { $0.key.hasPrefix("webhook-") },
        ]
        let good = try runCommand(
            python, [Repo.path("scripts/consumers/verify_standardwebhooks.py")],
            stdin: try JSONSerialization.data(withJSONObject: record) + Data("\n".utf8)
        )
        #expect(good.status == 0, "standardwebhooks rejected the delivery: \(good.output)")

        // The same check fails on a tampered body: the verification is real.
        var tampered = record
        tampered["body"] = (received.body + Data(" ".utf8)).base64EncodedString()
        let bad = try runCommand(
            python, [Repo.path("scripts/consumers/verify_standardwebhooks.py")],
            stdin: try JSONSerialization.data(withJSONObject: tampered) + Data("\n".utf8)
        )
        #expect(bad.status != 0)
    }
}
