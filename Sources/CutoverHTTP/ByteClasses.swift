// Character classes from RFC 9110 / RFC 3986 as 128-bit bitmaps: no tables to load, no globals to
// initialise, one shift and mask per byte.

enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let semicolon: UInt8 = 0x3B
    static let slash: UInt8 = 0x2F
}

@inline(__always)
private func inBitmap(_ byte: UInt8, low: UInt64, high: UInt64) -> Bool {
    if byte < 64 { return (low &>> UInt64(byte)) & 1 == 1 }
    if byte < 128 { return (high &>> UInt64(byte &- 64)) & 1 == 1 }
    return false
}

/// RFC 9110 §5.6.2 tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~".
@inline(__always)
func isTokenChar(_ byte: UInt8) -> Bool {
    inBitmap(byte, low: 0x03FF_6CFA_0000_0000, high: 0x57FF_FFFF_C7FF_FFFE)
}

/// Bytes allowed in a request-target (RFC 3986 pchar / "/" / "?" plus "[" "]" for IP literals in
/// absolute-form): unreserved, pct "%", sub-delims, ":" "@" "/" "?" "[" "]". Excludes "#", SP, CTLs,
/// `"<>\^`{|}` and non-ASCII.
@inline(__always)
func isTargetChar(_ byte: UInt8) -> Bool {
    inBitmap(byte, low: 0xAFFF_FFF2_0000_0000, high: 0x47FF_FFFE_AFFF_FFFF)
}

/// Bytes allowed in a Host value (RFC 3986 authority without userinfo "@"): unreserved, pct,
/// sub-delims, ":" "[" "]".
@inline(__always)
func isHostChar(_ byte: UInt8) -> Bool {
    inBitmap(byte, low: 0x2FFF_7FF2_0000_0000, high: 0x47FF_FFFE_AFFF_FFFE)
}

/// RFC 9110 §5.5 field-vchar / SP / HTAB: anything but CTLs (other than HTAB) and DEL.
@inline(__always)
func isFieldValueChar(_ byte: UInt8) -> Bool {
    byte == ASCII.tab || (byte >= 0x20 && byte != 0x7F)
}

@inline(__always)
func isWhitespace(_ byte: UInt8) -> Bool {
    byte == ASCII.space || byte == ASCII.tab
}

@inline(__always)
func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte &- UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte &- UInt8(ascii: "a") &+ 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte &- UInt8(ascii: "A") &+ 10)
    default: nil
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// ASCII case-insensitive comparison with a lowercase literal. Only valid where the bytes are
    /// already known to contain no CTLs (so that `| 0x20` cannot turn CR into "-").
    @inline(__always)
    func equalsLowercased(_ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        let lit = literal.utf8Start
        for i in 0..<count where self[i] | 0x20 != lit[i] {
            return false
        }
        return true
    }

    /// The slice with leading and trailing SP/HTAB removed.
    @inline(__always)
    func trimmingWhitespace() -> UnsafeBufferPointer<UInt8> {
        var lower = 0
        var upper = count
        while lower < upper, isWhitespace(self[lower]) { lower += 1 }
        while upper > lower, isWhitespace(self[upper - 1]) { upper -= 1 }
        return UnsafeBufferPointer(rebasing: self[lower..<upper])
    }

    /// Calls `body` for each element of a comma-separated list (RFC 9110 §5.6.1), trimmed of OWS.
    /// Empty elements are skipped, as recipients are required to do.
    @inline(__always)
    func forEachListElement<E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> Void) throws(E) {
        var start = 0
        var i = 0
        while i <= count {
            if i == count || self[i] == ASCII.comma {
                let element = UnsafeBufferPointer(rebasing: self[start..<i]).trimmingWhitespace()
                if !element.isEmpty { try body(element) }
                start = i + 1
            }
            i += 1
        }
    }
}

extension String {
    @inline(__always)
    init(ascii bytes: UnsafeBufferPointer<UInt8>) {
        self.init(decoding: bytes, as: UTF8.self)
    }
}
