import CutoverLocking
import Dispatch
import Synchronization

/// What a backend does for the group committer: write one batch in one durable transaction.
protocol GroupCommitWriter: Sendable {
    /// Stores `requests` in ONE transaction, adding `carriedDuplicates` (answered without a write
    /// since the last commit) to the persistent dedup count; returns the receipts in order, only
    /// after the commit is durable.
    func writeBatch(_ requests: [IncomingRequest], carriedDuplicates: Int) -> Result<[IngestReceipt], SpoolError>
    /// After a successful commit, on the writer: the requests it stored.
    func batchCommitted(_ requests: [IncomingRequest])
}

/// The backend-neutral half of ingest: one serial writer takes every submitted request queued so far
/// (up to `maxBatch`), has the backend write them in one transaction, and only then completes each.
/// Requests submitted while a commit is in progress pile up and go together in the next one, so
/// batches grow with load and a lone request is written at once. A submission whose commit takes
/// longer than `commitTimeout` completes with `.timeout`; one still queued then is not written.
final class GroupCommitter: Sendable {
    private struct Submission: Sendable {
        let request: IncomingRequest
        let completion: PendingCompletion
    }

    private struct State {
        var queue: [Submission] = []
        /// A drain is queued or running on `writerQueue`. Invariant: `queue` non-empty implies true.
        var writerScheduled = false
        var closed = false
        var counters = SpoolCounters()
        /// Duplicates answered without a write (`recordCommittedDuplicates`), not yet in the
        /// persistent count: the next transaction adds them.
        var uncountedDuplicates = 0
        /// Every submission not yet known complete with its timeout deadline, in submission order,
        /// which (one timeout for all) is deadline order too: one check, armed for the first,
        /// serves them all.
        var deadlines = DeadlineQueue()
        /// A timeout check is queued on `timeoutQueue`. Invariant: `deadlines` non-empty implies true.
        var timeoutCheckScheduled = false
    }

    private let state = Locked<State>(State())
    private let maxBatch: Int
    private let commitTimeout: Duration?
    private let writerQueue: DispatchQueue
    /// Runs the timeout checks; an expired deadline only completes a submission still waiting.
    private let timeoutQueue = DispatchQueue(label: "cutover.spool.commit-timeouts", qos: .userInitiated)
    /// Uptime nanoseconds at which the batch being written started; 0 while the writer is idle.
    private let batchStartedAt = Atomic<UInt64>(0)
    /// Test hook: called on the writer as each batch starts, before the backend writes it.
    private let batchStartObserver = Locked<(@Sendable () -> Void)?>(nil)

    init(options: SpoolOptions, label: String = "cutover.spool.writer") {
        maxBatch = options.maxBatch
        commitTimeout = options.commitTimeout
        writerQueue = DispatchQueue(label: label, qos: .userInitiated)
    }

    /// Queues `request` for `writer`'s next batch (see `Spool.submit` for the completion's contract).
    func submit(
        _ request: IncomingRequest, to writer: some GroupCommitWriter,
        completion: @escaping @Sendable (Result<IngestReceipt, SpoolError>) -> Void
    ) {
        let pending = PendingCompletion(completion)
        let deadline = commitTimeout.map { DispatchTime.now() + $0.dispatchInterval }
        let (accepted, startWriter, checkAt) = state.withLock { state -> (Bool, Bool, DispatchTime?) in
            if state.closed {
                state.counters.failedRequests += 1
                return (false, false, nil)
            }
            state.queue.append(Submission(request: request, completion: pending))
            var checkAt: DispatchTime?
            if let deadline {
                // The submissions before this one mostly completed already: forget them now, so
                // the queue holds about what is waiting, not a whole timeout's worth of traffic.
                state.deadlines.dropCompletedHead()
                state.deadlines.append(deadline, pending)
                if !state.timeoutCheckScheduled {
                    state.timeoutCheckScheduled = true
                    checkAt = deadline
                }
            }
            if state.writerScheduled { return (true, false, checkAt) }
            state.writerScheduled = true
            return (true, true, checkAt)
        }
        guard accepted else {
            pending.complete(.failure(.closed("submit request")))
            return
        }
        if let checkAt { scheduleTimeoutCheck(at: checkAt) }
        if startWriter { writerQueue.async { self.drain(writer) } }
    }

