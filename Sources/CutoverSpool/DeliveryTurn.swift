/// What one worker turn wrote and took: the outcomes that could not be recorded because their
/// deliveries were no longer inflight (an operator changed them meanwhile), and the deliveries
/// claimed for the next sends.
package struct DeliveryTurn: Sendable {
    package var skipped: [Int64]
    package var claimed: [ClaimedDelivery]

    package init(skipped: [Int64], claimed: [ClaimedDelivery]) {
        self.skipped = skipped
        self.claimed = claimed
    }
}
