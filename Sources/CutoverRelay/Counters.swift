import Synchronization

/// Named counters with labels, exposed on /metrics in the Prometheus text format.
/// (Issue "operations" replaces this with swift-metrics + swift-prometheus.)
public final class Counters: Sendable {
    private let values = Mutex<[Key: Int]>([:])
    private let sums = Mutex<[Key: (sum: Double, count: Int)]>([:])

    struct Key: Hashable, Comparable {
        var name: String
        var labels: String

        static func < (lhs: Key, rhs: Key) -> Bool { (lhs.name, lhs.labels) < (rhs.name, rhs.labels) }
    }

    public init() {}

    public func increment(_ name: String, _ labels: KeyValuePairs<String, String> = [:], by amount: Int = 1) {
        let key = Key(name: name, labels: labels.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ","))
        values.withLock { $0[key, default: 0] += amount }
    }

    /// Accumulates a duration: exposed as `<name>_sum` and `<name>_count` (a summary without quantiles).
    public func add(_ name: String, _ labels: KeyValuePairs<String, String> = [:], seconds: Double) {
        let key = Key(name: name, labels: labels.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ","))
        sums.withLock { sums in
            let current = sums[key] ?? (0, 0)
            sums[key] = (current.sum + seconds, current.count + 1)
        }
    }

    public func value(_ name: String, _ labels: KeyValuePairs<String, String> = [:]) -> Int {
        let key = Key(name: name, labels: labels.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ","))
        return values.withLock { $0[key] ?? 0 }
    }

    public func prometheusText() -> String {
        let snapshot = values.withLock { $0 }.sorted { $0.key < $1.key }
        var text = ""
        var lastName = ""
        for (key, value) in snapshot {
            if key.name != lastName {
                text += "# TYPE \(key.name) counter\n"
                lastName = key.name
            }
            text += key.labels.isEmpty ? "\(key.name) \(value)\n" : "\(key.name){\(key.labels)} \(value)\n"
        }
        lastName = ""
        for (key, value) in sums.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            if key.name != lastName {
                text += "# TYPE \(key.name) summary\n"
                lastName = key.name
            }
            let labels = key.labels.isEmpty ? "" : "{\(key.labels)}"
            text += "\(key.name)_sum\(labels) \(value.sum)\n\(key.name)_count\(labels) \(value.count)\n"
        }
        return text
    }

    /// Prometheus label escaping. Label values here are almost always plain, so the common case
    /// is one scan and no copy (this runs on every request).
    private static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else {
            return value
        }
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}
