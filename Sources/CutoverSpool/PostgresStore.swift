import CutoverPostgres

/// The PostgreSQL spool's ingest and delivery SQL, on one connection. Callers hold the connection.
///
/// Per-contact order across instances: only the head of a (destination, contact) queue, the open
/// delivery with the lowest id, is ever claimable, and a claim marks it inflight under a lease held by
/// one instance. The head is claimable when it is pending and due, or inflight with a lapsed lease
/// (its instance is gone: another takes it over). `FOR UPDATE SKIP LOCKED` lets concurrent claims
/// skip each other's rows instead of waiting, and a row claimed meanwhile is re-checked on its new
/// version, so two instances never hold the same delivery, nor two of one contact.
struct PostgresStore {
    let connection: PostgresConnection
    /// The `claimed_by` of this instance's leases.
    let instanceID: String
    /// How long a claim holds its deliveries.
    let leaseSeconds: Double

    /// Runs `body` in one transaction: COMMIT (durable: `synchronous_commit = on`) or ROLLBACK.
    /// `deferredSync`: the COMMIT does not wait for the WAL flush (`SET LOCAL synchronous_commit =
    /// off`): visible at once, durable within a few WAL-writer rounds; a server crash before that
    /// loses this transaction whole, nothing else. `planByIndex`: `byIndexPlanSettings` hold for the
    /// whole transaction (the delivery transactions: claims and outcomes). Both are sent with BEGIN,
    /// no round trip of their own.
    func transaction<T>(
        _ operation: String, deferredSync: Bool = false, planByIndex: Bool = false, _ body: () throws(PostgresError) -> T
    ) throws(PostgresError) -> T {
        var begin = "BEGIN"
        if deferredSync { begin += "; SET LOCAL synchronous_commit = off" }
        if planByIndex { begin += "; " + Self.byIndexPlanSettings }
        try connection.execute(begin, "begin: \(operation)")
        do throws(PostgresError) {
            let value = try body()
            try connection.execute("COMMIT", "commit: \(operation)")
            return value
        } catch {
            if connection.isOpen { try? connection.execute("ROLLBACK", "roll back: \(operation)") }
            throw error
        }
    }

    // MARK: Ingest

    /// One group commit's requests in three statements, whatever their number: the requests, then
    /// their events, then the new events' deliveries, each from arrays (`unnest ... WITH ORDINALITY
    /// ORDER BY`), so ids ascend in arrival order as one INSERT per row gave them.
    func ingest(_ requests: [IncomingRequest], carriedDuplicates: Int) throws(PostgresError) -> [IngestReceipt] {
        try transaction("ingest \(requests.count) requests") { () throws(PostgresError) -> [IngestReceipt] in
            var receipts = try insertRequests(requests)
            try insertEvents(of: requests, into: &receipts)
            try addToCounter(.duplicateEvents, receipts.reduce(carriedDuplicates) { $0 + $1.duplicateEvents })
            return receipts
        }
    }

    private static let insertRequests = """
        INSERT INTO requests (received_at, route, headers, body, status, quarantine_reason)
        SELECT received_at, route, headers, body, status, quarantine_reason
        FROM unnest($1::float8[], $2::text[], $3::bytea[], $4::bytea[], $5::text[], $6::text[]) WITH ORDINALITY
            AS r (received_at, route, headers, body, status, quarantine_reason, n)
        ORDER BY n
        RETURNING id
        """

    /// A receipt per request, in order, with its id and the duplicates the ingress already found.
    private func insertRequests(_ requests: [IncomingRequest]) throws(PostgresError) -> [IngestReceipt] {
        let inserted = try connection.query(
            Self.insertRequests,
            [
                .doubleArray(requests.map(\.receivedAt)), .textArray(requests.map(\.route)),
                .bytesArray(requests.map { HeaderCoding.encode($0.headers) }), .bytesArray(requests.map(\.body)),
                .textArray(requests.map { ($0.quarantineReason == nil ? RequestStatus.accepted : RequestStatus.quarantined).rawValue }),
                .textArray(requests.map(\.quarantineReason)),
            ], "insert \(requests.count) requests", prepared: true)
        guard inserted.count == requests.count else {
            throw PostgresError(
                kind: .decoding, message: "\(inserted.count) ids for \(requests.count) requests", operation: "insert \(requests.count) requests")
        }
        // The ids were drawn in the rows' order: ascending, they are the requests' in order.
        var ids: [Int64] = []
        for row in 0..<inserted.count { ids.append(try inserted.int64(row, 0)) }
        return zip(requests, ids.sorted()).map { request, id in
            let quarantined = request.quarantineReason != nil
            return IngestReceipt(
                requestID: id, quarantined: quarantined, newEvents: 0, duplicateEvents: quarantined ? 0 : request.committedDuplicates,
                deliveriesCreated: 0)
        }
    }

