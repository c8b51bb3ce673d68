/// Durations as operators type them: `90s`, `15m`, `2h`, `7d`, `1w`, `1d12h`. The unit is required:
/// a bare `7` meaning seven seconds in `purge --older-than 7` would be a nasty surprise.
package enum DurationText {
    private static let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]

    /// The duration in seconds, or nil when `text` is not one.
    package static func seconds(_ text: String) -> Double? {
        var total = 0.0
        var number = ""
        for character in text {
            if character.isNumber || character == "." {
                number.append(character)
            } else if let unit = units[character], let value = Double(number) {
                total += value * unit
                number = ""
            } else {
                return nil
            }
        }
        return number.isEmpty && !text.isEmpty ? total : nil
    }
}
