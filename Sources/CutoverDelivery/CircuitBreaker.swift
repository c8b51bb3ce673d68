import CutoverOperations

/// Stops a destination that keeps failing from being hammered: after `failureThreshold`
/// consecutive failures it opens (nothing is sent; the backlog stays in the spool), then lets one
/// probe through after a pause that doubles per failed probe. Pure: time comes in as an argument.
package struct CircuitBreaker: Sendable, Equatable {
    let failureThreshold: Int
    let openDuration: Double
    let maxOpenDuration: Double
    private(set) var state = State.closed(consecutiveFailures: 0)

    enum State: Sendable, Equatable {
        case closed(consecutiveFailures: Int)
        case open(until: Double, pause: Double)
        /// One probe is (or may be) in flight; its outcome closes or reopens the circuit.
        case halfOpen(pause: Double)
    }

    enum Allowance: Sendable, Equatable {
        case any
        case probe
        case none(until: Double)
    }

    package init(failureThreshold: Int, openDuration: Double, maxOpenDuration: Double) {
        self.failureThreshold = max(1, failureThreshold)
        self.openDuration = openDuration
        self.maxOpenDuration = max(openDuration, maxOpenDuration)
    }

    /// What may be sent now. An open circuit whose pause has passed turns half-open.
    mutating func allowance(now: Double) -> Allowance {
        switch state {
        case .closed:
            return .any
        case .open(let until, let pause):
            guard now >= until else { return .none(until: until) }
            state = .halfOpen(pause: pause)
            return .probe
        case .halfOpen:
            return .probe
        }
    }

    mutating func recordSuccess() {
        state = .closed(consecutiveFailures: 0)
    }

    /// Returns true when this failure opened the circuit.
    @discardableResult
    mutating func recordFailure(now: Double) -> Bool {
        switch state {
        case .closed(let failures):
            guard failures + 1 >= failureThreshold else {
                state = .closed(consecutiveFailures: failures + 1)
                return false
            }
            state = .open(until: now + openDuration, pause: openDuration)
            return true
        case .halfOpen(let pause):
            let longer = min(pause * 2, maxOpenDuration)
            state = .open(until: now + longer, pause: longer)
            return true
        case .open:
            // A delivery that was in flight when the circuit opened: no new information.
            return false
        }
    }

    /// The state as the cockpit names it.
    var circuit: DestinationActivity.Circuit {
        switch state {
        case .closed: .closed
        case .open: .open
        case .halfOpen: .halfOpen
        }
    }
}
