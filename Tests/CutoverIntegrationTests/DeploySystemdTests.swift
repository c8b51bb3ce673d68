import CutoverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// deploy/cutover.service: `systemd-analyze verify` and `security --offline`, and its command lines
/// run for real.
///
/// verify checks that ExecStart's binary exists and is executable: the tests verify a copy of the
/// unit in a temporary directory with /usr/local/bin/cutover replaced by the binary under test,
/// everything else as shipped. verify exits 0 on an unknown directive and only prints it, so the
/// check is "exit 0 and nothing printed".
struct DeploySystemdTests {
    static let installedBinary = "/usr/local/bin/cutover"

    static func unit() throws -> String { try String(contentsOfFile: Deploy.path("cutover.service"), encoding: .utf8) }

    /// The unit's `key=value` lines, in order.
    static func directives(_ unit: String) -> [(key: String, value: String)] {
        unit.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), !line.hasPrefix("["), let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    static func value(_ key: String, in unit: String) -> String? { directives(unit).last { $0.key == key }?.value }

    /// `systemd-analyze verify` on `text` saved as `cutover.service` in a directory of its own.
    static func verify(_ text: String) throws -> CommandResult {
        let directory = try TemporaryDirectory(prefix: "cutover-systemd")
        let file = directory.path("cutover.service")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return try runCommand("/usr/bin/systemd-analyze", ["verify", "--man=no", file])
    }

    @Test func verifyFindsNothing() throws {
        let result = try Self.verify(try Self.unit().replacingOccurrences(of: Self.installedBinary, with: cutoverBinary))
        #expect(result.status == 0 && result.output.isEmpty && result.error.isEmpty, "verify: \(result.output)\(result.error)")
    }

    /// The check above could fail: a misspelt directive and a missing binary are both reported.
    @Test func verifyReportsAMisspeltDirectiveAndAMissingBinary() throws {
        let misspelt = try Self.verify(try Self.unit().replacingOccurrences(of: Self.installedBinary, with: cutoverBinary)
            .replacingOccurrences(of: "ProtectSystem=strict", with: "ProtectSystm=strict"))
        #expect(misspelt.error.contains("Unknown key 'ProtectSystm'"), "\(misspelt.error)")
        let missing = try Self.verify(try Self.unit().replacingOccurrences(of: Self.installedBinary, with: "/nonexistent/cutover"))
        #expect(missing.status != 0)
        #expect(missing.error.contains("/nonexistent/cutover"), "\(missing.error)")
    }

    /// systemd's own score of the sandbox, 0 (locked down) to 10 (none); measured 1.2.
    @Test func theSandboxScoresAtMostTwo() throws {
        let directory = try TemporaryDirectory(prefix: "cutover-systemd")
        let file = directory.path("cutover.service")
        try Self.unit().replacingOccurrences(of: Self.installedBinary, with: cutoverBinary).write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runCommand("/usr/bin/systemd-analyze", ["security", "--offline=yes", "--no-pager", file])
        #expect(result.status == 0, "\(result.error)")
        let line = try #require(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(line.matches(of: /: ([0-9]+\.[0-9]+)/).first.flatMap { Double($0.output.1) })
        #expect(score <= 2.0, "\(line)")
    }

    @Test func itRestartsOnFailureReloadsOnHangupAndOutlastsTheDrain() throws {
        let unit = try Self.unit()
        #expect(Self.value("Restart", in: unit) == "on-failure")
        #expect(Self.value("ExecReload", in: unit) == "kill -HUP $MAINPID")
        #expect(Self.value("KillSignal", in: unit) == "SIGTERM")
        for (key, expected) in [
            ("DynamicUser", "yes"), ("ProtectSystem", "strict"), ("StateDirectory", "cutover"), ("NoNewPrivileges", "yes"),
            ("PrivateTmp", "yes"), ("ProtectHome", "yes"), ("CapabilityBoundingSet", ""),
        ] {
            #expect(Self.value(key, in: unit) == expected, "\(key)=\(Self.value(key, in: unit) ?? "absent")")
        }
        #expect(Self.directives(unit).contains { $0.key == "SystemCallFilter" && $0.value == "@system-service" })
        // The unit runs the operator's copy of the example config, which may turn admin on.
        let example = try #require(try Deploy.documents(Repo.path("deploy/cutover.example.yml")).first)
        let drain = Deploy.drainSeconds(config: example, withAdmin: true)
        let stop = try Deploy.seconds(try #require(Self.value("TimeoutStopSec", in: unit)))
        #expect(stop > drain, "TimeoutStopSec \(stop) s, drain up to \(drain) s")
    }

    /// ExecStart's arguments and ExecReload's signal against the real binary, with the config and
    /// the state directory moved to a temporary directory (and the port to an ephemeral one).
    @Test func itsCommandLineServesReloadsOnHangupAndStopsOnTerm() throws {
        let unit = try Self.unit()
        let directory = try TemporaryDirectory(prefix: "cutover-systemd-run")
        try "listen: 127.0.0.1:0\n".write(toFile: directory.path("cutover.yml"), atomically: true, encoding: .utf8)
        let execStart = try #require(Self.value("ExecStart", in: unit))
        var arguments = execStart.replacingOccurrences(of: "/etc/cutover/cutover.yml", with: directory.path("cutover.yml"))
            .replacingOccurrences(of: "/var/lib/cutover", with: directory.path("state")).split(separator: " ").map(String.init)
        #expect(arguments.removeFirst() == Self.installedBinary)
        let cutover = try PeerProcess(cutoverBinary, arguments)
        defer { cutover.kill() }
        _ = try cutover.waitForLine(.stderr) { $0.contains("listening on http://127.0.0.1:") }
        #expect(FileManager.default.fileExists(atPath: directory.path("state")), "the spool went elsewhere")
        // SIGHUP is trapped before "listening" is logged (and waits for the reload service), so the
        // first one sent right after is a reload: systemd's ExecReload is a single kill -HUP.
        cutover.signal(SIGHUP)
        let reloaded = cutover.stderr.wait(timeout: 20) { $0.contains { $0.contains("configuration reloaded") } } != nil
        #expect(reloaded, "no reload logged: \(cutover.stderr.lines.joined(separator: " | "))")
        #expect(cutover.terminate() == .exited(0))
    }
}
