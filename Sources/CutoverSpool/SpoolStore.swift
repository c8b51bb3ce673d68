/// The spool's SQL, on one connection. Callers hold the connection's lock.
extension SQLiteDatabase {
    // MARK: Ingest

    /// Stores all requests in ONE transaction (one fsync). Either every request is stored or, on any
    /// error, none is.
    /// `carriedDuplicates`: duplicates answered without a write since the last commit, counted here.
    func ingest(_ requests: [IncomingRequest], carriedDuplicates: Int = 0) throws(SpoolError) -> [IngestReceipt] {
        try transaction("ingest \(requests.count) requests") { () throws(SpoolError) -> [IngestReceipt] in
            var receipts: [IngestReceipt] = []
            receipts.reserveCapacity(requests.count)
            var duplicates = carriedDuplicates
            for request in requests {
                let receipt = try insert(request)
                duplicates += receipt.duplicateEvents
                receipts.append(receipt)
            }
            // Dedup hits, counted in the same transaction: one statement per batch, only when there are any.
            if duplicates > 0 { try addToCounter(.duplicateEvents, duplicates) }
            return receipts
        }
    }

    /// Whether an event with `id` is stored (on the read-only connection: as of the last commit).
    func containsEvent(id: String) throws(SpoolError) -> Bool {
        try firstRow(
            "SELECT 1 FROM events WHERE id = ?1", "look up event \(id)",
            bind: { statement throws(SpoolError) in try statement.bind(id, at: 1) }
        ) { _ in true } ?? false
    }

    private func insert(_ request: IncomingRequest) throws(SpoolError) -> IngestReceipt {
        let quarantined = request.quarantineReason != nil
        try run(
            """
            INSERT INTO requests (received_at, route, headers, body, status, quarantine_reason)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """, "insert request"
        ) { statement throws(SpoolError) in
            try statement.bind(request.receivedAt, at: 1)
            try statement.bind(request.route, at: 2)
            try statement.bind(HeaderCoding.encode(request.headers), at: 3)
            try statement.bind(request.body, at: 4)
            try statement.bind(quarantined ? RequestStatus.quarantined.rawValue : RequestStatus.accepted.rawValue, at: 5)
            try statement.bind(request.quarantineReason, at: 6)
        }
        let requestID = lastInsertRowID
        countDeltas.addRequests(1, status: quarantined ? .quarantined : .accepted)
        var receipt = IngestReceipt(
            requestID: requestID, quarantined: quarantined, newEvents: 0, duplicateEvents: 0, deliveriesCreated: 0)
        if quarantined { return receipt }
        receipt.duplicateEvents = request.committedDuplicates

        for event in request.events {
            let inserted = try run(
                """
                INSERT OR IGNORE INTO events (id, request_id, type, contact_key, payload, created_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                """, "insert event \(event.id)"
            ) { statement throws(SpoolError) in
                try statement.bind(event.id, at: 1)
                try statement.bind(requestID, at: 2)
                try statement.bind(event.type, at: 3)
                try statement.bind(event.contactKey, at: 4)
                try statement.bind(event.payload, at: 5)
                try statement.bind(request.receivedAt, at: 6)
            }
            guard inserted == 1 else {
                receipt.duplicateEvents += 1
                continue
            }
            receipt.newEvents += 1
            countDeltas.addEvents(1)
            let eventSeq = lastInsertRowID
            for destination in event.destinations {
                // OR IGNORE: a destination named twice for one event gets one delivery.
                let created = try run(
                    """
                    INSERT OR IGNORE INTO deliveries
                        (event_seq, destination, state, attempts, next_attempt_at, contact_key, created_at, updated_at,
                         blocked)
                    VALUES (?1, ?2, 'pending', 0, ?3, ?4, ?3, ?3, EXISTS (
                        SELECT 1 FROM deliveries
                        WHERE destination = ?2 AND contact_key = ?4 AND state IN ('pending', 'inflight')))
                    """, "insert delivery of \(event.id) to \(destination)"
                ) { statement throws(SpoolError) in
                    try statement.bind(eventSeq, at: 1)
                    try statement.bind(destination, at: 2)
                    try statement.bind(request.receivedAt, at: 3)
                    try statement.bind(event.contactKey, at: 4)
                }
                receipt.deliveriesCreated += created
                countDeltas.addDeliveries(created, destination: destination, state: .pending)
            }
        }
        return receipt
    }

