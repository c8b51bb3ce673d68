import CutoverPostgres

/// libpq's errors as the spool's: an unreachable server is `.unavailable` (the ingress answers 503
/// and `/readyz` says so), anything else `.postgres` with the server's message and SQLSTATE.
enum PostgresSpoolError {
    static func of(_ error: PostgresError) -> SpoolError {
        SpoolError(
            kind: error.isUnavailable ? .unavailable : (error.kind == .decoding ? .corrupt : .postgres),
            message: error.message + (error.sqlState.map { " (SQLSTATE \($0))" } ?? ""), operation: error.operation)
    }

    /// Runs `body`, turning its `PostgresError` into a `SpoolError`.
    static func map<T>(_ body: () throws(PostgresError) -> T) throws(SpoolError) -> T {
        do throws(PostgresError) {
            return try body()
        } catch {
            throw of(error)
        }
    }
}
