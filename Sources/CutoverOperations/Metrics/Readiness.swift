import CutoverLocking
import CutoverSpool
import Dispatch
import Foundation
import Synchronization

/// What `/readyz` answers: whether this instance should get traffic now.
///
/// Ready means: the listeners are up and not shutting down; the spool has no fault (lost or
/// corrupt); the database file is still the one the spool opened; the spool answers a query; the
/// spool directory takes a small synced write (a read-only remount, a full disk or a deleted directory
/// all fail it); no commit has been running for longer than the commit timeout; and the last ingest
/// commit did not fail recently with no success since. Each check is cheap and runs off the event
/// loops; a frozen file system can still block one, so an answer never waits more than
/// `answerTimeout` for them.
package final class Readiness: Sendable {
    package struct Verdict: Sendable, Equatable {
        package var ready: Bool
        package var reason: String
    }

    private let spool: any SpoolBackend
    private let listening = Atomic<Bool>(false)
    private let shuttingDown = Atomic<Bool>(false)
    /// Uptime nanoseconds of the last successful and the last failed ingest commit (0: never).
    private let lastCommitSuccess = Atomic<UInt64>(0)
    private let lastCommitFailure = Atomic<UInt64>(0)
    /// A failed commit makes the instance unready for this long unless a commit succeeds meanwhile
    /// (then traffic is let back in to find out, instead of staying out forever).
    let commitFailureWindow: Duration
    /// The longest `/readyz` waits for the checks before answering "spool not answering".
    let answerTimeout: Duration
    /// A commit running longer than this is a stall (the spool's commit timeout, 5 s without one).
    let stallThreshold: Duration
    private let queue = DispatchQueue(label: "cutover.readiness", qos: .utility)
    private let timers = DispatchQueue(label: "cutover.readiness.timeouts", qos: .utility)
    /// Callers waiting for the check in progress; one check runs at a time, so a check stuck on a
    /// frozen disk does not pile up more stuck checks behind it.
    private let waiting = Locked<Waiters>(Waiters())

    private struct Waiters {
        var running = false
        var nextID = 0
        var completions: [Int: @Sendable (Verdict) -> Void] = [:]
        /// When the check in progress started (uptime nanoseconds).
        var startedAt: UInt64 = 0
    }

    package init(spool: any SpoolBackend, commitFailureWindow: Duration = .seconds(30), answerTimeout: Duration = .seconds(1)) {
        self.spool = spool
        self.commitFailureWindow = commitFailureWindow
        self.answerTimeout = answerTimeout
        stallThreshold = spool.options.commitTimeout ?? .seconds(5)
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

    /// Runs the checks on the readiness queue and hands the verdict to `completion` there; if they
    /// have not finished within `answerTimeout`, hands it "spool not answering" instead (on a timer
    /// queue), and nothing later.
    package func check(completion: @escaping @Sendable (Verdict) -> Void) {
        let (id, start) = waiting.withLock { state -> (Int, Bool) in
            let id = state.nextID
            state.nextID += 1
            state.completions[id] = completion
            if state.running { return (id, false) }
            state.running = true
            state.startedAt = DispatchTime.now().uptimeNanoseconds
            return (id, true)
        }
        if start {
            queue.async { [self] in
                let verdict = checkNow()
                let completions = waiting.withLock { state in
                    state.running = false
                    defer { state.completions = [:] }
                    return Array(state.completions.values)
                }
                for completion in completions { completion(verdict) }
            }
        }
        let nanoseconds = Int(clamping: answerTimeout.components.seconds * 1_000_000_000 + answerTimeout.components.attoseconds / 1_000_000_000)
        timers.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            let (late, startedAt) = waiting.withLock { state in (state.completions.removeValue(forKey: id), state.startedAt) }
            guard let late else { return }
            let running = Duration.nanoseconds(Int64(clamping: DispatchTime.now().uptimeNanoseconds &- startedAt))
            late(Verdict(ready: false, reason: "spool not answering: the readiness check has been running for \(running.roundedMilliseconds) ms (stalled disk?)"))
        }
    }

    /// The checks, on the caller's thread.
    func checkNow(now: DispatchTime = .now()) -> Verdict {
        if shuttingDown.load(ordering: .acquiring) { return Verdict(ready: false, reason: "shutting down") }
        guard listening.load(ordering: .acquiring) else { return Verdict(ready: false, reason: "listeners not up") }
        // Checked first: sticky, and the most useful reason to show.
        if let fault = spool.verifyIdentity() ?? spool.fault {
            return Verdict(ready: false, reason: Self.reason(fault))
        }
        do {
            _ = try spool.delivery(id: 0)
        } catch {
            if let fault = spool.fault { return Verdict(ready: false, reason: Self.reason(fault)) }
            return Verdict(ready: false, reason: "spool unavailable: \(error)")
        }
        if let busy = spool.writerBusyFor(now: now), busy > stallThreshold {
            return Verdict(ready: false, reason: "spool not answering: a commit has been running for \(busy.roundedMilliseconds) ms (stalled disk?)")
        }
        if let directory = spool.probedDirectory, let problem = Self.probeWrite(directory: directory) {
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

    private static func reason(_ fault: SpoolFault) -> String {
        switch fault.kind {
        case .lost: "spool database removed or replaced: \(fault.reason)"
        case .corrupt: "spool corrupt: \(fault.reason)"
        }
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

extension Duration {
    fileprivate var roundedMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
