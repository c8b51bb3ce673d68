import CutoverLocking
import Dispatch

/// One request's way through ingest, answered exactly once: by its commit, by the caller (a retry
/// found stored, a body that cannot be hashed), or by the commit timeout, whichever comes first.
///
/// The timeout runs from `SpoolBackend.admit`, before the caller's own work on the request (waiting
/// for a decode worker, the dedup lookup), not from `submit`: on a frozen disk the lookup's read
/// blocks as surely as the commit's write, and the sender must still get its 503 in time.
package final class IngestTicket: Sendable {
    private enum Stage {
        /// Not submitted yet: a timeout calls `onTimeout`.
        case admitted(onTimeout: @Sendable (SpoolError) -> Void)
        case submitted(completion: @Sendable (Result<IngestReceipt, SpoolError>) -> Void)
        case answered
    }

    private let stage: Locked<Stage>

    init(onTimeout: @escaping @Sendable (SpoolError) -> Void) {
        stage = Locked(.admitted(onTimeout: onTimeout))
    }

    /// Answered already: by the timeout, the commit, or the caller. Work on the request may stop.
    package var isAnswered: Bool {
        stage.withLock { if case .answered = $0 { true } else { false } }
    }

    /// The caller answers the request itself, without a commit: true unless the timeout answered it first.
    package func answerWithoutCommit() -> Bool {
        stage.withLock { stage in
            guard case .admitted = stage else { return false }
            stage = .answered
            return true
        }
    }

    /// Hands the answer to `completion` (the committer's); false when the timeout answered already.
    func submit(_ completion: @escaping @Sendable (Result<IngestReceipt, SpoolError>) -> Void) -> Bool {
        stage.withLock { stage in
            guard case .admitted = stage else { return false }
            stage = .submitted(completion: completion)
            return true
        }
    }

    /// Completes a submitted request; whether this call answered it.
    @discardableResult
    func complete(_ result: Result<IngestReceipt, SpoolError>) -> Bool {
        let completion = stage.withLock { stage -> (@Sendable (Result<IngestReceipt, SpoolError>) -> Void)? in
            guard case .submitted(let completion) = stage else { return nil }
            stage = .answered
            return completion
        }
        guard let completion else { return false }
        completion(result)
        return true
    }

    /// The timeout's answer, unless the request was answered already; after this nobody else answers.
    func expire() -> ((SpoolError) -> Void)? {
        stage.withLock { stage -> ((SpoolError) -> Void)? in
            defer { stage = .answered }
            switch stage {
            case .admitted(let onTimeout): return onTimeout
            case .submitted(let completion): return { completion(.failure($0)) }
            case .answered: return nil
            }
        }
    }
}

/// The tickets a commit timeout may still answer, oldest first: a FIFO whose head is dropped once it
/// is answered (tickets are answered in about the order they were admitted, so the head goes first).
struct DeadlineQueue {
    private var entries: [(deadline: DispatchTime, ticket: IngestTicket)] = []
    private var head = 0

    var firstDeadline: DispatchTime? { head < entries.count ? entries[head].deadline : nil }

    mutating func append(_ deadline: DispatchTime, _ ticket: IngestTicket) {
        entries.append((deadline, ticket))
    }

    /// Drops answered tickets from the head, up to the first still waiting.
    mutating func dropAnsweredHead() {
        while head < entries.count, entries[head].ticket.isAnswered { head += 1 }
        compact()
    }

    /// Removes, from the head, the answered tickets and the waiting ones whose deadline is `now` or
    /// earlier; returns the latter.
    mutating func removeExpired(now: DispatchTime) -> [IngestTicket] {
        var expired: [IngestTicket] = []
        while head < entries.count {
            let entry = entries[head]
            if !entry.ticket.isAnswered {
                guard entry.deadline <= now else { break }
                expired.append(entry.ticket)
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
