/// Why a JSON text was rejected, and where (byte offset into the input).
package struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Reason: Sendable, Equatable {
        case emptyInput
        case unexpectedEnd
        case unexpectedByte(UInt8)
        case invalidLiteral
        case invalidNumber
        case invalidEscape
        case invalidUnicodeEscape
        case loneSurrogate
        case controlCharacterInString
        case invalidUTF8
        case tooDeep(limit: Int)
        case trailingData
        /// Strict mode: an object repeats this key. RFC 8259 leaves the meaning to the reader, and
        /// readers disagree (first wins here, last wins in most JSON libraries).
        case duplicateKey(String)
        /// Strict mode: a number a 64-bit float cannot hold (`1e999999`, `1e-999999` with a nonzero
        /// mantissa) or with more mantissa digits than the parser allows; carries the number's
        /// first characters.
        case unreadableNumber(String)
    }

    package var offset: Int
    package var reason: Reason

    package init(offset: Int, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    package var description: String { "JSON parse error at byte \(offset): \(reason)" }
}

/// The one entry point behind which the JSON parser sits, so another implementation (e.g. simdjson)
/// can replace the hand-written one without touching callers.
package protocol JSONDecoding: Sendable {
    func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue
}

/// Strict RFC 8259 recursive-descent parser. Never traps: every malformed input, including invalid
/// UTF-8, lone surrogates, raw control characters in strings and nesting deeper than `maxDepth`,
/// yields a `JSONParseError`.
///
/// `rejectsAmbiguity` also refuses what RFC 8259 allows but consumers read differently: repeated
/// object keys, and numbers outside a double's range or longer than `maxNumberDigits` (webhook
/// bodies are relayed to consumers in several languages, so Cutover must not accept what they
/// would read another way or not at all).
package struct JSONParser: JSONDecoding {
    package static let defaultMaxDepth = 512
    /// Far beyond any id or amount (a 64-bit integer has 20 digits, a double 17 significant ones).
    package static let defaultMaxNumberDigits = 100
    package var maxDepth: Int
    package var rejectsAmbiguity: Bool
    package var maxNumberDigits: Int

    package init(
        maxDepth: Int = JSONParser.defaultMaxDepth, rejectsAmbiguity: Bool = false,
        maxNumberDigits: Int = JSONParser.defaultMaxNumberDigits
    ) {
        self.maxDepth = maxDepth
        self.rejectsAmbiguity = rejectsAmbiguity
        self.maxNumberDigits = maxNumberDigits
    }

    /// The parser webhook bodies are read with.
    package static let webhook = JSONParser(rejectsAmbiguity: true)

    package func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var state = ParserState(bytes: bytes, maxDepth: maxDepth, strict: rejectsAmbiguity, maxNumberDigits: maxNumberDigits)
        state.skipWhitespace()
        guard state.pos < state.end else {
            throw JSONParseError(offset: state.pos, reason: bytes.isEmpty ? .emptyInput : .unexpectedEnd)
        }
        let value = try state.parseValue(depth: 0)
        state.skipWhitespace()
        guard state.pos == state.end else { throw JSONParseError(offset: state.pos, reason: .trailingData) }
        return value
    }
}

