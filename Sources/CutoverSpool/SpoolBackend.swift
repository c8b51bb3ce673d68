import Dispatch

/// What every layer above the spool sees: the backend-neutral durable queue. `Spool` keeps it in an
/// embedded SQLite file; `PostgresSpool` in a PostgreSQL database several instances share.
///
/// The contract both keep: `submit` answers success only after the transaction holding the request
/// committed durably; events are unique by id (a second copy is counted, never stored or delivered
/// again); a claim hands out only the head open delivery of each (destination, contact), so one
/// contact's events go out in arrival order; outcomes and claims of one worker turn share one
/// transaction. Every method may be called from any thread; completions run on the spool's writer.
package protocol SpoolBackend: AnyObject, Sendable {
    /// Where the data lives, for logs and `spool stats`: the database file, or the PostgreSQL URL
    /// without its password.
    var location: String { get }
    var options: SpoolOptions { get }
    /// A directory whose writability `/readyz` probes (the SQLite file's), nil when the data is not
    /// on a local disk.
    var probedDirectory: String? { get }

    // MARK: Ingest

    /// Starts a request's commit timeout now, before the caller's own work on it (which may block on
    /// the same sick disk as the commit); `onTimeout` answers it if it is not submitted in time.
    func admit(onTimeout: @escaping @Sendable (SpoolError) -> Void) -> IngestTicket
    /// Queues `request` for the next group commit; `completion` runs at most once, with a receipt
    /// only after the commit, and never when the ticket's timeout answered first (nothing is written then).
    func submit(
        _ request: IncomingRequest, ticket: IngestTicket, completion: @escaping @Sendable (Result<IngestReceipt, SpoolError>) -> Void)
    /// `observer` runs after a commit that created deliveries for a request whose commit timeout
    /// answered it first (503) while the commit was under way: the request is stored and will be
    /// delivered, but its completion never runs, so this is the only word of those deliveries.
    func onUnansweredDeliveries(_ observer: @escaping @Sendable () -> Void)
    /// For each id, whether a committed transaction stored it; nil when that cannot be said.
    func committedEvents(_ ids: [String]) -> [Bool]?
    /// Whether every id is known committed from memory alone (the dedup index), never asking the
    /// database: cheap and non-blocking enough for an I/O loop. False says nothing either way.
    func committedInMemory(_ ids: [String]) -> Bool
    /// Stored events of a request answered without a write, counted with the next commit.
    func recordCommittedDuplicates(_ events: Int)
    /// Stores `requests` in one transaction on the caller's thread, bypassing the batcher.
    func ingest(_ requests: [IncomingRequest]) throws(SpoolError) -> [IngestReceipt]
    /// Ingest counters of this process.
    var counters: SpoolCounters { get }

    // MARK: Health

    /// The fault that makes this spool untrustworthy until a restart, if one was seen.
    var fault: SpoolFault? { get }
    func onFault(_ observer: @escaping @Sendable (SpoolFault, _ first: Bool) -> Void)
    /// Whether the spool still writes where it opened; the fault when it does not.
    @discardableResult
    func verifyIdentity() -> SpoolFault?
    /// How long the batch being written has been at it, nil while the writer is idle.
    func writerBusyFor(now: DispatchTime) -> Duration?

    // MARK: Delivery

    func claim(destination: String, now: Double, limit: Int, withRequestBody: Bool) throws(SpoolError) -> [ClaimedDelivery]
    @discardableResult
    func record(_ outcomes: [DeliveryResult], now: Double) throws(SpoolError) -> [Int64]
    func recordAndClaim(
        _ outcomes: [DeliveryResult], releasing: [Int64], destination: String, now: Double, limit: Int, withRequestBody: Bool
    ) throws(SpoolError) -> DeliveryTurn
    func markDelivered(id: Int64, status: Int?, now: Double) throws(SpoolError)
    func scheduleRetry(id: Int64, at time: Double, error: String, status: Int?, now: Double) throws(SpoolError)
    func deadLetter(id: Int64, error: String, status: Int?, now: Double) throws(SpoolError)
    func nextDueTime(destination: String) throws(SpoolError) -> Double?
    @discardableResult
    func retryDead(ids: [Int64]?, destination: String?, at time: Double) throws(SpoolError) -> Int

    // MARK: Inspection

    func stats(now: Double) throws(SpoolError) -> SpoolStats
    func destinations() throws(SpoolError) -> [String]
    func request(id: Int64) throws(SpoolError) -> StoredRequest?
    func requests(afterID: Int64, limit: Int, status: RequestStatus?, since: Double?, until: Double?) throws(SpoolError)
        -> [StoredRequest]
    func requestSummaries(afterID: Int64, limit: Int, status: RequestStatus?) throws(SpoolError) -> [RequestSummary]
    func events(requestID: Int64) throws(SpoolError) -> [StoredEvent]
    func event(id: String) throws(SpoolError) -> StoredEvent?
    func deliveries(state: DeliveryState?, destination: String?, afterID: Int64, limit: Int) throws(SpoolError)
        -> [DeliveryRecord]
    func deliveries(eventID: String) throws(SpoolError) -> [DeliveryRecord]
    func delivery(id: Int64) throws(SpoolError) -> DeliveryRecord?
    func attempts(deliveryID: Int64) throws(SpoolError) -> [DeliveryAttempt]
    /// The events delivered to both sides of `pair`, counted by how each side ended (`PairComparison`).
    func comparison(_ pair: ComparisonPair) throws(SpoolError) -> PairComparison
    /// The pair's events whose sides both ended and disagree, by event seq above `afterSeq`.
    func disagreements(_ pair: ComparisonPair, afterSeq: Int64, limit: Int) throws(SpoolError) -> [Disagreement]

    // MARK: Retention and purge

    @discardableResult
    func prune(now: Double, policy: RetentionPolicy) throws(SpoolError) -> PruneReport
    func prunable(now: Double, policy: RetentionPolicy) throws(SpoolError) -> PruneReport
    func purgeCount(_ selection: PurgeSelection, asOf: Double) throws(SpoolError) -> Int
    @discardableResult
    func purge(_ selection: PurgeSelection, asOf: Double, batchSize: Int) throws(SpoolError) -> Int

    // MARK: Closing

    /// Rejects new submissions, commits what was submitted, closes. Blocks: not from async code.
    func close()
    /// `close()` for async code.
    func shutdown() async
}

