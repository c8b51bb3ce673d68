import CutoverTestSupport
import Testing

@testable import CutoverSpool

/// A worker's turn: many outcomes recorded and many deliveries claimed in one transaction, with
/// each contact's events still going out one at a time and in arrival order.
@Suite("Spool: delivery in batches")
struct SpoolBatchTests {
    private func delivered(_ claimed: [ClaimedDelivery]) -> [DeliveryResult] {
        claimed.map { DeliveryResult(deliveryID: $0.id, result: .delivered(status: 200)) }
    }

    /// The plan's detail lines: "SEARCH ... USING INDEX ...", "SCAN ...".
    private func plan(_ sql: String, in spool: Spool) throws -> [String] {
        try spool.withDatabase("explain") { database throws(SpoolError) in
            try database.rows("EXPLAIN QUERY PLAN " + sql, "explain") { $0.string(3) }
        }
    }

    @Test func theUnblockStatementSearchesTheOpenDeliveriesIndexInsteadOfScanning() throws {
        try withSpool { spool, _ in
            // The next delivery of the contact is found by (destination, contact) in the index of
            // open deliveries: a few rows, however long the backlog.
            func findsNextByContact(_ details: [String]) -> Bool {
                details.contains { $0.hasPrefix("SEARCH next USING") && $0.contains("INDEX deliveries_open_by_contact (destination=? AND contact_key=?") }
                    && !details.contains { $0.hasPrefix("SCAN") || $0.contains("rowid>") }
            }
            let details = try plan(SQLiteDatabase.unblockNextSQL, in: spool)
            #expect(findsNextByContact(details), "\(details)")

            // The same statement without the index's condition, as it was before, walked every row
            // after the finished one (`SEARCH next USING INTEGER PRIMARY KEY (rowid>?)`): the check
            // above tells them apart.
            let before = """
                UPDATE deliveries SET blocked = 0
                WHERE id = (
                    SELECT next.id FROM deliveries AS finished JOIN deliveries AS next
                      ON next.destination = finished.destination AND next.contact_key = finished.contact_key
                    WHERE finished.id = ?1 AND next.state = 'pending' AND next.id > finished.id
                    ORDER BY next.id LIMIT 1)
                """
            let beforeDetails = try plan(before, in: spool)
            #expect(!findsNextByContact(beforeDetails), "\(beforeDetails)")
        }
    }

    @Test func aTurnRecordsFirstSoTheNextDeliveryOfAFinishedContactIsClaimedInTheSameTurn() throws {
        try withSpool { spool, _ in
            let t = 1_000.0
            _ = try spool.ingest([request([event("A1", contact: "A"), event("A2", contact: "A"), event("B1", contact: "B")], at: t)])
            let first = try spool.recordAndClaim([], destination: "primary", now: t, limit: 10)
            #expect(first.claimed.map(\.eventID) == ["A1", "B1"])

            let second = try spool.recordAndClaim(delivered(first.claimed), destination: "primary", now: t + 1, limit: 10)
            #expect(second.skipped.isEmpty)
            #expect(second.claimed.map(\.eventID) == ["A2"])
            #expect(try spool.deliveries(state: .delivered).map(\.eventID) == ["A1", "B1"])
            #expect(try spool.attempts(deliveryID: first.claimed[0].id).map(\.outcome) == [.delivered])

            let last = try spool.recordAndClaim(delivered(second.claimed), destination: "primary", now: t + 2, limit: 10)
            #expect(last.claimed.isEmpty)
            #expect(try spool.stats().deliveries["primary"]?.delivered == 3)
        }
    }

