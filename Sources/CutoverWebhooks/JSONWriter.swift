/// Compact JSON serializer into `[UInt8]`.
///
/// Strings: `"` `\` and control characters are escaped (`\n`, `\t`... or `\u00XX`), and so are
/// U+2028 and U+2029 (`\u2028`, `\u2029`): JSON allows them raw, but JavaScript before ES2019 and
/// line-splitting readers of JSON lines treat them as line ends. `/` is not escaped; other non-ASCII
/// is written as UTF-8. Runs that need no escaping are appended in bulk.
/// Numbers are written from their raw text.
package struct JSONWriter: Sendable {
    package var bytes: [UInt8]
    /// Write object members sorted by key (byte order): the stable form used for hashing.
    package var sortedKeys: Bool
    /// Off only for bytes nobody reads as text: event ids hash the form earlier versions wrote.
    package var escapesLineSeparators: Bool

    package init(capacity: Int = 1024, sortedKeys: Bool = false, escapesLineSeparators: Bool = true) {
        bytes = []
        bytes.reserveCapacity(capacity)
        self.sortedKeys = sortedKeys
        self.escapesLineSeparators = escapesLineSeparators
    }

    package mutating func write(_ value: JSONValue) {
        switch value {
        case .null: bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b):
            if b { bytes.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) } else { bytes.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65]) }
        case .number(let n): bytes.append(contentsOf: n.utf8)
        case .string(let s): writeString(s)
        case .array(let a):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for element in a {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let o): write(o)
        }
    }

    package mutating func write(_ object: JSONObject) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        if sortedKeys {
            let sorted = object.members.enumerated().sorted {
                $0.element.key.utf8.lexicographicallyPrecedes($1.element.key.utf8)
                    || ($0.element.key == $1.element.key && $0.offset < $1.offset)
            }
            for (_, m) in sorted {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                writeString(m.key)
                bytes.append(UInt8(ascii: ":"))
                write(m.value)
            }
        } else {
            for m in object.members {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                writeString(m.key)
                bytes.append(UInt8(ascii: ":"))
                write(m.value)
            }
        }
        bytes.append(UInt8(ascii: "}"))
    }

    package mutating func writeString(_ s: String) {
        var s = s
        s.withUTF8 { buffer in
            bytes.append(UInt8(ascii: "\""))
            var runStart = 0
            var i = 0
            let n = buffer.count
            while i < n {
                let b = buffer[i]
                if b >= 0x20 && b != 0x22 && b != 0x5C && b != 0xE2 {
                    i += 1
                    continue
                }
                if b == 0xE2 {
                    // U+2028 is E2 80 A8, U+2029 E2 80 A9; every other E2 sequence is copied as is.
                    guard escapesLineSeparators, i + 2 < n, buffer[i + 1] == 0x80, buffer[i + 2] & 0xFE == 0xA8 else {
                        i += 1
                        continue
                    }
                    if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[runStart..<i])) }
                    bytes.append(contentsOf: [0x5C, 0x75, 0x32, 0x30, 0x32, buffer[i + 2] == 0xA8 ? 0x38 : 0x39])
                    i += 3
                    runStart = i
                    continue
                }
                if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[runStart..<i])) }
                switch b {
                case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
                case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
                case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
                case 0x08: bytes.append(contentsOf: [0x5C, 0x62])
                case 0x0C: bytes.append(contentsOf: [0x5C, 0x66])
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
                }
                i += 1
                runStart = i
            }
            if runStart < n { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[runStart..<n])) }
            bytes.append(UInt8(ascii: "\""))
        }
    }
}

extension JSONValue {
    /// Compact UTF-8 JSON text.
    package func serialized(sortedKeys: Bool = false, escapesLineSeparators: Bool = true) -> [UInt8] {
        var w = JSONWriter(sortedKeys: sortedKeys, escapesLineSeparators: escapesLineSeparators)
        w.write(self)
        return w.bytes
    }

    /// Compact JSON text as a `String`.
    package var jsonString: String { String(decoding: serialized(), as: UTF8.self) }
}
