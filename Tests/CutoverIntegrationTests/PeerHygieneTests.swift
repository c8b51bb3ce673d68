import CutoverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The test support's children: started with no blocked or ignored signal (so SIGTERM stops
/// them), killed with their process group when released, and a hung command times out.
@Suite struct PeerHygieneTests {
    @Test func childrenStartWithNoBlockedOrIgnoredSignal() throws {
        let result = try runCommand("/bin/grep", ["-E", "^Sig(Blk|Ign):", "/proc/self/status"])
        #expect(result.status == 0, "\(result.error)")
        let masks = Dictionary(
            uniqueKeysWithValues: result.output.split(separator: "\n").map { line in
                let parts = line.split(separator: "\t")
                return (String(parts[0]), UInt64(parts.last ?? "", radix: 16))
            })
        #expect(masks["SigBlk:"] == .some(0), "\(result.output)")
        // Signals 1-31 at their defaults; glibc's posix_spawn ignores its own internal ones (32, 33).
        #expect(masks["SigIgn:"]?.map { $0 & 0x7FFF_FFFF } == .some(0), "\(result.output)")
    }

    @Test func childrenCarryThePeerMarker() throws {
        let result = try runCommand("/usr/bin/env", [])
        #expect(result.output.split(separator: "\n").contains("\(TestPeers.markerName)=\(TestPeers.marker)"))
    }

    @Test func terminateStopsAPeerWithSIGTERM() throws {
        let peer = try PeerProcess("/bin/sleep", ["600"])
        #expect(peer.terminate(grace: 20) == .signalled(SIGTERM))
        #expect(TestPeers.running[peer.pid] == nil)
    }

    @Test func releasingAPeerKillsItAndItsChildren() throws {
        // The shell's `sleep` shares its stdout: the pipe ends only when both are dead.
        var peer: PeerProcess? = try PeerProcess("/bin/sh", ["-c", "sleep 600 & echo started; wait"])
        _ = try #require(peer).waitForLine { $0 == "started" }
        let child = try #require(peer).pid
        let output = try #require(peer).stdout
        peer = nil
        #expect(!isRunning(child))
        #expect(TestPeers.running[child] == nil)
        #expect(output.waitForEnd(timeout: 10), "the sleep was killed with the process group")
    }

    @Test func aCommandThatHangsTimesOutAndIsKilled() throws {
        let started = Date()
        #expect(throws: TestFailure.self) { try runCommand("/bin/sleep", ["599"], timeout: 1) }
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(!TestPeers.running.values.contains("/bin/sleep 599"))
    }

    /// True while `pid` exists and is not a zombie.
    private func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[close...].hasPrefix(") Z") && !stat[close...].hasPrefix(") X")
    }
}