    // MARK: Delivery

    /// A pending delivery is claimable when it is due and not `blocked`, i.e. no earlier delivery
    /// (lower id) for the same contact and destination is still open: per-contact arrival order,
    /// one at a time (schema v2 keeps the flag).
    private static let headOfContactQueue = "d.blocked = 0"

    /// When a contact's head delivery (?1, of destination ?2 and contact ?3) is finished (delivered
    /// or dead), the next open one becomes the head. `state IN (...)` is the condition of the partial
    /// index on open deliveries, spelled out so the planner uses it (without it every outcome scanned
    /// the whole table); the index alone answers the subquery. The next open one is pending: only
    /// a head is ever claimed.
    static let unblockNextSQL = """
        UPDATE deliveries SET blocked = 0
        WHERE id = (
            SELECT next.id FROM deliveries AS next
            WHERE next.destination = ?2 AND next.contact_key = ?3 AND next.state IN ('pending', 'inflight') AND next.id > ?1
            ORDER BY next.id LIMIT 1)
        """

    /// Recomputes every pending delivery's `blocked` flag from scratch (after dead letters are revived,
    /// which puts old deliveries back in front of their contact's queue).
    private static let recomputeBlockedSQL = """
        UPDATE deliveries SET blocked = EXISTS (
            SELECT 1 FROM deliveries AS earlier
            WHERE earlier.destination = deliveries.destination AND earlier.contact_key = deliveries.contact_key
              AND earlier.state IN ('pending', 'inflight') AND earlier.id < deliveries.id)
        WHERE state = 'pending'
        """

    private static func claimSQL(withRequestBody: Bool) -> String {
        """
        SELECT d.id, e.id, e.type, d.contact_key, d.attempts, e.payload, e.request_id, d.created_at,
               max(coalesce((SELECT max(a.attempt) FROM attempts AS a WHERE a.delivery_id = d.id), 0), d.attempts) + 1\(
            withRequestBody ? ", r.body" : "")
        FROM deliveries AS d JOIN events AS e ON e.seq = d.event_seq\(withRequestBody ? " JOIN requests AS r ON r.id = e.request_id" : "")
        WHERE d.destination = ?1 AND d.state = 'pending' AND d.next_attempt_at <= ?2
          AND \(headOfContactQueue)
        ORDER BY d.next_attempt_at, d.id
        LIMIT ?3
        """
    }

    /// Only `raw` destinations read the request body, and it is the largest column there is (one
    /// body of many events would be copied once per event): the other claims leave it alone.
    private static let claimSQL = claimSQL(withRequestBody: false)
    private static let claimWithRequestBodySQL = claimSQL(withRequestBody: true)

    private static let nextDueSQL = """
        SELECT d.next_attempt_at FROM deliveries AS d
        WHERE d.destination = ?1 AND d.state = 'pending' AND \(headOfContactQueue)
        ORDER BY d.next_attempt_at LIMIT 1
        """

    func claim(destination: String, now: Double, limit: Int, withRequestBody: Bool = false) throws(SpoolError) -> [ClaimedDelivery] {
        guard limit > 0 else { return [] }
        return try transaction("claim deliveries for \(destination)") { () throws(SpoolError) -> [ClaimedDelivery] in
            try claimDue(destination: destination, now: now, limit: limit, withRequestBody: withRequestBody)
        }
    }