    /// The unique id decides across instances: a concurrent insert of the same id waits for the
    /// other transaction and then does nothing; so does the second of one id within the batch.
    private static let insertEvents = """
        INSERT INTO events (id, request_id, type, contact_key, payload, created_at)
        SELECT id, request_id, type, contact_key, payload, created_at
        FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::bytea[], $6::float8[]) WITH ORDINALITY
            AS e (id, request_id, type, contact_key, payload, created_at, n)
        ORDER BY n
        ON CONFLICT (id) DO NOTHING
        RETURNING id, seq
        """

    private static let insertDeliveries = """
        INSERT INTO deliveries (event_seq, destination, state, attempts, next_attempt_at, contact_key, created_at, updated_at)
        SELECT event_seq, destination, 'pending', 0, due, contact_key, due, due
        FROM unnest($1::int8[], $2::text[], $3::float8[], $4::text[]) WITH ORDINALITY AS d (event_seq, destination, due, contact_key, n)
        ORDER BY n
        ON CONFLICT (event_seq, destination) DO NOTHING
        RETURNING event_seq
        """

    /// The events of the requests not quarantined, and the deliveries of those stored for the first time.
    private func insertEvents(of requests: [IncomingRequest], into receipts: inout [IngestReceipt]) throws(PostgresError) {
        let events = requests.indices.filter { requests[$0].quarantineReason == nil }.flatMap { index in
            requests[index].events.map { (request: index, event: $0) }
        }
        guard !events.isEmpty else { return }
        let stored = try connection.query(
            Self.insertEvents,
            [
                .textArray(events.map(\.event.id)), .int64Array(events.map { receipts[$0.request].requestID }),
                .textArray(events.map(\.event.type)), .textArray(events.map(\.event.contactKey)),
                .bytesArray(events.map(\.event.payload)), .doubleArray(events.map { requests[$0.request].receivedAt }),
            ], "insert \(events.count) events", prepared: true)
        var newSeqs: [String: Int64] = [:]
        for row in 0..<stored.count { newSeqs[try stored.string(row, 0)] = try stored.int64(row, 1) }
        var deliveries: [(request: Int, seq: Int64, destination: String, due: Double, contact: String)] = []
        for (index, event) in events {
            // The first of an id in the batch is the one stored; any later one is a duplicate.
            guard let seq = newSeqs.removeValue(forKey: event.id) else {
                receipts[index].duplicateEvents += 1
                continue
            }
            receipts[index].newEvents += 1
            for destination in event.destinations {
                deliveries.append((index, seq, destination, requests[index].receivedAt, event.contactKey))
            }
        }
        guard !deliveries.isEmpty else { return }
        let created = try connection.query(
            Self.insertDeliveries,
            [
                .int64Array(deliveries.map(\.seq)), .textArray(deliveries.map(\.destination)), .doubleArray(deliveries.map(\.due)),
                .textArray(deliveries.map(\.contact)),
            ], "insert \(deliveries.count) deliveries", prepared: true)
        let requestOfSeq = Dictionary(deliveries.map { ($0.seq, $0.request) }, uniquingKeysWith: { first, _ in first })
        for row in 0..<created.count {
            if let index = requestOfSeq[try created.int64(row, 0)] { receipts[index].deliveriesCreated += 1 }
        }
    }

    func addToCounter(_ name: SQLiteDatabase.CounterName, _ amount: Int) throws(PostgresError) {
        guard amount != 0 else { return }
        try connection.query(
            """
            INSERT INTO counters (name, value) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value
            """, [.text(name.rawValue), .int64(Int64(amount))], "add to counter \(name.rawValue)", prepared: true)
    }

