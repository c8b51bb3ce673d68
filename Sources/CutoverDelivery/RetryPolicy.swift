/// When to try a failed delivery again: exponential backoff with full jitter, `Retry-After`
/// honoured, and a horizon after which the delivery is dead-lettered. Pure: time and randomness
/// come in as arguments, so tests need no clock.
package struct RetryPolicy: Sendable, Equatable {
    package var initialDelay: Double
    package var maxDelay: Double
    /// Seconds since the event arrived after which no retry is scheduled.
    package var horizon: Double

    package enum Decision: Sendable, Equatable {
        case retry(at: Double)
        case deadLetter(reason: String)
    }

    package init(initialDelay: Double = 1, maxDelay: Double = 3600, horizon: Double = 7 * 24 * 3600) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.horizon = horizon
    }

    /// - Parameters:
    ///   - attempts: attempts made so far, including the one that just failed (1 after the first).
    ///   - arrivedAt: when the event was accepted, in Unix seconds.
    ///   - retryAfter: seconds the destination asked to wait (429/503 `Retry-After`), if any.
    ///   - unitRandom: a number in [0, 1], the jitter.
    package func decide(attempts: Int, arrivedAt: Double, now: Double, retryAfter: Double? = nil, unitRandom: Double) -> Decision {
        let exponent = min(max(attempts - 1, 0), 62)
        let ceiling = min(maxDelay, initialDelay * Double(UInt64(1) << UInt64(exponent)))
        var delay = ceiling * min(max(unitRandom, 0), 1)
        if let retryAfter, retryAfter > delay { delay = min(retryAfter, horizon) }
        let next = now + delay
        guard next - arrivedAt <= horizon else {
            return .deadLetter(reason: "retry horizon of \(Int(horizon))s passed after \(attempts) attempts")
        }
        return .retry(at: next)
    }
}
