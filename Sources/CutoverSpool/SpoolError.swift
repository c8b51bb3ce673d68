/// Every failure the spool reports. SQLite failures carry the (extended) result code and the text of
/// `sqlite3_errmsg`; every error says what was being done.
package struct SpoolError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        /// A SQLite call failed; `code` is the extended result code, `message` is `sqlite3_errmsg`.
        case sqlite
        /// The spool was closed before or while the call was made.
        case closed
        /// A file-system call failed; `code` is `errno`.
        case io
        /// The row is not in the state the call requires (for example, marking a delivery that is not inflight).
        case invalidState
        /// Stored bytes could not be decoded.
        case corrupt
        /// The database was written by a newer schema version than this build knows.
        case unsupportedSchema
        /// The database file at the spool's path is no longer the one the spool has open (deleted,
        /// moved or replaced); nothing more is acknowledged until a restart.
        case lost
        /// A request was not committed within `SpoolOptions.commitTimeout` of its admission; one
        /// already in a commit may still commit later (the sender's retry is then deduplicated).
        case timeout
        /// Opening refused: the start-up checks found the database empty where it held data, or damaged.
        case refused
        /// PostgreSQL answered a statement with an error; `message` ends with its SQLSTATE.
        case postgres
        /// The PostgreSQL server cannot be reached (refused, broken connection, shutting down, in
        /// reconnect backoff): nothing was committed, try again later.
        case unavailable
    }

    package let kind: Kind
    /// SQLite extended result code for `.sqlite` (and for `.refused` when SQLite showed the damage),
    /// `errno` for `.io`, 0 otherwise.
    package let code: Int32
    /// `sqlite3_errmsg` / `strerror` text, or a description of the problem.
    package let message: String
    /// What the spool was doing, e.g. "insert event" or "open /var/lib/cutover/spool.sqlite3".
    package let operation: String

    package init(kind: Kind, code: Int32 = 0, message: String, operation: String) {
        self.kind = kind
        self.code = code
        self.message = message
        self.operation = operation
    }

    /// The primary SQLite result code (`SQLITE_BUSY`, `SQLITE_FULL`, ...) without the extended bits.
    package var primaryCode: Int32 { code & 0xFF }

    package var description: String {
        switch kind {
        case .sqlite: "spool: \(operation): \(message) (SQLite code \(code))"
        case .io: "spool: \(operation): \(message) (errno \(code))"
        default: "spool: \(operation): \(message)"
        }
    }

    static func closed(_ operation: String) -> SpoolError {
        SpoolError(kind: .closed, message: "the spool is closed", operation: operation)
    }
}
