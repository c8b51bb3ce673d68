/// What retention (`Spool.prune`) keeps and removes. Times are unix seconds, windows are seconds.
///
/// The rules, which `prunesEvent` and `prunesRequest` state as pure functions and the SQL applies:
/// - An event goes, with its deliveries and their attempts, once it is older than `dedupWindow` and
///   every one of its deliveries is `delivered` (an event with no delivery, deliberately not sent
///   anywhere, counts as done). Until then its id keeps deduplicating redeliveries; Meta redelivers
///   for up to 7 days.
/// - An event with a pending, inflight or dead delivery is never pruned: work in progress stays, and
///   dead letters leave only by `purge` (a person decides).
/// - A raw request goes once it is older than `rawRetention` and none of its events is left. So a
///   request outlives its events' dedup window even when `rawRetention` is shorter.
/// - Quarantined requests are never pruned (they wait for a fix and a replay): only `purge` removes them.
///
/// Only finished deliveries are removed, so the per-contact `blocked` flags, which depend on open
/// deliveries only, stay right without being recomputed.
package struct RetentionPolicy: Sendable, Hashable {
    /// How long an event id keeps deduplicating redeliveries (and its delivered rows stay inspectable).
    package var dedupWindow: Double
    /// How long raw request bodies are kept for replay.
    package var rawRetention: Double
    /// Rows examined per transaction, so a prune never holds the write lock (and ingest) for long.
    package var batchSize: Int

    package static let defaultDedupWindow: Double = 7 * 86_400
    package static let defaultRawRetention: Double = 7 * 86_400
    package static let defaultBatchSize = 1_000

    package init(
        dedupWindow: Double = RetentionPolicy.defaultDedupWindow,
        rawRetention: Double = RetentionPolicy.defaultRawRetention,
        batchSize: Int = RetentionPolicy.defaultBatchSize
    ) {
        self.dedupWindow = max(0, dedupWindow)
        self.rawRetention = max(0, rawRetention)
        self.batchSize = max(1, batchSize)
    }

    /// The policy of the config keys `spool_retention: {dedup_days, raw_days}`.
    package init(dedupDays: Double, rawDays: Double, batchSize: Int = RetentionPolicy.defaultBatchSize) {
        self.init(dedupWindow: dedupDays * 86_400, rawRetention: rawDays * 86_400, batchSize: batchSize)
    }

    /// Events created before this time are past the dedup window.
    package func eventCutoff(now: Double) -> Double { now - dedupWindow }

    /// Requests received before this time are past the raw retention window.
    package func requestCutoff(now: Double) -> Double { now - rawRetention }

    /// Whether retention removes an event created at `createdAt` whose deliveries are in `deliveryStates`.
    package func prunesEvent(createdAt: Double, deliveryStates: [DeliveryState], now: Double) -> Bool {
        createdAt < eventCutoff(now: now) && deliveryStates.allSatisfy { $0 == .delivered }
    }

    /// Whether retention removes a request received at `receivedAt` that has `remainingEvents` events
    /// left (after its prunable events went).
    package func prunesRequest(receivedAt: Double, status: RequestStatus, remainingEvents: Int, now: Double) -> Bool {
        status == .accepted && remainingEvents == 0 && receivedAt < requestCutoff(now: now)
    }
}

/// What a prune removed (or, from `Spool.prunable`, would remove).
package struct PruneReport: Sendable, Hashable {
    package var events = 0
    package var deliveries = 0
    package var attempts = 0
    package var requests = 0
    /// Write transactions used (0 for a count).
    package var transactions = 0

    package init() {}

    package var isEmpty: Bool { events == 0 && deliveries == 0 && attempts == 0 && requests == 0 }
}

/// Rows an operator deletes on purpose (`cutover spool purge`). Retention never touches these.
package enum PurgeSelection: Sendable, Hashable {
    /// Dead-letter deliveries (and their attempts), of one destination if given, created before
    /// `createdBefore` if given. The events stay until retention finds them done.
    case deadLetters(destination: String?, createdBefore: Double?)
    /// Quarantined requests received before `receivedBefore` if given.
    case quarantined(receivedBefore: Double?)
}

extension PurgeSelection {
    /// A purge as both spools run it: one transaction per `nextBatch` (up to a batch of rows with an
    /// id past the one given), until a batch comes back empty. Returns the rows deleted.
    static func purgeInBatches(
        _ nextBatch: (_ afterID: Int64) throws(SpoolError) -> (deleted: Int, lastID: Int64?)
    ) throws(SpoolError) -> Int {
        var deleted = 0
        var afterID: Int64 = 0
        while true {
            let batch = try nextBatch(afterID)
            deleted += batch.deleted
            guard let last = batch.lastID else { return deleted }
            afterID = last
        }
    }
}
