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
    private let events: Locked<BoundedRecentMap<Key, CanonicalEvent>>

    package init(capacity: Int) {
        self.capacity = max(0, capacity)
        events = Locked(BoundedRecentMap(capacity: capacity))
    }

    /// After the commit that stored them: `events` of request `requestID`. An event already kept
    /// under its key stays (the first of a request's repeated ids is the one stored).
    package func insert(requestID: Int64, events stored: [CanonicalEvent]) {
        guard capacity > 0, !stored.isEmpty else { return }
        events.withLock { events in
            for event in stored { events.insertIfAbsent(event, for: Key(requestID: requestID, eventID: event.id)) }
        }
    }

    /// The stored event `eventID` of request `requestID`, if still kept.
    package func event(requestID: Int64, eventID: String) -> CanonicalEvent? {
        guard capacity > 0 else { return nil }
        return events.withLock { $0[Key(requestID: requestID, eventID: eventID)] }
    }

    package var count: Int { events.withLock { $0.count } }
}
