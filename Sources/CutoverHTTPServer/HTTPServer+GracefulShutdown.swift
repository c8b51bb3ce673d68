import CutoverLocking

extension HTTPServer {
    /// Stops accepting, lets every open connection finish the request it is handling (idle ones
    /// close at once), and returns as soon as the last one closed, or when `gracePeriod` has passed.
    package func shutdownGracefully(gracePeriod: Duration) async {
        shutdown()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.drained.wait { self.openConnectionCount } }
            // The grace period is a bound on the wait, not how it ends: the last close ends it.
            group.addTask { try? await Task.sleep(for: gracePeriod) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Wakes those waiting for a server's connections to be gone, when the last one closes.
final class ConnectionDrain: Sendable {
    private struct Waiters {
        var next = 0
        var continuations: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let waiters = Locked(Waiters())

    /// Returns once `openConnections()` is 0: at once if it is now, else at the next `lastConnectionClosed()`
    /// or when the task is cancelled.
    func wait(openConnections: @Sendable () -> Int) async {
        let id = waiters.withLock { waiters in
            defer { waiters.next += 1 }
            return waiters.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Counted under the waiters' lock: a close that brings the count to 0 takes that lock
                // after its decrement, so it either happened before this read or finds this waiter.
                let resumeNow = waiters.withLock { waiters -> Bool in
                    if Task.isCancelled || openConnections() == 0 { return true }
                    waiters.continuations[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            waiters.withLock { $0.continuations.removeValue(forKey: id) }?.resume()
        }
    }

    /// Called after the open-connection count dropped to 0.
    func lastConnectionClosed() {
        let woken = waiters.withLock { waiters in
            defer { waiters.continuations.removeAll() }
            return Array(waiters.continuations.values)
        }
        for continuation in woken { continuation.resume() }
    }
}
