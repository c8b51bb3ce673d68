import CutoverLocking
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The durable spool on SQLite: raw requests, canonical events (deduplicated by id) and deliveries.
///
/// Threading: every method may be called from any thread. There are two connections, each in a `Locked`
/// of its own, and every call runs on its caller's thread. The writer connection takes every write
/// (and the claim, which is one); `submit` never blocks and hands its request to the spool's own serial
/// writer queue, which group-commits everything queued in one transaction. The read-only connection
/// answers inspection (stats, listings, lookups): WAL gives it the last committed snapshot, so a read
/// never waits behind a commit's fsync and never sees a transaction in progress.
/// Completions run on that writer queue after the COMMIT returned; keep them short (hop elsewhere for
/// real work) since the next batch waits for them. They may call any method except `close()`/`shutdown()`.
package final class Spool: Sendable {
    package let directory: String
    /// The database file, `<directory>/spool.sqlite3`.
    package let path: String
    package let options: SpoolOptions
    /// What the start-up checks found.
    package let openReport: SpoolOpenReport
    /// The database file's device and inode when it was opened: before and after every ingest commit
    /// the path must still name it, or nothing is acknowledged.
    package let databaseIdentity: FileIdentity
    /// When (uptime nanoseconds) a check last found the path naming the open database.
    private let identityConfirmedAt = Atomic<UInt64>(0)

    /// nil once closed.
    private let database: Locked<SQLiteDatabase?>
    /// The read-only connection; nil once closed.
    private let reader: Locked<SQLiteDatabase?>
    /// The writer queue, its batch and the ingest counters.
    private let committer: GroupCommitter
    private let faultState = Locked<FaultState>(FaultState())
    /// Ids of recently committed events, for `committedEvents`.
    let committedIndex: CommittedEventIndex
    /// Checkpoints the WAL beside the writer, so no commit (and no 200) waits for one.
    let checkpointer: WALCheckpointer

    private struct FaultState {
        var fault: SpoolFault?
        var observer: (@Sendable (SpoolFault, _ first: Bool) -> Void)?
    }

    private init(
        directory: String, path: String, options: SpoolOptions, openReport: SpoolOpenReport, identity: FileIdentity,
        database: consuming sending SQLiteDatabase, reader: consuming sending SQLiteDatabase, checkpointer: WALCheckpointer
    ) {
        self.checkpointer = checkpointer
        self.directory = directory
        self.path = path
        self.options = options
        self.openReport = openReport
        databaseIdentity = identity
        self.database = Locked(Optional(database))
        self.reader = Locked(Optional(reader))
        committer = GroupCommitter(options: options)
        committedIndex = CommittedEventIndex(capacity: options.dedupIndexCapacity)
    }

    /// Opens (creating if needed) `<directory>/spool.sqlite3`: WAL, synchronous=FULL, foreign keys,
    /// busy timeout; the start-up checks (`SpoolIntegrity`: the `spool.id` marker, then
    /// `options.check`), which refuse with `.refused` naming the fix; schema migrated to the latest
    /// version; then the read-only connection. With `options.recoverInflight` (the default),
    /// deliveries left inflight by a crash go back to pending.
    package static func open(directory: String, options: SpoolOptions = SpoolOptions()) throws(SpoolError) -> Spool {
        try FileSystem.createDirectory(directory)
        let path = directory.hasSuffix("/") ? directory + "spool.sqlite3" : directory + "/spool.sqlite3"
        let database: SQLiteDatabase
        do throws(SpoolError) {
            database = try SQLiteDatabase(
                path: path, options: SQLiteDatabase.Options(busyTimeoutMilliseconds: options.busyTimeoutMilliseconds))
        } catch where error.isFault {
            // Page 1 is unreadable: even the journal-mode pragma fails.
            throw SpoolIntegrity.refusal(path: path, "\(path) is damaged: \(error)", code: error.code)
        }
        database.deliveryTurnSync = options.fsyncDeliveryTurns ? .full : .deferred
        let check = try SpoolIntegrity.verify(database, directory: directory, options: options)
        try database.migrate()
        guard let spoolID = try database.storedSpoolID() else {
            throw SpoolError(kind: .invalidState, message: "schema v5 left no spool id", operation: "open \(path)")
        }
        let wroteMarker = try SpoolIntegrity.writeMarkerIfMissing(directory: directory, spoolID: spoolID)
        if options.recoverInflight { try database.resetInflight(now: Clock.now()) }
        let reader = try SQLiteDatabase(
            path: path, options: SQLiteDatabase.Options(busyTimeoutMilliseconds: options.busyTimeoutMilliseconds, readOnly: true))
        let identity = try FileIdentity.of(path: path).get()
        try database.execute(
            "PRAGMA wal_autocheckpoint = \(WALCheckpointer.writerFallbackPages)", "leave checkpoints to the checkpointer")
        let checkpointer = try WALCheckpointer(path: path, busyTimeoutMilliseconds: options.busyTimeoutMilliseconds)
        return Spool(
            directory: directory, path: path, options: options,
            openReport: SpoolOpenReport(spoolID: spoolID, check: check, wroteMarker: wroteMarker), identity: identity,
            database: database, reader: reader, checkpointer: checkpointer)
    }

    /// Wall-clock unix seconds, the time base of every `Double` time the spool stores.
    package static func currentTime() -> Double { Clock.now() }

    // MARK: Ingest

    /// Starts a request's way through ingest: its commit timeout (`options.commitTimeout`) runs from
    /// now, and once it passed `onTimeout` answers a request not yet submitted (on the timeout queue).
    package func admit(onTimeout: @escaping @Sendable (SpoolError) -> Void) -> IngestTicket {
        committer.admit(onTimeout: onTimeout)
    }

    package func onUnansweredDeliveries(_ observer: @escaping @Sendable () -> Void) { committer.onUnansweredDeliveries(observer) }

    /// Queues `request` for the next group commit. `completion` is called at most once: with the
    /// receipt only after the transaction holding the request committed (fsynced) into the database
    /// the spool's path still names; or with the error that rolled the whole batch back; or, once
    /// the commit timeout passed, with `.timeout` (on the timeout queue; a commit finishing later is
    /// not reported, and a request still queued then is not written at all). Never for a ticket the
    /// timeout answered before this call: that request is not written either. After `close()`, or
    /// once the spool is lost, completes at once, on the caller's thread, with that error.
    package func submit(
        _ request: IncomingRequest, ticket: IngestTicket,
        completion: @escaping @Sendable (Result<IngestReceipt, SpoolError>) -> Void
    ) {
        if let fault = fault, fault.kind == .lost {
            note(fault)
            committer.refuse(ticket: ticket, completion: completion, lostError(fault))
            return
        }
        committer.submit(request, ticket: ticket, to: Writer(spool: self), completion: completion)
    }

    /// The group committer's view of this spool (held only while a drain runs, so no cycle).
    private struct Writer: GroupCommitWriter {
        let spool: Spool

        func writeBatch(_ requests: [IncomingRequest], carriedDuplicates: Int) -> Result<[IngestReceipt], SpoolError> {
            Result { () throws(SpoolError) -> [IngestReceipt] in
                try spool.withDatabase("ingest") { database throws(SpoolError) in
                    // Before: do not write into a file nobody will open again. After: the file may
                    // have gone during the commit; a 200 now would acknowledge what is not stored.
                    try spool.verifyIdentityOrThrow()
                    let receipts = try database.ingest(requests, carriedDuplicates: carriedDuplicates)
                    try spool.verifyIdentityOrThrow()
                    return receipts
                }
            }
        }

        func batchCommitted(_ requests: [IncomingRequest]) { spool.noteCommitted(requests) }
    }

    /// Most ids of one call that `committedEvents` looks up in the database: a body of many new
    /// events skips the lookup rather than paying one query per id (the writer deduplicates anyway).
    package static let maxCommittedLookups = 64

    /// For each of `ids`, whether an event with that id is stored by a committed transaction in the
    /// database the spool's path still names: the dedup index first, then the read-only connection
    /// (which sees only committed data) for the ids the index does not hold. nil when that cannot be
    /// said (the spool is closed or lost, more than `maxCommittedLookups` misses): submit as usual.
    /// An id only in a batch not yet committed is not committed: its retry waits for the writer.
    package func committedEvents(_ ids: [String]) -> [Bool]? {
        guard !ids.isEmpty, fault?.kind != .lost, !committer.isClosed else { return nil }
        let resolved = committedIndex.resolve(ids, maxLookUps: Self.maxCommittedLookups) { missing throws(SpoolError) in
            try withReader("look up committed event ids") { database throws(SpoolError) in
                var found = Set<String>()
                for id in missing where try database.containsEvent(id: id) { found.insert(id) }
                return found
            }
        }
        guard let known = resolved else { return nil }
        // As before every 200 of the writer: the ids are in the file the path still names.
        if known.contains(true), !identityConfirmedRecently() { return nil }
        return known
    }

    package func committedInMemory(_ ids: [String]) -> Bool {
        guard !ids.isEmpty, fault?.kind != .lost, !committer.isClosed, committedIndex.containsAll(ids) else { return false }
        // As before every 200 of the writer: the ids are in the file the path still names.
        return identityConfirmedRecently()
    }

    /// How long a passed identity check stands for the answers to retries found committed.
    package static let identityCheckReuse: UInt64 = 1_000_000

    /// Whether the path names the open database, by a check of the last `identityCheckReuse`
    /// nanoseconds or a new one. A retry found in memory costs no more than a `/healthz`, so a path
    /// walk (`stat`) of its own was a third of its syscalls at tens of thousands a second; one check
    /// a millisecond answers them all. A loss is still seen: the writer checks before and after
    /// every commit, and once a check failed the spool is lost for every later call (`fault`).
    private func identityConfirmedRecently() -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        if now &- identityConfirmedAt.load(ordering: .relaxed) < Self.identityCheckReuse { return true }
        return verifyIdentity() == nil
    }

    /// `events` stored events of a request answered without a spool write: the persistent dedup
    /// count (`spool stats`) takes them with the next commit, or at close.
    package func recordCommittedDuplicates(_ events: Int) {
        guard events > 0 else { return }
        committer.addUncountedDuplicates(events)
    }

    /// After a commit: its events' ids (new and duplicate alike, all stored now) go in the index.
    private func noteCommitted(_ requests: [IncomingRequest]) {
        for request in requests where request.quarantineReason == nil {
            committedIndex.insert(request.events.lazy.map(\.id))
        }
    }

    /// Stores `requests` in one transaction on the caller's thread, bypassing the batcher; like a
    /// group commit, only into the database the path still names.
    package func ingest(_ requests: [IncomingRequest]) throws(SpoolError) -> [IngestReceipt] {
        guard !requests.isEmpty else { return [] }
        do throws(SpoolError) {
            let receipts = try withDatabase("ingest") { database throws(SpoolError) in
                try verifyIdentityOrThrow()
                let receipts = try database.ingest(requests)
                try verifyIdentityOrThrow()
                return receipts
            }
            committer.recordCommit(requests.count)
            noteCommitted(requests)
            return receipts
        } catch {
            committer.recordFailure(requests.count)
            throw error
        }
    }

    /// How long the batch being written has been at it, nil while the writer is idle: a commit that
    /// runs for long means a stalled disk.
    package func writerBusyFor(now: DispatchTime = .now()) -> Duration? { committer.busyFor(now: now) }

    // MARK: Faults

    /// The fault that makes this spool untrustworthy until a restart, if one was seen.
    package var fault: SpoolFault? { faultState.withLock { $0.fault } }

    /// `observer` is told about every error that shows a fault (`first` for the one that set it):
    /// log the first, count them all. Called on whichever thread met the error; keep it short.
    package func onFault(_ observer: @escaping @Sendable (SpoolFault, _ first: Bool) -> Void) {
        faultState.withLock { $0.observer = observer }
    }

    /// Whether `path` still names the database the spool has open; when it does not, the spool is
    /// lost from now on (every later submit fails at once) and the fault is returned.
    @discardableResult
    package func verifyIdentity() -> SpoolFault? {
        let reason: String
        let checkedAt = DispatchTime.now().uptimeNanoseconds
        switch FileIdentity.of(path: path) {
        case .success(let current) where current == databaseIdentity:
            identityConfirmedAt.store(checkedAt, ordering: .relaxed)
            return nil
        case .success: reason = "spool database \(path) was replaced by another file"
        case .failure(let error) where error.code == ENOENT || error.code == ENOTDIR:
            reason = "spool database \(path) was removed"
        case .failure(let error): reason = "spool database \(path) cannot be verified: \(error)"
        }
        let fault = SpoolFault(kind: .lost, reason: reason + "; nothing more is acknowledged until cutover restarts")
        note(fault)
        return fault
    }

    private func verifyIdentityOrThrow() throws(SpoolError) {
        if let fault = verifyIdentity() { throw lostError(fault) }
    }

    private func lostError(_ fault: SpoolFault) -> SpoolError {
        SpoolError(kind: .lost, message: fault.reason, operation: "ingest")
    }

    private func note(_ fault: SpoolFault) {
        let (observer, first) = faultState.withLock { state in
            // A lost spool stays lost; corruption found later does not hide that.
            let first = state.fault == nil || (state.fault?.kind == .corrupt && fault.kind == .lost)
            if first { state.fault = fault }
            return (state.observer, first)
        }
        observer?(fault, first)
    }

    private func noteIfFault(_ error: SpoolError) {
        // Lost errors were noted where the identity check failed.
        if error.kind != .lost, let fault = SpoolFault.of(error) { note(fault) }
    }

    /// Ingest counters of this process.
    package var counters: SpoolCounters { committer.counters }

    // MARK: Delivery

    /// Claims up to `limit` due pending deliveries of `destination` (next_attempt_at <= now) and marks
    /// them inflight. Only the earliest open delivery of each contact is claimable, so one contact's
    /// events go out in arrival order and a failing one holds back only that contact.
    /// `withRequestBody` also reads each event's raw request body (for `raw` destinations).
    package func claim(destination: String, now: Double, limit: Int, withRequestBody: Bool = false) throws(SpoolError) -> [ClaimedDelivery] {
        try withDatabase("claim") { database throws(SpoolError) in
            try database.claim(destination: destination, now: now, limit: limit, withRequestBody: withRequestBody)
        }
    }

    /// Records several attempts' outcomes in one transaction (one fsync); deliveries no longer
    /// inflight are skipped and returned.
    @discardableResult
    package func record(_ outcomes: [DeliveryResult], now: Double = Spool.currentTime()) throws(SpoolError) -> [Int64] {
        guard !outcomes.isEmpty else { return [] }
        return try withDatabase("record outcomes") { database throws(SpoolError) in
            try database.finishAttempts(outcomes, now: now)
        }
    }

    /// A worker's turn in one transaction (one fsync): records `outcomes` (deliveries no longer
    /// inflight are skipped and returned), puts `releasing` (claimed, never sent) back to pending, then
    /// claims up to `limit` due deliveries as `claim` does. Recording first lets a contact whose head
    /// just finished have its next delivery claimed in the same turn.
    package func recordAndClaim(
        _ outcomes: [DeliveryResult], releasing: [Int64] = [], destination: String, now: Double, limit: Int,
        withRequestBody: Bool = false
    ) throws(SpoolError) -> DeliveryTurn {
        try withDatabase("record outcomes and claim") { database throws(SpoolError) in
            try database.recordAndClaim(
                outcomes, releasing: releasing, destination: destination, now: now, limit: limit, withRequestBody: withRequestBody)
        }
    }

    /// Records a successful attempt: the delivery is done.
    package func markDelivered(id: Int64, status: Int?, now: Double = Spool.currentTime()) throws(SpoolError) {
        try withDatabase("mark delivered") { database throws(SpoolError) in
            try database.finishAttempt(
                id: id, state: .delivered, nextAttemptAt: nil, error: nil, status: status, now: now,
                operation: "mark delivery \(id) delivered")
        }
    }

    /// Records a failed attempt and puts the delivery back to pending, due at `time`.
    package func scheduleRetry(
        id: Int64, at time: Double, error: String, status: Int?, now: Double = Spool.currentTime()
    ) throws(SpoolError) {
        try withDatabase("schedule retry") { database throws(SpoolError) in
            try database.finishAttempt(
                id: id, state: .pending, nextAttemptAt: time, error: error, status: status, now: now,
                operation: "schedule retry of delivery \(id)")
        }
    }

    /// Records a final failed attempt: the delivery becomes a dead letter (listable, retryable).
    package func deadLetter(id: Int64, error: String, status: Int?, now: Double = Spool.currentTime()) throws(SpoolError) {
        try withDatabase("dead-letter") { database throws(SpoolError) in
            try database.finishAttempt(
                id: id, state: .dead, nextAttemptAt: nil, error: error, status: status, now: now,
                operation: "dead-letter delivery \(id)")
        }
    }

    /// When the next claimable delivery of `destination` is due (possibly in the past), or nil if none
    /// is. Deliveries held behind an inflight one of the same contact do not count: they become
    /// claimable when that one's outcome is recorded. A worker sleeps until this time, until one of its
    /// inflight deliveries finishes, or until it is told new work arrived.
    package func nextDueTime(destination: String) throws(SpoolError) -> Double? {
        try withDatabase("next due time") { database throws(SpoolError) in
            try database.nextDueTime(destination: destination)
        }
    }

    /// Puts dead deliveries back to pending, due at `time`, attempts reset to 0. `ids` nil: every dead
    /// delivery (of `destination` if given). Returns how many were re-queued.
    @discardableResult
    package func retryDead(
        ids: [Int64]? = nil, destination: String? = nil, at time: Double = Spool.currentTime()
    ) throws(SpoolError) -> Int {
        try withDatabase("retry dead") { database throws(SpoolError) in
            try database.retryDead(ids: ids, destination: destination, at: time, now: Clock.now())
        }
    }

    // MARK: Inspection

    package func stats(now: Double = Spool.currentTime()) throws(SpoolError) -> SpoolStats {
        try withReader("stats") { database throws(SpoolError) in try database.stats(now: now) }
    }

    /// Every destination that has deliveries.
    package func destinations() throws(SpoolError) -> [String] {
        try withReader("list destinations") { database throws(SpoolError) in try database.destinations() }
    }

    package func request(id: Int64) throws(SpoolError) -> StoredRequest? {
        try withReader("read request") { database throws(SpoolError) in try database.request(id: id) }
    }

    /// Stored requests with id > `afterID`, ascending; pass the last id to page on.
    package func requests(
        afterID: Int64 = 0, limit: Int = 100, status: RequestStatus? = nil, since: Double? = nil, until: Double? = nil
    ) throws(SpoolError) -> [StoredRequest] {
        try withReader("list requests") { database throws(SpoolError) in
            try database.requests(afterID: afterID, limit: limit, status: status, since: since, until: until)
        }
    }

    package func events(requestID: Int64) throws(SpoolError) -> [StoredEvent] {
        try withReader("list events") { database throws(SpoolError) in try database.events(requestID: requestID) }
    }

    /// Delivery rows with id > `afterID`, ascending; pass the last id to page on.
    package func deliveries(
        state: DeliveryState? = nil, destination: String? = nil, afterID: Int64 = 0, limit: Int = 100
    ) throws(SpoolError) -> [DeliveryRecord] {
        try withReader("list deliveries") { database throws(SpoolError) in
            try database.deliveries(state: state, destination: destination, afterID: afterID, limit: limit)
        }
    }

    // MARK: Closing

    /// Rejects new submissions, lets the writer finish everything already submitted (their completions
    /// run), then closes both connections. Later calls fail with `.closed`. Idempotent. For synchronous
    /// callers (commands, tests): it blocks the calling thread until the writer is done, so it must not
    /// be called from a completion (which runs on that writer) nor from async code (use `shutdown()`).
    package func close() {
        committer.close()
        closeConnections()
    }

    /// `close()` for async code: the wait for the writer suspends instead of blocking a thread.
    package func shutdown() async {
        await committer.shutdown()
        closeConnections()
    }

    private func closeConnections() {
        // On the closing thread once the writer is done: the duplicates no later commit will carry.
        let uncounted = committer.takeUncountedDuplicates()
        if uncounted > 0, fault == nil {
            try? withDatabase("count duplicates") { database throws(SpoolError) in
                try database.transaction("count duplicates") { () throws(SpoolError) in
                    try database.addToCounter(.duplicateEvents, uncounted)
                }
            }
        }
        reader.withLock { reader in
            reader?.close()
            reader = nil
        }
        // Before the writer: closing the last connection checkpoints what is left.
        checkpointer.close()
        database.withLock { database in
            database?.close()
            database = nil
        }
    }

    // MARK: Internals

    /// The writer connection, for writes and for reads that must follow the caller's own writes in
    /// the same critical section.
    func withDatabase<T: Sendable>(
        _ operation: @autoclosure () -> String, _ body: (SQLiteDatabase) throws(SpoolError) -> T
    ) throws(SpoolError) -> T {
        do throws(SpoolError) {
            return try Self.with(database, operation(), body)
        } catch {
            noteIfFault(error)
            throw error
        }
    }

    /// The read-only connection: waits for other readers only, never for the writer's commit.
    func withReader<T: Sendable>(
        _ operation: @autoclosure () -> String, _ body: (SQLiteDatabase) throws(SpoolError) -> T
    ) throws(SpoolError) -> T {
        do throws(SpoolError) {
            return try Self.with(reader, operation(), body)
        } catch {
            noteIfFault(error)
            throw error
        }
    }

    private static func with<T: Sendable>(
        _ connection: Locked<SQLiteDatabase?>, _ operation: @autoclosure () -> String,
        _ body: (SQLiteDatabase) throws(SpoolError) -> T
    ) throws(SpoolError) -> T {
        try connection.withLock { (database: inout SQLiteDatabase?) throws(SpoolError) -> T in
            guard let database else { throw SpoolError.closed(operation()) }
            return try body(database)
        }
    }

    /// Test hook: runs raw SQL (for example to install a failing trigger).
    func _execute(_ sql: String) throws(SpoolError) {
        try withDatabase("execute") { database throws(SpoolError) in try database.execute(sql, "execute \(sql)") }
    }

    /// Test hook: runs `body` on the caller's thread while the writer connection holds an open write
    /// transaction with an uncommitted insert, as during a group commit.
    func _insideWriteTransaction(_ body: () -> Void) throws(SpoolError) {
        try withDatabase("hold a write transaction") { database throws(SpoolError) in
            try database.transaction("hold a write transaction") { () throws(SpoolError) in
                try database.run(
                    "INSERT INTO requests (received_at, route, headers, body, status) VALUES (0, 'held', x'', x'', 'accepted')",
                    "insert a held request")
                database.countDeltas.addRequests(1, status: .accepted)
                body()
            }
        }
    }

    /// Test hook: another thread holds the writer connection inside an open write transaction (as a
    /// commit stalled in its fsync would) from when this returns until the returned function is called;
    /// that function returns once the transaction committed and the connection is free.
    func _stallWriterConnection() -> @Sendable () -> Void {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue(label: "cutover.spool.test-stall").async {
            try? self._insideWriteTransaction {
                entered.signal()
                release.wait()
            }
            done.signal()
        }
        entered.wait()
        return {
            release.signal()
            done.wait()
        }
    }

    /// Test hook: `observer` runs on the writer as each batch starts (nil: none).
    func _onBatchStart(_ observer: (@Sendable () -> Void)?) { committer.onBatchStart(observer) }

    /// Test hook: holds the writer so submissions pile up (deterministic batching); pair with `_resumeWriter`.
    func _suspendWriter() { committer.suspendWriter() }
    func _resumeWriter() { committer.resumeWriter() }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue &+ attoseconds / 1_000_000_000
    }

    var dispatchInterval: DispatchTimeInterval { .nanoseconds(Int(clamping: nanoseconds)) }
}

extension Spool: SpoolBackend {
    package var location: String { path }
    package var probedDirectory: String? { directory }
}
