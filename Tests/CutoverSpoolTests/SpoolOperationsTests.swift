import CutoverLocking
import CutoverTestSupport
import Dispatch
import Foundation
import Testing

@testable import CutoverSpool

private let t0 = 1_700_000_000.0
private let day = 86_400.0

/// Claims every claimable delivery of `destination` and records the outcome named for its event:
/// delivered, dead, pending (a retry due in an hour) or, for events not named, leaves it inflight.
private func settle(
    _ spool: any SpoolBackend, destination: String = "primary", _ outcomes: [String: DeliveryState], now: Double,
    status: Int? = 500, error: String = "HTTP 500"
) throws {
    for delivery in try spool.claim(destination: destination, now: .infinity, limit: 1_000) {
        switch outcomes[delivery.eventID] {
        case .delivered: try spool.markDelivered(id: delivery.id, status: 200, now: now)
        case .dead: try spool.deadLetter(id: delivery.id, error: error, status: status, now: now)
        case .pending: try spool.scheduleRetry(id: delivery.id, at: now + 3_600, error: error, status: status, now: now)
        case .inflight, nil: continue
        }
    }
}

/// One request per event id, each event its own contact, received at `time`.
@discardableResult
private func store(
    _ spool: any SpoolBackend, _ ids: [String], at time: Double, destinations: [String] = ["primary"]
) throws -> [IngestReceipt] {
    try spool.ingest(ids.map { request([event($0, contact: "contact-\($0)", destinations: destinations)], at: time) })
}

@Suite("Spool: attempt history")
struct SpoolAttemptTests {
    @Test(arguments: SpoolKind.allCases)
    func everyOutcomeIsRecordedAndNumberingSurvivesARevive(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            try store(spool, ["e1"], at: t0)
            let long = String(repeating: "é", count: 600)  // 1,200 bytes
            var id = try #require(try spool.claim(destination: "primary", now: t0, limit: 1).first).id
            try spool.scheduleRetry(id: id, at: t0 + 10, error: long, status: 503, now: t0 + 1)
            id = try #require(try spool.claim(destination: "primary", now: t0 + 10, limit: 1).first).id
            try spool.deadLetter(id: id, error: "HTTP 410 gone", status: 410, now: t0 + 11)
            #expect(try spool.retryDead(ids: [id], destination: nil, at: t0 + 20) == 1)
            id = try #require(try spool.claim(destination: "primary", now: t0 + 20, limit: 1).first).id
            try spool.markDelivered(id: id, status: 204, now: t0 + 21)

            let attempts = try spool.attempts(deliveryID: id)
            #expect(attempts.map(\.attempt) == [1, 2, 3])
            #expect(attempts.map(\.outcome) == [.retry, .dead, .delivered])
            #expect(attempts.map(\.status) == [503, 410, 204])
            #expect(attempts.map(\.at) == [t0 + 1, t0 + 11, t0 + 21])
            #expect(attempts[1].error == "HTTP 410 gone")
            #expect(attempts[2].error == nil)
            let excerpt = try #require(attempts[0].error)
            #expect(excerpt.utf8.count <= DeliveryAttempt.maxErrorBytes)
            #expect(excerpt.hasSuffix("…") && excerpt.hasPrefix("éé"))
            // The delivery row keeps its own (reset by the revive) count.
            #expect(try spool.delivery(id: id)?.attempts == 1)
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func historyIsBoundedPerDelivery(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            try store(spool, ["e1"], at: t0)
            let total = DeliveryAttempt.maxKeptPerDelivery + 5
            var id: Int64 = 0
            for attempt in 1...total {
                let now = t0 + Double(attempt)
                id = try #require(try spool.claim(destination: "primary", now: now, limit: 1).first).id
                try spool.scheduleRetry(id: id, at: now + 1, error: "attempt \(attempt)", status: 500, now: now)
            }
            let attempts = try spool.attempts(deliveryID: id)
            #expect(attempts.count == DeliveryAttempt.maxKeptPerDelivery)
            #expect(attempts.first?.attempt == 6 && attempts.last?.attempt == total)
            #expect(try spool.delivery(id: id)?.attempts == total)
        }
    }

