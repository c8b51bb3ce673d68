import CutoverPostgres

/// The PostgreSQL spool's inspection, retention and purge SQL: what `cutover spool`, the admin API,
/// replay and the janitor read and remove. Same rules as the SQLite spool's (`RetentionPolicy`).
extension PostgresStore {
    // MARK: Stats

    func stats(now: Double) throws(PostgresError) -> SpoolStats {
        var stats = SpoolStats(deliveries: [:], requests: 0, quarantined: 0, events: 0, oldestPendingCreatedAt: nil, oldestPendingAge: nil)
        // The totals and the changes not yet folded into them (schema v5): a few rows, whatever
        // the spool's size.
        let counts = try connection.query(
            """
            SELECT destination, state, sum(count)::bigint FROM (
                SELECT destination, state, count FROM delivery_counts
                UNION ALL SELECT destination, state, delta FROM delivery_count_changes
            ) AS counted GROUP BY destination, state HAVING sum(count) <> 0
            """, [], "read delivery counts")
        for row in 0..<counts.count {
            guard let state = DeliveryState(rawValue: try counts.string(row, 1)) else { continue }
            stats.deliveries[try counts.string(row, 0), default: SpoolStats.DeliveryCounts()][state] = try counts.int(row, 2)
        }
        let oldest = try connection.query(
            "SELECT destination, min(created_at) FROM deliveries WHERE state = 'pending' GROUP BY destination",
            [], "find oldest pending deliveries")
        for row in 0..<oldest.count {
            let createdAt = try oldest.double(row, 1)
            stats.oldestPendingCreatedAtByDestination[try oldest.string(row, 0)] = createdAt
            stats.oldestPendingCreatedAt = min(stats.oldestPendingCreatedAt ?? createdAt, createdAt)
        }
        let rows = try connection.query(
            """
            SELECT name, sum(count)::bigint FROM (
                SELECT name, count FROM row_counts UNION ALL SELECT name, delta FROM row_count_changes
            ) AS counted GROUP BY name
            """, [], "read row counts")
        for row in 0..<rows.count { stats.addRowCount(try rows.int(row, 1), named: try rows.string(row, 0)) }
        let totals = try connection.query("SELECT name, value FROM counters", [], "read counters")
        for row in 0..<totals.count {
            let value = try totals.int(row, 1)
            switch SQLiteDatabase.CounterName(rawValue: try totals.string(row, 0)) {
            case .duplicateEvents: stats.totals.duplicateEvents = value
            case .prunedEvents: stats.totals.prunedEvents = value
            case .prunedRequests: stats.totals.prunedRequests = value
            case .purgedDeadLetters: stats.totals.purgedDeadLetters = value
            case .purgedQuarantined: stats.totals.purgedQuarantined = value
            case nil: continue
            }
        }
        stats.oldestPendingAge = stats.oldestPendingCreatedAt.map { max(0, now - $0) }
        return stats
    }

    /// Folds the count changes the triggers appended (schema v5) into the totals, in one
    /// transaction, so readers sum a few rows; skipped while another instance does it. Concurrent
    /// writers go on appending: a change committed after this DELETE's snapshot waits for the next
    /// round. Its commit need not be flushed at once: lost in a crash, the changes and the totals
    /// are lost together, and stay the sum they were.
    func compactCounts() throws(PostgresError) {
        try transaction("fold the count changes into the totals", deferredSync: true) { () throws(PostgresError) in
            let locked = try connection.query(
                "SELECT pg_try_advisory_xact_lock($1)::int", [.int64(PostgresSchema.countCompactionLockKey)], "take the count lock")
            guard try locked.int(0, 0) == 1 else { return }
            try connection.execute(
                """
                WITH moved AS (DELETE FROM delivery_count_changes RETURNING destination, state, delta)
                INSERT INTO delivery_counts (destination, state, count)
                    SELECT destination, state, sum(delta) FROM moved GROUP BY destination, state
                ON CONFLICT (destination, state) DO UPDATE SET count = delivery_counts.count + excluded.count;
                DELETE FROM delivery_counts WHERE count = 0;
                WITH moved AS (DELETE FROM row_count_changes RETURNING name, delta)
                INSERT INTO row_counts (name, count) SELECT name, sum(delta) FROM moved GROUP BY name
                ON CONFLICT (name) DO UPDATE SET count = row_counts.count + excluded.count;
                DELETE FROM row_counts WHERE count = 0;
                """, "fold the count changes into the totals")
        }
    }

