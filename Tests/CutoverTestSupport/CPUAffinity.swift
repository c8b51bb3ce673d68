import Foundation

/// The cores the test process may run on, as the kernel reports them (`Cpus_allowed` in
/// /proc/self/status), independently of `sched_getaffinity`, which the code under test calls.
package func coresAllowedByTheKernel() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else {
        throw TestFailure("no Cpus_allowed line in /proc/self/status")
    }
    return line.dropFirst("Cpus_allowed:".count).filter(\.isHexDigit).reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
}
