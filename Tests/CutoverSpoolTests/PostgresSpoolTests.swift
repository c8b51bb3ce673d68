import CutoverLocking
import CutoverPostgres
import CutoverTestSupport
import Dispatch
import Foundation
import Testing

@testable import CutoverSpool

/// What only a spool shared by several instances has to get right: leases, per-contact order across
/// instances, migrations racing, and an unreachable server.
@Suite("PostgreSQL spool: several instances on one database")
struct PostgresSpoolTests {
    private func open(_ url: String, instance: String, lease: Double = 60) throws(SpoolError) -> PostgresSpool {
        try PostgresSpool.open(PostgresSpoolConfiguration(url: url, instanceID: instance, leaseSeconds: lease))
    }

    /// Instances "one" and "two" (60 s leases) on a new database of a server of the test's own.
    private func withTwoInstances(_ body: (PostgresSpool, PostgresSpool, PostgresServer) throws -> Void) throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let first = try open(url, instance: "one")
        defer { first.close() }
        let second = try open(url, instance: "two")
        defer { second.close() }
        try body(first, second, server)
    }

    @Test func statementErrorsCarrySQLState() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let connection = try PostgresConnection(url: server.url(), password: nil)
        defer { connection.close() }
        #expect {
            try connection.query("SELEC 1", [], "run a typo")
        } throws: { error in
            (error as? PostgresError)?.sqlState == "42601" && (error as? PostgresError)?.kind == .statement
        }
        let values = try connection.query(
            "SELECT $1::bigint, $2::float8, $3::text, $4::bytea, $5::text IS NULL",
            [.int64(-42), .double(1.5), .text("héllo"), .bytes([0, 255]), .null], "round-trip parameters")
        #expect(try values.int64(0, 0) == -42 && values.double(0, 1) == 1.5 && values.string(0, 2) == "héllo")
        #expect(try values.bytes(0, 3) == [0, 255] && values.int(0, 4) == 1)
    }

    @Test func statementsArePreparedOncePerSessionAndTypes() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let connection = try PostgresConnection(url: server.url(), password: nil)
        defer { connection.close() }
        for value in [1, 2] as [Int64] {
            #expect(try connection.query("SELECT coalesce($1, 0)::bigint + 1", [.int64(value)], "add", prepared: true).int64(0, 0) == value + 1)
        }
        #expect(connection.preparedStatementCount == 1)
        // A NULL leaves its type to the server: another statement than the one with a bigint.
        #expect(try connection.query("SELECT coalesce($1, 0)::bigint + 1", [.null], "add", prepared: true).int64(0, 0) == 1)
        #expect(connection.preparedStatementCount == 2)
        #expect(throws: PostgresError.self) { try connection.query("SELEC $1", [.int64(1)], "run a typo", prepared: true) }
        #expect(connection.preparedStatementCount == 2, "a failed PREPARE is not remembered")
        let prepared = try connection.query(
            "SELECT count(*) FROM pg_prepared_statements WHERE from_sql = false", [], "count the session's statements")
        #expect(try prepared.int64(0, 0) == 2, "an unprepared statement leaves none behind")
        #expect(connection.preparedStatementCount == 2)
        // An aged preparation is dropped and made again: the session keeps one per statement.
        connection.preparedPlanLifetime = .zero
        for value in [3, 4] as [Int64] {
            #expect(try connection.query("SELECT coalesce($1, 0)::bigint + 1", [.int64(value)], "add", prepared: true).int64(0, 0) == value + 1)
        }
        #expect(try connection.query(
            "SELECT count(*) FROM pg_prepared_statements WHERE from_sql = false", [], "count the session's statements").int64(0, 0) == 2)
        connection.preparedPlanLifetime = .seconds(3600)
        // Past the bound, statements still run, unprepared.
        for offset in 0..<PostgresConnection.maxPreparedStatements {
            #expect(try connection.query("SELECT $1::bigint + \(offset)", [.int64(1)], "add \(offset)", prepared: true).int64(0, 0) == Int64(offset) + 1)
        }
        #expect(connection.preparedStatementCount == PostgresConnection.maxPreparedStatements)
    }

    /// A database a build with schema v2 left: deliveries pending, inflight under another
    /// instance's lease and attempted once. The migration keeps every row, and the inflight one is
    /// found by its lease (v3's index) and taken over when it lapses.
    @Test func aVersion2DatabaseMigratesAndKeepsItsRows() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try makeDatabase(
            on: server, atVersion: 2,
            storing: """
                INSERT INTO events (seq, id, request_id, type, contact_key, payload, created_at)
                    VALUES (1, 'old-1', 1, 'message', 'a', '{}', 100), (2, 'old-2', 1, 'message', 'b', '{}', 100);
                INSERT INTO deliveries (id, event_seq, destination, state, attempts, next_attempt_at, contact_key, created_at, updated_at,
                                        claimed_by, lease_expires_at)
                    VALUES (1, 1, 'primary', 'inflight', 1, 100, 'a', 100, 100, 'gone', 130),
                           (2, 2, 'primary', 'pending', 0, 200, 'b', 100, 100, NULL, NULL);
                INSERT INTO attempts (delivery_id, attempt, at, outcome, status, latency_ms) VALUES (1, 1, 101, 'retry', 503, 12);
                """)
        let spool = try open(url, instance: "one")
        defer { spool.close() }
        let versions = try server.psql("SELECT max(version) FROM cutover_schema", database: String(url.split(separator: "/").last!))
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "\(PostgresSchema.latestVersion)")
        let names = try deliveryIndexes(on: server, url)
        #expect(names.contains("deliveries_inflight_by_lease") && !names.contains("deliveries_event"))
        #expect(names.contains("deliveries_event_seq_destination_key"), "the unique index that serves lookups by event stays")
        let stats = try spool.stats()
        #expect(stats.requests == 1 && stats.events == 2)
        #expect(stats.deliveries["primary"]?.inflight == 1 && stats.deliveries["primary"]?.pending == 1)
        #expect(try spool.attempts(deliveryID: 1).map(\.latencyMilliseconds) == [12])
        #expect(try spool.nextDueTime(destination: "primary") == 130, "the lease lapses before the pending one is due")
        let takenOver = try spool.claim(destination: "primary", now: 130, limit: 10)
        #expect(takenOver.map(\.eventID) == ["old-1"] && takenOver.first?.attemptNumber == 2)
    }

    /// A new database as a build whose schema was `version` left it, with one accepted request (id 1,
    /// received at 100) and `rows` (SQL) stored.
    private func makeDatabase(on server: PostgresServer, atVersion version: Int, storing rows: String) throws -> String {
        let url = try server.makeDatabase()
        let connection = try PostgresConnection(url: url, password: nil)
        defer { connection.close() }
        try connection.execute("CREATE TABLE cutover_schema (version INTEGER NOT NULL)", "create the version table")
        for migration in PostgresSchema.migrations where migration.version <= version {
            try connection.execute(migration.sql, "apply v\(migration.version)")
            try connection.query("INSERT INTO cutover_schema (version) VALUES ($1)", [.int64(Int64(migration.version))], "record it")
        }
        try connection.execute(
            "INSERT INTO requests (id, received_at, route, headers, body, status) VALUES (1, 100, 'cloud', '', 'body', 'accepted')",
            "store a request")
        try connection.execute(rows, "store v\(version) rows")
        return url
    }

    /// The names of the indexes on `deliveries`.
    private func deliveryIndexes(on server: PostgresServer, _ url: String) throws -> Set<String> {
        let names = try server.psql(
            "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'deliveries'",
            database: String(url.split(separator: "/").last!))
        return Set(names.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map(String.init))
    }

    /// A database a build with schema v3 left: contact a has two pending deliveries, contact b an
    /// inflight head under a lapsed lease of another instance and a pending one behind it, contact
    /// c one pending delivery not due yet. After the migration the due index holds pending
    /// deliveries only, every row is kept, and claims still take each contact's head alone, the
    /// lapsed one by its lease, in due order.
    @Test func aVersion3DatabaseMigratesKeepsItsRowsAndClaimsHeadsInOrder() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try makeDatabase(
            on: server, atVersion: 3,
            storing: """
                INSERT INTO events (seq, id, request_id, type, contact_key, payload, created_at)
                    VALUES (1, 'a-1', 1, 'message', 'a', '{}', 90), (2, 'b-1', 1, 'message', 'b', '{}', 90),
                           (3, 'a-2', 1, 'message', 'a', '{}', 90), (4, 'b-2', 1, 'message', 'b', '{}', 90),
                           (5, 'c-1', 1, 'message', 'c', '{}', 90);
                INSERT INTO deliveries (id, event_seq, destination, state, attempts, next_attempt_at, contact_key, created_at, updated_at,
                                        claimed_by, lease_expires_at)
                    VALUES (1, 1, 'primary', 'pending', 0, 100, 'a', 90, 90, NULL, NULL),
                           (2, 2, 'primary', 'inflight', 0, 90, 'b', 90, 90, 'gone', 130),
                           (3, 3, 'primary', 'pending', 0, 100, 'a', 90, 90, NULL, NULL),
                           (4, 4, 'primary', 'pending', 0, 95, 'b', 90, 90, NULL, NULL),
                           (5, 5, 'primary', 'pending', 0, 300, 'c', 90, 90, NULL, NULL);
                SELECT setval('deliveries_id_seq', 5);
                """)
        let spool = try open(url, instance: "one", lease: 60)
        defer { spool.close() }
        let database = String(url.split(separator: "/").last!)
        #expect(try server.psql("SELECT max(version) FROM cutover_schema", database: database).trimmingCharacters(in: .whitespacesAndNewlines) == "\(PostgresSchema.latestVersion)")
        let names = try deliveryIndexes(on: server, url)
        #expect(names.contains("deliveries_pending_by_due") && !names.contains("deliveries_open_by_due"))
        let stats = try spool.stats(now: 200)
        #expect(stats.events == 5 && stats.deliveries["primary"]?.pending == 4 && stats.deliveries["primary"]?.inflight == 1)
        #expect(stats.oldestPendingCreatedAt == 90)
        #expect(try spool.nextDueTime(destination: "primary") == 100, "a's head is due at 100, before b's lease lapses at 130")
        let heads = try spool.claim(destination: "primary", now: 200, limit: 10)
        #expect(heads.map(\.eventID) == ["b-1", "a-1"], "the lapsed head (due 90) first, then a's; no one's second, c not due")
        #expect(try spool.nextDueTime(destination: "primary") == 260, "this instance's leases lapse before c is due at 300")
        #expect(try spool.claim(destination: "primary", now: 200, limit: 10).isEmpty, "both heads are in flight")
        let turn = try spool.recordAndClaim(
            heads.map { DeliveryResult(deliveryID: $0.id, result: .delivered(status: 200)) }, destination: "primary", now: 201, limit: 1)
        #expect(turn.claimed.map(\.eventID) == ["b-2"], "the limit takes the earlier due of the two new heads")
        #expect(try spool.claim(destination: "primary", now: 201, limit: 10).map(\.eventID) == ["a-2"])
    }

    @Test func aLiveLeaseIsNeverClaimedTwiceAndAnExpiredOneIsTakenOver() throws {
        try withTwoInstances { first, second, _ in
            _ = try first.ingest([request([event("e1")], at: 100)])
            let claimed = try first.claim(destination: "primary", now: 100, limit: 10)
            #expect(claimed.map(\.eventID) == ["e1"])
            #expect(try second.claim(destination: "primary", now: 159, limit: 10).isEmpty, "the lease runs until 160")
            let takenOver = try second.claim(destination: "primary", now: 160, limit: 10)
            #expect(takenOver.map(\.eventID) == ["e1"])
            // The first instance's late outcome no longer counts: the delivery is the second's now.
            #expect(try first.record([DeliveryResult(deliveryID: claimed[0].id, result: .delivered(status: 200))], now: 161) == [claimed[0].id])
            #expect(try second.record([DeliveryResult(deliveryID: takenOver[0].id, result: .delivered(status: 200))], now: 161).isEmpty)
            #expect(try first.delivery(id: claimed[0].id)?.attempts == 1)
        }
    }

    /// A send may outlast the lease: the renewal extends the leases of what the process still holds,
    /// and only those (an outcome recorded, or one in a failed turn, is no longer held).
    @Test func renewalKeepsHeldLeasesAndLetsGoOfRecordedOnes() throws {
        try withTwoInstances { first, second, server in
            _ = try first.ingest([request([event("a", contact: "ca")], at: 100), request([event("b", contact: "cb")], at: 100)])
            let claimed = try first.claim(destination: "primary", now: 100, limit: 10)
            #expect(Set(claimed.map(\.eventID)) == ["a", "b"])
            #expect(first.heldDeliveries == Set(claimed.map(\.id)))
            first.renewLeases()
            let far = Spool.currentTime() + 30
            #expect(try second.claim(destination: "primary", now: far, limit: 10).isEmpty, "renewed to the wall clock's now + 60")
            let a = try #require(claimed.first { $0.eventID == "a" })
            _ = try first.recordAndClaim([DeliveryResult(deliveryID: a.id, result: .delivered(status: 200))], destination: "primary", now: 101, limit: 0)
            #expect(first.heldDeliveries == Set(claimed.map(\.id)).subtracting([a.id]))
            // A turn that fails is forgotten by its worker: its deliveries are not renewed any more, so
            // their leases lapse and they are claimed again.
            server.stop()
            let b = try #require(claimed.first { $0.eventID == "b" })
            #expect(throws: SpoolError.self) {
                try first.recordAndClaim([DeliveryResult(deliveryID: b.id, result: .delivered(status: 200))], destination: "primary", now: 102, limit: 5)
            }
            #expect(first.heldDeliveries.isEmpty)
        }
    }

    /// A restart with the same configured instance id takes its claims back at once (the previous
    /// process is gone); another instance waits for the lease.
    /// The generic plan the claim gets on a new spool, whose tables are a few rows when the plan
    /// cache settles on it, reads deliveries and events by index: with a scan of either it would
    /// cost what the spool holds on every claim until the plan is made again.
    @Test func theClaimsGenericPlanOnATinySpoolReadsByIndex() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let spool = try open(url, instance: "one")
        defer { spool.close() }
        _ = try spool.ingest([request([event("tiny-1", contact: "a"), event("tiny-2", contact: "b")])])
        let connection = try PostgresConnection(url: url, password: nil)
        defer { connection.close() }

        func genericPlan(_ settings: String?) throws -> String {
            try connection.execute("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan", "begin")
            defer { try? connection.execute("ROLLBACK; DEALLOCATE ALL", "end") }
            if let settings { try connection.execute(settings, "claim plan settings") }
            try connection.execute("PREPARE claim (text, float8, bigint, text, float8) AS " + PostgresStore.claimSQL, "prepare the claim")
            let plan = try connection.query("EXPLAIN EXECUTE claim('primary', 1e12, 8, 'one', 60)", [], "explain the claim")
            return try (0..<plan.count).map { row throws(PostgresError) in try plan.string(row, 0) }.joined(separator: "\n")
        }
        let plan = try genericPlan(PostgresStore.byIndexPlanSettings)
        #expect(!plan.contains("Seq Scan") && !plan.contains("Hash Join"), "\(plan)")
        #expect(plan.contains("Index Scan on deliveries_pkey") && plan.contains("Index Scan using events_pkey"), "\(plan)")
        let unguided = try genericPlan(nil)
        #expect(unguided.contains("Seq Scan"), "the check tells the two apart: left alone, the planner scans tiny tables\n\(unguided)")
    }

    @Test func aRestartWithTheSameInstanceIDTakesBackItsClaims() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let crashed = try open(url, instance: "one", lease: 60)
        _ = try crashed.ingest([request([event("e1")], at: 100)])
        #expect(try crashed.claim(destination: "primary", now: 100, limit: 10).map(\.eventID) == ["e1"])
        crashed.close()
        let other = try open(url, instance: "two", lease: 60)
        defer { other.close() }
        #expect(try other.claim(destination: "primary", now: 101, limit: 10).isEmpty, "another instance waits for the lease")
        let restarted = try open(url, instance: "one", lease: 60)
        defer { restarted.close() }
        #expect(try restarted.claim(destination: "primary", now: 101, limit: 10).map(\.eventID) == ["e1"])
    }

    @Test func concurrentClaimsOfTwoInstancesNeverOverlapAndKeepEachContactsOrder() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let spools = try [open(url, instance: "one"), open(url, instance: "two")]
        defer { for spool in spools { spool.close() } }
        let contacts = 20
        let perContact = 10
        var requests: [IncomingRequest] = []
        for index in 0..<perContact {
            requests.append(request((0..<contacts).map { event("c\($0)-\(index)", contact: "c\($0)") }, at: 100 + Double(index)))
        }
        _ = try spools[0].ingest(requests)
        let log = Locked<[(instance: Int, eventID: String, contact: String)]>([])
        let inFlight = Locked<Set<String>>([])
        let overlaps = Locked(0)
        @Sendable func hold(_ claimed: [ClaimedDelivery], by instance: Int) {
            for delivery in claimed {
                let fresh = inFlight.withLock { $0.insert(delivery.contactKey).inserted }
                if !fresh { overlaps.withLock { $0 += 1 } }
                log.withLock { $0.append((instance, delivery.eventID, delivery.contactKey)) }
            }
        }
        // Each instance claims once before either records anything, so both take part however the
        // threads below happen to be scheduled on a loaded machine.
        let first = try spools.map { try $0.claim(destination: "primary", now: 1_000, limit: 7) }
        for (instance, claimed) in first.enumerated() { hold(claimed, by: instance) }
        DispatchQueue.concurrentPerform(iterations: 2) { instance in
            var claimed = first[instance]
            var outcomes: [DeliveryResult] = []
            var idleTurns = 0
            while true {
                for delivery in claimed {
                    inFlight.withLock { _ = $0.remove(delivery.contactKey) }
                    outcomes.append(DeliveryResult(deliveryID: delivery.id, result: .delivered(status: 200)))
                }
                guard idleTurns < 3 else { break }
                let turn = try? spools[instance].recordAndClaim(outcomes, destination: "primary", now: 1_000, limit: 7)
                outcomes = []
                claimed = turn?.claimed ?? []
                idleTurns = claimed.isEmpty ? idleTurns + 1 : 0
                hold(claimed, by: instance)
            }
            _ = try? spools[instance].record(outcomes, now: 1_000)
        }
        let delivered = log.withLock { $0 }
        #expect(overlaps.withLock { $0 } == 0, "one contact's deliveries were in flight on two instances")
        #expect(delivered.count == contacts * perContact, "every delivery exactly once")
        #expect(Set(delivered.map(\.eventID)).count == contacts * perContact)
        for contact in 0..<contacts {
            let order = delivered.filter { $0.contact == "c\(contact)" }.map(\.eventID)
            #expect(order == (0..<perContact).map { "c\(contact)-\($0)" })
        }
        #expect(Set(delivered.map(\.instance)).count == 2, "both instances took part")
    }

    @Test func instancesStartingTogetherMigrateOnce() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let opened = Locked<[Result<PostgresSpool, SpoolError>]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            let result = Result { () throws(SpoolError) in try open(url, instance: "i\(index)") }
            opened.withLock { $0.append(result) }
        }
        let spools = try opened.withLock { $0 }.map { try $0.get() }
        defer { for spool in spools { spool.close() } }
        #expect(Set(spools.map(\.spoolID)).count == 1)
        let versions = try server.psql("SELECT count(*) FROM cutover_schema", database: String(url.split(separator: "/").last!))
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "\(PostgresSchema.latestVersion)")
    }

    @Test func ingestFailsUnavailableWhileTheServerIsDownAndRecoversAfterARestart() throws {
        let server = try PostgresServer()
        let url = try server.makeDatabase()
        let spool = try open(url, instance: "one")
        defer { spool.close() }
        #expect(try submitAndWait(spool, [request([event("before")])])[0]?.get().newEvents == 1)
        server.stop()
        let during = submitAndWait(spool, [request([event("during")])])
        #expect {
            try during[0]?.get()
        } throws: { error in
            (error as? SpoolError)?.kind == .unavailable
        }
        #expect(throws: SpoolError.self) { try spool.delivery(id: 0) }
        try server.start()
        // The pool reconnects after its backoff: retry until a commit succeeds (no sleep: each try
        // is a real attempt that fails fast while backing off).
        var receipt: IngestReceipt?
        let deadline = Date().addingTimeInterval(30)
        while receipt == nil, Date() < deadline {
            receipt = try? submitAndWait(spool, [request([event("after")])])[0]?.get()
        }
        #expect(receipt?.newEvents == 1)
        #expect(try spool.event(id: "during") == nil, "nothing of the outage was stored")
        #expect(try spool.stats().events == 2)
    }
}
