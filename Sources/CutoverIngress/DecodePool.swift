import CutoverLocking
import CutoverSockets
import Foundation

/// A fixed set of worker queues for CPU-bound request work (normalizing a webhook body), so the
/// I/O loops only parse HTTP and move bytes: a 3 MB body of tiny objects takes tens of
/// milliseconds to normalize, and on a loop it would stall every connection the loop owns.
///
/// Jobs wait in one FIFO and an idle worker takes the oldest, so one heavy body never holds up
/// light ones while another worker is free. The FIFO is bounded: past `maxPending` waiting jobs
/// `submit` refuses (the caller answers 503 and the sender retries), so a flood costs bounded
/// memory and bounded delay instead of an ever-growing queue.
package final class DecodePool: Sendable {
    package typealias Job = @Sendable () -> Void

    private struct State {
        var idle: [Int]
        var backlog: [Job?] = []
        /// Index of the oldest waiting job in `backlog` (taken slots are nil until compaction).
        var head = 0
        var waiting: Int { backlog.count - head }

        mutating func take() -> Job? {
            guard head < backlog.count else { return nil }
            let job = backlog[head]
            backlog[head] = nil
            head += 1
            if head == backlog.count || head >= 64 && head * 2 >= backlog.count {
                backlog.removeFirst(head)
                head = 0
            }
            return job
        }
    }

    package let workers: Int
    package let maxPending: Int
    private let queues: [DispatchQueue]
    private let state: Locked<State>

    /// - Parameters:
    ///   - workers: worker threads; 0 means one per core this process may run on (its CPU
    ///     affinity mask, as the I/O loops count them; `activeProcessorCount` counts the machine's,
    ///     so a server pinned to one core ran two workers taking turns on it, a context switch per
    ///     hand-over).
    ///   - maxPending: jobs that may wait for a worker.
    package init(workers: Int = 0, maxPending: Int, label: String = "cutover.decode") {
        let count = workers > 0 ? workers : max(1, System.coreCount)
        self.workers = count
        self.maxPending = maxPending
        queues = (0..<count).map { DispatchQueue(label: "\(label).\($0)") }
        state = Locked(State(idle: Array((0..<count).reversed())))
    }

    /// Runs `job` on a worker now or once one is free; false (and `job` dropped) when
    /// `maxPending` jobs are already waiting.
    package func submit(_ job: @escaping Job) -> Bool {
        enum Placement { case run(Int), queued, refused }
        let placement: Placement = state.withLock { state in
            if let worker = state.idle.popLast() { return .run(worker) }
            guard state.waiting < maxPending else { return .refused }
            state.backlog.append(job)
            return .queued
        }
        switch placement {
        case .run(let worker):
            queues[worker].async { self.work(worker, first: job) }
            return true
        case .queued:
            return true
        case .refused:
            return false
        }
    }

    /// Jobs waiting for a worker (not those running).
    package var pending: Int { state.withLock { $0.waiting } }

    /// Runs jobs on one worker until the backlog is empty, then marks the worker idle.
    private func work(_ worker: Int, first: @escaping Job) {
        var job: Job? = first
        while let current = job {
            current()
            job = state.withLock { state in
                guard let next = state.take() else {
                    state.idle.append(worker)
                    return nil
                }
                return next
            }
        }
    }
}
