import Foundation

/// One request the downstream received.
package struct ReceivedRequest: Sendable {
    package var path: String
    package var headers: [String: String]
    package var body: Data
    package var status: Int
    /// The sender's address and port: requests with the same one came over the same connection.
    package var peer: String

    package var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    package var eventID: String? { headers["x-cutover-event-id"] }
}

/// Python's http.server as the business's existing endpoint (`scripts/test-downstream.py`): it
/// prints `listening PORT` once bound, then one JSON line per request; killed when released.
package final class Downstream: Sendable {
    package let process: PeerProcess
    package let port: Int

    /// `port` 0 lets the kernel choose; `arguments` are the script's options (`--status 500`, ...).
    package init(port: Int = 0, arguments: [String] = []) throws {
        process = try PeerProcess("/usr/bin/env", ["python3", Repo.path("scripts/test-downstream.py"), "--port", String(port)] + arguments)
        let line = try process.waitForLine { $0.hasPrefix("listening ") }
        guard let bound = Int(line.dropFirst("listening ".count)) else { throw TestFailure("downstream printed \(line)") }
        self.port = bound
    }

    package var url: String { "http://127.0.0.1:\(port)/hook" }

    package var requests: [ReceivedRequest] { Self.parse(process.stdout.lines) }

    /// Waits until at least `count` requests arrived; nil after `timeout` seconds.
    package func waitForRequests(_ count: Int, timeout: TimeInterval = 30) -> [ReceivedRequest]? {
        process.stdout.wait(timeout: timeout) { Self.parse($0).count >= count }.map(Self.parse)
    }

    package func stop() { process.kill() }

    package static func parse(_ lines: [String]) -> [ReceivedRequest] {
        lines.compactMap { line in
            guard line.hasPrefix("{"), let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let body = (object["body"] as? String).flatMap({ Data(base64Encoded: $0) })
            else { return nil }
            return ReceivedRequest(
                path: object["path"] as? String ?? "", headers: object["headers"] as? [String: String] ?? [:], body: body,
                status: object["status"] as? Int ?? 0, peer: object["peer"] as? String ?? ""
            )
        }
    }
}
