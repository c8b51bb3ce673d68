import CutoverTestSupport
import Foundation
import Testing

@testable import CutoverSpool

/// The two spool implementations, for tests that hold for both.
enum SpoolKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }
}

/// Opens a fresh spool of `kind` (a new directory, or a database on a PostgreSQL server of its own) and
/// closes it after `body` (and the server, which is the test's own).
func withSpool<T>(_ kind: SpoolKind, options: SpoolOptions = SpoolOptions(), _ body: (any SpoolBackend) throws -> T) throws -> T {
    switch kind {
    case .sqlite:
        return try withSpool(options: options) { spool, _ in try body(spool) }
    case .postgres:
        let server = try PostgresServer()
        defer { server.stop() }
        let spool = try PostgresSpool.open(PostgresSpoolConfiguration(url: try server.makeDatabase()), options: options)
        defer { spool.close() }
        return try body(spool)
    }
}

@Suite("Spool: the same contract on SQLite and PostgreSQL")
struct SpoolBackendTests {
    @Test(arguments: SpoolKind.allCases)
    func ingestDeduplicatesByEventID(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            let first = submitAndWait(spool, [request([event("e1"), event("e2")])])
            let again = submitAndWait(spool, [request([event("e2"), event("e3")])])
            let receipt = try #require(try first[0]?.get())
            let second = try #require(try again[0]?.get())
            #expect(receipt.newEvents == 2 && receipt.deliveriesCreated == 2)
            #expect(second.newEvents == 1 && second.duplicateEvents == 1)
            let stats = try spool.stats()
            #expect(stats.events == 3 && stats.requests == 2)
            #expect(stats.deliveries["primary"]?.pending == 3)
            #expect(stats.totals.duplicateEvents == 1)
            #expect(spool.committedEvents(["e1", "e3", "nope"]) == [true, true, false])
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func claimsOnlyTheHeadOfEachContactInArrivalOrder(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            _ = try spool.ingest([
                request([event("a1", contact: "a"), event("b1", contact: "b")], at: 100),
                request([event("a2", contact: "a")], at: 101),
            ])
            let first = try spool.claim(destination: "primary", now: 200, limit: 10)
            #expect(first.map(\.eventID) == ["a1", "b1"])
            #expect(try spool.claim(destination: "primary", now: 200, limit: 10).isEmpty, "a2 waits behind a1")
            let a1 = try #require(first.first)
            let turn = try spool.recordAndClaim([DeliveryResult(deliveryID: a1.id, result: .delivered(status: 200))], destination: "primary", now: 201, limit: 10)
            #expect(turn.skipped.isEmpty)
            #expect(turn.claimed.map(\.eventID) == ["a2"])
            #expect(try spool.delivery(id: a1.id)?.state == .delivered)
            #expect(try spool.attempts(deliveryID: a1.id).map(\.outcome) == [.delivered])
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func deadLettersAreListedRetriedAndPurged(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            _ = try spool.ingest([request([event("d1"), event("d2", contact: "other")], at: 100)])
            let claimed = try spool.claim(destination: "primary", now: 200, limit: 10)
            #expect(claimed.count == 2)
            try spool.record(claimed.map { DeliveryResult(deliveryID: $0.id, result: .dead(error: "410 gone", status: 410)) }, now: 201)
            #expect(try spool.deliveries(state: .dead, destination: nil, afterID: 0, limit: 10).count == 2)
            #expect(try spool.retryDead(ids: [claimed[0].id], destination: nil, at: 300) == 1)
            #expect(try spool.delivery(id: claimed[0].id)?.state == .pending)
            #expect(try spool.purgeCount(.deadLetters(destination: nil, createdBefore: nil), asOf: 400) == 1)
            #expect(try spool.purge(.deadLetters(destination: nil, createdBefore: nil), asOf: 400) == 1)
            #expect(try spool.stats().totals.purgedDeadLetters == 1)
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func retentionPrunesDeliveredEventsOnly(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            _ = try spool.ingest([request([event("old"), event("open", contact: "c2")], at: 100)])
            let claimed = try spool.claim(destination: "primary", now: 100, limit: 10)
            let old = try #require(claimed.first { $0.eventID == "old" })
            try spool.markDelivered(id: old.id, status: 200, now: 101)
            let policy = RetentionPolicy(dedupWindow: 10, rawRetention: 10)
            #expect(try spool.prunable(now: 1_000, policy: policy).events == 1)
            let report = try spool.prune(now: 1_000, policy: policy)
            #expect(report.events == 1 && report.deliveries == 1 && report.requests == 0, "the request still has an open event")
            #expect(try spool.event(id: "old") == nil)
            #expect(try spool.event(id: "open") != nil)
            #expect(try spool.requests(afterID: 0, limit: 10, status: nil, since: nil, until: nil).count == 1)
        }
    }

    /// What the delivery worker sends back: results made from the claim (`DeliveryResult(for:)`),
    /// which carry the attempt's number, so the spool records them without reading the row first.
    @Test(arguments: SpoolKind.allCases)
    func outcomesCarryingTheirClaimNumberAttemptsAndUnblockTheContact(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            _ = try spool.ingest([request([event("c1"), event("c2")], at: 100)])
            let first = try #require(try spool.claim(destination: "primary", now: 100, limit: 10).first)
            #expect(first.eventID == "c1" && first.attemptNumber == 1)
            let retried = try spool.recordAndClaim(
                [DeliveryResult(for: first, result: .retry(at: 150, error: "503", status: 503))], destination: "primary", now: 101, limit: 10)
            #expect(retried.skipped.isEmpty && retried.claimed.isEmpty, "c2 waits behind c1's retry")
            let again = try #require(try spool.claim(destination: "primary", now: 150, limit: 10).first)
            #expect(again.id == first.id && again.attemptNumber == 2)
            let done = try spool.recordAndClaim(
                [DeliveryResult(for: again, result: .delivered(status: 200))], destination: "primary", now: 151, limit: 10)
            #expect(done.claimed.map(\.eventID) == ["c2"])
            #expect(try spool.attempts(deliveryID: first.id).map(\.attempt) == [1, 2])
            #expect(try spool.attempts(deliveryID: first.id).map(\.outcome) == [.retry, .delivered])
            #expect(try spool.delivery(id: first.id)?.attempts == 2)
            // A claim carried to the wrong destination is not this delivery's outcome.
            var stray = DeliveryResult(for: done.claimed[0], result: .delivered(status: 200))
            stray.claim?.destination = "shadow"
            #expect(try spool.record([stray], now: 152) == [done.claimed[0].id])
            #expect(try spool.delivery(id: done.claimed[0].id)?.state == .inflight)
        }
    }

    /// Several outcomes in one turn, one delivery named twice: each recorded once, in one attempt,
    /// the repeat reported as skipped (PostgreSQL records them all in one statement).
    @Test(arguments: SpoolKind.allCases)
    func aTurnsOutcomesAreEachRecordedOnceEvenWhenOneRepeats(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            _ = try spool.ingest([request([event("t1", contact: "A"), event("t2", contact: "B"), event("t3", contact: "C")], at: 100)])
            let claimed = try spool.claim(destination: "primary", now: 100, limit: 10)
            #expect(claimed.map(\.eventID) == ["t1", "t2", "t3"])
            let turn = try spool.recordAndClaim(
                [
                    DeliveryResult(for: claimed[0], result: .delivered(status: 200)),
                    DeliveryResult(for: claimed[1], result: .retry(at: 500, error: "503", status: 503)),
                    DeliveryResult(for: claimed[0], result: .dead(error: "410", status: 410)),
                    DeliveryResult(for: claimed[2], result: .dead(error: "410", status: 410)),
                ], destination: "primary", now: 101, limit: 10)
            #expect(turn.skipped == [claimed[0].id], "the repeat of an outcome already recorded")
            #expect(try spool.delivery(id: claimed[0].id)?.state == .delivered)
            #expect(try spool.delivery(id: claimed[1].id)?.state == .pending)
            #expect(try spool.delivery(id: claimed[2].id)?.state == .dead)
            for delivery in claimed { #expect(try spool.attempts(deliveryID: delivery.id).count == 1) }
            #expect(try spool.stats().deliveries["primary"] == {
                var counts = SpoolStats.DeliveryCounts()
                counts.delivered = 1
                counts.pending = 1
                counts.dead = 1
                return counts
            }())
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func nextDueTimeIsTheEarliestHeadOfAContactQueue(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            #expect(try spool.nextDueTime(destination: "primary") == nil)
            _ = try spool.ingest([request([event("a1", contact: "a")], at: 100), request([event("a2", contact: "a")], at: 110)])
            _ = try spool.ingest([request([event("b1", contact: "b")], at: 120)])
            #expect(try spool.nextDueTime(destination: "primary") == 100)
            let a1 = try #require(try spool.claim(destination: "primary", now: 100, limit: 1).first)
            #expect(a1.eventID == "a1")
            // a2 (due 110) waits behind the inflight a1: b1 is the earliest pending head.
            #expect(try spool.nextDueTime(destination: "primary") == 120)
            try spool.record([DeliveryResult(for: a1, result: .retry(at: 500, error: "503", status: 503))], now: 101)
            #expect(try spool.nextDueTime(destination: "primary") == 120, "a2 still waits behind a1, due again at 500")
            let b1 = try #require(try spool.claim(destination: "primary", now: 120, limit: 10).first)
            #expect(b1.eventID == "b1")
            try spool.record([DeliveryResult(for: b1, result: .delivered(status: 200))], now: 121)
            #expect(try spool.nextDueTime(destination: "primary") == 500)
        }
    }