/// The defaults callers rely on, for the existential (protocol requirements take no default arguments).
extension SpoolBackend {
    package func writerBusyFor() -> Duration? { writerBusyFor(now: .now()) }

    /// `admit` and `submit` in one: the timeout runs from now, `completion` runs exactly once.
    package func submit(_ request: IncomingRequest, completion: @escaping @Sendable (Result<IngestReceipt, SpoolError>) -> Void) {
        submit(request, ticket: admit { completion(.failure($0)) }, completion: completion)
    }

    package func claim(destination: String, now: Double, limit: Int) throws(SpoolError) -> [ClaimedDelivery] {
        try claim(destination: destination, now: now, limit: limit, withRequestBody: false)
    }

    @discardableResult
    package func record(_ outcomes: [DeliveryResult]) throws(SpoolError) -> [Int64] {
        try record(outcomes, now: Spool.currentTime())
    }

    package func recordAndClaim(
        _ outcomes: [DeliveryResult], releasing: [Int64] = [], destination: String, now: Double, limit: Int
    ) throws(SpoolError) -> DeliveryTurn {
        try recordAndClaim(outcomes, releasing: releasing, destination: destination, now: now, limit: limit, withRequestBody: false)
    }

    package func markDelivered(id: Int64, status: Int?) throws(SpoolError) {
        try markDelivered(id: id, status: status, now: Spool.currentTime())
    }

    package func scheduleRetry(id: Int64, at time: Double, error: String, status: Int?) throws(SpoolError) {
        try scheduleRetry(id: id, at: time, error: error, status: status, now: Spool.currentTime())
    }

    package func deadLetter(id: Int64, error: String, status: Int?) throws(SpoolError) {
        try deadLetter(id: id, error: error, status: status, now: Spool.currentTime())
    }

    @discardableResult
    package func retryDead(ids: [Int64]? = nil, destination: String? = nil) throws(SpoolError) -> Int {
        try retryDead(ids: ids, destination: destination, at: Spool.currentTime())
    }

    package func stats() throws(SpoolError) -> SpoolStats { try stats(now: Spool.currentTime()) }


    package func deliveries(state: DeliveryState?) throws(SpoolError) -> [DeliveryRecord] {
        try deliveries(state: state, destination: nil, afterID: 0, limit: 100)
    }

    package func requestSummaries(afterID: Int64 = 0, limit: Int = 100) throws(SpoolError) -> [RequestSummary] {
        try requestSummaries(afterID: afterID, limit: limit, status: nil)
    }


    @discardableResult
    package func prune(now: Double = Spool.currentTime()) throws(SpoolError) -> PruneReport {
        try prune(now: now, policy: RetentionPolicy())
    }

    package func purgeCount(_ selection: PurgeSelection) throws(SpoolError) -> Int {
        try purgeCount(selection, asOf: Spool.currentTime())
    }

    @discardableResult
    package func purge(_ selection: PurgeSelection, asOf: Double = Spool.currentTime()) throws(SpoolError) -> Int {
        try purge(selection, asOf: asOf, batchSize: RetentionPolicy.defaultBatchSize)
    }
}