    func containsEvent(id: String) throws(PostgresError) -> Bool {
        try connection.query("SELECT 1 FROM events WHERE id = $1", [.text(id)], "look up event \(id)", prepared: true).count > 0
    }

    // MARK: Delivery

    /// `d` is the first open delivery of its (destination, contact) queue. OFFSET 0 keeps the test a
    /// subquery run per candidate, an index probe of that contact's earlier deliveries: pulled up
    /// into an anti-join, a generic plan costed while the tables were small read every open
    /// delivery of the destination for each candidate.
    private static let headOfContactQueue = """
        NOT EXISTS (
            SELECT 1 FROM deliveries AS earlier
            WHERE earlier.destination = d.destination AND earlier.contact_key = d.contact_key
              AND earlier.state IN ('pending', 'inflight') AND earlier.id < d.id
            OFFSET 0)
        """

    /// The head open delivery of each of `destination`'s contact queues that is claimable now, in
    /// due order: pending heads due by $2 from the pending-only due index (its range stops at $2),
    /// and inflight heads whose lease lapsed by $2 from the lease index, each branch locking what
    /// it returns. A lapsed head is rare (its instance is gone); one the outer limit leaves out
    /// stays locked until the claim's transaction ends, and other instances skip it meanwhile.
    private static let claimableHeads = """
        SELECT head.id FROM (
            SELECT * FROM (
                SELECT d.id, d.next_attempt_at FROM deliveries AS d
                WHERE d.destination = $1 AND d.state = 'pending' AND d.next_attempt_at <= $2 AND \(headOfContactQueue)
                ORDER BY d.next_attempt_at, d.id
                LIMIT $3
                FOR UPDATE OF d SKIP LOCKED) AS due
            UNION ALL
            SELECT * FROM (
                SELECT d.id, d.next_attempt_at FROM deliveries AS d
                WHERE d.destination = $1 AND d.state = 'inflight' AND d.lease_expires_at <= $2 AND \(headOfContactQueue)
                ORDER BY d.lease_expires_at
                LIMIT $3
                FOR UPDATE OF d SKIP LOCKED) AS lapsed
        ) AS head
        ORDER BY head.next_attempt_at, head.id
        LIMIT $3
        """

    /// The heads go in as an array, not a join: a generic plan of the join, made while the tables
    /// were small, hash-joined them with a scan of every delivery kept.
    private static func claimSQL(withRequestBody: Bool) -> String {
        """
        UPDATE deliveries AS d
        SET state = 'inflight', claimed_by = $4, lease_expires_at = $2 + $5, updated_at = $2
        FROM events AS e\(withRequestBody ? ", requests AS r" : "")
        WHERE d.id = ANY (ARRAY(\(claimableHeads))) AND e.seq = d.event_seq\(withRequestBody ? " AND r.id = e.request_id" : "")
        RETURNING d.id, e.id, e.type, d.contact_key, d.attempts, e.payload, e.request_id, d.created_at, d.next_attempt_at,
            greatest(coalesce((SELECT max(a.attempt) FROM attempts AS a WHERE a.delivery_id = d.id), 0), d.attempts) + 1\(
            withRequestBody ? ", r.body" : "")
        """
    }

    static let claimSQL = claimSQL(withRequestBody: false)
    private static let claimWithRequestBodySQL = claimSQL(withRequestBody: true)

    /// The plans of the claim and of a turn's outcomes read a few rows by index, whatever the
    /// tables' sizes when they were made. The claim's generic plan costed while the tables were small
    /// (a new spool's first seconds, when the plan cache settles) seq-scanned events and deliveries
    /// and hash-joined them: 1.5 ms a claim at 10k events and growing with the spool until the next
    /// re-preparation, 45 % of the server's time. Planning anew on every call cost 0.4 ms a claim.
    /// Set for the whole of each delivery transaction (`transaction(planByIndex:)`); every other
    /// statement in one reads by key anyway.
    static let byIndexPlanSettings = "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"

