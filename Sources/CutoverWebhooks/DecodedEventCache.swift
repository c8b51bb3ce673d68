import CutoverLocking

/// Events just stored, kept decoded, so their deliveries render from memory instead of parsing
/// the canonical payload the claim read back (a parse costs about as much as the render itself).
///
/// The two are the same event: the canonical form round-trips exactly (`CanonicalEvent(bytes:
/// event.serialized()) == event`, held for every fixture by WebhookTests). An entry is keyed by the
/// request that stored the event and the event's id, as the spool's row is: a later request
/// repeating a stored id is not that row's request, so its copy is never taken for the stored one.
///
/// Bounded: at most `capacity` events, the oldest forgotten first (a forgotten event is parsed from
/// its payload, as after a restart). With a backlog longer than the capacity, deliveries far behind
/// ingest parse as before; memory stays capped either way.
package final class DecodedEventCache: Sendable {
    package struct Key: Hashable, Sendable {
        package var requestID: Int64
        package var eventID: String

        package init(requestID: Int64, eventID: String) {
            self.requestID = requestID
            self.eventID = eventID
        }
    }

    package let capacity: Int

    private struct State {
        var events: [Key: CanonicalEvent] = [:]
        /// Insertion order, as a ring: `order[next]` is the oldest once the ring is full.
        var order: [Key] = []
        var next = 0
    }

    private let state: Locked<State>

    package init(capacity: Int) {
        self.capacity = max(0, capacity)
        var initial = State()
        initial.events.reserveCapacity(min(self.capacity, 4_096))
        state = Locked(initial)
    }

    /// After the commit that stored them: `events` of request `requestID`. An event already kept
    /// under its key stays (the first of a request's repeated ids is the one stored).
    package func insert(requestID: Int64, events: [CanonicalEvent]) {
        guard capacity > 0, !events.isEmpty else { return }
        state.withLock { state in
            for event in events {
                let key = Key(requestID: requestID, eventID: event.id)
                guard state.events[key] == nil else { continue }
                state.events[key] = event
                if state.order.count < capacity {
                    state.order.append(key)
                } else {
                    state.events[state.order[state.next]] = nil
                    state.order[state.next] = key
                    state.next = (state.next + 1) % capacity
                }
            }
        }
    }

    /// The stored event `eventID` of request `requestID`, if still kept.
    package func event(requestID: Int64, eventID: String) -> CanonicalEvent? {
        guard capacity > 0 else { return nil }
        return state.withLock { $0.events[Key(requestID: requestID, eventID: eventID)] }
    }

    package var count: Int { state.withLock { $0.events.count } }
}