extension JSONValue {
    /// The parser used by the convenience entry points below.
    package static let defaultParser = JSONParser()

    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        try defaultParser.parse(bytes)
    }

    package static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { raw in
            do throws(JSONParseError) { return .success(try defaultParser.parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    package static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

private struct ParserState {
    let base: UnsafePointer<UInt8>?
    let end: Int
    var pos: Int = 0
    let maxDepth: Int
    let strict: Bool
    let maxNumberDigits: Int
    var scratch: [UInt8] = []

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int, strict: Bool, maxNumberDigits: Int) {
        base = bytes.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) }
        end = bytes.count
        self.maxDepth = maxDepth
        self.strict = strict
        self.maxNumberDigits = maxNumberDigits
    }

    /// Byte at `i`; callers check `i < end` first.
    @inline(__always) func at(_ i: Int) -> UInt8 { base.unsafelyUnwrapped[i] }

    @inline(__always) mutating func skipWhitespace() {
        while pos < end {
            let b = at(pos)
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { return }
        }
    }

    @inline(__always) func fail(_ reason: JSONParseError.Reason, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? pos, reason: reason)
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard pos < end else { throw fail(.unexpectedEnd) }
        switch at(pos) {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail(.unexpectedByte(at(pos)))
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let start = pos
        let count = word.utf8CodeUnitCount
        let w = word.utf8Start
        for i in 0..<count {
            guard pos < end else { throw fail(.unexpectedEnd) }
            guard at(pos) == w[i] else { throw fail(.invalidLiteral, at: start) }
            pos += 1
        }
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else { throw fail(.tooDeep(limit: maxDepth)) }
        pos += 1  // {
        var object = JSONObject(minimumCapacity: 4)
        // Strict mode: past a few members a linear scan per key would make a wide object quadratic.
        var seen: Set<String>? = nil
        skipWhitespace()
        guard pos < end else { throw fail(.unexpectedEnd) }
        if at(pos) == UInt8(ascii: "}") {
            pos += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard pos < end else { throw fail(.unexpectedEnd) }
            guard at(pos) == UInt8(ascii: "\"") else { throw fail(.unexpectedByte(at(pos))) }
            let keyStart = pos
            let key = try parseString(interning: true)
            if strict { try checkUnique(key, in: object, seen: &seen, at: keyStart) }
            skipWhitespace()
            guard pos < end else { throw fail(.unexpectedEnd) }
            guard at(pos) == UInt8(ascii: ":") else { throw fail(.unexpectedByte(at(pos))) }
            pos += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            object.append(key, value)
            skipWhitespace()
            guard pos < end else { throw fail(.unexpectedEnd) }
            let b = at(pos)
            pos += 1
            if b == UInt8(ascii: ",") { continue }
            if b == UInt8(ascii: "}") { return .object(object) }
            throw fail(.unexpectedByte(b), at: pos - 1)
        }
    }

    /// Linear for the small objects webhooks are made of, a set once an object grows past them.
    func checkUnique(_ key: String, in object: JSONObject, seen: inout Set<String>?, at offset: Int) throws(JSONParseError) {
        if seen == nil {
            if object.count < 16 {
                for member in object.members where member.key == key { throw fail(.duplicateKey(key), at: offset) }
                return
            }
            seen = Set(object.keys)
        }
        guard seen!.insert(key).inserted else { throw fail(.duplicateKey(key), at: offset) }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else { throw fail(.tooDeep(limit: maxDepth)) }
        pos += 1  // [
        var array: [JSONValue] = []
        skipWhitespace()
        guard pos < end else { throw fail(.unexpectedEnd) }
        if at(pos) == UInt8(ascii: "]") {
            pos += 1
            return .array(array)
        }
        while true {
            skipWhitespace()
            array.append(try parseValue(depth: depth))
            skipWhitespace()
            guard pos < end else { throw fail(.unexpectedEnd) }
            let b = at(pos)
            pos += 1
            if b == UInt8(ascii: ",") { continue }
            if b == UInt8(ascii: "]") { return .array(array) }
            throw fail(.unexpectedByte(b), at: pos - 1)
        }
    }

    mutating func parseNumber() throws(JSONParseError) -> String {
        let start = pos
        if at(pos) == UInt8(ascii: "-") { pos += 1 }
        guard pos < end else { throw fail(.unexpectedEnd) }
        let first = at(pos)
        let digitsStart = pos
        if first == UInt8(ascii: "0") {
            pos += 1
        } else if first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") {
            pos += 1
            while pos < end, isDigit(at(pos)) { pos += 1 }
        } else {
            throw fail(.invalidNumber, at: start)
        }
        var digits = pos - digitsStart
        if pos < end, at(pos) == UInt8(ascii: ".") {
            pos += 1
            guard pos < end else { throw fail(.unexpectedEnd) }
            guard isDigit(at(pos)) else { throw fail(.invalidNumber, at: start) }
            let fractionStart = pos
            while pos < end, isDigit(at(pos)) { pos += 1 }
            digits += pos - fractionStart
        }
        var exponentStart: Int? = nil
        if pos < end, at(pos) == UInt8(ascii: "e") || at(pos) == UInt8(ascii: "E") {
            pos += 1
            guard pos < end else { throw fail(.unexpectedEnd) }
            if at(pos) == UInt8(ascii: "+") || at(pos) == UInt8(ascii: "-") { pos += 1 }
            guard pos < end else { throw fail(.unexpectedEnd) }
            guard isDigit(at(pos)) else { throw fail(.invalidNumber, at: start) }
            exponentStart = pos
            while pos < end, isDigit(at(pos)) { pos += 1 }
        }
        // A number directly followed by a letter or digit (e.g. `01`, `1x`) is malformed; the caller's
        // structural check catches other bytes.
        let text = String(decoding: UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: pos - start), as: UTF8.self)
        if strict {
            // Without an exponent, 300 digits stay inside a double's range, so only numbers with one
            // (rare in webhooks) pay for a conversion.
            if digits > maxNumberDigits || ((exponentStart != nil || digits > 300) && !fitsDouble(text, exponentStart: exponentStart)) {
                throw fail(.unreadableNumber(text.utf8.count > 24 ? String(text.prefix(24)) + "..." : text), at: start)
            }
        }
        return text
    }

    /// Whether a double holds the number: finite, and not a nonzero mantissa rounded to zero.
    func fitsDouble(_ text: String, exponentStart: Int?) -> Bool {
        let mantissa = text.utf8.prefix { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") }
        guard mantissa.contains(where: { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }) else { return true }
        if let exponentStart {
            var i = exponentStart
            while i < pos, at(i) == UInt8(ascii: "0") { i += 1 }
            // Five exponent digits are out of range whatever a mantissa of bounded length says.
            guard pos - i <= 4 else { return false }
        }
        guard let value = Double(text) else { return false }
        return value.isFinite && value != 0
    }

    @inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// Parses a string starting at the opening quote. `interning` (object keys): a key of the
    /// webhook vocabulary too long to be stored inline in a `String` (over 15 bytes) comes back as
    /// the shared literal, so the `display_phone_number` of every message allocates no string.
    mutating func parseString(interning: Bool = false) throws(JSONParseError) -> String {
        pos += 1  // opening quote
        let start = pos
        var high: UInt8 = 0
        while pos < end {
            let b = at(pos)
            if b == UInt8(ascii: "\"") {
                let run = UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: pos - start)
                pos += 1
                if interning, let known = LongKeys.match(run) { return known }
                if high < 0x80 { return String(decoding: run, as: UTF8.self) }
                guard let s = String(validating: run, as: UTF8.self) else { throw fail(.invalidUTF8, at: start) }
                return s
            }
            if b == UInt8(ascii: "\\") { return try parseEscapedString(start: start) }
            if b < 0x20 { throw fail(.controlCharacterInString) }
            high |= b
            pos += 1
        }
        throw fail(.unexpectedEnd)
    }

    /// Slow path once a backslash is seen: unescape into the scratch buffer.
    mutating func parseEscapedString(start: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: pos - start))
        while pos < end {
            let b = at(pos)
            if b == UInt8(ascii: "\"") {
                pos += 1
                guard let s = String(validating: scratch, as: UTF8.self) else { throw fail(.invalidUTF8, at: start) }
                return s
            }
            if b < 0x20 { throw fail(.controlCharacterInString) }
            if b != UInt8(ascii: "\\") {
                scratch.append(b)
                pos += 1
                continue
            }
            let escapeStart = pos
            pos += 1
            guard pos < end else { throw fail(.unexpectedEnd) }
            let e = at(pos)
            pos += 1
            switch e {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    // High surrogate: a low surrogate escape must follow.
                    guard pos + 1 < end, at(pos) == UInt8(ascii: "\\"), at(pos + 1) == UInt8(ascii: "u") else {
                        throw fail(.loneSurrogate, at: escapeStart)
                    }
                    pos += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low <= 0xDFFF else { throw fail(.loneSurrogate, at: escapeStart) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                    throw fail(.loneSurrogate, at: escapeStart)
                }
                appendUTF8(scalar)
            default:
                throw fail(.invalidEscape, at: escapeStart)
            }
        }
        throw fail(.unexpectedEnd)
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= end else { throw fail(.unexpectedEnd) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = at(pos)
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail(.invalidUnicodeEscape)
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    mutating func appendUTF8(_ s: UInt32) {
        switch s {
        case 0..<0x80:
            scratch.append(UInt8(s))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | (s >> 6)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | (s >> 12)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (s >> 18)))
            scratch.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        }
    }
}

/// The long keys of Meta's webhooks and of Cutover's canonical events that arrive in nearly every
/// body; their literals are immortal, so handing one out costs neither an allocation nor a retain.
private enum LongKeys {
    static let all: [String] = [
        "display_phone_number", "messaging_product", "recipient_user_id", "product_retailer_id",
        "identity_key_hash", "expiration_timestamp", "pricing_category", "biz_opaque_callback_data",
        "from_parent_user_id", "parent_recipient_user_id", "message_template_id", "message_template_name",
        "message_template_language", "created_timestamp", "owner_business_id",
    ]
    /// Only strings too long for the inline form: shorter ones never allocate anyway.
    static let minimumLength = 16

    static func match(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.count >= minimumLength else { return nil }
        for key in all where key.utf8.count == bytes.count {
            let equal = key.utf8.withContiguousStorageIfAvailable { $0.elementsEqual(bytes) } ?? false
            if equal { return key }
        }
        return nil
    }
}