    /// Records `outcomes`, then claims up to `limit` due deliveries, in ONE transaction (one fsync):
    /// a worker's whole turn. The outcomes go first, so a contact whose head just finished has its
    /// next delivery claimable in the same turn, and per-contact order holds as with two transactions.
    /// `releasing`: claimed deliveries the worker will not send after all (it is stopping); they are
    /// pending again, their attempt not counted, still at the head of their contact's queue.
    func recordAndClaim(
        _ outcomes: [DeliveryResult], releasing: [Int64], destination: String, now: Double, limit: Int, withRequestBody: Bool
    ) throws(SpoolError) -> DeliveryTurn {
        if outcomes.isEmpty && releasing.isEmpty && limit <= 0 { return DeliveryTurn(skipped: [], claimed: []) }
        return try transaction("record \(outcomes.count) outcomes and claim for \(destination)", sync: deliveryTurnSync) {
            () throws(SpoolError) -> DeliveryTurn in
            var turn = try applyOutcomes(outcomes, now: now)
            var released = 0
            for id in releasing {
                released += try run(Self.releaseSQL, "release delivery \(id)") { statement throws(SpoolError) in
                    try statement.bind(id, at: 1)
                    try statement.bind(now, at: 2)
                    try statement.bind(destination, at: 3)
                }
            }
            countDeltas.moveDeliveries(released, destination: destination, from: .inflight, to: .pending)
            turn.claimed = limit > 0 ? try claimDue(destination: destination, now: now, limit: limit, withRequestBody: withRequestBody) : []
            // A turn that could claim more than it found is followed by the worker asking when the
            // next delivery is due: asked here, that costs no second round for the writer's lock.
            if limit > 0, turn.claimed.count < limit {
                turn.nextDue = try nextDueTime(destination: destination).map(DeliveryTurn.NextDue.at) ?? .nothing
            }
            return turn
        }
    }

    private static let markInflightSQL = "UPDATE deliveries SET state = 'inflight', updated_at = ?2 WHERE id = ?1"
    private static let releaseSQL = """
        UPDATE deliveries SET state = 'pending', updated_at = ?2 WHERE id = ?1 AND state = 'inflight' AND destination = ?3
        """

    /// Inside the caller's transaction.
    private func claimDue(destination: String, now: Double, limit: Int, withRequestBody: Bool) throws(SpoolError) -> [ClaimedDelivery] {
        let claimed = try rows(
            withRequestBody ? Self.claimWithRequestBodySQL : Self.claimSQL, "select due deliveries for \(destination)",
            bind: { statement throws(SpoolError) in
                try statement.bind(destination, at: 1)
                try statement.bind(now, at: 2)
                try statement.bind(limit, at: 3)
            }
        ) { row in
            ClaimedDelivery(
                id: row.int64(0), eventID: row.string(1), eventType: row.string(2), contactKey: row.string(3),
                destination: destination, attempts: row.int(4), attemptNumber: row.int(8), payload: row.bytes(5),
                requestID: row.int64(6), createdAt: row.double(7), requestBody: withRequestBody ? row.bytes(9) : nil)
        }
        guard !claimed.isEmpty else { return [] }
        for delivery in claimed {
            try run(Self.markInflightSQL, "mark delivery \(delivery.id) inflight") { statement throws(SpoolError) in
                try statement.bind(delivery.id, at: 1)
                try statement.bind(now, at: 2)
            }
        }
        // Selected as pending in this transaction, so each one moved from pending to inflight.
        countDeltas.moveDeliveries(claimed.count, destination: destination, from: .pending, to: .inflight)
        return claimed
    }

    /// Records the outcome of an attempt on an inflight delivery; `attempts` counts it. Finishing a
    /// contact's head delivery unblocks the next one in the same transaction, so a crash cannot
    /// leave a contact's queue stuck.
    func finishAttempt(
        id: Int64, state: DeliveryState, nextAttemptAt: Double?, error: String?, status: Int?, now: Double,
        operation: @autoclosure () -> String
    ) throws(SpoolError) {
        let operation = operation()
        try transaction(operation) { () throws(SpoolError) in
            guard try applyAttempt(id: id, state: state, nextAttemptAt: nextAttemptAt, error: error, status: status, now: now) else {
                throw SpoolError(kind: .invalidState, message: "delivery \(id) is not inflight", operation: operation)
            }
        }
    }

    /// Records many outcomes in one transaction (one fsync): what a busy delivery worker finished
    /// since its last write. Returns the ids that were no longer inflight (changed meanwhile by an
    /// operator), which are skipped rather than failing the others.
    func finishAttempts(_ outcomes: [DeliveryResult], now: Double) throws(SpoolError) -> [Int64] {
        try transaction("record \(outcomes.count) delivery outcomes") { () throws(SpoolError) -> [Int64] in
            try applyOutcomes(outcomes, now: now).skipped
        }
    }

