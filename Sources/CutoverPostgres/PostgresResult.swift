import CLibPQ

/// The rows of one statement, in binary, copied out of the `PGresult` (which is cleared at once), so
/// a result outlives nothing of libpq's.
package struct PostgresResult: Sendable {
    /// Rows of column values; nil is SQL NULL.
    package let rows: [[[UInt8]?]]
    package let columnTypes: [UInt32]
    /// `PQcmdTuples`: rows an INSERT, UPDATE or DELETE touched.
    package let affectedRows: Int
    let operation: String

    /// Takes ownership of `result`: an error status becomes a `PostgresError` with the result's
    /// message and SQLSTATE (nil result: the connection's message).
    init(checking result: OpaquePointer?, connection: OpaquePointer, operation: String) throws(PostgresError) {
        self.operation = operation
        guard let result else {
            throw PostgresError(
                kind: .connection, message: PostgresConnection.trimmed(PQerrorMessage(connection).map { String(cString: $0) } ?? ""),
                operation: operation)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? ""
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            // No SQLSTATE and a dead connection: the server went away mid-statement.
            let broken = PQstatus(connection) != CONNECTION_OK
            throw PostgresError(
                kind: broken && sqlState == nil ? .connection : .statement, sqlState: sqlState,
                message: PostgresConnection.trimmed(message.isEmpty ? String(cString: PQerrorMessage(connection)) : message),
                operation: operation)
        }
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        columnTypes = (0..<columnCount).map { PQftype(result, Int32($0)) }
        var rows: [[[UInt8]?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            var values: [[UInt8]?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) != 0 {
                    values.append(nil)
                    continue
                }
                let length = Int(PQgetlength(result, row, column))
                let start = PQgetvalue(result, row, column)
                values.append(start.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? [])
            }
            rows.append(values)
        }
        self.rows = rows
        affectedRows = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
    }

    package var count: Int { rows.count }

    package func isNull(_ row: Int, _ column: Int) -> Bool { rows[row][column] == nil }

    package func int64(_ row: Int, _ column: Int) throws(PostgresError) -> Int64 {
        guard let value = try optionalInt64(row, column) else { throw nullError(row, column) }
        return value
    }

    package func int(_ row: Int, _ column: Int) throws(PostgresError) -> Int { Int(try int64(row, column)) }

    package func optionalInt(_ row: Int, _ column: Int) throws(PostgresError) -> Int? {
        try optionalInt64(row, column).map { Int($0) }
    }

    package func optionalInt64(_ row: Int, _ column: Int) throws(PostgresError) -> Int64? {
        guard let bytes = rows[row][column] else { return nil }
        switch (columnTypes[column], bytes.count) {
        case (PostgresType.int8, 8), (PostgresType.int4, 4), (PostgresType.int2, 2):
            var value: Int64 = bytes[0] & 0x80 != 0 ? -1 : 0
            for byte in bytes { value = value << 8 | Int64(byte) }
            return value
        case (PostgresType.bool, 1): return Int64(bytes[0])
        default: throw typeError(row, column, "an integer")
        }
    }

    package func double(_ row: Int, _ column: Int) throws(PostgresError) -> Double {
        guard let value = try optionalDouble(row, column) else { throw nullError(row, column) }
        return value
    }

    package func optionalDouble(_ row: Int, _ column: Int) throws(PostgresError) -> Double? {
        guard let bytes = rows[row][column] else { return nil }
        if columnTypes[column] == PostgresType.float8, bytes.count == 8 {
            var bits: UInt64 = 0
            for byte in bytes { bits = bits << 8 | UInt64(byte) }
            return Double(bitPattern: bits)
        }
        return try optionalInt64(row, column).map(Double.init)
    }

    package func string(_ row: Int, _ column: Int) throws(PostgresError) -> String {
        guard let value = try optionalString(row, column) else { throw nullError(row, column) }
        return value
    }

    package func optionalString(_ row: Int, _ column: Int) throws(PostgresError) -> String? {
        guard let bytes = rows[row][column] else { return nil }
        switch columnTypes[column] {
        case PostgresType.text, PostgresType.varchar: return String(decoding: bytes, as: UTF8.self)
        default: throw typeError(row, column, "text")
        }
    }

    package func bytes(_ row: Int, _ column: Int) throws(PostgresError) -> [UInt8] {
        guard let bytes = rows[row][column] else { throw nullError(row, column) }
        return bytes
    }

    private func nullError(_ row: Int, _ column: Int) -> PostgresError {
        PostgresError(kind: .decoding, message: "column \(column) of row \(row) is NULL", operation: operation)
    }

    private func typeError(_ row: Int, _ column: Int, _ wanted: String) -> PostgresError {
        PostgresError(
            kind: .decoding, message: "column \(column) of row \(row) (type oid \(columnTypes[column])) is not \(wanted)",
            operation: operation)
    }
}
