/// A dictionary of at most `capacity` entries that forgets the oldest insertion first: the memory
/// of the caches on the request path (`DecodedEventCache`, the ingress's signed-body ids), whose
/// entries are worth most while young and must never grow with traffic.
///
/// A value type, unlocked: its owner keeps it under its own lock.
package struct BoundedRecentMap<Key: Hashable, Value> {
    package let capacity: Int
    private var entries: [Key: Value] = [:]
    /// Insertion order, as a ring: `order[next]` is the oldest once the ring is full.
    private var order: [Key] = []
    private var next = 0

    package init(capacity: Int) {
        self.capacity = max(0, capacity)
        entries.reserveCapacity(min(self.capacity, 4_096))
    }

    package var count: Int { entries.count }

    package subscript(key: Key) -> Value? { entries[key] }

    /// Adds `value` unless `key` is present already (the first value stays); past `capacity`, the
    /// oldest entry makes room.
    package mutating func insertIfAbsent(_ value: Value, for key: Key) {
        guard capacity > 0, entries[key] == nil else { return }
        entries[key] = value
        if order.count < capacity {
            order.append(key)
        } else {
            entries[order[next]] = nil
            order[next] = key
            next = (next + 1) % capacity
        }
    }
}

extension BoundedRecentMap: Sendable where Key: Sendable, Value: Sendable {}
