import CutoverTestSupport
import Dispatch
import Foundation
import Testing

@testable import CutoverSpool

@Suite("Spool: ingest and delivery")
struct SpoolIngestDeliveryTests {
    @Test func aRawClaimCarriesTheRequestBody() throws {
        try withSpool { spool, _ in
            let body = Array("{ \"raw\": \"as received\" }".utf8)
            _ = try spool.ingest([request([event("e1", contact: "A", destinations: ["raw"]), event("e2", contact: "B", destinations: ["raw"])], at: 10, body: body)])
            let claimed = try spool.claim(destination: "raw", now: 10, limit: 10, withRequestBody: true)
            #expect(claimed.map(\.eventID) == ["e1", "e2"])
            #expect(claimed.allSatisfy { $0.requestBody == body })
            #expect(claimed[0].payload == Array("{\"id\":\"e1\"}".utf8))
        }
    }

    @Test func ingestClaimAndDeliver() throws {
        try withSpool { spool, _ in
            let t = 1_700_000_000.0
            let receipts = try spool.ingest([
                request([
                    event("e1", contact: "A", destinations: ["primary", "shadow"]),
                    event("e2", contact: "B", destinations: ["primary", "shadow"]),
                ], at: t)
            ])
            #expect(receipts == [IngestReceipt(requestID: 1, quarantined: false, newEvents: 2, duplicateEvents: 0, deliveriesCreated: 4)])

            // Not due yet.
            #expect(try spool.claim(destination: "primary", now: t - 1, limit: 10).isEmpty)

            let claimed = try spool.claim(destination: "primary", now: t, limit: 10)
            #expect(claimed.map(\.eventID) == ["e1", "e2"])
            #expect(claimed[0].payload == Array("{\"id\":\"e1\"}".utf8))
            #expect(claimed[0].attempts == 0)
            #expect(claimed[0].createdAt == t)
            #expect(claimed[0].requestID == 1)
            #expect(claimed[0].contactKey == "A")
            #expect(claimed[0].eventType == "com.whatsapp.message.received")
            #expect(claimed.allSatisfy { $0.requestBody == nil }, "the raw body only when asked for")
            // Inflight deliveries are not handed out twice.
            #expect(try spool.claim(destination: "primary", now: t + 1, limit: 10).isEmpty)

            for delivery in claimed { try spool.markDelivered(id: delivery.id, status: 200, now: t + 2) }
            let stats = try spool.stats(now: t + 10)
            #expect(stats.deliveries["primary"]?.delivered == 2)
            #expect(stats.deliveries["primary"]?.pending == 0)
            #expect(stats.deliveries["shadow"]?.pending == 2)
            #expect(stats.requests == 1 && stats.events == 2 && stats.quarantined == 0)
            #expect(stats.oldestPendingAge == 10)
            #expect(try spool.nextDueTime(destination: "primary") == nil)
            #expect(try spool.nextDueTime(destination: "shadow") == t)
            #expect(try spool.destinations() == ["primary", "shadow"])

            let delivered = try spool.deliveries(state: .delivered)
            #expect(delivered.count == 2 && delivered.allSatisfy { $0.attempts == 1 && $0.lastStatus == 200 })

            // Recording an outcome for a delivery that is not inflight is refused.
            let error = #expect(throws: SpoolError.self) { try spool.markDelivered(id: claimed[0].id, status: 200) }
            #expect(error?.kind == .invalidState)
        }
    }

    @Test func redeliveredEventIsStoredAndDeliveredOnce() throws {
        try withSpool { spool, _ in
            let first = try spool.ingest([request([event("wamid.1", destinations: ["primary"])])])
            #expect(first[0].newEvents == 1 && first[0].deliveriesCreated == 1)

            // Meta redelivers the same notification: the request is kept, the event is not stored again.
            let again = try spool.ingest([request([event("wamid.1", destinations: ["primary"])])])
            #expect(again[0].newEvents == 0 && again[0].duplicateEvents == 1 && again[0].deliveriesCreated == 0)

            // Duplicates inside one batch, and a destination named twice.
            let batch = try spool.ingest([
                request([event("wamid.2", destinations: ["primary", "primary"])]),
                request([event("wamid.2"), event("wamid.3")]),
            ])
            #expect(batch[0].newEvents == 1 && batch[0].deliveriesCreated == 1)
            #expect(batch[1].newEvents == 1 && batch[1].duplicateEvents == 1 && batch[1].deliveriesCreated == 1)

            let stats = try spool.stats()
            #expect(stats.requests == 4)
            #expect(stats.events == 3)
            #expect(stats.deliveries["primary"]?.pending == 3)
            let claimed = try spool.claim(destination: "primary", now: .infinity, limit: 10)
            #expect(claimed.map(\.eventID) == ["wamid.1"])  // one contact: one at a time, in order
        }
    }