    @Test func aBatchThatCompletesOutOfOrderKeepsEachContactsOrder() throws {
        try withSpool { spool, _ in
            let t = 1_000.0
            // Three contacts, three events each, interleaved as they arrived.
            let contacts = ["A", "B", "C"]
            _ = try spool.ingest((1...3).flatMap { n in contacts.map { request([event("\($0)\(n)", contact: $0)], at: t) } })

            let heads = try spool.recordAndClaim([], destination: "primary", now: t, limit: 10).claimed
            #expect(heads.map(\.eventID) == ["A1", "B1", "C1"])
            let id = Dictionary(uniqueKeysWithValues: heads.map { ($0.eventID, $0.id) })

            // The responses came back C1, A1, B1: C1 delivered, A1 to be retried later, B1 dead.
            let outOfOrder = [
                DeliveryResult(deliveryID: id["C1"]!, result: .delivered(status: 200)),
                DeliveryResult(deliveryID: id["A1"]!, result: .retry(at: t + 60, error: "HTTP 503", status: 503)),
                DeliveryResult(deliveryID: id["B1"]!, result: .dead(error: "HTTP 400", status: 400)),
            ]
            let second = try spool.recordAndClaim(outOfOrder, destination: "primary", now: t + 1, limit: 10)
            // A2 waits behind the pending A1; B and C move on to their second event, in id order.
            #expect(second.claimed.map(\.eventID) == ["B2", "C2"])

            let third = try spool.recordAndClaim(delivered(second.claimed.reversed()), destination: "primary", now: t + 2, limit: 10)
            #expect(third.claimed.map(\.eventID) == ["B3", "C3"])
            let fourth = try spool.recordAndClaim(delivered(third.claimed), destination: "primary", now: t + 3, limit: 10)
            #expect(fourth.claimed.isEmpty, "A is held by A1 until it is due")
            #expect(try spool.nextDueTime(destination: "primary") == t + 60)
            #expect(fourth.nextDue == .at(t + 60), "a turn that claimed less than its limit says when to look again")
            #expect(third.nextDue == .at(t + 60), "B3 and C3 inflight, A1 pending: the next due is A1's retry")

            let retried = try spool.recordAndClaim([], destination: "primary", now: t + 60, limit: 10).claimed
            #expect(retried.map(\.eventID) == ["A1"] && retried[0].attempts == 1)
            let afterA1 = try spool.recordAndClaim(delivered(retried), destination: "primary", now: t + 61, limit: 10)
            #expect(afterA1.claimed.map(\.eventID) == ["A2"])
            let afterA2 = try spool.recordAndClaim(delivered(afterA1.claimed), destination: "primary", now: t + 62, limit: 10)
            #expect(afterA2.claimed.map(\.eventID) == ["A3"])
            #expect(afterA2.nextDue == .nothing, "nothing left to claim once A3 is inflight")
            _ = try spool.recordAndClaim(delivered(afterA2.claimed), destination: "primary", now: t + 63, limit: 0)

            // Each contact's finished deliveries are in arrival order (ids ascend with arrival).
            for contact in contacts {
                let finished = try spool.deliveries().filter { $0.contactKey == contact }
                #expect(finished.map(\.eventID) == (1...3).map { "\(contact)\($0)" })
                #expect(finished.allSatisfy { $0.state != .pending && $0.state != .inflight })
            }
        }
    }

    @Test func releasedDeliveriesAreClaimableAgainWithoutACountedAttemptAndStillFirst() throws {
        try withSpool { spool, _ in
            let t = 1_000.0
            _ = try spool.ingest([request([event("A1", contact: "A"), event("A2", contact: "A"), event("B1", contact: "B")], at: t)])
            let claimed = try spool.recordAndClaim([], destination: "primary", now: t, limit: 10).claimed
            #expect(claimed.map(\.eventID) == ["A1", "B1"])

            // B1 was sent and delivered; A1 was claimed but never sent (the worker is stopping).
            let stopping = try spool.recordAndClaim(
                delivered([claimed[1]]), releasing: [claimed[0].id], destination: "primary", now: t + 1, limit: 0)
            #expect(stopping.claimed.isEmpty)
            #expect(try spool.stats().deliveries["primary"]?.inflight ?? 0 == 0)

            let again = try spool.recordAndClaim([], destination: "primary", now: t + 2, limit: 10).claimed
            #expect(again.map(\.eventID) == ["A1"], "A1 is still the head of A's queue; A2 waits")
            #expect(again[0].attempts == 0)
            #expect(try spool.attempts(deliveryID: again[0].id).isEmpty)
        }
    }

