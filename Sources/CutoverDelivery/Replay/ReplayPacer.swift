/// When the next replayed request may be sent, for a rate of `rate` per second: a fixed schedule
/// of slots `1/rate` apart. Pure: it is given `now` and answers with a time, so it is tested
/// against a fake clock.
///
/// Slots are computed as `anchor + n / rate` (not by adding `1/rate` repeatedly, whose rounding
/// would let an extra send into a window). When the sender falls behind the schedule (a slow
/// source, a slow endpoint), the schedule restarts at `now` instead of letting the sender catch up
/// in a burst: two sends are never closer than `1/rate`.
package struct ReplayPacer: Sendable, Equatable {
    /// Sends per second; nil: no limit.
    package let rate: Double?
    private var anchor: Double?
    /// Slots handed out since `anchor`.
    private var slots = 0

    package init(rate: Double?) {
        precondition(rate.map { $0 > 0 && $0.isFinite } ?? true, "a rate must be positive")
        self.rate = rate
    }

    /// Reserves the next slot: the time (never before `now`) at which the caller may send.
    package mutating func reserve(now: Double) -> Double {
        guard let rate else { return now }
        if let anchor {
            let slot = anchor + Double(slots) / rate
            if slot >= now {
                slots += 1
                return slot
            }
        }
        anchor = now
        slots = 1
        return now
    }
}
