import Synchronization

/// The bytes of request bodies the server may hold at once, across every connection and both
/// protocols. A per-request cap alone lets N connections hold N times it before any signature can
/// be checked; this bounds the sum. A connection reserves a body's size before buffering it (the
/// Content-Length as soon as the head is read, or step by step for chunked and unsized bodies) and
/// releases it once the request is answered, refused or its connection closes.
package final class BodyMemoryBudget: Sendable {
    package let limit: Int
    private let reserved = Atomic<Int>(0)

    package init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Takes `bytes` if they fit under the limit; false leaves the budget unchanged.
    package func reserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        var current = reserved.load(ordering: .relaxed)
        while true {
            guard current + bytes <= limit else { return false }
            let (exchanged, original) = reserved.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed
            )
            if exchanged { return true }
            current = original
        }
    }

    /// Takes `bytes` that are already in memory (a body that arrived whole in one read): they
    /// count, so later bodies see them, but refusing them would free nothing.
    package func reserveUnconditionally(_ bytes: Int) {
        guard bytes > 0 else { return }
        reserved.add(bytes, ordering: .relaxed)
    }

    package func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        reserved.subtract(bytes, ordering: .relaxed)
    }

    /// Bytes reserved now, for the in-flight gauge.
    package var reservedBytes: Int { reserved.load(ordering: .relaxed) }
}

/// One connection's or stream's part of the budget: what it holds, given back in one call.
struct BodyReservation {
    private(set) var bytes = 0

    /// Raises the reservation to `total` bytes; false (and nothing taken) when they do not fit.
    mutating func grow(to total: Int, in budget: BodyMemoryBudget) -> Bool {
        guard total > bytes else { return true }
        guard budget.reserve(total - bytes) else { return false }
        bytes = total
        return true
    }

    /// Raises the reservation to `total` bytes that are already held.
    mutating func cover(_ total: Int, in budget: BodyMemoryBudget) {
        guard total > bytes else { return }
        budget.reserveUnconditionally(total - bytes)
        bytes = total
    }

    mutating func release(to budget: BodyMemoryBudget) {
        budget.release(bytes)
        bytes = 0
    }
}