    func destinations() throws(PostgresError) -> [String] {
        // From the kept counts, as SQLite's: a few rows instead of a scan of every delivery.
        let result = try connection.query(
            """
            SELECT destination FROM (
                SELECT destination, count FROM delivery_counts UNION ALL SELECT destination, delta FROM delivery_count_changes
            ) AS counted GROUP BY destination HAVING sum(count) > 0 ORDER BY destination
            """, [], "list destinations")
        var names: [String] = []
        for row in 0..<result.count { names.append(try result.string(row, 0)) }
        return names
    }

    // MARK: Requests and events

    private static let requestColumns = "id, received_at, route, headers, body, status, quarantine_reason"

    private func readRequests(_ result: PostgresResult) throws(PostgresError) -> [StoredRequest] {
        var requests: [StoredRequest] = []
        for row in 0..<result.count {
            let id = try result.int64(row, 0)
            let headers: [(name: String, value: String)]
            let encodedHeaders = try result.bytes(row, 3)
            do throws(SpoolError) {
                headers = try HeaderCoding.decode(encodedHeaders, operation: "decode headers of request \(id)")
            } catch {
                throw PostgresError(kind: .decoding, message: error.message, operation: error.operation)
            }
            requests.append(
                StoredRequest(
                    id: id, receivedAt: try result.double(row, 1), route: try result.string(row, 2), headers: headers,
                    body: try result.bytes(row, 4), status: RequestStatus(rawValue: try result.string(row, 5)) ?? .accepted,
                    quarantineReason: try result.optionalString(row, 6)))
        }
        return requests
    }

    func request(id: Int64) throws(PostgresError) -> StoredRequest? {
        try readRequests(
            try connection.query("SELECT \(Self.requestColumns) FROM requests WHERE id = $1", [.int64(id)], "read request \(id)")
        ).first
    }

    func requests(afterID: Int64, limit: Int, status: RequestStatus?, since: Double?, until: Double?) throws(PostgresError) -> [StoredRequest] {
        try readRequests(
            try connection.query(
                """
                SELECT \(Self.requestColumns) FROM requests
                WHERE id > $1 AND ($2::text IS NULL OR status = $2)
                  AND ($3::float8 IS NULL OR received_at >= $3) AND ($4::float8 IS NULL OR received_at < $4)
                ORDER BY id LIMIT $5
                """, [.int64(afterID), .optional(status?.rawValue), .optional(since), .optional(until), .int64(Int64(limit))],
                "list requests"))
    }

    func requestSummaries(afterID: Int64, limit: Int, status: RequestStatus?) throws(PostgresError) -> [RequestSummary] {
        let result = try connection.query(
            """
            SELECT id, received_at, route, length(body)::bigint, status, quarantine_reason FROM requests
            WHERE id > $1 AND ($2::text IS NULL OR status = $2) ORDER BY id LIMIT $3
            """, [.int64(afterID), .optional(status?.rawValue), .int64(Int64(limit))], "list request summaries")
        var summaries: [RequestSummary] = []
        for row in 0..<result.count {
            summaries.append(
                RequestSummary(
                    id: try result.int64(row, 0), receivedAt: try result.double(row, 1), route: try result.string(row, 2),
                    bodyBytes: try result.int(row, 3), status: RequestStatus(rawValue: try result.string(row, 4)) ?? .accepted,
                    quarantineReason: try result.optionalString(row, 5)))
        }
        return summaries
    }

    private func readEvents(_ result: PostgresResult) throws(PostgresError) -> [StoredEvent] {
        var events: [StoredEvent] = []
        for row in 0..<result.count {
            events.append(
                StoredEvent(
                    id: try result.string(row, 0), requestID: try result.int64(row, 1), type: try result.string(row, 2),
                    contactKey: try result.string(row, 3), payload: try result.bytes(row, 4), createdAt: try result.double(row, 5)))
        }
        return events
    }

    func events(requestID: Int64) throws(PostgresError) -> [StoredEvent] {
        try readEvents(
            try connection.query(
                "SELECT id, request_id, type, contact_key, payload, created_at FROM events WHERE request_id = $1 ORDER BY seq",
                [.int64(requestID)], "list events of request \(requestID)"))
    }

    func event(id: String) throws(PostgresError) -> StoredEvent? {
        try readEvents(
            try connection.query(
                "SELECT id, request_id, type, contact_key, payload, created_at FROM events WHERE id = $1", [.text(id)], "read event \(id)")
        ).first
    }

    // MARK: Deliveries

