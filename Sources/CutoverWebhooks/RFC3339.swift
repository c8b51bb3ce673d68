/// RFC 3339 UTC text for Unix seconds and back, without Foundation (proleptic Gregorian, years
/// 0001...9999). The one formatter of the project: canonical `time`, capture lines, logs, the CLI.
package enum RFC3339 {
    /// `2025-06-01T12:00:00Z`; nil outside years 0001...9999.
    package static func format(unixSeconds t: Int64) -> String? {
        guard let civil = Civil(t) else { return nil }
        return civil.text(millis: nil)
    }

    /// `2025-06-01T12:00:00.123Z` (milliseconds, rounded); `invalid-time` outside years 0001...9999
    /// (a stored time is read back from a file that may be damaged, and must not stop a listing).
    package static func format(_ seconds: Double) -> String {
        guard var whole = Int64(exactly: seconds.rounded(.down)) else { return "invalid-time" }
        var millis = Int64(((seconds - Double(whole)) * 1000).rounded())
        if millis >= 1000 {
            whole += 1
            millis -= 1000
        }
        guard let civil = Civil(whole) else { return "invalid-time" }
        return civil.text(millis: millis)
    }

    /// A UTC instant as calendar fields.
    private struct Civil {
        let year, month, day, hour, minute, second: Int64

        init?(_ t: Int64) {
            guard t >= -62_135_596_800 && t <= 253_402_300_799 else { return nil }
            let days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
            let secs = t - days * 86_400
            // Howard Hinnant's civil_from_days.
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let doe = z - era * 146_097
            let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
            let mp = (5 * doy + 2) / 153
            day = doy - (153 * mp + 2) / 5 + 1
            month = mp < 10 ? mp + 3 : mp - 9
            year = yoe + era * 400 + (month <= 2 ? 1 : 0)
            hour = secs / 3600
            minute = secs % 3600 / 60
            second = secs % 60
        }

        /// Written into the string's own storage: built from interpolated, padded pieces it took
        /// several allocations per timestamp, and every event carries one.
        func text(millis: Int64?) -> String {
            String(unsafeUninitializedCapacity: millis == nil ? 20 : 24) { buffer in
                var index = 0
                func put(_ value: Int64, digits: Int) {
                    var rest = value
                    for offset in stride(from: digits - 1, through: 0, by: -1) {
                        buffer[index + offset] = UInt8(ascii: "0") + UInt8(rest % 10)
                        rest /= 10
                    }
                    index += digits
                }
                func put(_ byte: Unicode.Scalar) {
                    buffer[index] = UInt8(ascii: byte)
                    index += 1
                }
                put(year, digits: 4)
                put("-")
                put(month, digits: 2)
                put("-")
                put(day, digits: 2)
                put("T")
                put(hour, digits: 2)
                put(":")
                put(minute, digits: 2)
                put(":")
                put(second, digits: 2)
                if let millis {
                    put(".")
                    put(millis, digits: 3)
                }
                put("Z")
                return index
            }
        }
    }

    /// Hinnant's days_from_civil: days since 1970-01-01.
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `2025-06-01T12:00:00Z`, `2025-06-01T12:00:00.5+02:00`, `2025-06-01 12:00:00z`; nil otherwise.
    package static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + digits] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += digits
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect("Tt "), let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2), expect(":"), let minutes = number(2) else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = days(year: Int64(year), month: Int64(month), day: Int64(day)) * 86_400
            + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return Double(seconds) + fraction
    }
}

/// An HTTP-date in the form senders must use, IMF-fixdate (RFC 9110 §5.6.7):
/// `Sun, 06 Nov 1994 08:49:37 GMT`, case-sensitive, always GMT.
package enum HTTPDate {
    private static let dayNames = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map { Array($0.utf8) }
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .map { Array($0.utf8) }

    /// Unix seconds, or nil unless `text` is exactly an IMF-fixdate.
    package static func parse(_ text: some StringProtocol) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 29 else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func literal(_ at: Int, _ text: String) -> Bool { bytes[at..<at + text.utf8.count].elementsEqual(text.utf8) }
        guard dayNames.contains(where: { $0[...] == bytes[0..<3] }), literal(3, ", "), literal(7, " "),
            let monthIndex = monthNames.firstIndex(where: { $0[...] == bytes[8..<11] }), literal(11, " "), literal(16, " "),
            literal(19, ":"), literal(22, ":"), literal(25, " GMT"),
            let day = number(5..<7), let year = number(12..<16),
            let hour = number(17..<19), let minute = number(20..<22), let second = number(23..<25),
            (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        let days = RFC3339.days(year: year, month: Int64(monthIndex + 1), day: day)
        return days * 86_400 + hour * 3600 + minute * 60 + second
    }
}
