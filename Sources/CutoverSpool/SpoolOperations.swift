/// The spool's operator SQL (schema v3): attempt history, lifetime counters, inspection by id,
/// retention and purges. Callers hold the connection's lock.
extension SQLiteDatabase {
    // MARK: Counters

    enum CounterName: String, CaseIterable {
        case duplicateEvents = "duplicate_events"
        case prunedEvents = "pruned_events"
        case prunedRequests = "pruned_requests"
        case purgedDeadLetters = "purged_dead_letters"
        case purgedQuarantined = "purged_quarantined"
    }

    /// Adds `amount` to a lifetime counter; call inside the transaction that made the change.
    func addToCounter(_ name: CounterName, _ amount: Int) throws(SpoolError) {
        guard amount != 0 else { return }
        try run(
            """
            INSERT INTO counters (name, value) VALUES (?1, ?2)
            ON CONFLICT (name) DO UPDATE SET value = value + excluded.value
            """, "add to counter \(name.rawValue)"
        ) { statement throws(SpoolError) in
            try statement.bind(name.rawValue, at: 1)
            try statement.bind(amount, at: 2)
        }
    }

    func totals() throws(SpoolError) -> SpoolTotals {
        var totals = SpoolTotals()
        let values = try rows("SELECT name, value FROM counters", "read counters") { row in (row.string(0), row.int(1)) }
        for (name, value) in values {
            switch CounterName(rawValue: name) {
            case .duplicateEvents: totals.duplicateEvents = value
            case .prunedEvents: totals.prunedEvents = value
            case .prunedRequests: totals.prunedRequests = value
            case .purgedDeadLetters: totals.purgedDeadLetters = value
            case .purgedQuarantined: totals.purgedQuarantined = value
            case nil: continue
            }
        }
        return totals
    }

    // MARK: Attempts

    /// Writes attempt `number` of delivery `id`, whose outcome was just recorded (same transaction),
    /// with what the response came to when there was one.
    func recordAttempt(
        id: Int64, number: Int, state: DeliveryState, error: String?, status: Int?, response: AttemptResponse? = nil, now: Double
    ) throws(SpoolError) {
        let outcome = AttemptOutcome(recording: state)
        try run(
            """
            INSERT INTO attempts (delivery_id, attempt, at, outcome, status, error, latency_ms, body_prefix)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """, "record attempt of delivery \(id)"
        ) { statement throws(SpoolError) in
            try statement.bind(id, at: 1)
            try statement.bind(number, at: 2)
            try statement.bind(now, at: 3)
            try statement.bind(outcome.rawValue, at: 4)
            try statement.bind(status, at: 5)
            try statement.bind(error.map { DeliveryAttempt.excerpt($0) }, at: 6)
            try statement.bind(response?.latencyMilliseconds, at: 7)
            if let prefix = response?.bodyPrefix, !prefix.isEmpty { try statement.bind(prefix, at: 8) } else { try statement.bindNull(at: 8) }
        }
        if number > DeliveryAttempt.maxKeptPerDelivery {
            // Numbers ascend per delivery: keeping the latest N is a range delete on the index.
            try run("DELETE FROM attempts WHERE delivery_id = ?1 AND attempt <= ?2", "trim attempts of delivery \(id)") {
                statement throws(SpoolError) in
                try statement.bind(id, at: 1)
                try statement.bind(number - DeliveryAttempt.maxKeptPerDelivery, at: 2)
            }
        }
    }

    func attempts(deliveryID: Int64) throws(SpoolError) -> [DeliveryAttempt] {
        try rows(
            """
            SELECT delivery_id, attempt, at, outcome, status, error, latency_ms, body_prefix FROM attempts
            WHERE delivery_id = ?1 ORDER BY attempt
            """,
            "list attempts of delivery \(deliveryID)",
            bind: { statement throws(SpoolError) in try statement.bind(deliveryID, at: 1) }
        ) { row throws(SpoolError) in
            guard let outcome = AttemptOutcome(rawValue: row.string(3)) else {
                throw SpoolError(
                    kind: .corrupt, message: "unknown attempt outcome \(row.string(3))",
                    operation: "read attempts of delivery \(deliveryID)")
            }
            return DeliveryAttempt(
                deliveryID: row.int64(0), attempt: row.int(1), at: row.double(2), outcome: outcome,
                status: row.optionalInt(4), error: row.optionalString(5), latencyMilliseconds: row.optionalDouble(6),
                bodyPrefix: row.isNull(7) ? nil : row.bytes(7))
        }
    }