    private func readDeliveries(_ result: PostgresResult) throws(PostgresError) -> [DeliveryRecord] {
        var deliveries: [DeliveryRecord] = []
        for row in 0..<result.count {
            let id = try result.int64(row, 0)
            guard let state = DeliveryState(rawValue: try result.string(row, 3)) else {
                throw PostgresError(kind: .decoding, message: "unknown state \(try result.string(row, 3))", operation: "read delivery \(id)")
            }
            deliveries.append(
                DeliveryRecord(
                    id: id, eventID: try result.string(row, 1), eventType: try result.string(row, 11), requestID: try result.int64(row, 12),
                    destination: try result.string(row, 2), state: state, attempts: try result.int(row, 4),
                    nextAttemptAt: try result.double(row, 5), lastError: try result.optionalString(row, 6),
                    lastStatus: try result.optionalInt(row, 7), contactKey: try result.string(row, 8),
                    createdAt: try result.double(row, 9), updatedAt: try result.double(row, 10)))
        }
        return deliveries
    }

    private static let deliveriesFrom = "SELECT \(SQLiteDatabase.deliveryColumns) FROM deliveries AS d JOIN events AS e ON e.seq = d.event_seq"

    func deliveries(state: DeliveryState?, destination: String?, afterID: Int64, limit: Int) throws(PostgresError) -> [DeliveryRecord] {
        try readDeliveries(
            try connection.query(
                """
                \(Self.deliveriesFrom)
                WHERE d.id > $1 AND ($2::text IS NULL OR d.state = $2) AND ($3::text IS NULL OR d.destination = $3)
                ORDER BY d.id LIMIT $4
                """, [.int64(afterID), .optional(state?.rawValue), .optional(destination), .int64(Int64(limit))], "list deliveries"))
    }

    func deliveries(eventID: String) throws(PostgresError) -> [DeliveryRecord] {
        try readDeliveries(
            try connection.query("\(Self.deliveriesFrom) WHERE e.id = $1 ORDER BY d.id", [.text(eventID)], "list deliveries of event \(eventID)"))
    }

    func delivery(id: Int64) throws(PostgresError) -> DeliveryRecord? {
        try readDeliveries(try connection.query("\(Self.deliveriesFrom) WHERE d.id = $1", [.int64(id)], "read delivery \(id)")).first
    }

    func attempts(deliveryID: Int64) throws(PostgresError) -> [DeliveryAttempt] {
        let result = try connection.query(
            """
            SELECT delivery_id, attempt, at, outcome, status, error, latency_ms, body_prefix FROM attempts
            WHERE delivery_id = $1 ORDER BY attempt
            """,
            [.int64(deliveryID)], "list attempts of delivery \(deliveryID)")
        var attempts: [DeliveryAttempt] = []
        for row in 0..<result.count {
            guard let outcome = AttemptOutcome(rawValue: try result.string(row, 3)) else {
                throw PostgresError(kind: .decoding, message: "unknown attempt outcome", operation: "read attempts of delivery \(deliveryID)")
            }
            attempts.append(
                DeliveryAttempt(
                    deliveryID: try result.int64(row, 0), attempt: try result.int(row, 1), at: try result.double(row, 2), outcome: outcome,
                    status: try result.optionalInt(row, 4), error: try result.optionalString(row, 5),
                    latencyMilliseconds: try result.optionalDouble(row, 6), bodyPrefix: result.isNull(row, 7) ? nil : try result.bytes(row, 7)))
        }
        return attempts
    }

    // MARK: Retention

    private static let eventDone = "NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.event_seq = e.seq AND d.state <> 'delivered')"

    /// One transaction: up to `limit` done events created before `cutoff` with seq > `afterSeq`, with
    /// their deliveries and attempts (cascades). Returns the report, the last seq examined, and how many.
    func pruneEvents(before cutoff: Double, afterSeq: Int64, limit: Int) throws(PostgresError) -> (report: PruneReport, last: Int64, examined: Int) {
        try transaction("prune events") { () throws(PostgresError) -> (report: PruneReport, last: Int64, examined: Int) in
            let candidates = try connection.query(
                "SELECT e.seq, \(Self.eventDone) FROM events AS e WHERE e.created_at < $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3",
                [.double(cutoff), .int64(afterSeq), .int64(Int64(limit))], "select events to prune")
            var report = PruneReport()
            report.transactions = 1
            var done: [Int64] = []
            var last = afterSeq
            for row in 0..<candidates.count {
                last = try candidates.int64(row, 0)
                if try candidates.int64(row, 1) != 0 { done.append(last) }
            }
            for seq in done {
                report.attempts += try connection.query(
                    "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_seq = $1)", [.int64(seq)],
                    "delete attempts of pruned event").affectedRows
                report.deliveries += try connection.query(
                    "DELETE FROM deliveries WHERE event_seq = $1 AND state = 'delivered'", [.int64(seq)], "delete deliveries of pruned event"
                ).affectedRows
                report.events += try connection.query("DELETE FROM events WHERE seq = $1", [.int64(seq)], "delete pruned event").affectedRows
            }
            try addToCounter(.prunedEvents, report.events)
            return (report, last, candidates.count)
        }
    }

