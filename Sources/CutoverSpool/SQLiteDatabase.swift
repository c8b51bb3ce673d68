import CSQLite
import CSQLiteWAL

/// One SQLite connection with a cache of prepared statements. Every sqlite3 call is checked and a
/// failure becomes a `SpoolError` carrying the result code, `sqlite3_errmsg` and the operation.
///
/// Not thread-safe and deliberately not `Sendable`: `Spool` keeps each connection inside a `Locked`, so
/// exactly one thread uses it at a time. Connections are opened with `SQLITE_OPEN_NOMUTEX` for that reason.
final class SQLiteDatabase {
    private(set) var handle: OpaquePointer?
    let path: String
    private var statements: [String: Statement] = [:]
    /// What the open write transaction changed in the stored counts, written before its COMMIT.
    var countDeltas = RowCountDeltas()
    /// How a delivery turn's COMMIT syncs (`SpoolOptions.fsyncDeliveryTurns`); every other write
    /// transaction syncs in full.
    var deliveryTurnSync = CommitSync.full
    /// `PRAGMA synchronous` as last set on this connection (FULL at open).
    private var commitSync = CommitSync.full

    /// Whether COMMIT returns only after the WAL's fsync. In WAL mode a `deferred` commit still
    /// writes its frames to the WAL before it returns (a process crash loses nothing); they become
    /// durable with the next `full` commit, whose fsync of the WAL covers every earlier frame, or
    /// at a checkpoint. A power loss before that rolls such a transaction back, whole.
    enum CommitSync {
        case full, deferred
    }

    struct Options {
        var busyTimeoutMilliseconds: Int32 = 5_000
        /// A reader beside the spool's writer connection: WAL lets it read the last committed state
        /// while the writer is inside a transaction or its fsync, so it never waits for a commit.
        /// The file must already exist in WAL mode (the writer opens first).
        var readOnly = false
    }