    // MARK: Commit timeouts

    private func scheduleTimeoutCheck(at deadline: DispatchTime) {
        timeoutQueue.asyncAfter(deadline: deadline) { [weak self] in self?.expireTimedOut() }
    }

    /// Completes every waiting submission whose deadline passed with `.timeout`, then arms the next
    /// check for the first deadline still ahead: one timer at a time, not one per submission.
    private func expireTimedOut() {
        guard let timeout = commitTimeout else { return }
        let now = DispatchTime.now()
        let (expired, next) = state.withLock { state -> ([PendingCompletion], DispatchTime?) in
            let expired = state.deadlines.removeExpired(now: now)
            guard let next = state.deadlines.firstDeadline else {
                state.timeoutCheckScheduled = false
                return (expired, nil)
            }
            return (expired, next)
        }
        let error = SpoolError(
            kind: .timeout, message: "the commit did not finish within \(timeout) (stalled disk?)", operation: "submit request")
        // Counted before any is answered: whoever sees an answer sees it in the counters too.
        let answers = expired.compactMap { $0.take() }
        if !answers.isEmpty { state.withLock { $0.counters.timedOutRequests += answers.count } }
        for answer in answers { answer(.failure(error)) }
        if let next { scheduleTimeoutCheck(at: next) }
    }

    private func drain(_ writer: some GroupCommitWriter) {
        while true {
            let submissions = state.withLock { state -> [Submission] in
                if state.queue.isEmpty {
                    state.writerScheduled = false
                    return []
                }
                if state.queue.count <= maxBatch {
                    defer { state.queue.removeAll(keepingCapacity: true) }
                    return state.queue
                }
                defer { state.queue.removeFirst(maxBatch) }
                return Array(state.queue.prefix(maxBatch))
            }
            if submissions.isEmpty { return }
            // Already answered (timed out while queued): writing them now would only surprise.
            let live = submissions.filter { !$0.completion.isDone }
            if live.isEmpty { continue }

            let requests = live.map(\.request)
            let carried = takeUncountedDuplicates()
            batchStartedAt.store(max(1, DispatchTime.now().uptimeNanoseconds), ordering: .relaxed)
            batchStartObserver.withLock { $0 }?()
            let result = writer.writeBatch(requests, carriedDuplicates: carried)
            batchStartedAt.store(0, ordering: .relaxed)
            switch result {
            case .success(let receipts):
                recordCommit(live.count)
                writer.batchCommitted(requests)
                for (submission, receipt) in zip(live, receipts) { submission.completion.complete(.success(receipt)) }
            case .failure(let error):
                state.withLock { state in
                    state.counters.recordFailure(live.count)
                    state.uncountedDuplicates += carried
                }
                for submission in live { submission.completion.complete(.failure(error)) }
            }
        }
    }

    // MARK: Counters

    var counters: SpoolCounters { state.withLock { $0.counters } }
    var isClosed: Bool { state.withLock { $0.closed } }

    func recordCommit(_ requests: Int) { state.withLock { $0.counters.recordCommit(requests) } }
    func recordFailure(_ requests: Int) { state.withLock { $0.counters.recordFailure(requests) } }
    func countRefused() { state.withLock { $0.counters.failedRequests += 1 } }

    func addUncountedDuplicates(_ events: Int) { state.withLock { $0.uncountedDuplicates += events } }

    func takeUncountedDuplicates() -> Int {
        state.withLock { state in
            defer { state.uncountedDuplicates = 0 }
            return state.uncountedDuplicates
        }
    }