    /// Inside the caller's transaction, begun with `planByIndex`.
    func claim(destination: String, now: Double, limit: Int, withRequestBody: Bool) throws(PostgresError) -> [ClaimedDelivery] {
        guard limit > 0 else { return [] }
        let result = try connection.query(
            withRequestBody ? Self.claimWithRequestBodySQL : Self.claimSQL,
            [.text(destination), .double(now), .int64(Int64(limit)), .text(instanceID), .double(leaseSeconds)],
            "claim due deliveries for \(destination)", prepared: true)
        var claimed: [(due: Double, delivery: ClaimedDelivery)] = []
        claimed.reserveCapacity(result.count)
        for row in 0..<result.count {
            claimed.append(
                (
                    try result.double(row, 8),
                    ClaimedDelivery(
                        id: try result.int64(row, 0), eventID: try result.string(row, 1), eventType: try result.string(row, 2),
                        contactKey: try result.string(row, 3), destination: destination, attempts: try result.int(row, 4),
                        attemptNumber: try result.int(row, 9), payload: try result.bytes(row, 5), requestID: try result.int64(row, 6),
                        createdAt: try result.double(row, 7), requestBody: withRequestBody ? try result.bytes(row, 10) : nil)
                ))
        }
        // RETURNING has no order: the claim's order is due time, then arrival, as in SQLite.
        claimed.sort { ($0.due, $0.delivery.id) < ($1.due, $1.delivery.id) }
        return claimed.map(\.delivery)
    }

    /// Outcomes, releases and a claim, in the caller's transaction.
    func recordAndClaim(
        _ outcomes: [DeliveryResult], releasing: [Int64], destination: String, now: Double, limit: Int, withRequestBody: Bool
    ) throws(PostgresError) -> DeliveryTurn {
        var turn = try applyOutcomes(outcomes, now: now)
        for id in releasing {
            try connection.query(
                """
                UPDATE deliveries SET state = 'pending', claimed_by = NULL, lease_expires_at = NULL, updated_at = $2
                WHERE id = $1 AND state = 'inflight' AND claimed_by = $3
                """, [.int64(id), .double(now), .text(instanceID)], "release delivery \(id)")
        }
        turn.claimed = try claim(destination: destination, now: now, limit: limit, withRequestBody: withRequestBody)
        return turn
    }

    /// The ids that were no longer inflight under this instance's lease (an operator changed them, or
    /// another instance took them over after the lease lapsed: `skipped`, not failing the others),
    /// and the comparisons the outcomes settled.
    func applyOutcomes(_ outcomes: [DeliveryResult], now: Double) throws(PostgresError) -> DeliveryTurn {
        // Taken out as they are reported: a delivery named twice counts as recorded once.
        var recordedWithTheirClaims = try applyClaimedOutcomes(outcomes, now: now)
        return try DeliveryTurn.recording(outcomes) { outcome throws(PostgresError) in
            if outcome.claim != nil { return recordedWithTheirClaims.remove(outcome.deliveryID) != nil }
            let (state, next, error, status) = outcome.recorded
            return try applyAttempt(
                id: outcome.deliveryID, state: state, nextAttemptAt: next, error: error, status: status, response: outcome.response,
                now: now)
        } settle: { outcome throws(PostgresError) in
            try settledComparisons(outcome)
        }
    }

    /// Every outcome that carries its claim (`AttemptClaim`: the attempt's number is known), a
    /// worker's turn's whole batch, in one statement: the rows' updates and their attempts, nothing
    /// for a delivery whose lease is gone or that is not the claim's destination's. One statement
    /// per outcome cost its round trip, its execution and the count trigger's, each time. $1..$11
    /// the outcomes' columns, $12 now, $13 this instance.
    private static let recordClaimedOutcomes = """
        WITH outcome AS (
            SELECT * FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::text[], $5::bigint[], $6::text[], $7::bigint[],
                                 $8::text[], $9::text[], $10::float8[], $11::bytea[])
                AS o (id, state, next_attempt_at, error, status, destination, attempt, outcome, excerpt, latency_ms, body_prefix)),
        finished AS (
            UPDATE deliveries AS d
            SET state = o.state, attempts = d.attempts + 1, next_attempt_at = coalesce(o.next_attempt_at, d.next_attempt_at),
                last_error = o.error, last_status = o.status, updated_at = $12, claimed_by = NULL, lease_expires_at = NULL
            FROM outcome AS o
            WHERE d.id = o.id AND d.state = 'inflight' AND d.claimed_by = $13 AND d.destination = o.destination
            RETURNING d.id)
        INSERT INTO attempts (delivery_id, attempt, at, outcome, status, error, latency_ms, body_prefix)
        SELECT o.id, o.attempt, $12, o.outcome, o.status, o.excerpt, o.latency_ms, o.body_prefix
        FROM outcome AS o JOIN finished AS f ON f.id = o.id
        RETURNING delivery_id, attempt
        """

