import CutoverLocking

/// The ids of recently committed events, in memory, so a retried webhook (Meta resends the same
/// body) is recognized without SQL and without a write.
///
/// Only ids of committed transactions go in: the writer adds a batch's ids after its COMMIT (and the
/// file identity check) returned, and `Spool.committedEvents` adds ids the read-only connection found.
/// An id still in an uncommitted batch is never in here, so a hit is always a stored event.
///
/// Bounded: at most `capacity` ids, the oldest forgotten first (a forgotten id is then looked up in
/// the database). Retention deletes old events; the spool clears the index after a prune that
/// deleted any, and `generation` keeps a lookup that read the database before that prune from
/// putting a pruned id back.
final class CommittedEventIndex: Sendable {
    let capacity: Int

    private struct State {
        var members: Set<String> = []
        /// Insertion order, as a ring: `order[next]` is the oldest once the ring is full.
        var order: [String] = []
        var next = 0
        var generation: UInt64 = 0
    }

    private let state: Locked<State>

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        var initial = State()
        initial.members.reserveCapacity(min(self.capacity, 4_096))
        state = Locked(initial)
    }

    /// For each of `ids`, whether it is known committed; and the generation to hand back to `insert`.
    func lookup(_ ids: [String], into known: inout [Bool]) -> UInt64 {
        state.withLock { state in
            for (index, id) in ids.enumerated() where !known[index] {
                known[index] = state.members.contains(id)
            }
            return state.generation
        }
    }

    /// Whether every one of `ids` is in the index.
    func containsAll(_ ids: [String]) -> Bool {
        state.withLock { state in ids.allSatisfy { state.members.contains($0) } }
    }

    /// For each of `ids`, whether it is committed: the index first, then `lookUp` (whether the
    /// database holds an id, on a connection that sees only committed data) for the ids it misses,
    /// which are added. nil when there are more than `maxLookUps` misses or a look-up fails.
    func resolve(_ ids: [String], maxLookUps: Int, lookUp: (_ missing: [String]) throws(SpoolError) -> Set<String>) -> [Bool]? {
        var known = [Bool](repeating: false, count: ids.count)
        let generation = lookup(ids, into: &known)
        let missing = zip(ids, known).compactMap { id, isKnown in isKnown ? nil : id }
        guard !missing.isEmpty else { return known }
        guard missing.count <= maxLookUps else { return nil }
        let found: Set<String>
        do throws(SpoolError) {
            found = try lookUp(missing)
        } catch {
            return nil
        }
        for (index, id) in ids.enumerated() where !known[index] && found.contains(id) { known[index] = true }
        insert(found, generation: generation)
        return known
    }

    /// Adds committed ids; `generation` (from `lookup`) drops them if the index was cleared since.
    func insert<Ids: Sequence<String>>(_ ids: Ids, generation: UInt64? = nil) {
        guard capacity > 0 else { return }
        state.withLock { state in
            if let generation, generation != state.generation { return }
            for id in ids where state.members.insert(id).inserted {
                if state.order.count < capacity {
                    state.order.append(id)
                } else {
                    state.members.remove(state.order[state.next])
                    state.order[state.next] = id
                    state.next = (state.next + 1) % capacity
                }
            }
        }
    }

    /// Forgets every id (after retention deleted events).
    func removeAll() {
        state.withLock { state in
            state.members.removeAll(keepingCapacity: true)
            state.order.removeAll(keepingCapacity: true)
            state.next = 0
            state.generation &+= 1
        }
    }

    var count: Int { state.withLock { $0.members.count } }
}