    /// Results made from their claim (`DeliveryResult(for:)`, as the worker makes them) or from the
    /// delivery id alone (the spool reads the row): both are recorded, or skipped, alike.
    @Test(arguments: [false, true])
    func outcomesOfDeliveriesNoLongerInflightAreSkippedAndTheRestRecorded(carryingTheClaim: Bool) throws {
        try withSpool { spool, _ in
            let t = 1_000.0
            _ = try spool.ingest([request([event("A1", contact: "A"), event("B1", contact: "B")], at: t)])
            let claimed = try spool.recordAndClaim([], destination: "primary", now: t, limit: 10).claimed
            // An operator's restart (crash recovery) put them back to pending meanwhile.
            _ = try spool.withDatabase("reset") { database throws(SpoolError) in try database.resetInflight(now: t) }
            let outcomes = carryingTheClaim ? claimed.map { DeliveryResult(for: $0, result: .delivered(status: 200)) } : delivered(claimed)
            let turn = try spool.recordAndClaim(outcomes, destination: "primary", now: t + 1, limit: 10)
            #expect(turn.skipped == claimed.map(\.id))
            #expect(turn.claimed.map(\.eventID) == ["A1", "B1"], "still pending, so claimed again")
            #expect(try spool.attempts(deliveryID: claimed[0].id).isEmpty)
        }
    }

    @Test func aResultCarryingAClaimOfAnotherDestinationIsSkippedAndCountsNothing() throws {
        try withSpool { spool, _ in
            let t = 1_000.0
            _ = try spool.ingest([request([event("A1", contact: "A", destinations: ["primary", "shadow"])], at: t)])
            let primary = try #require(try spool.recordAndClaim([], destination: "primary", now: t, limit: 10).claimed.first)
            _ = try spool.recordAndClaim([], destination: "shadow", now: t, limit: 10)
            var misaddressed = DeliveryResult(for: primary, result: .delivered(status: 200))
            misaddressed.claim?.destination = "shadow"
            let turn = try spool.recordAndClaim([misaddressed], destination: "primary", now: t + 1, limit: 10)
            #expect(turn.skipped == [primary.id])
            let counts = try spool.stats().deliveries
            #expect(counts["primary"]?.inflight == 1 && counts["primary"]?.delivered == 0)
            #expect(counts["shadow"]?.inflight == 1 && counts["shadow"]?.delivered == 0)
            #expect(try spool.delivery(id: primary.id)?.state == .inflight)
        }
    }

    /// A claim carries the number its attempt gets, the same the row and the history give (what
    /// recording from the id alone reads): past the history after a revive, past `attempts`.
    @Test(arguments: SpoolKind.allCases)
    func aClaimCarriesTheNumberTheHistoryGivesItsAttempt(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            let t = 1_000.0
            _ = try spool.ingest([request([event("A1", contact: "A")], at: t)])
            var claimed = try #require(try spool.recordAndClaim([], destination: "primary", now: t, limit: 1).claimed.first)
            #expect(claimed.attemptNumber == 1)
            claimed = try #require(
                try spool.recordAndClaim(
                    [DeliveryResult(for: claimed, result: .retry(at: t + 1, error: "HTTP 503", status: 503))],
                    destination: "primary", now: t + 1, limit: 1
                ).claimed.first)
            #expect(claimed.attemptNumber == 2 && claimed.attempts == 1)
            let dead = try spool.recordAndClaim(
                [DeliveryResult(for: claimed, result: .dead(error: "HTTP 410", status: 410))], destination: "primary", now: t + 2, limit: 1)
            #expect(dead.claimed.isEmpty && dead.skipped.isEmpty)
            #expect(try spool.retryDead(ids: [claimed.id], destination: nil, at: t + 3) == 1)
            claimed = try #require(try spool.recordAndClaim([], destination: "primary", now: t + 3, limit: 1).claimed.first)
            #expect(claimed.attemptNumber == 3 && claimed.attempts == 0, "the revive reset the row's count, not the history's")
            _ = try spool.recordAndClaim([DeliveryResult(for: claimed, result: .delivered(status: 200))], destination: "primary", now: t + 4, limit: 1)
            #expect(try spool.attempts(deliveryID: claimed.id).map(\.attempt) == [1, 2, 3])
            #expect(try spool.stats().deliveries["primary"]?.delivered == 1)
        }
    }
}