    @Test func excerptCutsOnACharacterBoundary() {
        #expect(DeliveryAttempt.excerpt("short") == "short")
        #expect(DeliveryAttempt.excerpt(String(repeating: "a", count: 512)).utf8.count == 512)
        let cut = DeliveryAttempt.excerpt(String(repeating: "a", count: 513))
        #expect(cut.utf8.count == 512 && cut.hasSuffix("…"))
        let emoji = DeliveryAttempt.excerpt(String(repeating: "👍", count: 200), maxBytes: 10)  // 4 bytes each
        #expect(emoji == "👍…")
    }

    @Test func attemptsBeforeSchemaV3AreCountedOn() throws {
        try withTemporaryDirectory { directory in
            // A v2 spool with a delivery attempted twice (no attempt history yet).
            let database = try SQLiteDatabase(path: directory + "/spool.sqlite3")
            try database.migrate(Array(Schema.migrations.prefix(2)))
            // Written as v2 wrote it: today's code also keeps counts that v2 has no table for.
            try database.execute(
                """
                INSERT INTO requests (id, received_at, route, headers, body, status) VALUES (1, \(t0), 'cloud', x'', x'', 'accepted');
                INSERT INTO events (seq, id, request_id, type, contact_key, payload, created_at)
                    VALUES (1, 'old', 1, 'com.whatsapp.message.received', 'contact-1', x'7b7d', \(t0));
                INSERT INTO deliveries (event_seq, destination, state, attempts, next_attempt_at, last_status, contact_key,
                                        created_at, updated_at)
                    VALUES (1, 'primary', 'pending', 2, \(t0), 500, 'contact-1', \(t0), \(t0));
                """, "write a v2 delivery attempted twice")
            database.close()

            let spool = try Spool.open(directory: directory)
            defer { spool.close() }
            let claimed = try #require(try spool.claim(destination: "primary", now: t0, limit: 1).first)
            #expect(claimed.attemptNumber == 3)
            let id = claimed.id
            try spool.scheduleRetry(id: id, at: t0 + 60, error: "HTTP 502", status: 502, now: t0)
            #expect(try spool.attempts(deliveryID: id).map(\.attempt) == [3])
            #expect(try spool.stats().totals == SpoolTotals())
        }
    }
}

@Suite("Spool: stats and inspection")
struct SpoolInspectionTests {
    @Test(arguments: SpoolKind.allCases)
    func statsCountDedupHitsAndOldestPendingPerDestination(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            _ = try spool.ingest([
                request([event("a", contact: "A", destinations: ["primary", "shadow"])], at: t0),
                request([event("b", contact: "B", destinations: ["primary"])], at: t0 + 100),
            ])
            // Redeliveries: one alone, two in one group commit.
            _ = try spool.ingest([request([event("a")], at: t0 + 200)])
            let results = submitAndWait(spool, [request([event("a"), event("b")], at: t0 + 300)])
            #expect(results.allSatisfy { (try? $0?.get())?.duplicateEvents == 2 })
            try settle(spool, destination: "shadow", ["a": .dead], now: t0 + 400)
            _ = try spool.ingest([request([], at: t0 + 500, quarantineReason: "not JSON")])

            let stats = try spool.stats(now: t0 + 1_000)
            #expect(stats.totals.duplicateEvents == 3)
            #expect(stats.requests == 5 && stats.events == 2 && stats.quarantined == 1)
            #expect(stats.deliveries["primary"]?.pending == 2)
            #expect(stats.deliveries["shadow"]?.dead == 1)
            #expect(stats.oldestPendingCreatedAtByDestination == ["primary": t0])
            #expect(stats.oldestPendingCreatedAt == t0 && stats.oldestPendingAge == 1_000)
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func lookupsByDeliveryEventAndRequest(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            let receipt = try spool.ingest([
                request([event("a", destinations: ["primary", "shadow"], type: "com.whatsapp.message.status")], at: t0)
            ])[0]
            let deliveries = try spool.deliveries(eventID: "a")
            #expect(deliveries.map(\.destination) == ["primary", "shadow"])
            #expect(deliveries.allSatisfy { $0.eventType == "com.whatsapp.message.status" && $0.requestID == receipt.requestID })
            #expect(try spool.delivery(id: deliveries[1].id) == deliveries[1])
            #expect(try spool.delivery(id: 999) == nil)
            #expect(try spool.event(id: "a")?.requestID == receipt.requestID)
            #expect(try spool.event(id: "missing") == nil)
            #expect(try spool.deliveries(eventID: "missing").isEmpty)

            _ = try spool.ingest([request([], at: t0 + 1, body: Array("<xml/>".utf8), quarantineReason: "not JSON")])
            let quarantined = try spool.requestSummaries(afterID: 0, limit: 100, status: .quarantined)
            #expect(quarantined.count == 1)
            #expect(quarantined[0].bodyBytes == 6 && quarantined[0].quarantineReason == "not JSON" && quarantined[0].receivedAt == t0 + 1)
        }
    }
}

