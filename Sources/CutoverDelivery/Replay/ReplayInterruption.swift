import CutoverLocking

/// A request to stop a replay early (Ctrl-C), in two steps. `interrupt`: the runner reads and
/// sends nothing more, lets the requests in flight finish, and returns its summary marked
/// interrupted. `abandon` (a second Ctrl-C): it stops waiting for those too. Set from a signal
/// handler's queue, read by the runner; a pacing wait ends as soon as it is set.
package final class ReplayInterruption: Sendable {
    private struct State {
        var reason: String?
        var abandoned = false
        var waiters: [Int: (abandonOnly: Bool, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiter = 0

        func holds(abandonOnly: Bool) -> Bool { abandonOnly ? abandoned : reason != nil }
    }

    private let state = Locked(State())

    package init() {}

    /// Why the replay was stopped (`SIGINT`), once it was.
    package var reason: String? { state.withLock { $0.reason } }

    /// Stops the replay; the first reason is kept.
    package func interrupt(_ reason: String) {
        resume { state in
            if state.reason == nil { state.reason = reason }
        }
    }

    /// Stops waiting for the requests in flight (and interrupts, if that has not happened yet).
    package func abandon(_ reason: String) {
        resume { state in
            if state.reason == nil { state.reason = reason }
            state.abandoned = true
        }
    }

    private func resume(after change: (inout State) -> Void) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            change(&state)
            let ready = state.waiters.filter { state.holds(abandonOnly: $0.value.abandonOnly) }
            for id in ready.keys { state.waiters.removeValue(forKey: id) }
            return ready.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once the replay is interrupted (`abandonOnly`: abandoned), or the task is cancelled.
    package func wait(abandonOnly: Bool = false) async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.holds(abandonOnly: abandonOnly) || Task.isCancelled { return true }
                    state.waiters[id] = (abandonOnly, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }
}