    /// Inside the caller's transaction: the ids that were no longer inflight (`skipped`) and the
    /// comparisons the outcomes settled.
    private func applyOutcomes(_ outcomes: [DeliveryResult], now: Double) throws(SpoolError) -> DeliveryTurn {
        try DeliveryTurn.recording(outcomes) { outcome throws(SpoolError) in
            let (state, next, error, status) = outcome.recorded
            return try applyAttempt(
                id: outcome.deliveryID, state: state, nextAttemptAt: next, error: error, status: status, response: outcome.response,
                claim: outcome.claim, now: now)
        } settle: { outcome throws(SpoolError) in
            try settledComparisons(outcome)
        }
    }

    /// The inflight delivery an outcome is for, read when the outcome does not carry its claim
    /// (`AttemptClaim`). Plain lookups by key: an `UPDATE ... RETURNING` or an `INSERT ... SELECT`
    /// from the table it writes would build an ephemeral table per outcome.
    private static let inflightDeliverySQL = """
        SELECT d.destination, d.contact_key, max(coalesce((SELECT max(attempt) FROM attempts WHERE delivery_id = ?1), 0), d.attempts) + 1
        FROM deliveries AS d WHERE d.id = ?1 AND d.state = 'inflight'
        """
    /// `destination`: an outcome carrying a claim for another destination's delivery is not its outcome.
    static let recordOutcomeSQL = """
        UPDATE deliveries
        SET state = ?2, attempts = attempts + 1, next_attempt_at = coalesce(?3, next_attempt_at),
            last_error = ?4, last_status = ?5, updated_at = ?6
        WHERE id = ?1 AND state = 'inflight' AND destination = ?7
        """

    /// One outcome, inside the caller's transaction. False when the delivery is not inflight: the
    /// UPDATE's change count says so, whether the claim was carried or read.
    private func applyAttempt(
        id: Int64, state: DeliveryState, nextAttemptAt: Double?, error: String?, status: Int?, response: AttemptResponse? = nil,
        claim carried: AttemptClaim? = nil, now: Double
    ) throws(SpoolError) -> Bool {
        let claim: AttemptClaim
        if let carried {
            claim = carried
        } else if let read = try inflightClaim(id: id) {
            claim = read
        } else {
            return false
        }
        let changed = try run(Self.recordOutcomeSQL, "record the outcome of delivery \(id)") { statement throws(SpoolError) in
            try statement.bind(id, at: 1)
            try statement.bind(state.rawValue, at: 2)
            try statement.bind(nextAttemptAt, at: 3)
            try statement.bind(error, at: 4)
            try statement.bind(status, at: 5)
            try statement.bind(now, at: 6)
            try statement.bind(claim.destination, at: 7)
        }
        guard changed == 1 else { return false }
        countDeltas.moveDeliveries(1, destination: claim.destination, from: .inflight, to: state)
        try recordAttempt(id: id, number: claim.number, state: state, error: error, status: status, response: response, now: now)
        if state == .delivered || state == .dead {
            try run(Self.unblockNextSQL, "unblock the delivery after \(id)") { statement throws(SpoolError) in
                try statement.bind(id, at: 1)
                try statement.bind(claim.destination, at: 2)
                try statement.bind(claim.contactKey, at: 3)
            }
        }
        return true
    }

    /// What the claim of an inflight delivery read, read again (nil: not inflight).
    private func inflightClaim(id: Int64) throws(SpoolError) -> AttemptClaim? {
        try firstRow(
            Self.inflightDeliverySQL, "read inflight delivery \(id)",
            bind: { statement throws(SpoolError) in try statement.bind(id, at: 1) }
        ) { row in AttemptClaim(destination: row.string(0), contactKey: row.string(1), number: row.int(2)) }
    }

    /// Earliest time a claimable delivery of `destination` becomes due (only heads of contact queues
    /// count, so a delivery held back by an inflight one does not make a worker spin).
    func nextDueTime(destination: String) throws(SpoolError) -> Double? {
        try firstRow(
            Self.nextDueSQL, "find next due delivery for \(destination)",
            bind: { statement throws(SpoolError) in try statement.bind(destination, at: 1) }
        ) { $0.double(0) }
    }

