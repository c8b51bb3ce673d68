/// The webhook model's own JSON value.
///
/// Numbers keep their raw text exactly as received (`1.0`, `1e3` and 20-digit integers survive a
/// round trip unchanged); objects keep their key order and any duplicate keys.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's raw RFC 8259 text, e.g. `"131049"`, `"-1.50"`, `"1e3"`.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A number from an integer.
    package static func int<T: BinaryInteger>(_ value: T) -> JSONValue { .number(String(value)) }

    package var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    package var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    package var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    package var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The raw text of a number.
    package var numberText: String? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// An integer from a number whose text is an integer, or from a string of digits
    /// (Meta sends timestamps as strings).
    package var integerValue: Int64? {
        switch self {
        case .number(let n), .string(let n): return Int64(n)
        default: return nil
        }
    }

    /// A string, or the raw text of a number (ids sometimes arrive as numbers).
    package var scalarText: String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        default: return nil
        }
    }

    package var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Object member lookup; `nil` when not an object or the key is absent.
    package subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// Equality that ignores object key order (the round-trip law's notion of "equal").
    ///
    /// - Strings compare by value (so `"a\/b"` and `"a/b"` in the source text are equal once parsed).
    /// - Numbers: equal when their raw texts are equal; otherwise, two integers (no `.`, `e`, `E`)
    ///   compare by exact digits (`-0` equals `0`), and anything else compares as `Double`
    ///   (so `1.0 == 1` and `1e2 == 100`). Large integers never lose precision.
    /// - Arrays compare element by element in order.
    /// - Objects compare as multisets of members: same keys (duplicates counted), equal values.
    package func semanticallyEquals(_ other: JSONValue) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.number(let a), .number(let b)): return JSONValue.numbersEqual(a, b)
        case (.array(let a), .array(let b)):
            guard a.count == b.count else { return false }
            for i in a.indices where !a[i].semanticallyEquals(b[i]) { return false }
            return true
        case (.object(let a), .object(let b)):
            return a.semanticallyEquals(b)
        default:
            return false
        }
    }

    static func numbersEqual(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        func isInteger(_ s: String) -> Bool { !s.utf8.contains(where: { $0 == 0x2E || $0 == 0x65 || $0 == 0x45 }) }
        if isInteger(a) && isInteger(b) {
            func norm(_ s: String) -> String { s == "-0" ? "0" : s }
            return norm(a) == norm(b)
        }
        guard let x = Double(a), let y = Double(b) else { return false }
        return x == y
    }
}

/// A JSON object that keeps its members in order (and keeps duplicate keys, as parsed).
/// Lookups are linear: webhook objects are small.
package struct JSONObject: Sendable, Equatable, Sequence {
    package typealias Member = (key: String, value: JSONValue)
    package private(set) var members: [Member]

    package init() { members = [] }
    package init(_ members: [Member]) { self.members = members }
    package init(minimumCapacity: Int) {
        members = []
        members.reserveCapacity(minimumCapacity)
    }

    package var count: Int { members.count }
    package var isEmpty: Bool { members.isEmpty }
    package var keys: [String] { members.map(\.key) }

    package func makeIterator() -> IndexingIterator<[Member]> { members.makeIterator() }

    /// The first member with this key. Setting replaces the first such member in place (keeping its
    /// position), appends when absent, and removes every member with that key when set to `nil`.
    package subscript(key: String) -> JSONValue? {
        get {
            for m in members where m.key == key { return m.value }
            return nil
        }
        set {
            if let newValue {
                if let i = members.firstIndex(where: { $0.key == key }) {
                    members[i].value = newValue
                } else {
                    members.append((key, newValue))
                }
            } else {
                members.removeAll { $0.key == key }
            }
        }
    }

    package func contains(_ key: String) -> Bool { members.contains { $0.key == key } }

    /// Appends a member without looking for an existing one (the parser's and builders' fast path).
    package mutating func append(_ key: String, _ value: JSONValue) { members.append((key, value)) }

    /// Appends only when the value is non-nil.
    package mutating func appendIfPresent(_ key: String, _ value: JSONValue?) {
        if let value { members.append((key, value)) }
    }

    /// A copy without the given keys.
    package func removing(_ keys: String...) -> JSONObject { removing(keys) }
    package func removing(_ keys: [String]) -> JSONObject {
        // Sized once: `filter` grows its result by doubling (several reallocations per object).
        var kept: [Member] = []
        kept.reserveCapacity(members.count)
        for member in members where !keys.contains(member.key) { kept.append(member) }
        return JSONObject(kept)
    }

    /// A copy with `key` set to `value` (see the subscript setter).
    package func setting(_ key: String, _ value: JSONValue?) -> JSONObject {
        var copy = self
        copy[key] = value
        return copy
    }

    package static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        for i in lhs.members.indices {
            if lhs.members[i].key != rhs.members[i].key || lhs.members[i].value != rhs.members[i].value { return false }
        }
        return true
    }

    /// Key-order-insensitive equality (see `JSONValue.semanticallyEquals`).
    package func semanticallyEquals(_ other: JSONObject) -> Bool {
        guard members.count == other.members.count else { return false }
        let a = members.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
        let b = other.members.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
        for i in a.indices {
            guard a[i].element.key == b[i].element.key,
                  a[i].element.value.semanticallyEquals(b[i].element.value) else { return false }
        }
        return true
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements.map { (key: $0.0, value: $0.1) }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByIntegerLiteral
{
    package init(stringLiteral value: String) { self = .string(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(nilLiteral: ()) { self = .null }
    package init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { (key: $0.0, value: $0.1) }))
    }
    package init(integerLiteral value: Int) { self = .number(String(value)) }
}
