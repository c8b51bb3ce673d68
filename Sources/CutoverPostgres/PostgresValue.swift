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
        }
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
}