    /// How long the batch being written has been at it, nil while the writer is idle.
    func busyFor(now: DispatchTime) -> Duration? {
        let started = batchStartedAt.load(ordering: .relaxed)
        guard started != 0 else { return nil }
        return .nanoseconds(Int64(clamping: now.uptimeNanoseconds &- started))
    }

    // MARK: Closing

    /// Rejects new submissions and blocks until every accepted one was written and completed.
    func close() {
        dispatchPrecondition(condition: .notOnQueue(writerQueue))
        state.withLock { $0.closed = true }
        // Every submission accepted before `closed` was set has a drain queued or running; this waits for it.
        writerQueue.sync {}
    }

    /// `close()` for async code: the wait for the writer suspends instead of blocking a thread.
    func shutdown() async {
        state.withLock { $0.closed = true }
        // Queued behind every drain scheduled before `closed` was set, like `close()`'s sync.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            writerQueue.async { continuation.resume() }
        }
    }

    // MARK: Test hooks

    func onBatchStart(_ observer: (@Sendable () -> Void)?) { batchStartObserver.withLock { $0 = observer } }
    func suspendWriter() { writerQueue.suspend() }
    func resumeWriter() { writerQueue.resume() }
}

extension SpoolCounters {
    fileprivate mutating func recordCommit(_ requests: Int) {
        ingestCommits += 1
        ingestedRequests += requests
        largestBatch = max(largestBatch, requests)
    }

    fileprivate mutating func recordFailure(_ requests: Int) {
        failedIngestBatches += 1
        failedRequests += requests
    }
}

/// The submissions a commit timeout may still complete, oldest first: a FIFO whose head is
/// dropped once it is complete (the commits complete submissions in order, so the head goes first).
struct DeadlineQueue {
    private var entries: [(deadline: DispatchTime, completion: PendingCompletion)] = []
    private var head = 0

    var firstDeadline: DispatchTime? { head < entries.count ? entries[head].deadline : nil }

    mutating func append(_ deadline: DispatchTime, _ completion: PendingCompletion) {
        entries.append((deadline, completion))
    }

    /// Drops completed submissions from the head, up to the first still waiting.
    mutating func dropCompletedHead() {
        while head < entries.count, entries[head].completion.isDone { head += 1 }
        compact()
    }

    /// Removes, from the head, the completed submissions and the waiting ones whose deadline is
    /// `now` or earlier; returns the latter.
    mutating func removeExpired(now: DispatchTime) -> [PendingCompletion] {
        var expired: [PendingCompletion] = []
        while head < entries.count {
            let entry = entries[head]
            if !entry.completion.isDone {
                guard entry.deadline <= now else { break }
                expired.append(entry.completion)
            }
            head += 1
        }
        compact()
        return expired
    }

    /// Gives back the dropped prefix's slots once they are the larger part.
    private mutating func compact() {
        if head == entries.count {
            entries.removeAll(keepingCapacity: entries.count <= 4_096)
            head = 0
        } else if head > 1_024, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}

/// A submission's completion, called at most once: by the commit or by the timeout, whichever comes first.
final class PendingCompletion: Sendable {
    private let completion: Locked<(@Sendable (Result<IngestReceipt, SpoolError>) -> Void)?>

    init(_ completion: @escaping @Sendable (Result<IngestReceipt, SpoolError>) -> Void) {
        self.completion = Locked(completion)
    }

    var isDone: Bool { completion.withLock { $0 == nil } }

    /// Calls the completion unless it was called already; whether it did.
    @discardableResult
    func complete(_ result: Result<IngestReceipt, SpoolError>) -> Bool {
        guard let completion = take() else { return false }
        completion(result)
        return true
    }

    /// The completion, unless it was called already; after this nobody else can call it.
    func take() -> (@Sendable (Result<IngestReceipt, SpoolError>) -> Void)? {
        completion.withLock { $0.take() }
    }
}
