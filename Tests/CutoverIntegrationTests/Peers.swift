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