    @Test func quarantineKeepsBodyAndCreatesNoEvents() throws {
        try withSpool { spool, _ in
            let body: [UInt8] = Array("{not json".utf8) + [0, 255, 10]
            let headers: [(name: String, value: String)] = [
                (name: "Content-Type", value: "application/json"), (name: "X-Dup", value: "1"),
                (name: "X-Dup", value: ""), (name: "X-Ünïcode", value: "✓"),
            ]
            var incoming = request([event("ignored")], route: "onprem/default", body: body, quarantineReason: "unexpected token")
            incoming.headers = headers
            let receipt = try spool.ingest([incoming])[0]
            #expect(receipt.quarantined && receipt.newEvents == 0 && receipt.deliveriesCreated == 0)

            let stored = try #require(try spool.request(id: receipt.requestID))
            #expect(stored.body == body)
            #expect(stored.status == .quarantined)
            #expect(stored.quarantineReason == "unexpected token")
            #expect(stored.route == "onprem/default")
            #expect(stored.headers.map(\.name) == headers.map(\.name))
            #expect(stored.headers.map(\.value) == headers.map(\.value))

            let stats = try spool.stats()
            #expect(stats.quarantined == 1 && stats.events == 0 && stats.deliveries.isEmpty)
            #expect(try spool.events(requestID: receipt.requestID).isEmpty)
            #expect(try spool.requests(status: .quarantined).map(\.id) == [receipt.requestID])
            #expect(try spool.requests(status: .accepted).isEmpty)
        }
    }

    @Test func emptyBodyAndStringsRoundTrip() throws {
        try withSpool { spool, _ in
            let incoming = IncomingRequest(
                receivedAt: 5, route: "", headers: [], body: [],
                events: [IncomingEvent(id: "e", type: "", contactKey: "", payload: [], destinations: ["d"])])
            let receipt = try spool.ingest([incoming])[0]
            let stored = try #require(try spool.request(id: receipt.requestID))
            #expect(stored.body.isEmpty && stored.route.isEmpty && stored.headers.isEmpty)
            let claimed = try spool.claim(destination: "d", now: 5, limit: 1)
            #expect(claimed.count == 1 && claimed[0].payload.isEmpty && claimed[0].contactKey.isEmpty)
            #expect(try spool.events(requestID: receipt.requestID).map(\.id) == ["e"])
        }
    }

    @Test func perContactOrdering() throws {
        try withSpool { spool, _ in
            let t = 1_000.0
            _ = try spool.ingest([
                request([event("A1", contact: "A"), event("A2", contact: "A")], at: t),
                request([event("B1", contact: "B")], at: t),
            ])
            // Only the head of each contact's queue is claimable.
            let first = try spool.claim(destination: "primary", now: t, limit: 10)
            #expect(first.map(\.eventID) == ["A1", "B1"])

            // A1 fails and is rescheduled; B1 succeeds.
            let a1 = first[0].id
            try spool.scheduleRetry(id: a1, at: t + 60, error: "HTTP 503", status: 503, now: t + 1)
            try spool.markDelivered(id: first[1].id, status: 200, now: t + 1)

            // A2 is held back by the pending A1; contact B is not.
            #expect(try spool.claim(destination: "primary", now: t + 2, limit: 10).isEmpty)
            _ = try spool.ingest([request([event("B2", contact: "B")], at: t + 2)])
            #expect(try spool.claim(destination: "primary", now: t + 2, limit: 10).map(\.eventID) == ["B2"])
            // A worker would sleep until A1 is due, not spin on the held-back A2.
            #expect(try spool.nextDueTime(destination: "primary") == t + 60)

            let retried = try spool.claim(destination: "primary", now: t + 60, limit: 10)
            #expect(retried.map(\.eventID) == ["A1"])
            #expect(retried[0].attempts == 1)
            // Dead-lettering A1 releases A2.
            try spool.deadLetter(id: a1, error: "HTTP 400", status: 400, now: t + 61)
            #expect(try spool.claim(destination: "primary", now: t + 61, limit: 10).map(\.eventID) == ["A2"])

            let dead = try spool.deliveries(state: .dead)
            #expect(dead.map(\.eventID) == ["A1"])
            #expect(dead[0].attempts == 2 && dead[0].lastError == "HTTP 400" && dead[0].lastStatus == 400)
            #expect(try spool.retryDead(destination: "primary", at: t + 100) == 1)
            #expect(try spool.deliveries(state: .dead).isEmpty)
            #expect(try spool.claim(destination: "primary", now: t + 100, limit: 10).map(\.eventID) == ["A1"])
        }
    }

