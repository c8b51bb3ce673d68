import CutoverLocking
import CutoverTestSupport
import Dispatch
import Foundation
import Testing

@testable import CutoverSpool

private let t0 = 1_700_000_000.0

@Suite("Spool: reads beside the writer")
struct SpoolReaderTests {
    @Test func readsAnswerWhileTheWriterIsInsideACommit() throws {
        try withSpool { spool, _ in
            _ = try spool.ingest([request([event("a")], at: t0)])
            let answered = DispatchSemaphore(value: 0)
            let seen = Locked<(requests: Int, deliveries: Int, readinessProbe: Bool)?>(nil)
            try spool._insideWriteTransaction {
                // Another thread, as a scrape or an admin request would be: with one shared lock it
                // would wait for this transaction and the wait below would time out.
                DispatchQueue.global().async {
                    let read = try? (
                        requests: spool.stats(now: t0).requests, deliveries: spool.deliveries().count,
                        readinessProbe: spool.delivery(id: 0) == nil
                    )
                    seen.withLock { $0 = read }
                    answered.signal()
                }
                #expect(answered.wait(timeout: .now() + 30) == .success, "a read waited for the writer's commit")
            }
            let read = try #require(seen.withLock { $0 })
            #expect(read.requests == 1, "the uncommitted insert is not visible to readers")
            #expect(read.deliveries == 1 && read.readinessProbe)
            #expect(try spool.stats(now: t0).requests == 2, "once committed it is")
        }
    }

    @Test func aClosedSpoolRefusesReads() throws {
        try withSpool { spool, _ in
            spool.close()
            let error = #expect(throws: SpoolError.self) { try spool.stats() }
            #expect(error?.kind == .closed)
        }
    }

    @Test func shutdownLetsQueuedSubmissionsCommitFirst() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-spool-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let spool = try Spool.open(directory: directory.path)
        spool._suspendWriter()
        let committed = Locked(0)
        for index in 0..<5 {
            spool.submit(request([event("s\(index)")], at: t0)) { result in
                if case .success = result { committed.withLock { $0 += 1 } }
            }
        }
        spool._resumeWriter()
        await spool.shutdown()
        #expect(committed.withLock { $0 } == 5, "every submission accepted before shutdown committed")
        let reopened = try Spool.open(directory: directory.path)
        defer { reopened.close() }
        #expect(try reopened.stats().requests == 5)
    }
}

@Suite("Spool: counted stats")
struct SpoolCountTests {
    @Test func countsEqualTheTablesAfterEveryKindOfChange() throws {
        try withSpool { spool, directory in
            try expectCountsMatch(spool, "opening")
            _ = try spool.ingest([
                request([event("a", contact: "A", destinations: ["primary", "shadow"])], at: t0),
                request([event("b", contact: "B", destinations: ["primary"]), event("c", contact: "B")], at: t0),
                request([event("d", contact: "D", destinations: ["primary", "primary"])], at: t0),
                request([event("a")], at: t0 + 1),  // a duplicate: no new event or delivery
                request([], at: t0 + 2, quarantineReason: "not JSON"),
                request([], at: t0 + 3, quarantineReason: "bad signature"),
            ])
            _ = submitAndWait(spool, [request([event("e", contact: "E")], at: t0 + 4)])
            try expectCountsMatch(spool, "ingest")

            let claimed = try spool.claim(destination: "primary", now: .infinity, limit: 10)
            #expect(claimed.count == 4)  // a, b, d, e; c waits behind b
            try expectCountsMatch(spool, "claim")
            let byEvent = Dictionary(uniqueKeysWithValues: claimed.map { ($0.eventID, $0.id) })
            try spool.record([
                DeliveryResult(deliveryID: byEvent["a"]!, result: .delivered(status: 200)),
                DeliveryResult(deliveryID: byEvent["b"]!, result: .dead(error: "gone", status: 410)),
                DeliveryResult(deliveryID: byEvent["d"]!, result: .retry(at: t0 + 60, error: "HTTP 503", status: 503)),
            ], now: t0 + 10)
            try spool.markDelivered(id: byEvent["e"]!, status: 200, now: t0 + 10)
            for delivery in try spool.claim(destination: "shadow", now: .infinity, limit: 10) {
                try spool.deadLetter(id: delivery.id, error: "HTTP 400", status: 400, now: t0 + 11)
            }
            try expectCountsMatch(spool, "recording outcomes")

            #expect(try spool.retryDead(destination: "shadow", at: t0 + 12) == 1)
            try expectCountsMatch(spool, "retrying dead letters")
            for delivery in try spool.claim(destination: "shadow", now: .infinity, limit: 10) {
                try spool.deadLetter(id: delivery.id, error: "HTTP 400", status: 400, now: t0 + 13)
            }
            #expect(try spool.purge(.deadLetters(destination: nil, createdBefore: nil), asOf: t0 + 100, batchSize: 1) == 2)
            #expect(try spool.purge(.quarantined(receivedBefore: nil), asOf: t0 + 100) == 2)
            try expectCountsMatch(spool, "purges")

            let pruned = try spool.prune(now: t0 + 30 * 86_400)
            #expect(pruned.events > 0 && pruned.requests > 0)
            try expectCountsMatch(spool, "pruning")

            // A delivery left inflight goes back to pending when the spool is opened again.
            _ = try spool.claim(destination: "primary", now: .infinity, limit: 10)
            spool.close()
            let reopened = try Spool.open(directory: directory)
            defer { reopened.close() }
            #expect(try reopened.stats().deliveries["primary"]?.inflight == 0)
            try expectCountsMatch(reopened, "recovering inflight deliveries")
        }
    }

    @Test func aV3SpoolStartsItsCountsFromTheTables() throws {
        try withTemporaryDirectory { directory in
            let database = try SQLiteDatabase(path: directory + "/spool.sqlite3")
            try database.migrate(Array(Schema.migrations.prefix(3)))
            // As v3 wrote them (today's code also keeps counts that v3 has no table for): events x
            // (to primary, claimed, and shadow) and y, and a quarantined request.
            try database.execute(
                """
                INSERT INTO requests (id, received_at, route, headers, body, status, quarantine_reason) VALUES
                    (1, \(t0), 'cloud', x'', x'', 'accepted', NULL), (2, \(t0), 'cloud', x'', x'', 'quarantined', 'not JSON');
                INSERT INTO events (seq, id, request_id, type, contact_key, payload, created_at) VALUES
                    (1, 'x', 1, 'com.whatsapp.message.received', 'contact-1', x'7b7d', \(t0)),
                    (2, 'y', 1, 'com.whatsapp.message.received', 'Y', x'7b7d', \(t0));
                INSERT INTO deliveries (event_seq, destination, state, next_attempt_at, contact_key, created_at, updated_at) VALUES
                    (1, 'primary', 'inflight', \(t0), 'contact-1', \(t0), \(t0)),
                    (1, 'shadow', 'pending', \(t0), 'contact-1', \(t0), \(t0)),
                    (2, 'primary', 'pending', \(t0), 'Y', \(t0), \(t0));
                """, "write v3 rows")
            database.close()

            let spool = try Spool.open(directory: directory, options: SpoolOptions(recoverInflight: false))
            defer { spool.close() }
            let stats = try spool.stats()
            #expect(stats.requests == 2 && stats.quarantined == 1 && stats.events == 2)
            #expect(stats.deliveries["primary"]?.inflight == 1 && stats.deliveries["primary"]?.pending == 1)
            try expectCountsMatch(spool, "migrating to v4")
        }
    }
}