    // MARK: Inspection by id

    func delivery(id: Int64) throws(SpoolError) -> DeliveryRecord? {
        try firstRow(
            "SELECT \(Self.deliveryColumns) FROM deliveries AS d JOIN events AS e ON e.seq = d.event_seq WHERE d.id = ?1",
            "read delivery \(id)",
            bind: { statement throws(SpoolError) in try statement.bind(id, at: 1) }
        ) { row throws(SpoolError) in try readDelivery(row) }
    }

    func deliveries(eventID: String) throws(SpoolError) -> [DeliveryRecord] {
        try rows(
            """
            SELECT \(Self.deliveryColumns) FROM deliveries AS d JOIN events AS e ON e.seq = d.event_seq
            WHERE e.id = ?1 ORDER BY d.id
            """, "list deliveries of event \(eventID)",
            bind: { statement throws(SpoolError) in try statement.bind(eventID, at: 1) }
        ) { row throws(SpoolError) in try readDelivery(row) }
    }

    func event(id: String) throws(SpoolError) -> StoredEvent? {
        try firstRow(
            "SELECT id, request_id, type, contact_key, payload, created_at FROM events WHERE id = ?1",
            "read event \(id)",
            bind: { statement throws(SpoolError) in try statement.bind(id, at: 1) }
        ) { row in
            StoredEvent(
                id: row.string(0), requestID: row.int64(1), type: row.string(2), contactKey: row.string(3),
                payload: row.bytes(4), createdAt: row.double(5))
        }
    }

    func requestSummaries(afterID: Int64, limit: Int, status: RequestStatus?) throws(SpoolError) -> [RequestSummary] {
        try rows(
            """
            SELECT id, received_at, route, length(body), status, quarantine_reason FROM requests
            WHERE id > ?1 AND (?2 IS NULL OR status = ?2) ORDER BY id LIMIT ?3
            """, "list request summaries",
            bind: { statement throws(SpoolError) in
                try statement.bind(afterID, at: 1)
                try statement.bind(status?.rawValue, at: 2)
                try statement.bind(limit, at: 3)
            }
        ) { row in
            RequestSummary(
                id: row.int64(0), receivedAt: row.double(1), route: row.string(2), bodyBytes: row.int(3),
                status: RequestStatus(rawValue: row.string(4)) ?? .accepted, quarantineReason: row.optionalString(5))
        }
    }

    // MARK: Retention

    /// Where a batched walk over rows ordered by (time, id) stopped.
    struct Cursor: Sendable {
        var time = -Double.greatestFiniteMagnitude
        var id: Int64 = 0
    }

    /// An event is done when none of its deliveries is anything but delivered (see `RetentionPolicy`).
    private static let eventDone = "NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.event_seq = e.seq AND d.state <> 'delivered')"

    /// One transaction of retention over events: examines up to `limit` events created before `cutoff`
    /// after `cursor` (oldest first) and deletes the done ones with their deliveries and attempts.
    /// Returns what went, where to go on from, and how many events were examined.
    func pruneEvents(
        before cutoff: Double, after cursor: Cursor, limit: Int
    ) throws(SpoolError) -> (report: PruneReport, cursor: Cursor, examined: Int) {
        try transaction("prune events") { () throws(SpoolError) -> (report: PruneReport, cursor: Cursor, examined: Int) in
            let candidates = try rows(
                """
                SELECT e.seq, e.created_at, \(Self.eventDone) FROM events AS e
                WHERE e.created_at < ?1 AND e.created_at >= ?2 AND (e.created_at > ?2 OR e.seq > ?3)
                ORDER BY e.created_at, e.seq LIMIT ?4
                """, "select events to prune",
                bind: { statement throws(SpoolError) in
                    try statement.bind(cutoff, at: 1)
                    try statement.bind(cursor.time, at: 2)
                    try statement.bind(cursor.id, at: 3)
                    try statement.bind(limit, at: 4)
                }
            ) { row in (seq: row.int64(0), createdAt: row.double(1), done: row.int(2) != 0) }
            var report = PruneReport()
            report.transactions = 1
            for candidate in candidates where candidate.done {
                report.attempts += try run(
                    "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_seq = ?1)",
                    "delete attempts of pruned event"
                ) { statement throws(SpoolError) in try statement.bind(candidate.seq, at: 1) }
                let destinations = try rows(
                    "DELETE FROM deliveries WHERE event_seq = ?1 AND state = 'delivered' RETURNING destination",
                    "delete deliveries of pruned event",
                    bind: { statement throws(SpoolError) in try statement.bind(candidate.seq, at: 1) }
                ) { $0.string(0) }
                for destination in destinations { countDeltas.addDeliveries(-1, destination: destination, state: .delivered) }
                report.deliveries += destinations.count
                // Every delivery of a done event was delivered and went above: the cascade finds none.
                let events = try run("DELETE FROM events WHERE seq = ?1", "delete pruned event") {
                    statement throws(SpoolError) in try statement.bind(candidate.seq, at: 1)
                }
                countDeltas.addEvents(-events)
                report.events += events
            }
            try addToCounter(.prunedEvents, report.events)
            let next = candidates.last.map { Cursor(time: $0.createdAt, id: $0.seq) } ?? cursor
            return (report, next, candidates.count)
        }
    }