    /// Records the outcomes that carry their claim (see `recordClaimedOutcomes`), inside the caller's
    /// transaction, begun with `planByIndex`; the ids recorded.
    /// A delivery named twice is recorded once, by its first outcome, as one statement each did.
    private func applyClaimedOutcomes(_ outcomes: [DeliveryResult], now: Double) throws(PostgresError) -> Set<Int64> {
        var seen = Set<Int64>()
        let claimed = outcomes.filter { $0.claim != nil && seen.insert($0.deliveryID).inserted }
        guard !claimed.isEmpty else { return [] }
        var columns = (
            ids: [Int64](), states: [String?](), next: [Double?](), errors: [String?](), statuses: [Int64?](),
            destinations: [String?](), attempts: [Int64?](), outcomes: [String?](), excerpts: [String?](), latencies: [Double?](),
            bodies: [[UInt8]?]()
        )
        for outcome in claimed {
            guard let claim = outcome.claim else { continue }
            let (state, next, error, status) = outcome.recorded
            columns.ids.append(outcome.deliveryID)
            columns.states.append(state.rawValue)
            columns.next.append(next)
            columns.errors.append(error)
            columns.statuses.append(status.map(Int64.init))
            columns.destinations.append(claim.destination)
            columns.attempts.append(Int64(claim.number))
            columns.outcomes.append(AttemptOutcome(recording: state).rawValue)
            columns.excerpts.append(error.map { DeliveryAttempt.excerpt($0) })
            columns.latencies.append(outcome.response?.latencyMilliseconds)
            columns.bodies.append(outcome.response.map(\.bodyPrefix).flatMap { $0.isEmpty ? nil : $0 })
        }
        let recorded = try connection.query(
            Self.recordClaimedOutcomes,
            [
                .int64Array(columns.ids), .textArray(columns.states), .doubleArray(columns.next), .textArray(columns.errors),
                .int64Array(columns.statuses), .textArray(columns.destinations), .int64Array(columns.attempts),
                .textArray(columns.outcomes), .textArray(columns.excerpts), .doubleArray(columns.latencies),
                .bytesArray(columns.bodies), .double(now), .text(instanceID),
            ], "record \(claimed.count) outcomes and their attempts", prepared: true)
        var ids = Set<Int64>()
        for row in 0..<recorded.count {
            let id = try recorded.int64(row, 0)
            ids.insert(id)
            let attempt = try recorded.int(row, 1)
            if attempt > DeliveryAttempt.maxKeptPerDelivery { try trimAttempts(of: id, through: attempt - DeliveryAttempt.maxKeptPerDelivery) }
        }
        return ids
    }

    private func trimAttempts(of id: Int64, through attempt: Int) throws(PostgresError) {
        try connection.query(
            "DELETE FROM attempts WHERE delivery_id = $1 AND attempt <= $2", [.int64(id), .int64(Int64(attempt))],
            "trim attempts of delivery \(id)", prepared: true)
    }

    /// The delivery's row after an outcome: $1 id, $2 state, $3 next due (nil: unchanged), $4 error,
    /// $5 status, $6 now, $7 this instance (the lease it must still hold).
    private static let recordOutcome = """
        UPDATE deliveries
        SET state = $2, attempts = attempts + 1, next_attempt_at = coalesce($3, next_attempt_at),
            last_error = $4, last_status = $5, updated_at = $6, claimed_by = NULL, lease_expires_at = NULL
        WHERE id = $1 AND state = 'inflight' AND claimed_by = $7
        """

