import CutoverSpool
import Dispatch
import Foundation
import Synchronization

/// What `/readyz` answers: whether this instance should get traffic now.
///
/// Ready means: the listeners are up and not shutting down; the spool answers a query; the spool
/// directory takes a small synced write (a read-only remount, a full disk or a deleted directory
/// all fail it); the database file is still the one the spool opened; and the last ingest commit did
/// not fail recently with no success since. Each check is cheap; the probe runs off the event loops.
package final class Readiness: Sendable {
    package struct Verdict: Sendable, Equatable {
        package var ready: Bool
        package var reason: String
    }

    private let spool: Spool
    private let listening = Atomic<Bool>(false)
    private let shuttingDown = Atomic<Bool>(false)
    /// Uptime nanoseconds of the last successful and the last failed ingest commit (0: never).
    private let lastCommitSuccess = Atomic<UInt64>(0)
    private let lastCommitFailure = Atomic<UInt64>(0)
    /// The database file's identity when the spool was opened (device, inode).
    private let databaseIdentity: FileIdentity?
    /// A failed commit makes the instance unready for this long unless a commit succeeds meanwhile
    /// (then traffic is let back in to find out, instead of staying out forever).
    let commitFailureWindow: Duration
    private let queue = DispatchQueue(label: "cutover.readiness", qos: .utility)

    package init(spool: Spool, commitFailureWindow: Duration = .seconds(30)) {
        self.spool = spool
        self.commitFailureWindow = commitFailureWindow
        databaseIdentity = FileIdentity(path: spool.path)
    }

    package func listenersUp() { listening.store(true, ordering: .releasing) }

    package func shutdownStarted() { shuttingDown.store(true, ordering: .releasing) }

    /// Called from each ingest completion (cheap: one atomic store).
    package func recordCommit(succeeded: Bool, at time: DispatchTime = .now()) {
        if succeeded {
            lastCommitSuccess.store(time.uptimeNanoseconds, ordering: .relaxed)
        } else {
            lastCommitFailure.store(time.uptimeNanoseconds, ordering: .relaxed)
        }
    }

    /// Runs the checks on the readiness queue and hands the verdict to `completion` there.
    package func check(completion: @escaping @Sendable (Verdict) -> Void) {
        queue.async { [self] in completion(checkNow()) }
    }

    /// The checks, on the caller's thread.
    func checkNow(now: DispatchTime = .now()) -> Verdict {
        if shuttingDown.load(ordering: .acquiring) { return Verdict(ready: false, reason: "shutting down") }
        guard listening.load(ordering: .acquiring) else { return Verdict(ready: false, reason: "listeners not up") }
        do {
            _ = try spool.delivery(id: 0)
        } catch {
            return Verdict(ready: false, reason: "spool unavailable: \(error)")
        }
        if let databaseIdentity, FileIdentity(path: spool.path) != databaseIdentity {
            return Verdict(ready: false, reason: "spool database \(spool.path) was removed or replaced")
        }
        if let problem = Self.probeWrite(directory: spool.directory) {
            return Verdict(ready: false, reason: "spool directory not writable: \(problem)")
        }
        let failure = lastCommitFailure.load(ordering: .relaxed)
        let success = lastCommitSuccess.load(ordering: .relaxed)
        if failure != 0, failure > success {
            let elapsed = Duration.nanoseconds(Int64(clamping: now.uptimeNanoseconds &- failure))
            if elapsed < commitFailureWindow {
                return Verdict(ready: false, reason: "the last spool commit failed and none succeeded since")
            }
        }
        return Verdict(ready: true, reason: "ready")
    }

    /// Creates, writes, syncs and removes a small file in `directory`; the error text, or nil.
    static func probeWrite(directory: String) -> String? {
        let path = (directory as NSString).appendingPathComponent(".readyz-probe")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "\(path): \(String(cString: strerror(errno)))" }
        defer {
            close(fd)
            unlink(path)
        }
        let byte: [UInt8] = [0x0a]
        guard write(fd, byte, 1) == 1 else { return "\(path): \(String(cString: strerror(errno)))" }
        guard fsync(fd) == 0 else { return "\(path): \(String(cString: strerror(errno)))" }
        return nil
    }
}

/// A file's device and inode: whether a path still names the file that was opened.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