    /// One transaction of retention over raw requests: examines up to `limit` requests received
    /// before `cutoff` after `cursor` and deletes the accepted ones none of whose events is left.
    func pruneRequests(
        before cutoff: Double, after cursor: Cursor, limit: Int
    ) throws(SpoolError) -> (report: PruneReport, cursor: Cursor, examined: Int) {
        try transaction("prune requests") { () throws(SpoolError) -> (report: PruneReport, cursor: Cursor, examined: Int) in
            let candidates = try rows(
                """
                SELECT r.id, r.received_at,
                       r.status = 'accepted' AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.request_id = r.id)
                FROM requests AS r
                WHERE r.received_at < ?1 AND r.received_at >= ?2 AND (r.received_at > ?2 OR r.id > ?3)
                ORDER BY r.received_at, r.id LIMIT ?4
                """, "select requests to prune",
                bind: { statement throws(SpoolError) in
                    try statement.bind(cutoff, at: 1)
                    try statement.bind(cursor.time, at: 2)
                    try statement.bind(cursor.id, at: 3)
                    try statement.bind(limit, at: 4)
                }
            ) { row in (id: row.int64(0), receivedAt: row.double(1), prunable: row.int(2) != 0) }
            var report = PruneReport()
            report.transactions = 1
            for candidate in candidates where candidate.prunable {
                // No event is left to cascade to (the candidate's condition).
                let requests = try run("DELETE FROM requests WHERE id = ?1 AND status = 'accepted'", "delete pruned request") {
                    statement throws(SpoolError) in try statement.bind(candidate.id, at: 1)
                }
                countDeltas.addRequests(-requests, status: .accepted)
                report.requests += requests
            }
            try addToCounter(.prunedRequests, report.requests)
            let next = candidates.last.map { Cursor(time: $0.receivedAt, id: $0.id) } ?? cursor
            return (report, next, candidates.count)
        }
    }

    /// What `prune` would remove now (one read; counts only, no attempts).
    func prunable(eventCutoff: Double, requestCutoff: Double) throws(SpoolError) -> PruneReport {
        let eventPrunable = "e.created_at < ?1 AND \(Self.eventDone)"
        var report = PruneReport()
        report.events =
            try firstRow(
                "SELECT count(*) FROM events AS e WHERE \(eventPrunable)", "count prunable events",
                bind: { statement throws(SpoolError) in try statement.bind(eventCutoff, at: 1) }
            ) { $0.int(0) } ?? 0
        report.deliveries =
            try firstRow(
                "SELECT count(*) FROM deliveries AS dd JOIN events AS e ON e.seq = dd.event_seq WHERE \(eventPrunable)",
                "count prunable deliveries",
                bind: { statement throws(SpoolError) in try statement.bind(eventCutoff, at: 1) }
            ) { $0.int(0) } ?? 0
        report.requests =
            try firstRow(
                """
                SELECT count(*) FROM requests AS r
                WHERE r.status = 'accepted' AND r.received_at < ?2
                  AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.request_id = r.id AND NOT (\(eventPrunable)))
                """, "count prunable requests",
                bind: { statement throws(SpoolError) in
                    try statement.bind(eventCutoff, at: 1)
                    try statement.bind(requestCutoff, at: 2)
                }
            ) { $0.int(0) } ?? 0
        return report
    }

    // MARK: Purge