    /// Crash recovery: the deliveries that were inflight are attempted again (at least once).
    @discardableResult
    func resetInflight(now: Double) throws(SpoolError) -> Int {
        try transaction("reset inflight deliveries") { () throws(SpoolError) -> Int in
            let destinations = try rows(
                "UPDATE deliveries SET state = 'pending', updated_at = ?1 WHERE state = 'inflight' RETURNING destination",
                "reset inflight deliveries to pending",
                bind: { statement throws(SpoolError) in try statement.bind(now, at: 1) }
            ) { $0.string(0) }
            for destination in destinations {
                countDeltas.moveDeliveries(1, destination: destination, from: .inflight, to: .pending)
            }
            return destinations.count
        }
    }

    /// Puts dead deliveries back to pending with a fresh attempt count. `ids` nil: all dead deliveries
    /// (of `destination` if given).
    func retryDead(ids: [Int64]?, destination: String?, at time: Double, now: Double) throws(SpoolError) -> Int {
        try transaction("retry dead deliveries") { () throws(SpoolError) -> Int in
            let sql = """
                UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?1, updated_at = ?2
                WHERE state = 'dead' AND (?3 IS NULL OR destination = ?3) AND (?4 IS NULL OR id = ?4)
                RETURNING destination
                """
            func retry(_ id: Int64?) throws(SpoolError) -> Int {
                let revived = try rows(
                    sql, "retry dead deliveries",
                    bind: { statement throws(SpoolError) in
                        try statement.bind(time, at: 1)
                        try statement.bind(now, at: 2)
                        try statement.bind(destination, at: 3)
                        if let id { try statement.bind(id, at: 4) } else { try statement.bindNull(at: 4) }
                    }
                ) { $0.string(0) }
                for destination in revived {
                    countDeltas.moveDeliveries(1, destination: destination, from: .dead, to: .pending)
                }
                return revived.count
            }
            var count = 0
            if let ids {
                for id in ids { count += try retry(id) }
            } else {
                count = try retry(nil)
            }
            if count > 0 { try run(Self.recomputeBlockedSQL, "recompute per-contact order after retrying dead letters") }
            return count
        }
    }

    // MARK: Inspection

    /// Reads the counts every write transaction keeps (`RowCountDeltas`) (a few rows, whatever the spool's size) in one
    /// snapshot; only the oldest pending age reads deliveries, through the open-deliveries index, so
    /// its cost follows the backlog, not the table.
    func stats(now: Double) throws(SpoolError) -> SpoolStats {
        try readTransaction("read spool stats") { () throws(SpoolError) -> SpoolStats in
            var stats = SpoolStats(
                deliveries: [:], requests: 0, quarantined: 0, events: 0, oldestPendingCreatedAt: nil, oldestPendingAge: nil)
            let counts = try rows(
                "SELECT destination, state, count FROM delivery_counts WHERE count != 0", "read delivery counts"
            ) { row in (row.string(0), row.string(1), row.int(2)) }
            for (destination, state, count) in counts {
                guard let state = DeliveryState(rawValue: state) else { continue }
                stats.deliveries[destination, default: SpoolStats.DeliveryCounts()][state] = count
            }
            // `state IN (...)` spelled out so the planner may use the partial index on open deliveries.
            let oldest = try rows(
                """
                SELECT destination, min(created_at) FROM deliveries
                WHERE state IN ('pending', 'inflight') AND state = 'pending' GROUP BY destination
                """, "find oldest pending deliveries"
            ) { row in (row.string(0), row.double(1)) }
            for (destination, createdAt) in oldest {
                stats.oldestPendingCreatedAtByDestination[destination] = createdAt
                stats.oldestPendingCreatedAt = min(stats.oldestPendingCreatedAt ?? createdAt, createdAt)
            }
            let rowCounts = try rows("SELECT name, count FROM row_counts", "read row counts") { row in (row.string(0), row.int(1)) }
            for (name, count) in rowCounts { stats.addRowCount(count, named: name) }
            stats.totals = try totals()
            stats.oldestPendingAge = stats.oldestPendingCreatedAt.map { max(0, now - $0) }
            return stats
        }
    }

    func destinations() throws(SpoolError) -> [String] {
        try rows(
            "SELECT destination FROM delivery_counts GROUP BY destination HAVING sum(count) > 0 ORDER BY destination",
            "list destinations"
        ) { $0.string(0) }
    }

