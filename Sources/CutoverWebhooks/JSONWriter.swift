#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Compact JSON serializer into `[UInt8]`.
///
/// Strings: `"` `\` and control characters are escaped (`\n`, `\t`... or `\u00XX`), and so are
/// U+2028 and U+2029 (`\u2028`, `\u2029`): JSON allows them raw, but JavaScript before ES2019 and
/// line-splitting readers of JSON lines treat them as line ends. `/` is not escaped; other non-ASCII
/// is written as UTF-8. Runs that need no escaping are found eight bytes at a time and copied in bulk.
/// Numbers are written from their raw text.
///
/// It writes into a buffer of its own, grown by doubling, and hands out one `[UInt8]` at the end,
/// and it borrows the tree instead of copying each value it visits: appending to an Array paid a
/// uniqueness and capacity check per byte and a generic `append(contentsOf:)` per run, and every
/// visited value a retain and a release (a 697-byte Cloud message: 3.3 µs before, 1.75 µs after,
/// best of eight runs of 200,000 each on the same machine).
package struct JSONWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var count = 0
    private var capacity: Int
    /// Write object members sorted by key (byte order): the stable form used for hashing.
    package let sortedKeys: Bool
    /// Off only for bytes nobody reads as text: event ids hash the form earlier versions wrote.
    package let escapesLineSeparators: Bool

    package init(capacity: Int = 1024, sortedKeys: Bool = false, escapesLineSeparators: Bool = true) {
        self.capacity = max(64, capacity)
        // malloc, not `allocate(capacity:)` (which took posix_memalign), so growing is a realloc.
        guard let memory = malloc(self.capacity) else { fatalError("JSONWriter: out of memory for \(self.capacity) bytes") }
        base = memory.assumingMemoryBound(to: UInt8.self)
        self.sortedKeys = sortedKeys
        self.escapesLineSeparators = escapesLineSeparators
    }

    deinit { free(base) }

    /// The text written so far.
    package consuming func finish() -> [UInt8] {
        let source = UnsafePointer(base), length = count
        return [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            buffer.baseAddress?.initialize(from: source, count: length)
            initialized = length
        }
    }

    package mutating func write(_ value: borrowing JSONValue) {
        switch value {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .number(let n): append(n)
        case .string(let s): writeString(s)
        case .array(let elements):
            append(UInt8(ascii: "["))
            elements.withUnsafeBufferPointer { elements in
                for index in elements.indices {
                    if index > 0 { append(UInt8(ascii: ",")) }
                    write(elements[index])
                }
            }
            append(UInt8(ascii: "]"))
        case .object(let object): write(object)
        }
    }

    package mutating func write(_ object: borrowing JSONObject) {
        append(UInt8(ascii: "{"))
        if sortedKeys {
            let sorted = object.members.enumerated().sorted {
                $0.element.key.utf8.lexicographicallyPrecedes($1.element.key.utf8)
                    || ($0.element.key == $1.element.key && $0.offset < $1.offset)
            }
            for (position, member) in sorted.enumerated() { writeMember(member.element, first: position == 0) }
        } else {
            object.members.withUnsafeBufferPointer { members in
                for index in members.indices { writeMember(members[index], first: index == 0) }
            }
        }
        append(UInt8(ascii: "}"))
    }

    private mutating func writeMember(_ member: JSONObject.Member, first: Bool) {
        if !first { append(UInt8(ascii: ",")) }
        writeString(member.key)
        append(UInt8(ascii: ":"))
        write(member.value)
    }

    package mutating func writeString(_ s: borrowing String) {
        if s.utf8.withContiguousStorageIfAvailable({ writeEscaped($0) }) != nil { return }
        // Not contiguous UTF-8 (bridged): made so on a copy first.
        var contiguous = copy s
        contiguous.withUTF8 { writeEscaped($0) }
    }

    // MARK: Escaping

    private mutating func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        append(UInt8(ascii: "\""))
        guard let input = utf8.baseAddress else {
            append(UInt8(ascii: "\""))
            return
        }
        let n = utf8.count
        var runStart = 0
        var i = 0
        while i < n {
            if n - i >= 8, !Self.mayNeedEscaping(UnsafeRawPointer(input + i).loadUnaligned(as: UInt64.self)) {
                i += 8
                continue
            }
            let b = input[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C && b != 0xE2 {
                i += 1
                continue
            }
            if b == 0xE2 {
                // U+2028 is E2 80 A8, U+2029 E2 80 A9; every other E2 sequence is copied as is.
                guard escapesLineSeparators, i + 2 < n, input[i + 1] == 0x80, input[i + 2] & 0xFE == 0xA8 else {
                    i += 1
                    continue
                }
                append(input + runStart, count: i - runStart)
                append(input[i + 2] == 0xA8 ? #"\u2028"# : #"\u2029"#)
                i += 3
                runStart = i
                continue
            }
            append(input + runStart, count: i - runStart)
            switch b {
            case 0x22: append(#"\""#)
            case 0x5C: append(#"\\"#)
            case 0x0A: append(#"\n"#)
            case 0x0D: append(#"\r"#)
            case 0x09: append(#"\t"#)
            case 0x08: append(#"\b"#)
            case 0x0C: append(#"\f"#)
            default:
                append(#"\u00"#)
                append(Self.hexDigit(b >> 4))
                append(Self.hexDigit(b & 0xF))
            }
            i += 1
            runStart = i
        }
        append(input + runStart, count: n - runStart)
        append(UInt8(ascii: "\""))
    }

    /// Whether any of the eight bytes is below 0x20, `"`, `\` or 0xE2 (the lead byte of U+2028 and
    /// U+2029). Exact for "any" (the classic has-zero-byte and has-less-than tests); which byte
    /// is left to the byte loop.
    @inline(__always)
    private static func mayNeedEscaping(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ v: UInt64) -> Bool { (v &- ones) & ~v & highs != 0 }
        let below0x20 = (word &- ones &* 0x20) & ~word & highs != 0
        return below0x20 || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
            || hasZeroByte(word ^ (ones &* 0xE2))
    }

    /// The lowercase hex digit of `nibble` (0...15); also the signature header's digits.
    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    // MARK: The buffer

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(toAtLeast: count + extra) }
    }

    private mutating func grow(toAtLeast needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        guard let grown = realloc(base, newCapacity) else { fatalError("JSONWriter: out of memory for \(newCapacity) bytes") }
        base = grown.assumingMemoryBound(to: UInt8.self)
        capacity = newCapacity
    }

    @inline(__always)
    private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    private mutating func append(_ bytes: UnsafePointer<UInt8>, count length: Int) {
        guard length > 0 else { return }
        reserve(length)
        (base + count).initialize(from: bytes, count: length)
        count += length
    }

    private mutating func append(_ text: StaticString) {
        append(text.utf8Start, count: text.utf8CodeUnitCount)
    }

    private mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            if let start = utf8.baseAddress { append(start, count: utf8.count) }
        }
    }
}

extension JSONValue {
    /// Compact UTF-8 JSON text. `capacity`: the writer's first buffer, for callers that know their
    /// output is usually larger (each doubling past it is a realloc that copies).
    package func serialized(sortedKeys: Bool = false, escapesLineSeparators: Bool = true, capacity: Int = 1024) -> [UInt8] {
        var writer = JSONWriter(capacity: capacity, sortedKeys: sortedKeys, escapesLineSeparators: escapesLineSeparators)
        writer.write(self)
        return writer.finish()
    }

    /// Compact JSON text as a `String`.
    package var jsonString: String { String(decoding: serialized(), as: UTF8.self) }
}