@Suite("Spool: retention")
struct SpoolRetentionTests {
    @Test func decisionRules() {
        let policy = RetentionPolicy(dedupDays: 7, rawDays: 3)
        let now = t0 + 10 * day
        #expect(policy.eventCutoff(now: now) == t0 + 3 * day)
        #expect(policy.requestCutoff(now: now) == t0 + 7 * day)
        #expect(policy.prunesEvent(createdAt: t0, deliveryStates: [.delivered, .delivered], now: now))
        #expect(policy.prunesEvent(createdAt: t0, deliveryStates: [], now: now), "an event sent nowhere is done")
        #expect(!policy.prunesEvent(createdAt: t0, deliveryStates: [.delivered, .dead], now: now), "dead letters stay")
        #expect(!policy.prunesEvent(createdAt: t0, deliveryStates: [.pending], now: now))
        #expect(!policy.prunesEvent(createdAt: t0, deliveryStates: [.inflight], now: now))
        #expect(!policy.prunesEvent(createdAt: t0 + 3 * day, deliveryStates: [.delivered], now: now), "not older than the window")
        #expect(policy.prunesRequest(receivedAt: t0, status: .accepted, remainingEvents: 0, now: now))
        #expect(!policy.prunesRequest(receivedAt: t0, status: .accepted, remainingEvents: 1, now: now))
        #expect(!policy.prunesRequest(receivedAt: t0, status: .quarantined, remainingEvents: 0, now: now))
        #expect(!policy.prunesRequest(receivedAt: t0 + 8 * day, status: .accepted, remainingEvents: 0, now: now))
        #expect(RetentionPolicy() == RetentionPolicy(dedupDays: 7, rawDays: 7))
    }

