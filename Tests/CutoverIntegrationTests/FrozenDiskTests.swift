import CutoverTestSupport
import Foundation
import Testing

/// A loop-mounted ext4 image in a temporary directory that can be frozen (`fsfreeze`), as a stalled
/// disk. Needs root with mount rights; `available` says whether this machine grants them. Released:
/// thawed and unmounted, on failing paths too (a frozen mount must never outlive the test).
final class LoopFilesystem: @unchecked Sendable {
    // Invariant: only the test that made it touches it, from one thread.
    let directory: TemporaryDirectory
    let mountPoint: String
    private var mounted = false
    private var frozen = false

    /// Tries a mount once: root, the tools, and permission to mount loop devices.
    static let available: Bool = {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/fsfreeze") else { return false }
        guard let probe = try? LoopFilesystem() else { return false }
        probe.release()
        return true
    }()

    init() throws {
        directory = try TemporaryDirectory(prefix: "cutover-loopfs")
        mountPoint = directory.path("mnt")
        let image = directory.path("image")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        try Self.run("/usr/bin/truncate", ["-s", "64M", image])
        try Self.run("/usr/sbin/mkfs.ext4", ["-q", image])
        try Self.run("/usr/bin/mount", ["-o", "loop", image, mountPoint])
        mounted = true
    }

    func freeze() throws {
        try Self.run("/usr/sbin/fsfreeze", ["-f", mountPoint])
        frozen = true
    }

    func thaw() {
        guard frozen else { return }
        if (try? Self.run("/usr/sbin/fsfreeze", ["-u", mountPoint])) != nil { frozen = false }
    }

    /// Thaws, then unmounts (lazily if a process still holds a file there). Idempotent.
    func release() {
        thaw()
        guard mounted else { return }
        if (try? Self.run("/usr/bin/umount", [mountPoint])) == nil { _ = try? Self.run("/usr/bin/umount", ["-l", mountPoint]) }
        mounted = false
    }

    deinit { release() }

    private static func run(_ executable: String, _ arguments: [String]) throws {
        let result = try runCommand(executable, arguments, timeout: 60)
        guard result.status == 0 else { throw TestFailure("\(executable) \(arguments) failed: \(result.error)") }
    }
}

/// A spool on a frozen file system: webhooks get 503 after the commit timeout instead of hanging,
/// `/readyz` answers within its timeout, and after the thaw the sender's retry is a dedup hit.
@Suite(.serialized, .enabled(if: LoopFilesystem.available, "needs root and loop mounts (fsfreeze)"))
struct FrozenDiskTests {
    private func body(_ id: String) -> String {
        """
        {"contacts":[{"profile":{"name":"Frozen"},"wa_id":"16505550001"}],"messages":[{"from":"16505550001","id":"\(id)",\
        "timestamp":"1700000000","text":{"body":"frozen"},"type":"text"}]}
        """
    }

    private func timed(_ body: () throws -> (status: Int, body: String)) rethrows -> (status: Int, body: String, seconds: Double) {
        let started = Date()
        let result = try body()
        return (result.status, result.body, Date().timeIntervalSince(started))
    }

    /// `cutover serve` with its spool on `filesystem` and the sink in `work`, `settings` added to the
    /// config; and a POST of one On-Prem message to it.
    private func serve(on filesystem: LoopFilesystem, work: TemporaryDirectory, _ settings: String) throws
        -> (cutover: CutoverServer, post: (String) throws -> (status: Int, body: String))
    {
        let config = work.path("cutover.yml")
        try "sink: \(work.path("events.jsonl"))\n\(settings)".write(toFile: config, atomically: true, encoding: .utf8)
        let cutover = try CutoverServer(
            spool: filesystem.mountPoint + "/spool", arguments: ["--config", config, "--onprem-route", "default"])
        let post = { (id: String) throws -> (status: Int, body: String) in
            try curl(["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", self.body(id), cutover.base + "/onprem/default"])
        }
        return (cutover, post)
    }

    @Test func aFrozenSpoolAnswers503WithinTheCommitTimeoutAndRecoversOnThaw() throws {
        let filesystem = try LoopFilesystem()
        defer { filesystem.release() }
        let work = try TemporaryDirectory()
        let (cutover, post) = try serve(on: filesystem, work: work, "spool_commit_timeout_seconds: 1\nreadyz_timeout_seconds: 1\n")
        // Runs before the release above: a process blocked on a frozen file system cannot die until it thaws.
        defer {
            filesystem.thaw()
            cutover.kill()
        }
        #expect(try post("ABGGFROZEN000001").status == 200)

        try filesystem.freeze()
        let stalled = try timed { try post("ABGGFROZEN000002") }
        #expect(stalled.status == 503, "\(stalled.body)")
        #expect(stalled.body.contains("timed out"), "\(stalled.body)")
        #expect(stalled.seconds < 10, "answered after the 1 s commit timeout, not when the client gave up")
        let ready = try timed { try curl([cutover.base + "/readyz"]) }
        #expect(ready.status == 503)
        #expect(ready.body.hasPrefix("spool not answering"), "\(ready.body)")
        #expect(ready.seconds < 5)

        filesystem.thaw()
        // The sender's retry: a dedup hit if the freeze caught the request in its commit (which
        // lands late), a fresh commit if it caught it earlier (its dedup lookup): 200 either way.
        #expect(try post("ABGGFROZEN000002").status == 200)
        // Stored now: the next copy is a duplicate.
        #expect(try post("ABGGFROZEN000002").status == 200)
        let metrics = try curl([cutover.base + "/metrics"]).body
        #expect(metrics.contains("cutover_spool_commit_timeouts_total 1"), "\(metrics)")
        #expect(metrics.contains(#"cutover_duplicate_requests_total{route="/onprem/default"}"#), "\(metrics)")
    }

    /// SIGTERM while the spool's commit hangs on the frozen disk: the process says in its log why it
    /// has not exited yet (after the commit timeout), and exits cleanly once the disk thaws.
    @Test func shutdownOnAFrozenSpoolSaysWhyItWaitsAndEndsOnThaw() throws {
        let filesystem = try LoopFilesystem()
        defer { filesystem.release() }
        let work = try TemporaryDirectory()
        let (cutover, post) = try serve(on: filesystem, work: work, "spool_commit_timeout_seconds: 1\ndelivery:\n  timeout_seconds: 1\n")
        defer {
            filesystem.thaw()
            cutover.kill()
        }
        #expect(try post("ABGGFROZEN000011").status == 200)
        try filesystem.freeze()
        // Its commit is now stuck in the kernel until the thaw.
        #expect(try post("ABGGFROZEN000012").status == 503)

        cutover.process.signal(SIGTERM)
        // The sink's worker may be the one waiting (recording the first event's delivery), or the spool.
        let notice = try cutover.process.waitForLine(.stderr) { $0.contains("\"shutdown: ") }
        #expect(notice.contains("exits once the disk answers"), "\(notice)")
        #expect(cutover.process.termination == nil, "still waiting for the disk")
        filesystem.thaw()
        let ended = cutover.process.waitForExit(timeout: 30)
        #expect(ended?.status == 0, "\(String(describing: ended))")
    }
}
