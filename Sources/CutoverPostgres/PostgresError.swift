/// A failed libpq call: `PQerrorMessage` or the result's error text, its SQLSTATE when the server sent
/// one, and what was being done.
package struct PostgresError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        /// The connection could not be made, or broke: nothing can be said about the statement in flight.
        case connection
        /// The server answered the statement with an error (`sqlState` says which).
        case statement
        /// A value in a result could not be read as the type asked for.
        case decoding
    }

    package let kind: Kind
    /// Five-character SQLSTATE (`23505` unique violation, `40001` serialization failure, ...), if any.
    package let sqlState: String?
    package let message: String
    package let operation: String

    package init(kind: Kind, sqlState: String? = nil, message: String, operation: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.operation = operation
    }

    /// SQLSTATE class 08 (connection exception), 57P0x (the server is shutting down or restarting) and
    /// 53xxx (out of resources) say the database is unreachable rather than that the statement is wrong.
    package var isUnavailable: Bool {
        if kind == .connection { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState.hasPrefix("53")
    }

    package var description: String {
        "\(operation): \(message)" + (sqlState.map { " (SQLSTATE \($0))" } ?? "")
    }
}