    /// One batch (one group commit) of requests: a quarantined one among them, an id twice in the
    /// batch, an event for two destinations. Receipts per request, and delivery ids in arrival order.
    @Test(arguments: SpoolKind.allCases)
    func aBatchOfRequestsKeepsEachReceiptAndTheArrivalOrder(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            var retried = request([event("b1", contact: "b"), event("a1", contact: "a")], at: 102)
            retried.committedDuplicates = 2
            let receipts = try spool.ingest([
                request([event("a0", contact: "a", destinations: ["primary", "shadow"]), event("b0", contact: "b")], at: 100),
                request([], at: 101, quarantineReason: "not JSON"),
                retried,
                request([event("a0", contact: "a"), event("a2", contact: "a")], at: 103),
            ])
            #expect(receipts.map(\.newEvents) == [2, 0, 2, 1])
            #expect(receipts.map(\.duplicateEvents) == [0, 0, 2, 1])
            #expect(receipts.map(\.deliveriesCreated) == [3, 0, 2, 1])
            #expect(receipts.map(\.quarantined) == [false, true, false, false])
            #expect(receipts.map(\.requestID) == receipts.map(\.requestID).sorted() && Set(receipts.map(\.requestID)).count == 4)
            #expect(try spool.events(requestID: receipts[2].requestID).map(\.id) == ["b1", "a1"])
            #expect(try spool.request(id: receipts[1].requestID)?.status == .quarantined)
            let primary = try spool.deliveries(state: .pending, destination: "primary", afterID: 0, limit: 10)
            #expect(primary.map(\.eventID) == ["a0", "b0", "b1", "a1", "a2"], "ids ascend in arrival order")
            #expect(try spool.stats().totals.duplicateEvents == 3)
            let heads = try spool.claim(destination: "primary", now: 200, limit: 10)
            #expect(heads.map(\.eventID) == ["a0", "b0"])
        }
    }

    /// A `raw` destination's claim reads the request's body with the event.
    @Test(arguments: SpoolKind.allCases)
    func aClaimWithTheRequestBodyReadsIt(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            _ = try spool.ingest([request([event("r1")], at: 100, body: Array("raw bytes".utf8))])
            let claimed = try spool.claim(destination: "primary", now: 100, limit: 10, withRequestBody: true)
            #expect(claimed.map(\.eventID) == ["r1"])
            #expect(claimed.first?.requestBody == Array("raw bytes".utf8))
        }
    }
}
