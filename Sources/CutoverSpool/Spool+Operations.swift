/// Operator tools and retention: what `cutover spool` and the relay's janitor use.
///
/// Batched operations (`prune`, `purge`) take the connection for one transaction of at most
/// `batchSize` rows at a time, so group-committed ingest and delivery workers get in between batches.
extension Spool {
    // MARK: Inspection

    /// One delivery by id, or nil.
    package func delivery(id: Int64) throws(SpoolError) -> DeliveryRecord? {
        try withReader("read delivery") { database throws(SpoolError) in try database.delivery(id: id) }
    }

    /// Every delivery of the event with this id, by delivery id.
    package func deliveries(eventID: String) throws(SpoolError) -> [DeliveryRecord] {
        try withReader("list deliveries of event") { database throws(SpoolError) in
            try database.deliveries(eventID: eventID)
        }
    }

    /// One canonical event by its id, or nil.
    package func event(id: String) throws(SpoolError) -> StoredEvent? {
        try withReader("read event") { database throws(SpoolError) in try database.event(id: id) }
    }

    /// Recorded attempts of a delivery, oldest first (at most `DeliveryAttempt.maxKeptPerDelivery`).
    package func attempts(deliveryID: Int64) throws(SpoolError) -> [DeliveryAttempt] {
        try withReader("list attempts") { database throws(SpoolError) in try database.attempts(deliveryID: deliveryID) }
    }

    package func comparison(_ pair: ComparisonPair) throws(SpoolError) -> PairComparison {
        try withReader("compare destinations") { database throws(SpoolError) in try database.comparison(pair) }
    }

    package func disagreements(_ pair: ComparisonPair, afterSeq: Int64, limit: Int) throws(SpoolError) -> [Disagreement] {
        try withReader("list disagreements") { database throws(SpoolError) in
            try database.disagreements(pair, afterSeq: afterSeq, limit: limit)
        }
    }

    /// Requests with id > `afterID`, ascending, without their bodies.
    package func requestSummaries(
        afterID: Int64 = 0, limit: Int = 100, status: RequestStatus? = nil
    ) throws(SpoolError) -> [RequestSummary] {
        try withReader("list requests") { database throws(SpoolError) in
            try database.requestSummaries(afterID: afterID, limit: limit, status: status)
        }
    }

    // MARK: Retention

    /// Applies `policy` as of `now` (see `RetentionPolicy` for what goes and what stays), one
    /// transaction per `policy.batchSize` rows examined: first events past the dedup window whose
    /// deliveries are all delivered (with those deliveries and their attempts), then raw requests past
    /// the raw retention window with no event left. Pending, inflight and dead deliveries, their events
    /// and requests, and quarantined requests are never removed. Safe while the spool is in use.
    @discardableResult
    package func prune(now: Double = Spool.currentTime(), policy: RetentionPolicy = RetentionPolicy()) throws(SpoolError)
        -> PruneReport
    {
        var total = PruneReport()
        let eventCutoff = policy.eventCutoff(now: now)
        var cursor = SQLiteDatabase.Cursor()
        while true {
            let batch = try withDatabase("prune events") { database throws(SpoolError) in
                try database.pruneEvents(before: eventCutoff, after: cursor, limit: policy.batchSize)
            }
            total.add(batch.report)
            // After each batch's commit: a retry of a pruned id is a new event again, as before the index.
            if batch.report.events > 0 { committedIndex.removeAll() }
            cursor = batch.cursor
            if batch.examined < policy.batchSize { break }
        }
        let requestCutoff = policy.requestCutoff(now: now)
        cursor = SQLiteDatabase.Cursor()
        while true {
            let batch = try withDatabase("prune requests") { database throws(SpoolError) in
                try database.pruneRequests(before: requestCutoff, after: cursor, limit: policy.batchSize)
            }
            total.add(batch.report)
            cursor = batch.cursor
            if batch.examined < policy.batchSize { break }
        }
        return total
    }

    /// What `prune(now:policy:)` would remove (events, deliveries, requests; attempts are not
    /// counted), without removing anything.
    package func prunable(now: Double = Spool.currentTime(), policy: RetentionPolicy = RetentionPolicy()) throws(SpoolError)
        -> PruneReport
    {
        try withReader("count prunable rows") { database throws(SpoolError) in
            try database.prunable(eventCutoff: policy.eventCutoff(now: now), requestCutoff: policy.requestCutoff(now: now))
        }
    }

    // MARK: Purge

    /// How many rows `purge(selection, asOf:)` would delete.
    package func purgeCount(_ selection: PurgeSelection, asOf: Double = Spool.currentTime()) throws(SpoolError) -> Int {
        try withReader("count rows to purge") { database throws(SpoolError) in
            try database.purgeCount(selection, asOf: asOf)
        }
    }

    /// Deletes the selected dead letters (with their attempts) or quarantined requests that were
    /// already in that state at `asOf`, so a purge confirmed after `purgeCount(selection, asOf:)`
    /// deletes what was counted and not what arrived since. Batched like `prune`. Returns the count.
    @discardableResult
    package func purge(
        _ selection: PurgeSelection, asOf: Double = Spool.currentTime(), batchSize: Int = RetentionPolicy.defaultBatchSize
    ) throws(SpoolError) -> Int {
        try PurgeSelection.purgeInBatches { afterID throws(SpoolError) in
            try withDatabase("purge") { database throws(SpoolError) in
                try database.purgeBatch(selection, asOf: asOf, afterID: afterID, limit: max(1, batchSize))
            }
        }
    }
}

extension PruneReport {
    mutating func add(_ other: PruneReport) {
        events += other.events
        deliveries += other.deliveries
        attempts += other.attempts
        requests += other.requests
        transactions += other.transactions
    }
}
