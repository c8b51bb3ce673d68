import Foundation
import Testing

/// One request the downstream received.
struct ReceivedRequest {
    var path: String
    var headers: [String: String]
    var body: Data
    var status: Int

    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    var eventID: String? { headers["x-cutover-event-id"] }
}

/// Python's http.server as the business's existing endpoint (scripts/test-downstream.py).
final class Downstream: @unchecked Sendable {
    // Invariant: immutable after init; the process and its collectors are thread-safe.
    let process: TestProcess
    let port: Int

    init(port: Int = 0, arguments: [String] = []) throws {
        let script = packageRoot.appendingPathComponent("scripts/test-downstream.py").path
        process = try TestProcess("/usr/bin/env", ["python3", script, "--port", String(port)] + arguments)
        guard let lines = process.stdout.wait(until: { $0.contains { $0.hasPrefix("listening ") } }),
            let line = lines.first(where: { $0.hasPrefix("listening ") }), let bound = Int(line.dropFirst("listening ".count))
        else {
            throw TestFailure("downstream did not start: \(process.stderr.snapshot.joined(separator: "\n"))")
        }
        self.port = bound
    }

    var url: String { "http://127.0.0.1:\(port)/hook" }

    var requests: [ReceivedRequest] { Self.parse(process.stdout.snapshot) }

    /// Waits until at least `count` requests arrived.
    func waitForRequests(_ count: Int, timeout: TimeInterval = 30) -> [ReceivedRequest]? {
        process.stdout.wait(timeout: timeout) { Self.parse($0).count >= count }.map(Self.parse)
    }

    func stop() { process.kill() }

    static func parse(_ lines: [String]) -> [ReceivedRequest] {
        lines.compactMap { line in
            guard line.hasPrefix("{"), let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let body = (object["body"] as? String).flatMap({ Data(base64Encoded: $0) })
            else { return nil }
            return ReceivedRequest(
                path: object["path"] as? String ?? "", headers: object["headers"] as? [String: String] ?? [:], body: body,
                status: object["status"] as? Int ?? 0
            )
        }
    }
}

/// The real `cutover serve` binary on an ephemeral loopback port.
final class CutoverServer: @unchecked Sendable {
    // Invariant: immutable after init.
    let process: TestProcess
    let port: Int

    init(spool: String, arguments: [String], environment: [String: String] = [:], port: Int = 0) throws {
        process = try TestProcess(
            cutoverBinary, ["serve", "--listen", "127.0.0.1:\(port)", "--spool", spool] + arguments, environment: environment
        )
        let marker = "listening on http://127.0.0.1:"
        guard let lines = process.stderr.wait(until: { $0.contains { $0.contains(marker) } }),
            let line = lines.first(where: { $0.contains(marker) }),
            let port = Int(line[line.range(of: marker)!.upperBound...].prefix { $0.isNumber })
        else {
            throw TestFailure("cutover did not start: \(process.stderr.snapshot.joined(separator: "\n"))")
        }
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func kill() { process.kill() }
}

/// A loopback port nothing listens on right now (bound, read back, released).
func freePort() throws -> Int {
    let result = try runCommand("/usr/bin/env", [
        "python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])",
    ])
    guard let port = Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw TestFailure("no free port: \(result.error)")
    }
    return port
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// curl as the sender. Returns the HTTP status and the response body.
func curl(_ arguments: [String]) throws -> (status: Int, body: String) {
    let result = try runCommand("/usr/bin/curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "20"] + arguments)
    var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
    let status = Int(lines.popLast() ?? "") ?? 0
    return (status, lines.joined(separator: "\n"))
}

/// `sha256=<hex>` computed by Python's hmac module: an implementation independent of Cutover's.
func pythonSignature(body: Data, secret: String) throws -> String {
    let script = "import hashlib,hmac,sys; print('sha256=' + hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())"
    let result = try runCommand("/usr/bin/env", ["python3", "-c", script, secret], stdin: body)
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
}

func fixture(_ relativePath: String) throws -> Data {
    try Data(contentsOf: packageRoot.appendingPathComponent("fixtures").appendingPathComponent(relativePath))
}