    @Test(arguments: SpoolKind.allCases)
    func pruneRemovesOnlyDoneOldDataAndKeepsWorkAndDeadLetters(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            // Old (day 0): done, half dead, pending, inflight, sent nowhere; a redelivery; a quarantined body.
            try store(spool, ["done", "dead", "pending", "inflight"], at: t0)
            try store(spool, ["half-dead"], at: t0, destinations: ["primary", "shadow"])
            try store(spool, ["nowhere"], at: t0, destinations: [])
            try store(spool, ["done"], at: t0 + 1)  // duplicate: a request with no event of its own
            _ = try spool.ingest([request([], at: t0, quarantineReason: "not JSON")])
            // Recent (day 7.5): done but inside the dedup window.
            try store(spool, ["recent"], at: t0 + 7.5 * day)
            try settle(
                spool, ["done": .delivered, "dead": .dead, "pending": .pending, "half-dead": .delivered, "recent": .delivered],
                now: t0 + 10)
            try settle(spool, destination: "shadow", ["half-dead": .dead], now: t0 + 10)

            let now = t0 + 8 * day
            let policy = RetentionPolicy()
            let preview = try spool.prunable(now: now, policy: policy)
            let report = try spool.prune(now: now, policy: policy)
            #expect(report.events == 2)  // done, nowhere
            #expect(report.deliveries == 1 && report.attempts == 1)  // done's
            #expect(report.requests == 3)  // done's, nowhere's, the duplicate's
            #expect(preview.events == report.events && preview.deliveries == report.deliveries && preview.requests == report.requests)

            for kept in ["dead", "pending", "inflight", "half-dead", "recent"] {
                #expect(try spool.event(id: kept) != nil, "\(kept) stays")
            }
            #expect(try spool.event(id: "done") == nil && spool.event(id: "nowhere") == nil)
            let stats = try spool.stats(now: now)
            #expect(stats.deliveries["primary"] == counts(pending: 1, inflight: 1, delivered: 2, dead: 1))
            #expect(stats.deliveries["shadow"] == counts(dead: 1))
            #expect(stats.requests == 6 && stats.quarantined == 1)
            #expect(stats.totals.prunedEvents == 2 && stats.totals.prunedRequests == 3)

            // Nothing more to do; and once pruned, the id deduplicates no more (the window is over).
            #expect(try spool.prune(now: now, policy: policy).isEmpty)
            #expect(try store(spool, ["done"], at: now)[0].newEvents == 1)
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func rawRequestsOutliveTheirEventsDedupWindow(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            try store(spool, ["a"], at: t0)
            try settle(spool, ["a": .delivered], now: t0 + 1)
            let policy = RetentionPolicy(dedupDays: 7, rawDays: 1)
            // Day 3: the request is past raw retention but its event still deduplicates: both stay.
            #expect(try spool.prune(now: t0 + 3 * day, policy: policy).isEmpty)
            // Day 8: both go.
            let report = try spool.prune(now: t0 + 8 * day, policy: policy)
            #expect(report.events == 1 && report.requests == 1)
        }
    }

    @Test func pruneWorksInBoundedBatchesPastRowsItKeeps() throws {
        try withSpool { spool, _ in
            // 30 old events; every third one is a dead letter, which stays.
            let ids = (0..<30).map { "e\($0)" }
            for (index, id) in ids.enumerated() { try store(spool, [id], at: t0 + Double(index)) }
            var outcomes: [String: DeliveryState] = [:]
            for (index, id) in ids.enumerated() { outcomes[id] = index % 3 == 0 ? .dead : .delivered }
            try settle(spool, outcomes, now: t0 + 100)

            let report = try spool.prune(now: t0 + 30 * day, policy: RetentionPolicy(batchSize: 4))
            #expect(report.events == 20 && report.requests == 20 && report.deliveries == 20)
            // 30 events / 4 per batch = 8 batches (the last short), 30 requests the same way.
            #expect(report.transactions == 16)
            #expect(try spool.stats().events == 10)
            #expect(try spool.deliveries(state: .dead).count == 10)
        }
    }

