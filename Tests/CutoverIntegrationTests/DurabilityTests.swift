import CutoverTestSupport
import Foundation
import Testing

/// Nothing acknowledged is lost: accepted while the downstream is down, killed with SIGKILL,
/// restarted, and every event arrives exactly once.
@Suite(.serialized)
struct DurabilityTests {
    @Test func acceptedEventsSurviveSigkillAndArriveOnce() throws {
        let count = 200
        let placeholder = try Downstream()
        let port = placeholder.port
        placeholder.stop()  // the destination is down while webhooks are accepted

        let spool = try TemporaryDirectory()
        let config = spool.url.appendingPathComponent("cutover.yml")
        try """
        delivery:
          retry_initial_seconds: 0.2
          retry_max_seconds: 0.5
        """.write(to: config, atomically: true, encoding: .utf8)
        let arguments = [
            "--config", config.path, "--forward", "http://127.0.0.1:\(port)/hook", "--format", "canonical",
            "--onprem-route", "default",
        ]
        var cutover: CutoverServer? = try CutoverServer(spool: spool.path, arguments: arguments)

        let bodies = (0..<count).map { index in
            """
            {"contacts":[{"profile":{"name":"Load \(index)"},"wa_id":"1650555\(String(format: "%04d", index))"}],\
            "messages":[{"from":"1650555\(String(format: "%04d", index))","id":"ABGGFlA5Fpa\(String(format: "%06d", index))",\
            "timestamp":"1518694235","text":{"body":"message \(index)"},"type":"text"}]}
            """
        }
        let accepted = try postBodies(bodies, url: cutover!.base + "/onprem/default")
        #expect(accepted == count, "every body is acknowledged with 200")

        cutover!.kill()
        cutover = nil

        let downstream = try Downstream(port: port)
        defer { downstream.stop() }
        cutover = try CutoverServer(spool: spool.path, arguments: arguments)
        defer { cutover?.kill() }

        let received = try #require(downstream.waitForRequests(count, timeout: 60), "all \(count) events arrive after the restart")
        let delivered = received.filter { $0.status == 200 }
        let ids = delivered.compactMap(\.eventID)
        #expect(ids.count == count)
        #expect(Set(ids).count == count, "no event is delivered twice")
    }
}
