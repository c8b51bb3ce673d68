import CutoverTestSupport
import Foundation
import Testing

/// The `cutover` binary under test: $CUTOVER_BINARY (set by `make test`) or the debug build.
let cutoverBinary: String = {
    if let path = ProcessInfo.processInfo.environment["CUTOVER_BINARY"], !path.isEmpty { return path }
    return Repo.path(".build/debug/cutover")
}()

/// The real `cutover serve` binary on an ephemeral loopback port.
final class CutoverServer: @unchecked Sendable {
    // Invariant: immutable after init.
    let process: PeerProcess
    let port: Int

    /// - Parameter spool: `--spool`; nil leaves the spool to the config (`spool.postgres` with its instance id).
    init(spool: String?, arguments: [String], environment: [String: String] = [:], port: Int = 0) throws {
        process = try PeerProcess(
            cutoverBinary, ["serve", "--listen", "127.0.0.1:\(port)"] + (spool.map { ["--spool", $0] } ?? []) + arguments,
            environment: environment
        )
        let marker = "listening on http://127.0.0.1:"
        let line = try process.waitForLine(.stderr) { $0.contains(marker) }
        guard let port = Int(line[line.range(of: marker)!.upperBound...].prefix { $0.isNumber }) else {
            throw TestFailure("cutover did not start: \(line)")
        }
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func kill() { process.kill() }

    /// `http(s)://127.0.0.1:PORT/admin`, from the line the admin listener logs once bound.
    func adminURL(tls: Bool = false) throws -> String {
        let scheme = tls ? "https" : "http"
        let marker = "admin API at \(scheme)://127.0.0.1:"
        let line = try process.waitForLine(.stderr) { $0.contains(marker) }
        guard let port = Int(line[line.range(of: marker)!.upperBound...].prefix { $0.isNumber }) else {
            throw TestFailure("no admin port in \(line)")
        }
        return "\(scheme)://127.0.0.1:\(port)/admin"
    }

    /// Cutover with only an admin listener over TLS (the test certificates), its token from the
    /// environment as a deployment would pass it.
    static func withAdminOverTLS(token: String, in directory: TemporaryDirectory) throws -> CutoverServer {
        let certificates = TestCertificates.shared
        let config = directory.path("cutover.yml")
        try """
        admin:
          listen: 127.0.0.1:0
          token: {env: CUTOVER_TEST_ADMIN_TOKEN}
          tls:
            certificate: \(certificates.serverCertificate)
            private_key: \(certificates.serverKey)
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return try CutoverServer(
            spool: directory.path("spool"), arguments: ["--config", config], environment: ["CUTOVER_TEST_ADMIN_TOKEN": token])
    }
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

/// curl with the response headers: status, lowercased headers, body.
func exchange(_ arguments: [String]) throws -> (status: Int, headers: [String: String], body: String) {
    let result = try runCommand("/usr/bin/curl", ["-sS", "-D", "-", "-o", "-", "--max-time", "20"] + arguments)
    guard let split = result.output.range(of: "\r\n\r\n") else { throw TestFailure("no response: \(result.error)") }
    var lines = result.output[..<split.lowerBound].components(separatedBy: "\r\n")
    let statusLine = lines.removeFirst()
    let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
    var headers: [String: String] = [:]
    for line in lines {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return (status, headers, String(result.output[split.upperBound...]))
}

/// A JSON object from GET `url` (200 expected).
func json(_ url: String, _ arguments: [String]) throws -> [String: Any] {
    let response = try curl([url] + arguments)
    guard response.status == 200, let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any] else {
        throw TestFailure("GET \(url): \(response.status) \(response.body)")
    }
    return object
}

/// Polls an admin endpoint until `condition` holds (a deadline, not a sleep, ends the wait).
func waitForJSON(
    _ url: String, _ arguments: [String], timeout: TimeInterval = 20, until condition: ([String: Any]) -> Bool
) throws -> [String: Any] {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let object = try json(url, arguments)
        if condition(object) { return object }
        guard Date() < deadline else { throw TestFailure("\(url) never reached the expected state: \(object)") }
        Thread.sleep(forTimeInterval: 0.1)
    }
}
