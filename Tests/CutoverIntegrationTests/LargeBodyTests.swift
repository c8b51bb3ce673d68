import CutoverTestSupport
import Foundation
import Testing

/// Meta sends bodies up to 3 MB; the default limit is 4 MiB. curl sends `Expect: 100-continue`
/// before large bodies, so these also cover the interim response.
@Suite(.serialized)
struct LargeBodyTests {
    private func onPremText(bytes: Int) -> Data {
        let text = String(repeating: "x", count: bytes)
        return Data(
            """
            {"contacts":[{"profile":{"name":"Big"},"wa_id":"16315551234"}],"messages":[{"from":"16315551234",\
            "id":"ABGGFlA5FpafAgo6tHcNmNjXmuSf","timestamp":"1518694235","text":{"body":"\(text)"},"type":"text"}]}
            """.utf8
        )
    }

    @Test func threeMegabyteBodyIsAcceptedAndDelivered() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: ["--forward", downstream.url, "--format", "onprem"])
        defer { cutover.kill() }
        let body = onPremText(bytes: 3_000_000)
        let file = spool.url.appendingPathComponent("big.json")
        try body.write(to: file)
        let response = try curl([
            "-X", "POST", cutover.base + "/onprem/default", "-H", "Expect: 100-continue", "--data-binary", "@\(file.path)",
        ])
        #expect(response.status == 200)
        let received = try #require(downstream.waitForRequests(1)?.first)
        let message = try #require((received.json?["messages"] as? [[String: Any]])?.first)
        #expect(((message["text"] as? [String: Any])?["body"] as? String)?.count == 3_000_000)
    }

    @Test func bodyOverTheLimitGets413AndNothingIsStored() throws {
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: [])
        defer { cutover.kill() }
        let file = spool.url.appendingPathComponent("huge.json")
        try onPremText(bytes: 5_000_000).write(to: file)
        let response = try curl(["-X", "POST", cutover.base + "/onprem/default", "--data-binary", "@\(file.path)"])
        #expect(response.status == 413)
        let metrics = try curl([cutover.base + "/metrics"])
        #expect(metrics.body.contains("cutover_requests_rejected_total{status=\"413\"} 1"))
        #expect(!metrics.body.contains("cutover_events_total"))
    }
}
