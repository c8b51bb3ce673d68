import CutoverLocking

/// Events just stored, kept decoded, so their deliveries render from memory instead of parsing
/// the canonical payload the claim read back (a parse costs about as much as the render itself).
///
/// The two are the same event: the canonical form round-trips exactly (`CanonicalEvent(bytes:
/// event.serialized()) == event`, held for every fixture by WebhookTests). An entry is keyed by the
/// request that stored the event and the event's id, as the spool's row is: a later request
/// repeating a stored id is not that row's request, so its copy is never taken for the stored one.
///
/// Each event is kept for as many renders as it has rendering deliveries (`DeliveryFormat.
/// rendersDecodedEvent`), and forgotten after the last: a retry of a failed attempt parses its
/// payload. So, delivering as fast as events come, the cache holds about what is in flight, not
/// the last `capacity` events (at 8,192 events, 29 MB of a 94 MB process).
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

    /// An event just stored, with the number of its deliveries that will render it.
    package struct Stored: Sendable {
        package var event: CanonicalEvent
        package var renders: Int

        package init(_ event: CanonicalEvent, renders: Int) {
            self.event = event
            self.renders = renders
        }
    }

    package let capacity: Int
    private let events: Locked<BoundedRecentMap<Key, Stored>>

    package init(capacity: Int) {
        self.capacity = max(0, capacity)
        events = Locked(BoundedRecentMap(capacity: capacity))
    }

    /// After the commit that stored them: `events` of request `requestID`, those with no rendering
    /// delivery left out. An event already kept under its key stays (the first of a request's
    /// repeated ids is the one stored).
    package func insert(requestID: Int64, events stored: [Stored]) {
        guard capacity > 0, !stored.isEmpty else { return }
        events.withLock { events in
            for entry in stored where entry.renders > 0 {
                events.insertIfAbsent(entry, for: Key(requestID: requestID, eventID: entry.event.id))
            }
        }
    }

    /// The stored event `eventID` of request `requestID`, if still kept, for one render: the
    /// last of its renders forgets it.
    package func take(requestID: Int64, eventID: String) -> CanonicalEvent? {
        guard capacity > 0 else { return nil }
        let key = Key(requestID: requestID, eventID: eventID)
        return events.withLock { events -> CanonicalEvent? in
            guard var entry = events[key] else { return nil }
            entry.renders -= 1
            if entry.renders > 0 { events.update(entry, forPresent: key) } else { events.remove(key) }
            return entry.event
        }
    }

    package var count: Int { events.withLock { $0.count } }
}
