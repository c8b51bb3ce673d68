import CLibPQ

/// A statement parameter, sent in PostgreSQL's binary format with its type, so no value is ever
/// spliced into SQL text.
package enum PostgresValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int64(Int64)
    case double(Double)
    case text(String)
    case bytes([UInt8])
    /// One-dimensional arrays: one statement over many rows (`unnest($1::text[], ...)`) instead of
    /// one statement per row.
    case textArray([String?])
    case bytesArray([[UInt8]?])
    case int64Array([Int64?])
    case doubleArray([Double?])

    package static func optional(_ value: String?) -> PostgresValue { value.map(PostgresValue.text) ?? .null }
    package static func optional(_ value: Double?) -> PostgresValue { value.map(PostgresValue.double) ?? .null }
    package static func optional(_ value: Int?) -> PostgresValue { value.map { .int64(Int64($0)) } ?? .null }
    package static func optional(_ value: Int64?) -> PostgresValue { value.map(PostgresValue.int64) ?? .null }

    /// The type OID and the binary bytes libpq sends (nil bytes: SQL NULL, type left to the server).
    func encoded() -> (type: Oid, bytes: [UInt8]?) {
        switch self {
        case .null: (0, nil)
        case .bool(let value): (PostgresType.bool, [value ? 1 : 0])
        case .int64(let value): (PostgresType.int8, withUnsafeBytes(of: value.bigEndian, Array.init))
        case .double(let value): (PostgresType.float8, withUnsafeBytes(of: value.bitPattern.bigEndian, Array.init))
        case .text(let value): (PostgresType.text, Array(value.utf8))
        case .bytes(let value): (PostgresType.bytea, value)
        case .textArray(let values): Self.array(values.map { $0.map { Array($0.utf8) } }, of: PostgresType.text, as: PostgresType.textArray)
        case .bytesArray(let values): Self.array(values, of: PostgresType.bytea, as: PostgresType.byteaArray)
        case .int64Array(let values):
            Self.array(values.map { $0.flatMap { Self.int64($0).encoded().bytes } }, of: PostgresType.int8, as: PostgresType.int8Array)
        case .doubleArray(let values):
            Self.array(values.map { $0.flatMap { Self.double($0).encoded().bytes } }, of: PostgresType.float8, as: PostgresType.float8Array)
        }
    }

    /// PostgreSQL's binary array: dimensions (1), whether any element is NULL, the element type,
    /// the length and lower bound (1), then each element as its length (-1: NULL) and bytes.
    private static func array(_ elements: [[UInt8]?], of elementType: Oid, as arrayType: Oid) -> (type: Oid, bytes: [UInt8]?) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20 + elements.reduce(0) { $0 + 4 + ($1?.count ?? 0) })
        func append(_ value: Int32) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
        append(1)
        append(elements.contains(where: { $0 == nil }) ? 1 : 0)
        append(Int32(bitPattern: elementType))
        append(Int32(elements.count))
        append(1)
        for element in elements {
            if let element {
                append(Int32(element.count))
                bytes.append(contentsOf: element)
            } else {
                append(-1)
            }
        }
        return (arrayType, bytes)
    }
}

/// The built-in type OIDs the wrapper reads and writes (`pg_type.oid`, fixed since PostgreSQL 7).
enum PostgresType {
    static let bool: Oid = 16
    static let bytea: Oid = 17
    static let int8: Oid = 20
    static let int2: Oid = 21
    static let int4: Oid = 23
    static let text: Oid = 25
    static let float8: Oid = 701
    static let varchar: Oid = 1043
    static let byteaArray: Oid = 1001
    static let textArray: Oid = 1009
    static let int8Array: Oid = 1016
    static let float8Array: Oid = 1022
}
