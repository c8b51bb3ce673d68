import CutoverLocking
import CutoverPostgres
import Dispatch

/// Where a PostgreSQL spool lives and how this instance takes part in it.
package struct PostgresSpoolConfiguration: Sendable, Hashable {
    /// `postgresql://user@host:port/database` (libpq's URL syntax, parameters allowed).
    package var url: String
    /// Kept out of the URL so it is never logged.
    package var password: String?
    /// The `claimed_by` of this instance's leases: unique per running instance. Reusing it after a
    /// restart releases the previous run's leases at once instead of after they lapse.
    package var instanceID: String
    /// How long a claim holds its deliveries before another instance may take them over. The spool
    /// renews the leases of what this process still holds every third of it, so a send of any length
    /// keeps its lease; only a dead (or cut-off) instance's lapse.
    package var leaseSeconds: Double
    /// Connections: one for the group-commit writer, the others shared by claims and reads.
    package var poolSize: Int
    /// Seconds one connect attempt may take.
    package var connectTimeout: Int

    /// Short, because renewal keeps a live instance's claims: a crashed instance's work resumes
    /// elsewhere within about this long (plus a worker's idle recheck, 5 s).
    package static let defaultLeaseSeconds: Double = 30

    package init(
        url: String, password: String? = nil, instanceID: String = PostgresSpoolConfiguration.uniqueInstanceID(),
        leaseSeconds: Double = PostgresSpoolConfiguration.defaultLeaseSeconds, poolSize: Int = 4, connectTimeout: Int = 5
    ) {
        self.url = url
        self.password = password
        self.instanceID = instanceID
        self.leaseSeconds = max(1, leaseSeconds)
        self.poolSize = max(2, poolSize)
        self.connectTimeout = max(1, connectTimeout)
    }

    /// Host name, process id and a random suffix: unique per run.
    package static func uniqueInstanceID() -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : "host"
        return "\(host)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// Whether `text` names a PostgreSQL spool rather than a directory.
    package static func isURL(_ text: String) -> Bool { text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") }
}

/// The durable spool on PostgreSQL, shared by several Cutover instances.
///
/// Threading: every method may be called from any thread. Connections come from a small pool: slot 0
/// is the group-commit writer's (`GroupCommitter`, as in the SQLite spool: one transaction per batch,
/// each completion only after COMMIT returned with `synchronous_commit = on`); claims, outcomes and
/// reads take the other slots, so a worker's turn does not wait behind an ingest commit. While the
/// server is unreachable every call fails with `.unavailable` (ingest answers 503, `/readyz` says why)
/// and the pool reconnects with backoff.
///
/// Leases: every delivery a claim hands out is held by this process until its outcome is recorded
/// or it is released; a renewal every third of the lease extends the leases of what is held, so a
/// slow send never loses its lease while the process lives. Deliveries named in a turn that failed
/// are dropped from what is held (the worker forgets them): their leases lapse and they are claimed
/// again, here or elsewhere (at least once).
package final class PostgresSpool: SpoolBackend {
    package let configuration: PostgresSpoolConfiguration
    package let options: SpoolOptions
    package let location: String
    /// The id the database carries, the same for every instance on it.
    package let spoolID: String
    package var probedDirectory: String? { nil }

    private let pool: PostgresPool
    private let committer: GroupCommitter
    let committedIndex: CommittedEventIndex
    private let faultObserver = Locked<(@Sendable (SpoolFault, _ first: Bool) -> Void)?>(nil)
    /// Claimed by this process, outcome not yet recorded: the leases the renewal extends.
    private let held = Locked<Set<Int64>>([])
    private let renewals = DispatchQueue(label: "cutover.spool.leases", qos: .utility)
    /// Held by the process that delivers (`options.recoverInflight`), so its id is its alone.
    private let instanceLock: PostgresInstanceLock?

    private init(
        configuration: PostgresSpoolConfiguration, options: SpoolOptions, pool: PostgresPool, spoolID: String,
        instanceLock: PostgresInstanceLock?
    ) {
        self.configuration = configuration
        self.options = options
        self.pool = pool
        self.spoolID = spoolID
        self.instanceLock = instanceLock
        location = PostgresConnection.redacted(configuration.url)
        committer = GroupCommitter(options: options)
        committedIndex = CommittedEventIndex(capacity: options.dedupIndexCapacity)
    }

    /// Connects, migrates the schema to the latest version (once, under an advisory lock, however
    /// many instances start together) and, with `options.recoverInflight` (the delivering process),
    /// takes the instance id's lock, refusing with `.refused` when another running instance has the
    /// id, and then releases the leases this instance id held (a restart with a stable id). Fails
    /// with `.unavailable` if the server cannot be reached now: starting needs the database once.
    package static func open(_ configuration: PostgresSpoolConfiguration, options: SpoolOptions = SpoolOptions()) throws(SpoolError)
        -> PostgresSpool
    {
        // Before the leases are released: a second process with a live instance's id would take its claims.
        let instanceLock = options.recoverInflight ? try PostgresInstanceLock.acquire(configuration) : nil
        let pool = PostgresPool(
            url: configuration.url, password: configuration.password, size: configuration.poolSize,
            connectTimeout: configuration.connectTimeout)
        // A failure below drops the lock with its session (the connection closes when freed).
        let spoolID = try PostgresSpoolError.map { () throws(PostgresError) -> String in
            try pool.with(slot: 0) { connection throws(PostgresError) -> String in
                do throws(SpoolError) {
                    try PostgresSchema.migrate(connection)
                } catch {
                    throw PostgresError(kind: .statement, message: error.message, operation: error.operation)
                }
                let store = PostgresStore(connection: connection, instanceID: configuration.instanceID, leaseSeconds: configuration.leaseSeconds)
                if options.recoverInflight { try store.releaseOwnLeases(now: Clock.now()) }
                return try connection.query("SELECT id FROM spool_identity", [], "read the spool id").string(0, 0)
            }
        }
        let spool = PostgresSpool(configuration: configuration, options: options, pool: pool, spoolID: spoolID, instanceLock: instanceLock)
        spool.scheduleRenewal()
        return spool
    }

    // MARK: Leases

    private var renewalInterval: DispatchTimeInterval { .milliseconds(max(100, Int(configuration.leaseSeconds * 1000 / 3))) }

    private func scheduleRenewal() {
        renewals.asyncAfter(deadline: .now() + renewalInterval) { [weak self] in
            guard let self, !self.committer.isClosed else { return }
            // The leases first: they are what lapses if this turn runs late.
            self.renewLeases()
            self.instanceLock?.keep()
            self.scheduleRenewal()
        }
    }

    /// Extends the leases of what this process holds; a failure (the server unreachable) is tried
    /// again at the next interval, and a lease that lapsed meanwhile may be taken over elsewhere.
    func renewLeases() {
        let ids = held.withLock { Array($0) }
        guard !ids.isEmpty else { return }
        _ = try? shared { store throws(PostgresError) in try store.renewLeases(ids: ids, now: Clock.now()) }
    }

    /// Ids this process holds now (tests).
    var heldDeliveries: Set<Int64> { held.withLock { $0 } }

    private func hold(_ claimed: [ClaimedDelivery]) {
        guard !claimed.isEmpty else { return }
        held.withLock { set in for delivery in claimed { set.insert(delivery.id) } }
    }

    private func letGo<S: Sequence<Int64>>(_ ids: S) {
        held.withLock { set in for id in ids { set.remove(id) } }
    }

    private func writing<T: Sendable>(_ body: (PostgresStore) throws(PostgresError) -> T) throws(SpoolError) -> T {
        try PostgresSpoolError.map { () throws(PostgresError) -> T in
            try pool.with(slot: 0) { connection throws(PostgresError) -> T in try body(store(connection)) }
        }
    }

    private func shared<T: Sendable>(_ body: (PostgresStore) throws(PostgresError) -> T) throws(SpoolError) -> T {
        try PostgresSpoolError.map { () throws(PostgresError) -> T in
            try pool.withAny { connection throws(PostgresError) -> T in try body(store(connection)) }
        }
    }

    private func store(_ connection: PostgresConnection) -> PostgresStore {
        PostgresStore(connection: connection, instanceID: configuration.instanceID, leaseSeconds: configuration.leaseSeconds)
    }

    private func closedCheck(_ operation: String) throws(SpoolError) {
        if committer.isClosed { throw SpoolError.closed(operation) }
    }

    // MARK: Ingest

    package func admit(onTimeout: @escaping @Sendable (SpoolError) -> Void) -> IngestTicket {
        committer.admit(onTimeout: onTimeout)
    }

    package func onUnansweredDeliveries(_ observer: @escaping @Sendable () -> Void) { committer.onUnansweredDeliveries(observer) }

    package func submit(
        _ request: IncomingRequest, ticket: IngestTicket, completion: @escaping @Sendable (Result<IngestReceipt, SpoolError>) -> Void
    ) {
        committer.submit(request, ticket: ticket, to: Writer(spool: self), completion: completion)
    }

    /// The group committer's view of this spool (held only while a drain runs, so no cycle).
    private struct Writer: GroupCommitWriter {
        let spool: PostgresSpool

        func writeBatch(_ requests: [IncomingRequest], carriedDuplicates: Int) -> Result<[IngestReceipt], SpoolError> {
            Result { () throws(SpoolError) -> [IngestReceipt] in
                try spool.writing { store throws(PostgresError) in try store.ingest(requests, carriedDuplicates: carriedDuplicates) }
            }
        }

        func batchCommitted(_ requests: [IncomingRequest]) { spool.noteCommitted(requests) }
    }

    private func noteCommitted(_ requests: [IncomingRequest]) {
        for request in requests where request.quarantineReason == nil {
            committedIndex.insert(request.events.lazy.map(\.id))
        }
    }

    package func committedInMemory(_ ids: [String]) -> Bool {
        !ids.isEmpty && !committer.isClosed && committedIndex.containsAll(ids)
    }

    package func committedEvents(_ ids: [String]) -> [Bool]? {
        guard !ids.isEmpty, !committer.isClosed else { return nil }
        return committedIndex.resolve(ids, maxLookUps: Spool.maxCommittedLookups) { missing throws(SpoolError) in
            try shared { store throws(PostgresError) in
                var found = Set<String>()
                for id in missing where try store.containsEvent(id: id) { found.insert(id) }
                return found
            }
        }
    }

    package func recordCommittedDuplicates(_ events: Int) {
        guard events > 0 else { return }
        committer.addUncountedDuplicates(events)
    }

    package func ingest(_ requests: [IncomingRequest]) throws(SpoolError) -> [IngestReceipt] {
        guard !requests.isEmpty else { return [] }
        try closedCheck("ingest")
        do throws(SpoolError) {
            let receipts = try writing { store throws(PostgresError) in try store.ingest(requests, carriedDuplicates: 0) }
            committer.recordCommit(requests.count)
            noteCommitted(requests)
            return receipts
        } catch {
            committer.recordFailure(requests.count)
            throw error
        }
    }

    package var counters: SpoolCounters { committer.counters }

    // MARK: Health

    /// PostgreSQL keeps its own data safe; an unreachable server is not a fault (it heals), it is an
    /// `.unavailable` error on every call until it comes back.
    package var fault: SpoolFault? { nil }
    package func onFault(_ observer: @escaping @Sendable (SpoolFault, _ first: Bool) -> Void) { faultObserver.withLock { $0 = observer } }
    package func verifyIdentity() -> SpoolFault? { nil }
    package func writerBusyFor(now: DispatchTime) -> Duration? { committer.busyFor(now: now) }

    // MARK: Delivery

    package func claim(destination: String, now: Double, limit: Int, withRequestBody: Bool) throws(SpoolError) -> [ClaimedDelivery] {
        try closedCheck("claim")
        let claimed = try shared { store throws(PostgresError) in
            try store.transaction("claim", planByIndex: true) { () throws(PostgresError) in
                try store.claim(destination: destination, now: now, limit: limit, withRequestBody: withRequestBody)
            }
        }
        hold(claimed)
        return claimed
    }

    @discardableResult
    package func record(_ outcomes: [DeliveryResult], now: Double) throws(SpoolError) -> [Int64] {
        guard !outcomes.isEmpty else { return [] }
        try closedCheck("record outcomes")
        // Recorded or not, the caller is done with them.
        defer { letGo(outcomes.lazy.map(\.deliveryID)) }
        return try shared { store throws(PostgresError) in
            try store.transaction("record outcomes", planByIndex: true) { () throws(PostgresError) in try store.applyOutcomes(outcomes, now: now).skipped }
        }
    }

    package func recordAndClaim(
        _ outcomes: [DeliveryResult], releasing: [Int64], destination: String, now: Double, limit: Int, withRequestBody: Bool
    ) throws(SpoolError) -> DeliveryTurn {
        try closedCheck("record outcomes and claim")
        let result = Result { () throws(SpoolError) -> DeliveryTurn in
            try shared { store throws(PostgresError) in
                try store.transaction(
                    "record outcomes and claim", deferredSync: !options.fsyncDeliveryTurns, planByIndex: true
                ) { () throws(PostgresError) in
                    try store.recordAndClaim(
                        outcomes, releasing: releasing, destination: destination, now: now, limit: limit, withRequestBody: withRequestBody)
                }
            }
        }
        // Recorded or not, the worker is done with these; then it holds what it claimed (a retry due
        // at once may be among both).
        letGo(outcomes.map(\.deliveryID) + releasing)
        let turn = try result.get()
        hold(turn.claimed)
        return turn
    }

    private func finish(
        id: Int64, state: DeliveryState, nextAttemptAt: Double?, error: String?, status: Int?, now: Double, operation: String
    ) throws(SpoolError) {
        try closedCheck(operation)
        defer { letGo(CollectionOfOne(id)) }
        let applied = try shared { store throws(PostgresError) in
            try store.transaction(operation) { () throws(PostgresError) in
                try store.applyAttempt(id: id, state: state, nextAttemptAt: nextAttemptAt, error: error, status: status, now: now)
            }
        }
        guard applied else {
            throw SpoolError(kind: .invalidState, message: "delivery \(id) is not inflight under this instance's lease", operation: operation)
        }
    }

    package func markDelivered(id: Int64, status: Int?, now: Double) throws(SpoolError) {
        try finish(id: id, state: .delivered, nextAttemptAt: nil, error: nil, status: status, now: now, operation: "mark delivery \(id) delivered")
    }

    package func scheduleRetry(id: Int64, at time: Double, error: String, status: Int?, now: Double) throws(SpoolError) {
        try finish(id: id, state: .pending, nextAttemptAt: time, error: error, status: status, now: now, operation: "schedule retry of delivery \(id)")
    }

    package func deadLetter(id: Int64, error: String, status: Int?, now: Double) throws(SpoolError) {
        try finish(id: id, state: .dead, nextAttemptAt: nil, error: error, status: status, now: now, operation: "dead-letter delivery \(id)")
    }

    package func nextDueTime(destination: String) throws(SpoolError) -> Double? {
        try closedCheck("next due time")
        return try shared { store throws(PostgresError) in try store.nextDueTime(destination: destination) }
    }

    @discardableResult
    package func retryDead(ids: [Int64]?, destination: String?, at time: Double) throws(SpoolError) -> Int {
        try closedCheck("retry dead")
        return try shared { store throws(PostgresError) in
            try store.transaction("retry dead") { () throws(PostgresError) in
                try store.retryDead(ids: ids, destination: destination, at: time, now: Clock.now())
            }
        }
    }

    // MARK: Inspection

    private func reading<T: Sendable>(_ operation: String, _ body: (PostgresStore) throws(PostgresError) -> T) throws(SpoolError) -> T {
        try closedCheck(operation)
        return try shared(body)
    }

    /// Folds the count changes into the totals first (best effort: a reader the database lets
    /// read only, or a failed fold, still gets the right counts, from more rows), then reads them.
    package func stats(now: Double) throws(SpoolError) -> SpoolStats {
        try reading("stats") { store throws(PostgresError) in
            try? store.compactCounts()
            // One snapshot for every count.
            try store.connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin stats")
            defer { try? store.connection.execute("COMMIT", "end stats") }
            return try store.stats(now: now)
        }
    }

    package func destinations() throws(SpoolError) -> [String] { try reading("list destinations") { store throws(PostgresError) in try store.destinations() } }

    package func request(id: Int64) throws(SpoolError) -> StoredRequest? {
        try reading("read request") { store throws(PostgresError) in try store.request(id: id) }
    }

    package func requests(afterID: Int64, limit: Int, status: RequestStatus?, since: Double?, until: Double?) throws(SpoolError)
        -> [StoredRequest]
    {
        try reading("list requests") { store throws(PostgresError) in
            try store.requests(afterID: afterID, limit: limit, status: status, since: since, until: until)
        }
    }

    package func requestSummaries(afterID: Int64, limit: Int, status: RequestStatus?) throws(SpoolError) -> [RequestSummary] {
        try reading("list requests") { store throws(PostgresError) in try store.requestSummaries(afterID: afterID, limit: limit, status: status) }
    }

    package func events(requestID: Int64) throws(SpoolError) -> [StoredEvent] {
        try reading("list events") { store throws(PostgresError) in try store.events(requestID: requestID) }
    }

    package func event(id: String) throws(SpoolError) -> StoredEvent? {
        try reading("read event") { store throws(PostgresError) in try store.event(id: id) }
    }

    package func deliveries(state: DeliveryState?, destination: String?, afterID: Int64, limit: Int) throws(SpoolError) -> [DeliveryRecord] {
        try reading("list deliveries") { store throws(PostgresError) in
            try store.deliveries(state: state, destination: destination, afterID: afterID, limit: limit)
        }
    }

    package func deliveries(eventID: String) throws(SpoolError) -> [DeliveryRecord] {
        try reading("list deliveries of event") { store throws(PostgresError) in try store.deliveries(eventID: eventID) }
    }

    package func delivery(id: Int64) throws(SpoolError) -> DeliveryRecord? {
        try reading("read delivery") { store throws(PostgresError) in try store.delivery(id: id) }
    }

    package func attempts(deliveryID: Int64) throws(SpoolError) -> [DeliveryAttempt] {
        try reading("list attempts") { store throws(PostgresError) in try store.attempts(deliveryID: deliveryID) }
    }

    package func comparison(_ pair: ComparisonPair) throws(SpoolError) -> PairComparison {
        try reading("compare destinations") { store throws(PostgresError) in try store.comparison(pair) }
    }

    package func disagreements(_ pair: ComparisonPair, afterSeq: Int64, limit: Int) throws(SpoolError) -> [Disagreement] {
        try reading("list disagreements") { store throws(PostgresError) in try store.disagreements(pair, afterSeq: afterSeq, limit: limit) }
    }

    // MARK: Retention and purge

    @discardableResult
    package func prune(now: Double, policy: RetentionPolicy) throws(SpoolError) -> PruneReport {
        var total = PruneReport()
        var afterSeq: Int64 = 0
        while true {
            let batch = try reading("prune events") { store throws(PostgresError) in
                try store.pruneEvents(before: policy.eventCutoff(now: now), afterSeq: afterSeq, limit: policy.batchSize)
            }
            total.add(batch.report)
            if batch.report.events > 0 { committedIndex.removeAll() }
            afterSeq = batch.last
            if batch.examined < policy.batchSize { break }
        }
        var afterID: Int64 = 0
        while true {
            let batch = try reading("prune requests") { store throws(PostgresError) in
                try store.pruneRequests(before: policy.requestCutoff(now: now), afterID: afterID, limit: policy.batchSize)
            }
            total.add(batch.report)
            afterID = batch.last
            if batch.examined < policy.batchSize { break }
        }
        return total
    }

    package func prunable(now: Double, policy: RetentionPolicy) throws(SpoolError) -> PruneReport {
        try reading("count prunable rows") { store throws(PostgresError) in
            try store.prunable(eventCutoff: policy.eventCutoff(now: now), requestCutoff: policy.requestCutoff(now: now))
        }
    }

    package func purgeCount(_ selection: PurgeSelection, asOf: Double) throws(SpoolError) -> Int {
        try reading("count rows to purge") { store throws(PostgresError) in try store.purgeCount(selection, asOf: asOf) }
    }

    @discardableResult
    package func purge(_ selection: PurgeSelection, asOf: Double, batchSize: Int) throws(SpoolError) -> Int {
        try PurgeSelection.purgeInBatches { afterID throws(SpoolError) in
            try reading("purge") { store throws(PostgresError) in
                try store.purgeBatch(selection, asOf: asOf, afterID: afterID, limit: max(1, batchSize))
            }
        }
    }

    // MARK: Closing

    package func close() {
        committer.close()
        closeConnections()
    }

    package func shutdown() async {
        await committer.shutdown()
        closeConnections()
    }

    private func closeConnections() {
        held.withLock { $0.removeAll() }
        let uncounted = committer.takeUncountedDuplicates()
        if uncounted > 0 {
            _ = try? writing { store throws(PostgresError) in
                try store.transaction("count duplicates") { () throws(PostgresError) in try store.addToCounter(.duplicateEvents, uncounted) }
            }
        }
        pool.closeAll()
        instanceLock?.release()
    }

    // MARK: Test hooks

    func _suspendWriter() { committer.suspendWriter() }
    func _resumeWriter() { committer.resumeWriter() }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
