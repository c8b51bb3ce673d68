import CLibPQ

/// One libpq connection. Every call is checked: a failure becomes a `PostgresError` with
/// `PQerrorMessage` (or the result's message) and its SQLSTATE.
///
/// Not thread-safe and deliberately not `Sendable`: its owner keeps it inside a `Locked` (or a pool
/// slot), so exactly one thread uses it at a time, as libpq requires of a `PGconn`.
package final class PostgresConnection {
    private var handle: OpaquePointer?
    /// The connection string without its password, for messages.
    package let displayName: String
    /// This session's prepared statements, by SQL and parameter types (a NULL's type is the
    /// server's guess, so the same SQL with a typed value is another statement).
    private var preparedStatements: [PreparedStatementKey: PreparedStatement] = [:]
    /// Statements prepared over the session's life: each gets a name of its own.
    private var preparations = 0
    /// Beyond this many, statements run unprepared: SQL built from values must not grow the session.
    package static let maxPreparedStatements = 128
    /// A prepared statement is prepared again once this old: the server may keep one generic plan
    /// for it, costed on the tables as they were, and a plan made while they were small (sequential
    /// scans, joins by filter) would otherwise outlive their growth for the whole session.
    package var preparedPlanLifetime: Duration = .seconds(10)

    /// Connects with `url` (a `postgresql://` URL or a `key=value` string) and `password`, if given
    /// (kept out of the URL so it never shows in logs). `connectTimeout` seconds bound the attempt.
    package init(url: String, password: String?, connectTimeout: Int = 5, applicationName: String = "cutover") throws(PostgresError) {
        displayName = Self.redacted(url)
        var keys = ["dbname", "connect_timeout", "application_name"]
        var values = [url, String(connectTimeout), applicationName]
        if let password {
            keys.append("password")
            values.append(password)
        }
        let connection = Self.withCStrings(keys) { keyPointers in
            Self.withCStrings(values) { valuePointers in
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connection, message: "out of memory", operation: "connect to \(displayName)")
        }
        handle = connection
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = lastErrorMessage
            close()
            throw PostgresError(kind: .connection, message: message, operation: "connect to \(displayName)")
        }
    }

    deinit { close() }

    /// Closes the connection. Idempotent.
    package func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Whether libpq still considers the connection usable (it notices a broken one on its next use).
    package var isOpen: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Runs `sql` (which may hold several statements, none with parameters), e.g. a migration.
    package func execute(_ sql: String, _ operation: @autoclosure () -> String) throws(PostgresError) {
        let handle = try openHandle(operation())
        let result = PQexec(handle, sql)
        _ = try PostgresResult(checking: result, connection: handle, operation: operation())
    }

    /// Runs one statement with `parameters` ($1, $2, ...), sent in binary with their types, and
    /// returns its rows in binary.
    ///
    /// `prepared`: the statement is prepared on this session the first time it runs (and again every
    /// `preparedPlanLifetime`), and the calls in between skip parsing and analysis, and planning
    /// too once the server settles on a generic plan; otherwise each call is parsed, analyzed and
    /// planned for its values, which costs the server more than running a single-row statement does.
    @discardableResult
    package func query(
        _ sql: String, _ parameters: [PostgresValue] = [], _ operation: @autoclosure () -> String, prepared: Bool = false
    ) throws(PostgresError) -> PostgresResult {
        let handle = try openHandle(operation())
        let encoded = parameters.map { $0.encoded() }
        let types = encoded.map(\.type)
        let lengths = encoded.map { Int32($0.bytes?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: encoded.count)
        let name = prepared ? try preparedStatement(sql, types: types, handle: handle, operation: operation()) : nil
        let result = Self.withBuffers(encoded.map(\.bytes)) { values in
            if let name {
                PQexecPrepared(handle, name, Int32(encoded.count), values, lengths, formats, 1)
            } else {
                PQexecParams(handle, sql, Int32(encoded.count), types, values, lengths, formats, 1)
            }
        }
        return try PostgresResult(checking: result, connection: handle, operation: operation())
    }

    /// Statements prepared on this session so far (tests).
    package var preparedStatementCount: Int { preparedStatements.count }

    /// The name `sql` is prepared under on this session, preparing it now if it is new or its
    /// preparation is older than `preparedPlanLifetime`; nil once `maxPreparedStatements` are
    /// prepared. A failed PREPARE (a syntax error, an aborted transaction) throws and is not
    /// remembered, so the next call tries again.
    private func preparedStatement(_ sql: String, types: [Oid], handle: OpaquePointer, operation: String) throws(PostgresError) -> String? {
        let key = PreparedStatementKey(sql: sql, types: types)
        let now = ContinuousClock.now
        if let statement = preparedStatements[key] {
            if now - statement.preparedAt < preparedPlanLifetime { return statement.name }
            preparedStatements[key] = nil
            try execute("DEALLOCATE \(statement.name)", "\(operation): drop its aged plan")
        }
        guard preparedStatements.count < Self.maxPreparedStatements else { return nil }
        preparations += 1
        let name = "cutover_\(preparations)"
        _ = try PostgresResult(checking: PQprepare(handle, name, sql, Int32(types.count), types), connection: handle, operation: operation)
        preparedStatements[key] = PreparedStatement(name: name, preparedAt: now)
        return name
    }

    private func openHandle(_ operation: String) throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            throw PostgresError(kind: .connection, message: "the connection is closed", operation: operation)
        }
        return handle
    }

    private var lastErrorMessage: String {
        guard let handle, let text = PQerrorMessage(handle) else { return "unknown libpq error" }
        return Self.trimmed(String(cString: text))
    }

    static func trimmed(_ message: String) -> String {
        var message = message
        while message.last?.isWhitespace == true { message.removeLast() }
        return message
    }

    /// `url` with any password in it replaced by `***`.
    package static func redacted(_ url: String) -> String {
        guard let scheme = url.firstRange(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        let credentials = url[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        let pointers = copies.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private static func withBuffers<R>(_ buffers: [[UInt8]?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        // One allocation per non-null parameter, alive until libpq returned.
        let copies: [UnsafeMutablePointer<CChar>?] = buffers.map { bytes in
            guard let bytes else { return nil }
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
            bytes.withUnsafeBufferPointer { source in
                if let base = source.baseAddress {
                    UnsafeMutableRawPointer(copy).copyMemory(from: base, byteCount: source.count)
                }
            }
            return copy
        }
        defer { for copy in copies { copy?.deallocate() } }
        let pointers: [UnsafePointer<CChar>?] = copies.map { copy in copy.map { UnsafePointer($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

private struct PreparedStatementKey: Hashable {
    let sql: String
    let types: [Oid]
}

private struct PreparedStatement {
    let name: String
    let preparedAt: ContinuousClock.Instant
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
