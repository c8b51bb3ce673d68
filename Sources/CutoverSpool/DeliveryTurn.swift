/// What one worker turn wrote and took: the outcomes that could not be recorded because their
/// deliveries were no longer inflight (an operator changed them meanwhile), and the deliveries
/// claimed for the next sends.
package struct DeliveryTurn: Sendable {
    package var skipped: [Int64]
    package var claimed: [ClaimedDelivery]
    /// Outcomes of this turn that finished the second side of a compared pair (`comparedWith`).
    package var settled: [SettledComparison] = []
    /// When the destination's next claimable delivery is due, as the turn's own transaction saw it
    /// after claiming; a spool that did not look leaves `.notLooked` (ask `nextDueTime`).
    package var nextDue: NextDue = .notLooked

    package enum NextDue: Sendable, Equatable {
        case notLooked
        case nothing
        case at(Double)
    }

    package init(skipped: [Int64], claimed: [ClaimedDelivery]) {
        self.skipped = skipped
        self.claimed = claimed
    }
}

/// A final outcome recorded while the delivery of the same event to `otherDestination` had
/// already ended: the pair's comparison is decided, once, in the transaction that decided it.
package struct SettledComparison: Sendable, Hashable {
    package var deliveryID: Int64
    package var otherDestination: String
    package var otherAccepted: Bool
}

extension DeliveryTurn {
    /// The outcome loop both spools run inside a transaction: `apply` records one outcome (false
    /// when its delivery is no longer held: skipped, not failing the others) and `settle` says
    /// which comparisons a recorded one decided.
    static func recording<Failure: Error>(
        _ outcomes: [DeliveryResult],
        apply: (DeliveryResult) throws(Failure) -> Bool,
        settle: (DeliveryResult) throws(Failure) -> [SettledComparison]
    ) throws(Failure) -> DeliveryTurn {
        var turn = DeliveryTurn(skipped: [], claimed: [])
        for outcome in outcomes {
            if try apply(outcome) {
                turn.settled += try settle(outcome)
            } else {
                turn.skipped.append(outcome.deliveryID)
            }
        }
        return turn
    }
}