    init(path: String, options: Options = Options()) throws(SpoolError) {
        self.path = path
        var db: OpaquePointer?
        let flags = (options.readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        // A transaction's WAL frames go out in one write call instead of two per frame
        // (CSQLiteWAL.h); for everything else that VFS is the default one.
        let registered = cutover_sqlite3_register_wal_vfs()
        guard registered == SQLITE_OK else {
            throw SpoolError(
                kind: .sqlite, code: registered, message: String(cString: sqlite3_errstr(registered)),
                operation: "register the \(CUTOVER_WAL_VFS_NAME) VFS")
        }
        let rc = sqlite3_open_v2(path, &db, flags, CUTOVER_WAL_VFS_NAME)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SpoolError(kind: .sqlite, code: rc, message: message, operation: "open \(path)")
        }
        handle = db
        do throws(SpoolError) {
            try check(sqlite3_extended_result_codes(db, 1), "enable extended result codes")
            try check(sqlite3_busy_timeout(db, options.busyTimeoutMilliseconds), "set busy timeout")
            // A read-only connection cannot change the mode; asking it only reads the file's mode.
            let mode = try scalarText(
                options.readOnly ? "PRAGMA journal_mode" : "PRAGMA journal_mode = WAL", "switch to WAL journal mode")
            guard mode?.lowercased() == "wal" else {
                throw SpoolError(
                    kind: .sqlite, code: SQLITE_ERROR,
                    message: "journal_mode is \(mode ?? "unknown"), WAL is required",
                    operation: "switch to WAL journal mode")
            }
            if !options.readOnly {
                // FULL: in WAL mode every COMMIT fsyncs the WAL, so a commit that returned survives
                // power loss (`transaction(sync:)` relaxes it for delivery turns only).
                try execute("PRAGMA synchronous = FULL", "set synchronous = FULL")
                try execute("PRAGMA foreign_keys = ON", "enable foreign keys")
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Finalizes every cached statement and closes the connection. Idempotent.
    /// `sqlite3_close_v2` only fails for a bad handle, which cannot happen here.
    func close() {
        for statement in statements.values { statement.finalize() }
        statements.removeAll()
        if let handle {
            sqlite3_close_v2(handle)
            self.handle = nil
        }
    }

    // MARK: Errors

    func error(_ rc: Int32, _ operation: String) -> SpoolError {
        let message: String
        if let handle, sqlite3_errcode(handle) != SQLITE_OK {
            message = String(cString: sqlite3_errmsg(handle))
        } else {
            message = String(cString: sqlite3_errstr(rc))
        }
        return SpoolError(kind: .sqlite, code: rc, message: message, operation: operation)
    }

    func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(SpoolError) {
        if rc != SQLITE_OK { throw error(rc, operation()) }
    }

    private func connection(_ operation: @autoclosure () -> String) throws(SpoolError) -> OpaquePointer {
        guard let handle else { throw SpoolError.closed(operation()) }
        return handle
    }

    // MARK: Statements

    /// The cached prepared statement for `sql`, prepared on first use.
    func statement(_ sql: String) throws(SpoolError) -> Statement {
        if let cached = statements[sql] { return cached }
        let db = try connection("prepare \(sql)")
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else {
            sqlite3_finalize(raw)
            throw error(rc, "prepare \(sql)")
        }
        let statement = Statement(handle: raw, sql: sql, database: self)
        statements[sql] = statement
        return statement
    }

    /// Runs a statement to completion and returns the number of rows it changed.
    @discardableResult
    func run(
        _ sql: String, _ operation: @autoclosure () -> String,
        bind: (Statement) throws(SpoolError) -> Void = { _ in }
    ) throws(SpoolError) -> Int {
        let statement = try statement(sql)
        defer { statement.reset() }
        try bind(statement)
        while try statement.step(operation()) {}
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and maps every row.
    func rows<T>(
        _ sql: String, _ operation: @autoclosure () -> String,
        bind: (Statement) throws(SpoolError) -> Void = { _ in },
        read: (Statement) throws(SpoolError) -> T
    ) throws(SpoolError) -> [T] {
        let statement = try statement(sql)
        defer { statement.reset() }
        try bind(statement)
        var result: [T] = []
        while try statement.step(operation()) { result.append(try read(statement)) }
        return result
    }

    /// Runs a query and maps its first row, if any.
    func firstRow<T>(
        _ sql: String, _ operation: @autoclosure () -> String,
        bind: (Statement) throws(SpoolError) -> Void = { _ in },
        read: (Statement) throws(SpoolError) -> T
    ) throws(SpoolError) -> T? {
        let statement = try statement(sql)
        defer { statement.reset() }
        try bind(statement)
        return try statement.step(operation()) ? try read(statement) : nil
    }

    /// Executes one or more statements without caching them (schema, pragmas).
    func execute(_ sql: String, _ operation: @autoclosure () -> String) throws(SpoolError) {
        let db = try connection(operation())
        var messagePointer: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &messagePointer)
        if rc != SQLITE_OK {
            let message = messagePointer.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(messagePointer)
            throw SpoolError(kind: .sqlite, code: sqlite3_extended_errcode(db), message: message, operation: operation())
        }
    }

    private func scalarText(_ sql: String, _ operation: String) throws(SpoolError) -> String? {
        try firstRow(sql, operation) { $0.optionalString(0) } ?? nil
    }

    var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// What the `cutover-wal` VFS did with this connection's open WAL: frames appended through
    /// it and write calls made to the file (nil when no WAL is open). For tests.
    var walWrites: (frames: Int64, calls: Int64)? {
        guard let handle else { return nil }
        var frames: Int64 = 0
        var calls: Int64 = 0
        guard cutover_sqlite3_wal_vfs_counts(handle, &frames, &calls) == SQLITE_OK else { return nil }
        return (frames, calls)
    }

    var isInTransaction: Bool { handle.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    // MARK: Transactions

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT`. On any failure, including a failed COMMIT,
    /// the transaction is rolled back so nothing partial stays, and the error is rethrown.
    func transaction<T>(
        _ operation: @autoclosure () -> String, sync: CommitSync = .full, _ body: () throws(SpoolError) -> T
    ) throws(SpoolError) -> T {
        if sync != commitSync {
            try run(sync == .full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", "set synchronous for: \(operation())")
            commitSync = sync
        }
        return try transaction(beginning: "BEGIN IMMEDIATE", operation(), body)
    }

    /// Runs `body` inside a deferred `BEGIN ... COMMIT` that only reads: every statement in it sees
    /// the same committed snapshot, so counts read one after the other agree with each other.
    func readTransaction<T>(
        _ operation: @autoclosure () -> String, _ body: () throws(SpoolError) -> T
    ) throws(SpoolError) -> T {
        try transaction(beginning: "BEGIN", operation(), body)
    }

    private func transaction<T>(
        beginning begin: String, _ operation: @autoclosure () -> String, _ body: () throws(SpoolError) -> T
    ) throws(SpoolError) -> T {
        try run(begin, "begin transaction: \(operation())")
        countDeltas.removeAll()
        do throws(SpoolError) {
            let value = try body()
            try writeCountDeltas()
            try run("COMMIT", "commit: \(operation())")
            return value
        } catch {
            countDeltas.removeAll()
            rollback()
            throw error
        }
    }

    /// Rolls back if a transaction is still open. SQLite may already have rolled back on its own
    /// (for example after SQLITE_FULL or SQLITE_IOERR); the ROLLBACK's own failure changes nothing
    /// for the caller, who is already reporting the original error.
    private func rollback() {
        guard isInTransaction else { return }
        _ = try? run("ROLLBACK", "roll back")
    }
}

/// A prepared statement owned by its `SQLiteDatabase` cache. Bind indexes are 1-based, column indexes 0-based.
final class Statement {
    private(set) var handle: OpaquePointer?
    let sql: String
    private unowned let database: SQLiteDatabase
    /// Per parameter, this statement's own copy of the text or blob bound there, which SQLite reads
    /// in place (`SQLITE_STATIC`): with `SQLITE_TRANSIENT` SQLite mallocs a copy of every text and
    /// blob of every execution (about twenty per stored event). A buffer is kept for the next
    /// execution and freed with the statement; values larger than `maxKeptBindingBytes` are bound
    /// as transient copies instead, so a 3 MB body does not stay allocated.
    private var bindingBuffers: [UnsafeMutableRawBufferPointer?]
    static let maxKeptBindingBytes = 64 * 1024

    init(handle: OpaquePointer, sql: String, database: SQLiteDatabase) {
        self.handle = handle
        self.sql = sql
        self.database = database
        bindingBuffers = Array(repeating: nil, count: Int(sqlite3_bind_parameter_count(handle)) + 1)
    }

    deinit { freeBindingBuffers() }

    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
        freeBindingBuffers()
    }

    private func freeBindingBuffers() {
        for index in bindingBuffers.indices {
            bindingBuffers[index]?.deallocate()
            bindingBuffers[index] = nil
        }
    }

    /// A copy of `bytes` in parameter `index`'s buffer, valid until the next bind of that parameter
    /// or the statement's end; nil when the value is too large to keep (bind it transient).
    /// Only called between executions: `reset` cleared the previous bindings, so SQLite holds no
    /// pointer into a buffer that is replaced here.
    private func keptCopy(_ bytes: UnsafeRawBufferPointer, at index: Int32) -> UnsafeRawPointer? {
        let slot = Int(index)
        guard bytes.count <= Self.maxKeptBindingBytes, slot > 0, slot < bindingBuffers.count, let source = bytes.baseAddress
        else { return nil }
        let buffer: UnsafeMutableRawBufferPointer
        if let kept = bindingBuffers[slot], kept.count >= bytes.count {
            buffer = kept
        } else {
            bindingBuffers[slot]?.deallocate()
            // A power of two, so values that grow a little do not reallocate every time.
            let capacity = max(64, 1 << (Int.bitWidth - (bytes.count - 1).leadingZeroBitCount))
            buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
            bindingBuffers[slot] = buffer
        }
        guard let base = buffer.baseAddress else { return nil }
        base.copyMemory(from: source, byteCount: bytes.count)
        return UnsafeRawPointer(base)
    }

    /// Resets the statement and clears its bindings. The return of `sqlite3_reset` repeats the error
    /// of the last step, which `step` already reported; `sqlite3_clear_bindings` always returns OK.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Steps once: true when a row is available, false when done.
    func step(_ operation: @autoclosure () -> String) throws(SpoolError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(rc, operation())
        }
    }

    // MARK: Binding

    private func checkBind(_ rc: Int32, _ index: Int32) throws(SpoolError) {
        if rc != SQLITE_OK { throw database.error(rc, "bind parameter \(index) of \(sql)") }
    }

    func bind(_ value: Int64, at index: Int32) throws(SpoolError) {
        try checkBind(sqlite3_bind_int64(handle, index, value), index)
    }

    func bind(_ value: Int, at index: Int32) throws(SpoolError) {
        try bind(Int64(value), at: index)
    }

    func bind(_ value: Double, at index: Int32) throws(SpoolError) {
        try checkBind(sqlite3_bind_double(handle, index, value), index)
    }

    func bind(_ value: String, at index: Int32) throws(SpoolError) {
        var value = value
        let rc = value.withUTF8 { utf8 -> Int32 in
            guard let base = utf8.baseAddress, utf8.count > 0 else {
                // A nil pointer would bind NULL; bind the empty string explicitly.
                return cutover_sqlite3_bind_text_transient(handle, index, "", 0)
            }
            let bytes = UnsafeRawBufferPointer(start: base, count: utf8.count)
            if let kept = keptCopy(bytes, at: index) {
                return cutover_sqlite3_bind_text_static(handle, index, kept.assumingMemoryBound(to: CChar.self), Int32(utf8.count))
            }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                cutover_sqlite3_bind_text_transient(handle, index, $0, Int32(utf8.count))
            }
        }
        try checkBind(rc, index)
    }

    func bind(_ value: [UInt8], at index: Int32) throws(SpoolError) {
        let rc = value.withUnsafeBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else {
                // A nil pointer would bind NULL; an empty blob is a zero-length blob.
                return sqlite3_bind_zeroblob(handle, index, 0)
            }
            if let kept = keptCopy(bytes, at: index) {
                return cutover_sqlite3_bind_blob_static(handle, index, kept, Int32(bytes.count))
            }
            return cutover_sqlite3_bind_blob_transient(handle, index, base, Int32(bytes.count))
        }
        try checkBind(rc, index)
    }

    func bind(_ value: String?, at index: Int32) throws(SpoolError) {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    func bind(_ value: Int?, at index: Int32) throws(SpoolError) {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    func bind(_ value: Double?, at index: Int32) throws(SpoolError) {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    func bindNull(at index: Int32) throws(SpoolError) {
        try checkBind(sqlite3_bind_null(handle, index), index)
    }

    // MARK: Columns

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    func optionalInt(_ column: Int32) -> Int? { isNull(column) ? nil : int(column) }
    func optionalDouble(_ column: Int32) -> Double? { isNull(column) ? nil : double(column) }

    func string(_ column: Int32) -> String { optionalString(column) ?? "" }

    func optionalString(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func bytes(_ column: Int32) -> [UInt8] {
        guard let blob = sqlite3_column_blob(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return [UInt8](UnsafeRawBufferPointer(start: blob, count: count))
    }
}