    @Test func inflightDeliveriesArePendingAgainAfterReopen() throws {
        try withTemporaryDirectory { directory in
            do {
                let spool = try Spool.open(directory: directory)
                _ = try spool.ingest([request([event("e1", contact: "A"), event("e2", contact: "B")])])
                #expect(try spool.claim(destination: "primary", now: .infinity, limit: 10).count == 2)
                spool.close()
            }
            do {
                // An inspection open leaves them alone.
                let spool = try Spool.open(directory: directory, options: SpoolOptions(recoverInflight: false))
                #expect(try spool.stats().deliveries["primary"]?.inflight == 2)
                spool.close()
            }
            do {
                let spool = try Spool.open(directory: directory)
                defer { spool.close() }
                #expect(try spool.stats().deliveries["primary"]?.pending == 2)
                let again = try spool.claim(destination: "primary", now: .infinity, limit: 10)
                #expect(again.map(\.eventID) == ["e1", "e2"])
                #expect(again.allSatisfy { $0.attempts == 0 })
            }
        }
    }
}

@Suite("Spool: group commit")
struct SpoolGroupCommitTests {
    @Test func concurrentSubmitsAreBatched() throws {
        try withSpool { spool, _ in
            let requests = (0..<200).map { request([event("e\($0)", contact: "c\($0 % 7)")], at: Double($0)) }
            let results = submitAndWait(spool, requests, threads: 8)
            let receipts = results.compactMap { try? $0?.get() }
            #expect(receipts.count == 200)
            #expect(Set(receipts.map(\.requestID)).count == 200)
            #expect(receipts.allSatisfy { $0.newEvents == 1 && $0.deliveriesCreated == 1 })

            let counters = spool.counters
            #expect(counters.ingestedRequests == 200)
            #expect(counters.ingestCommits < 200, "group commit must write several requests per transaction")
            #expect(counters.largestBatch <= 64)
            let stats = try spool.stats()
            #expect(stats.requests == 200 && stats.deliveries["primary"]?.pending == 200)
        }
    }

    @Test func queuedSubmitsGoInBatchesOfMaxBatch() throws {
        try withSpool { spool, _ in
            spool._suspendWriter()
            let requests = (0..<200).map { request([event("e\($0)")]) }
            let results = submitAndWait(spool, requests, threads: 4, beforeWaiting: { spool._resumeWriter() })
            #expect(results.allSatisfy { (try? $0?.get()) != nil })
            #expect(spool.counters.ingestCommits == 4)  // 64 + 64 + 64 + 8
            #expect(spool.counters.largestBatch == 64)
        }
    }

    @Test func maxBatchOneCommitsEveryRequest() throws {
        try withSpool(options: SpoolOptions(maxBatch: 1)) { spool, _ in
            spool._suspendWriter()
            let results = submitAndWait(spool, (0..<10).map { request([event("e\($0)")]) }, beforeWaiting: {
                spool._resumeWriter()
            })
            #expect(results.allSatisfy { (try? $0?.get()) != nil })
            #expect(spool.counters.ingestCommits == 10)
        }
    }

    @Test func failingBatchReportsTheErrorToEveryCompletionAndStoresNothing() throws {
        try withSpool { spool, _ in
            try spool._execute(
                """
                CREATE TEMP TRIGGER fail_boom BEFORE INSERT ON requests WHEN NEW.route = 'boom'
                BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
                """)
            spool._suspendWriter()
            var requests = (0..<9).map { request([event("good\($0)")]) }
            requests.insert(request([event("bad")], route: "boom"), at: 4)
            let results = submitAndWait(spool, requests, beforeWaiting: { spool._resumeWriter() })

            #expect(spool.counters.failedIngestBatches == 1)
            for result in results {
                guard case .failure(let error)? = result else {
                    Issue.record("expected a failure, got \(String(describing: result))")
                    continue
                }
                #expect(error.kind == .sqlite)
                #expect(error.primaryCode == 19)  // SQLITE_CONSTRAINT
                #expect(error.message.contains("injected failure"))
                #expect(error.description.contains("insert request"))  // what was being done
            }
            let stats = try spool.stats()
            #expect(stats.requests == 0 && stats.events == 0 && stats.deliveries.isEmpty)

            // The connection is usable after the rollback; the synchronous path fails the same way.
            let thrown = #expect(throws: SpoolError.self) { try spool.ingest([requests[0], requests[4]]) }
            #expect(thrown?.message.contains("injected failure") == true)
            #expect(try spool.stats().requests == 0)
            let ok = submitAndWait(spool, [request([event("later")])])
            #expect(ok.allSatisfy { (try? $0?.get()) != nil })
            #expect(try spool.stats().events == 1)
        }
    }