    func pruneRequests(before cutoff: Double, afterID: Int64, limit: Int) throws(PostgresError) -> (report: PruneReport, last: Int64, examined: Int) {
        try transaction("prune requests") { () throws(PostgresError) -> (report: PruneReport, last: Int64, examined: Int) in
            let candidates = try connection.query(
                """
                SELECT r.id, r.status = 'accepted' AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.request_id = r.id)
                FROM requests AS r WHERE r.received_at < $1 AND r.id > $2 ORDER BY r.id LIMIT $3
                """, [.double(cutoff), .int64(afterID), .int64(Int64(limit))], "select requests to prune")
            var report = PruneReport()
            report.transactions = 1
            var last = afterID
            for row in 0..<candidates.count {
                last = try candidates.int64(row, 0)
                guard try candidates.int64(row, 1) != 0 else { continue }
                report.requests += try connection.query(
                    "DELETE FROM requests WHERE id = $1 AND status = 'accepted'", [.int64(last)], "delete pruned request").affectedRows
            }
            try addToCounter(.prunedRequests, report.requests)
            return (report, last, candidates.count)
        }
    }

    func prunable(eventCutoff: Double, requestCutoff: Double) throws(PostgresError) -> PruneReport {
        let eventPrunable = "e.created_at < $1 AND \(Self.eventDone)"
        let result = try connection.query(
            """
            SELECT (SELECT count(*) FROM events AS e WHERE \(eventPrunable)),
                   (SELECT count(*) FROM deliveries AS dd JOIN events AS e ON e.seq = dd.event_seq WHERE \(eventPrunable)),
                   (SELECT count(*) FROM requests AS r WHERE r.status = 'accepted' AND r.received_at < $2
                      AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.request_id = r.id AND NOT (\(eventPrunable))))
            """, [.double(eventCutoff), .double(requestCutoff)], "count prunable rows")
        var report = PruneReport()
        report.events = try result.int(0, 0)
        report.deliveries = try result.int(0, 1)
        report.requests = try result.int(0, 2)
        return report
    }

    // MARK: Purge

    private static func purgeSelection(_ selection: PurgeSelection, asOf: Double) -> (from: String, parameters: [PostgresValue]) {
        switch selection {
        case .deadLetters(let destination, let createdBefore):
            (
                "deliveries WHERE state = 'dead' AND ($1::text IS NULL OR destination = $1) AND ($2::float8 IS NULL OR created_at < $2) AND updated_at <= $3",
                [.optional(destination), .optional(createdBefore), .double(asOf)]
            )
        case .quarantined(let receivedBefore):
            (
                "requests WHERE status = 'quarantined' AND ($1::float8 IS NULL OR received_at < $1) AND received_at <= $2 AND $3::float8 IS NOT NULL",
                [.optional(receivedBefore), .double(asOf), .double(asOf)]
            )
        }
    }

    func purgeCount(_ selection: PurgeSelection, asOf: Double) throws(PostgresError) -> Int {
        let (from, parameters) = Self.purgeSelection(selection, asOf: asOf)
        return try connection.query("SELECT count(*) FROM \(from)", parameters, "count rows to purge").int(0, 0)
    }

    /// One transaction: deletes up to `limit` selected rows with id > `afterID` (attempts cascade).
    func purgeBatch(_ selection: PurgeSelection, asOf: Double, afterID: Int64, limit: Int) throws(PostgresError) -> (deleted: Int, lastID: Int64?) {
        let (from, parameters) = Self.purgeSelection(selection, asOf: asOf)
        let table = if case .deadLetters = selection { "deliveries" } else { "requests" }
        return try transaction("purge") { () throws(PostgresError) -> (deleted: Int, lastID: Int64?) in
            let deleted = try connection.query(
                "DELETE FROM \(table) WHERE id IN (SELECT id FROM \(from) AND id > $4 ORDER BY id LIMIT $5) RETURNING id",
                parameters + [.int64(afterID), .int64(Int64(limit))], "purge")
            var last: Int64?
            for row in 0..<deleted.count { last = max(last ?? 0, try deleted.int64(row, 0)) }
            if case .deadLetters = selection {
                try addToCounter(.purgedDeadLetters, deleted.count)
            } else {
                try addToCounter(.purgedQuarantined, deleted.count)
            }
            return (deleted.count, last)
        }
    }
}