    /// How many rows `purge(selection, asOf:)` would delete.
    func purgeCount(_ selection: PurgeSelection, asOf: Double) throws(SpoolError) -> Int {
        switch selection {
        case .deadLetters(let destination, let createdBefore):
            try firstRow(
                """
                SELECT count(*) FROM deliveries
                WHERE state = 'dead' AND (?1 IS NULL OR destination = ?1) AND (?2 IS NULL OR created_at < ?2)
                  AND updated_at <= ?3
                """, "count dead letters to purge",
                bind: { statement throws(SpoolError) in
                    try statement.bind(destination, at: 1)
                    try statement.bind(createdBefore, at: 2)
                    try statement.bind(asOf, at: 3)
                }
            ) { $0.int(0) } ?? 0
        case .quarantined(let receivedBefore):
            try firstRow(
                """
                SELECT count(*) FROM requests
                WHERE status = 'quarantined' AND (?1 IS NULL OR received_at < ?1) AND received_at <= ?2
                """, "count quarantined requests to purge",
                bind: { statement throws(SpoolError) in
                    try statement.bind(receivedBefore, at: 1)
                    try statement.bind(asOf, at: 2)
                }
            ) { $0.int(0) } ?? 0
        }
    }

    /// One transaction of a purge: deletes up to `limit` selected rows with id > `afterID`.
    /// Returns the count deleted and the last id examined (nil when nothing was left).
    func purgeBatch(
        _ selection: PurgeSelection, asOf: Double, afterID: Int64, limit: Int
    ) throws(SpoolError) -> (deleted: Int, lastID: Int64?) {
        try transaction("purge") { () throws(SpoolError) -> (deleted: Int, lastID: Int64?) in
            var deleted = 0
            switch selection {
            case .deadLetters(let destination, let createdBefore):
                let ids = try rows(
                    """
                    SELECT id FROM deliveries
                    WHERE state = 'dead' AND (?1 IS NULL OR destination = ?1) AND (?2 IS NULL OR created_at < ?2)
                      AND updated_at <= ?3 AND id > ?4
                    ORDER BY id LIMIT ?5
                    """, "select dead letters to purge",
                    bind: { statement throws(SpoolError) in
                        try statement.bind(destination, at: 1)
                        try statement.bind(createdBefore, at: 2)
                        try statement.bind(asOf, at: 3)
                        try statement.bind(afterID, at: 4)
                        try statement.bind(limit, at: 5)
                    }
                ) { $0.int64(0) }
                for id in ids {
                    try run("DELETE FROM attempts WHERE delivery_id = ?1", "delete attempts of purged dead letter") {
                        statement throws(SpoolError) in try statement.bind(id, at: 1)
                    }
                    // A dead letter is not open, so no `blocked` flag depends on it: deleting it keeps
                    // every contact's order as it was.
                    let destination = try firstRow(
                        "DELETE FROM deliveries WHERE id = ?1 AND state = 'dead' RETURNING destination", "delete dead letter",
                        bind: { statement throws(SpoolError) in try statement.bind(id, at: 1) }
                    ) { $0.string(0) }
                    if let destination {
                        countDeltas.addDeliveries(-1, destination: destination, state: .dead)
                        deleted += 1
                    }
                }
                try addToCounter(.purgedDeadLetters, deleted)
                return (deleted, ids.last)
            case .quarantined(let receivedBefore):
                let ids = try rows(
                    """
                    SELECT id FROM requests
                    WHERE status = 'quarantined' AND (?1 IS NULL OR received_at < ?1) AND received_at <= ?2 AND id > ?3
                    ORDER BY id LIMIT ?4
                    """, "select quarantined requests to purge",
                    bind: { statement throws(SpoolError) in
                        try statement.bind(receivedBefore, at: 1)
                        try statement.bind(asOf, at: 2)
                        try statement.bind(afterID, at: 3)
                        try statement.bind(limit, at: 4)
                    }
                ) { $0.int64(0) }
                for id in ids {
                    // A quarantined request has no events to cascade to.
                    deleted += try run(
                        "DELETE FROM requests WHERE id = ?1 AND status = 'quarantined'", "delete quarantined request"
                    ) { statement throws(SpoolError) in try statement.bind(id, at: 1) }
                }
                countDeltas.addRequests(-deleted, status: .quarantined)
                try addToCounter(.purgedQuarantined, deleted)
                return (deleted, ids.last)
            }
        }
    }
}