    private static let requestColumns = "id, received_at, route, headers, body, status, quarantine_reason"
    private static let requestByIDSQL = "SELECT \(requestColumns) FROM requests WHERE id = ?1"
    private static let requestsSQL = """
        SELECT \(requestColumns) FROM requests
        WHERE id > ?1 AND (?2 IS NULL OR status = ?2)
          AND (?3 IS NULL OR received_at >= ?3) AND (?4 IS NULL OR received_at < ?4)
        ORDER BY id LIMIT ?5
        """

    private func readRequest(_ row: Statement) throws(SpoolError) -> StoredRequest {
        let id = row.int64(0)
        return StoredRequest(
            id: id, receivedAt: row.double(1), route: row.string(2),
            headers: try HeaderCoding.decode(row.bytes(3), operation: "decode headers of request \(id)"),
            body: row.bytes(4), status: RequestStatus(rawValue: row.string(5)) ?? .accepted,
            quarantineReason: row.optionalString(6))
    }

    func request(id: Int64) throws(SpoolError) -> StoredRequest? {
        try firstRow(
            Self.requestByIDSQL, "read request \(id)",
            bind: { statement throws(SpoolError) in try statement.bind(id, at: 1) }
        ) { row throws(SpoolError) in try readRequest(row) }
    }

    /// Requests with id > `afterID`, ascending (keyset pagination for replay and `spool list`).
    func requests(
        afterID: Int64, limit: Int, status: RequestStatus?, since: Double?, until: Double?
    ) throws(SpoolError) -> [StoredRequest] {
        try rows(
            Self.requestsSQL, "list requests",
            bind: { statement throws(SpoolError) in
                try statement.bind(afterID, at: 1)
                try statement.bind(status?.rawValue, at: 2)
                try statement.bind(since, at: 3)
                try statement.bind(until, at: 4)
                try statement.bind(limit, at: 5)
            }
        ) { row throws(SpoolError) in try readRequest(row) }
    }

    func events(requestID: Int64) throws(SpoolError) -> [StoredEvent] {
        try rows(
            """
            SELECT id, request_id, type, contact_key, payload, created_at FROM events
            WHERE request_id = ?1 ORDER BY seq
            """, "list events of request \(requestID)",
            bind: { statement throws(SpoolError) in try statement.bind(requestID, at: 1) }
        ) { row in
            StoredEvent(
                id: row.string(0), requestID: row.int64(1), type: row.string(2), contactKey: row.string(3),
                payload: row.bytes(4), createdAt: row.double(5))
        }
    }

    /// Deliveries with id > `afterID`, ascending, optionally of one state and one destination.
    func deliveries(
        state: DeliveryState?, destination: String?, afterID: Int64, limit: Int
    ) throws(SpoolError) -> [DeliveryRecord] {
        try rows(
            """
            SELECT \(Self.deliveryColumns)
            FROM deliveries AS d JOIN events AS e ON e.seq = d.event_seq
            WHERE d.id > ?1 AND (?2 IS NULL OR d.state = ?2) AND (?3 IS NULL OR d.destination = ?3)
            ORDER BY d.id LIMIT ?4
            """, "list deliveries",
            bind: { statement throws(SpoolError) in
                try statement.bind(afterID, at: 1)
                try statement.bind(state?.rawValue, at: 2)
                try statement.bind(destination, at: 3)
                try statement.bind(limit, at: 4)
            }
        ) { row throws(SpoolError) in try readDelivery(row) }
    }

    /// The columns `readDelivery` reads, from `deliveries AS d JOIN events AS e`.
    static let deliveryColumns = """
        d.id, e.id, d.destination, d.state, d.attempts, d.next_attempt_at, d.last_error, d.last_status,
        d.contact_key, d.created_at, d.updated_at, e.type, e.request_id
        """

    func readDelivery(_ row: Statement) throws(SpoolError) -> DeliveryRecord {
        let id = row.int64(0)
        guard let state = DeliveryState(rawValue: row.string(3)) else {
            throw SpoolError(kind: .corrupt, message: "unknown state \(row.string(3))", operation: "read delivery \(id)")
        }
        return DeliveryRecord(
            id: id, eventID: row.string(1), eventType: row.string(11), requestID: row.int64(12),
            destination: row.string(2), state: state, attempts: row.int(4), nextAttemptAt: row.double(5),
            lastError: row.optionalString(6), lastStatus: row.optionalInt(7), contactKey: row.string(8),
            createdAt: row.double(9), updatedAt: row.double(10))
    }
}
