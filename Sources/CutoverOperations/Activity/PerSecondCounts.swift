/// Counts per key for each of the last `seconds` seconds: the ring behind "events per second by
/// type over the last 10 s / 60 s". A slot is reset when its second comes round again, so memory
/// stays at `seconds` dictionaries whatever the rate.
struct PerSecondCounts: Sendable {
    static let seconds = 60

    private var slots = [(second: Int, counts: [String: Int])](repeating: (-1, [:]), count: PerSecondCounts.seconds)

    mutating func add(_ key: String, count: Int = 1, at time: Double) {
        let second = Int(time.rounded(.down))
        let index = second % Self.seconds
        if slots[index].second != second { slots[index] = (second, [:]) }
        slots[index].counts[key, default: 0] += count
    }

    /// Per key, the events of the last `window` whole seconds before `time` and of the current one.
    func totals(lastSeconds window: Int, at time: Double) -> [String: Int] {
        let now = Int(time.rounded(.down))
        var totals: [String: Int] = [:]
        for slot in slots where slot.second >= 0 && now - slot.second < min(window, Self.seconds) && slot.second <= now {
            for (key, count) in slot.counts { totals[key, default: 0] += count }
        }
        return totals
    }
}
