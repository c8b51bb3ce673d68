/// `application/x-www-form-urlencoded` query parsing, enough for `hub.*` and `token` parameters.
package enum QueryString {
    /// Splits a request target into its path and decoded query parameters (first value wins).
    package static func split(_ target: String) -> (path: Substring, parameters: [String: String]) {
        // On the UTF-8 view: `String.firstIndex(of:)` would walk grapheme clusters, and `?` is ASCII,
        // so the index found is a valid String index.
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (target[...], [:]) }
        var parameters: [String: String] = [:]
        for pair in target[target.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecoded(parts[0]) else { continue }
            let value = parts.count > 1 ? percentDecoded(parts[1]) : ""
            if parameters[name] == nil, let value { parameters[name] = value }
        }
        return (target[..<mark], parameters)
    }

    /// Decodes `%XX` and `+`; nil for malformed escapes or invalid UTF-8.
    package static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