    /// One outcome on a delivery this instance holds; false when it does not hold it.
    func applyAttempt(
        id: Int64, state: DeliveryState, nextAttemptAt: Double?, error: String?, status: Int?, response: AttemptResponse? = nil,
        now: Double
    ) throws(PostgresError) -> Bool {
        let outcome = AttemptOutcome(recording: state)
        let row: [PostgresValue] = [
            .int64(id), .text(state.rawValue), .optional(nextAttemptAt), .optional(error), .optional(status), .double(now), .text(instanceID),
        ]
        let attempt: [PostgresValue] = [
            .text(outcome.rawValue), .optional(error.map { DeliveryAttempt.excerpt($0) }), .optional(response?.latencyMilliseconds),
            response.map(\.bodyPrefix).flatMap { $0.isEmpty ? nil : PostgresValue.bytes($0) } ?? .null,
        ]
        guard try connection.query(Self.recordOutcome, row, "record the outcome of delivery \(id)", prepared: true).affectedRows > 0 else { return false }
        let number = try connection.query(
            """
            INSERT INTO attempts (delivery_id, attempt, at, outcome, status, error, latency_ms, body_prefix)
            SELECT $1, greatest(coalesce((SELECT max(attempt) FROM attempts WHERE delivery_id = $1), 0), d.attempts - 1) + 1,
                   $2, $3, $4, $5, $6, $7
            FROM deliveries AS d WHERE d.id = $1
            RETURNING attempt
            """, [.int64(id), .double(now)] + attempt.prefix(1) + [.optional(status)] + attempt.dropFirst(),
            "record attempt of delivery \(id)", prepared: true)
        if number.count == 1, case let attempt = try number.int(0, 0), attempt > DeliveryAttempt.maxKeptPerDelivery {
            try trimAttempts(of: id, through: attempt - DeliveryAttempt.maxKeptPerDelivery)
        }
        return true
    }

    /// When the next head of `destination` becomes claimable: a pending head's due time, or an
    /// inflight head's lease expiry (when another instance may take it over). Each half stops at its
    /// first head in index order (the pending deliveries by due time; the inflight ones by lease)
    /// rather than joining the whole open backlog against itself, which cost O(backlog) per turn.
    func nextDueTime(destination: String) throws(PostgresError) -> Double? {
        try connection.query(
            """
            SELECT least(
                (SELECT d.next_attempt_at FROM deliveries AS d
                 WHERE d.destination = $1 AND d.state = 'pending' AND \(Self.headOfContactQueue)
                 ORDER BY d.next_attempt_at, d.id LIMIT 1),
                (SELECT d.lease_expires_at FROM deliveries AS d
                 WHERE d.destination = $1 AND d.state = 'inflight' AND \(Self.headOfContactQueue)
                 ORDER BY d.lease_expires_at LIMIT 1))
            """, [.text(destination)], "find next due delivery for \(destination)", prepared: true
        ).optionalDouble(0, 0)
    }

    /// Extends this instance's leases on `ids` (the deliveries it still holds) to `now` + the lease.
    /// A lease another instance took over meanwhile is not this instance's any more and stays as it is.
    @discardableResult
    func renewLeases(ids: [Int64], now: Double) throws(PostgresError) -> Int {
        guard !ids.isEmpty else { return 0 }
        return try connection.query(
            """
            UPDATE deliveries SET lease_expires_at = $1 + $2
            WHERE id = ANY(string_to_array($3, ',')::bigint[]) AND state = 'inflight' AND claimed_by = $4
            """, [.double(now), .double(leaseSeconds), .text(ids.map(String.init).joined(separator: ",")), .text(instanceID)],
            "renew \(ids.count) leases"
        ).affectedRows
    }

    /// This instance's own leases after a restart with the same instance id: attempted again at once.
    func releaseOwnLeases(now: Double) throws(PostgresError) {
        try connection.query(
            """
            UPDATE deliveries SET state = 'pending', claimed_by = NULL, lease_expires_at = NULL, updated_at = $1
            WHERE state = 'inflight' AND claimed_by = $2
            """, [.double(now), .text(instanceID)], "release this instance's leases")
    }

    func retryDead(ids: [Int64]?, destination: String?, at time: Double, now: Double) throws(PostgresError) -> Int {
        let sql = """
            UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $2,
                claimed_by = NULL, lease_expires_at = NULL
            WHERE state = 'dead' AND ($3::text IS NULL OR destination = $3) AND ($4::bigint IS NULL OR id = $4)
            """
        guard let ids else {
            return try connection.query(sql, [.double(time), .double(now), .optional(destination), .null], "retry dead deliveries").affectedRows
        }
        var count = 0
        for id in ids {
            count += try connection.query(sql, [.double(time), .double(now), .optional(destination), .int64(id)], "retry dead delivery \(id)")
                .affectedRows
        }
        return count
    }
}