    @Test func closeFinishesSubmittedRequestsThenRejects() throws {
        try withTemporaryDirectory { directory in
            let spool = try Spool.open(directory: directory)
            let results = submitAndWait(spool, (0..<50).map { request([event("e\($0)")]) }, threads: 2, beforeWaiting: {
                spool.close()
            })
            #expect(results.allSatisfy { (try? $0?.get()) != nil })

            // After close: a submit completes at once with `.closed`, other calls throw it.
            let rejected = submitAndWait(spool, [request([event("late")])])
            guard case .failure(let error)? = rejected.first else {
                Issue.record("expected .closed")
                return
            }
            #expect(error.kind == .closed)
            #expect((#expect(throws: SpoolError.self) { try spool.stats() })?.kind == .closed)
            spool.close()  // idempotent

            let reopened = try Spool.open(directory: directory)
            defer { reopened.close() }
            #expect(try reopened.stats().events == 50)
        }
    }
}

@Suite("Spool: schema and errors")
struct SpoolSchemaTests {
    @Test func schemaVersionAndPragmas() throws {
        try withTemporaryDirectory { directory in
            let nested = directory + "/a/b"
            let spool = try Spool.open(directory: nested)
            spool.close()
            let database = try SQLiteDatabase(path: nested + "/spool.sqlite3")
            #expect(try database.userVersion() == Schema.latestVersion)
            #expect(try database.firstRow("PRAGMA journal_mode", "") { $0.string(0) } == "wal")
            #expect(try database.firstRow("PRAGMA synchronous", "") { $0.int(0) } == 2)  // FULL
            #expect(try database.firstRow("PRAGMA foreign_keys", "") { $0.int(0) } == 1)
            database.close()

            // Reopening an up-to-date database migrates nothing and keeps working.
            let again = try Spool.open(directory: nested)
            defer { again.close() }
            #expect(try again.stats().requests == 0)
        }
    }

    @Test func newerSchemaIsRefused() throws {
        try withTemporaryDirectory { directory in
            let spool = try Spool.open(directory: directory)
            try spool._execute("PRAGMA user_version = 99")
            spool.close()
            let error = #expect(throws: SpoolError.self) { try Spool.open(directory: directory) }
            #expect(error?.kind == .unsupportedSchema)
        }
    }

    @Test func openFailuresSayWhatFailed() throws {
        try withTemporaryDirectory { directory in
            let file = directory + "/not-a-directory"
            #expect(FileManager.default.createFile(atPath: file, contents: Data()))
            let error = #expect(throws: SpoolError.self) { try Spool.open(directory: file) }
            #expect(error?.kind == .io)
            #expect(error?.operation.contains(file) == true)

            // A database file that is not SQLite.
            let bogus = directory + "/bogus"
            try FileManager.default.createDirectory(atPath: bogus, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: bogus + "/spool.sqlite3", contents: Data(repeating: 0x41, count: 4096)))
            let notADatabase = #expect(throws: SpoolError.self) { try Spool.open(directory: bogus) }
            #expect(notADatabase?.kind == .refused, "damage refuses the start, naming the fix")
            #expect(notADatabase?.primaryCode == 26)  // SQLITE_NOTADB
            #expect(notADatabase?.message.contains("Fix:") == true)
        }
    }

    @Test func headerCodingRejectsTruncatedBytes() throws {
        let encoded = HeaderCoding.encode([(name: "a", value: "bc")])
        #expect(try HeaderCoding.decode(encoded, operation: "t").map(\.value) == ["bc"])
        #expect(throws: SpoolError.self) { try HeaderCoding.decode(Array(encoded.dropLast()), operation: "t") }
        #expect(throws: SpoolError.self) { try HeaderCoding.decode([2], operation: "t") }
    }
}