    @Test func pruneRunsBesideGroupCommit() throws {
        try withSpool { spool, _ in
            // 2,000 old events sent nowhere (done at once), pruned 100 per transaction while 200 new
            // requests are submitted from 4 threads: every submission commits, nothing new is pruned.
            _ = try spool.ingest((0..<2_000).map { request([event("old-\($0)", contact: "\($0)", destinations: [])], at: t0) })
            let now = t0 + 30 * day
            let report = Locked<Result<PruneReport, SpoolError>?>(nil)
            let pruned = DispatchGroup()
            pruned.enter()
            DispatchQueue.global().async {
                report.withLock { $0 = Result { () throws(SpoolError) in try spool.prune(now: now, policy: RetentionPolicy(batchSize: 100)) } }
                pruned.leave()
            }
            let fresh = (0..<200).map { request([event("new-\($0)", contact: "new-\($0)")], at: now) }
            let results = submitAndWait(spool, fresh, threads: 4)
            #expect(pruned.wait(timeout: .now() + 120) == .success)

            #expect(results.allSatisfy { (try? $0?.get())?.newEvents == 1 })
            let outcome = try #require(report.withLock { $0 })
            let done = try outcome.get()
            #expect(done.events == 2_000 && done.requests == 2_000)
            #expect(done.transactions == 21 + 21)  // 20 full batches and the short last one, twice
            let stats = try spool.stats(now: now)
            #expect(stats.events == 200 && stats.requests == 200 && stats.deliveries["primary"]?.pending == 200)
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func perContactOrderSurvivesPruneAndPurge(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            // One contact: the first event delivered, the second dead, the third held behind the
            // second until it died, then pending.
            _ = try spool.ingest([request([event("1", contact: "X")], at: t0)])
            try settle(spool, ["1": .delivered], now: t0)
            _ = try spool.ingest([request([event("2", contact: "X"), event("3", contact: "X")], at: t0 + 1)])
            try settle(spool, ["2": .dead], now: t0 + 1)

            #expect(try spool.prune(now: t0 + 30 * day).events == 1)
            #expect(try spool.purge(.deadLetters(destination: nil, createdBefore: nil)) == 1)
            #expect(try spool.claim(destination: "primary", now: .infinity, limit: 10).map(\.eventID) == ["3"])
        }
    }
}

@Suite("Spool: purge")
struct SpoolPurgeTests {
    @Test(arguments: SpoolKind.allCases)
    func purgeDeadLettersByDestinationAgeAndCutoff(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            try store(spool, ["a", "b"], at: t0, destinations: ["primary", "shadow"])
            try store(spool, ["c"], at: t0 + day, destinations: ["primary"])
            try settle(spool, ["a": .dead, "b": .dead, "c": .dead], now: t0 + day + 10)
            try settle(spool, destination: "shadow", ["a": .dead, "b": .delivered], now: t0 + day + 10)

            let shadowOnly = PurgeSelection.deadLetters(destination: "shadow", createdBefore: nil)
            #expect(try spool.purgeCount(shadowOnly) == 1)
            let older = PurgeSelection.deadLetters(destination: nil, createdBefore: t0 + day)
            #expect(try spool.purgeCount(older) == 3)  // a and b to primary, a to shadow

            // Counted as of a time before c was dead-lettered: c is not deleted.
            let everything = PurgeSelection.deadLetters(destination: nil, createdBefore: nil)
            #expect(try spool.purgeCount(everything, asOf: t0 + 5) == 0)
            #expect(try spool.purge(shadowOnly, asOf: Spool.currentTime(), batchSize: 1) == 1)
            #expect(try spool.purge(everything, asOf: t0 + day + 10, batchSize: 1) == 3)
            #expect(try spool.deliveries(state: .dead).isEmpty)
            #expect(try spool.deliveries(state: .delivered).count == 1)
            let stats = try spool.stats()
            #expect(stats.totals.purgedDeadLetters == 4)
            #expect(stats.events == 3, "events stay until retention finds them done")
            // Their attempts went with them.
            let delivered = try spool.deliveries(state: .delivered).map(\.id)
            for id in Int64(1)...5 where !delivered.contains(id) {
                #expect(try spool.attempts(deliveryID: id).isEmpty)
            }
            #expect(try spool.attempts(deliveryID: delivered[0]).count == 1)
            // With the dead letters gone the events are done: retention takes them.
            #expect(try spool.prune(now: t0 + 30 * day).events == 3)
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func purgeQuarantinedRequests(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            _ = try spool.ingest([
                request([], at: t0, quarantineReason: "not JSON"),
                request([], at: t0 + day, quarantineReason: "unknown shape"),
                request([event("a")], at: t0),
            ])
            #expect(try spool.purgeCount(.quarantined(receivedBefore: t0 + 1)) == 1)
            #expect(try spool.purge(.quarantined(receivedBefore: t0 + 1)) == 1)
            #expect(try spool.purge(.quarantined(receivedBefore: nil)) == 1)
            let stats = try spool.stats()
            #expect(stats.quarantined == 0 && stats.requests == 1 && stats.totals.purgedQuarantined == 2)
        }
    }
}

private func counts(pending: Int = 0, inflight: Int = 0, delivered: Int = 0, dead: Int = 0) -> SpoolStats.DeliveryCounts {
    var counts = SpoolStats.DeliveryCounts()
    counts.pending = pending
    counts.inflight = inflight
    counts.delivered = delivered
    counts.dead = dead
    return counts
}
