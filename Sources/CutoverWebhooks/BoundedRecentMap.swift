/// A dictionary of at most `capacity` entries that forgets the oldest insertion first: the memory
/// of the caches on the request path (`DecodedEventCache`, the ingress's signed-body ids), whose
/// entries are worth most while young and must never grow with traffic.
///
/// A value type, unlocked: its owner keeps it under its own lock.
///
/// `public` and `@inlinable` only so that its bodies reach the modules that use it, specialized (as
/// `Locked` explains, a `package` inlinable body reached no other module): unspecialized, each lookup
/// of a retry's signed body copied its key and value through value witnesses and looked up
/// `Dictionary<Key, Value>`'s metadata at run time, 3 % of a retry's CPU.
public struct BoundedRecentMap<Key: Hashable, Value> {
    public let capacity: Int
    @usableFromInline var entries: [Key: Value] = [:]
    /// Insertion order, as a ring: `order[next]` is the oldest once the ring is full.
    @usableFromInline var order: [Key] = []
    @usableFromInline var next = 0

    @inlinable
    public init(capacity: Int) {
        self.capacity = max(0, capacity)
        entries.reserveCapacity(min(self.capacity, 4_096))
    }

    @inlinable
    public var count: Int { entries.count }

    @inlinable
    public subscript(key: Key) -> Value? { entries[key] }

    /// Adds `value` unless `key` is present already (the first value stays); past `capacity`, the
    /// oldest entry makes room.
    @inlinable
    public mutating func insertIfAbsent(_ value: Value, for key: Key) {
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

    /// Replaces the value of a present `key`; nothing when it is absent.
    @inlinable
    public mutating func update(_ value: Value, forPresent key: Key) {
        guard entries[key] != nil else { return }
        entries[key] = value
    }

    /// Forgets `key` now. Its place in the insertion order is reused as the ring comes round to
    /// it, so `capacity` still bounds what is kept.
    @inlinable
    public mutating func remove(_ key: Key) {
        entries[key] = nil
    }
}

extension BoundedRecentMap: Sendable where Key: Sendable, Value: Sendable {}
