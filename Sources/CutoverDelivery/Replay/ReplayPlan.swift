import CutoverConfiguration
import CutoverWebhooks
import Foundation
import HTTPTypes

/// Which records and events a replay takes. Empty lists match everything.
package struct ReplayFilter: Sendable {
    /// Receive time bounds, Unix seconds: `since` inclusive, `until` exclusive. A record with no
    /// receive time (a bare body in a JSON-lines file) does not match a time bound.
    package var since: Double?
    package var until: Double?
    /// Business phone number ids or display phone numbers (digits compared).
    package var phoneNumbers: [String] = []
    /// Canonical event types; a trailing `*` matches a prefix (`com.whatsapp.message.*`).
    package var eventTypes: [String] = []
    /// Contacts (`wa_id`, the event's subject).
    package var contacts: [String] = []

    package init(since: Double? = nil, until: Double? = nil, phoneNumbers: [String] = [], eventTypes: [String] = [], contacts: [String] = []) {
        self.since = since
        self.until = until
        self.phoneNumbers = phoneNumbers
        self.eventTypes = eventTypes
        self.contacts = contacts
    }

    package var filtersEvents: Bool { !phoneNumbers.isEmpty || !eventTypes.isEmpty || !contacts.isEmpty }

    package func matches(receivedAt: Double?) -> Bool {
        guard since != nil || until != nil else { return true }
        guard let receivedAt else { return false }
        return since.map { receivedAt >= $0 } ?? true && until.map { receivedAt < $0 } ?? true
    }

    package func matches(_ event: CanonicalEvent) -> Bool {
        if !phoneNumbers.isEmpty {
            let business = event.business
            let digits = { (text: String) in text.filter(\.isNumber) }
            let candidates = [business.phoneNumberID, business.displayPhoneNumber].compactMap { $0 }.map(digits)
            guard phoneNumbers.contains(where: { candidates.contains(digits($0)) }) else { return false }
        }
        if !eventTypes.isEmpty {
            guard eventTypes.contains(where: { $0.hasSuffix("*") ? event.type.hasPrefix($0.dropLast()) : event.type == $0 }) else {
                return false
            }
        }
        if !contacts.isEmpty {
            // The subject is the BSUID when there is one; the phone still names the same user.
            let names = [event.subject, event.user?.phone, event.user?.userID].compactMap { $0 }
            guard names.contains(where: contacts.contains) else { return false }
        }
        return true
    }
}

/// One request a replay sends.
package struct ReplayRequest: Sendable {
    package var label: String
    package var eventIDs: [String]
    package var fields: HTTPFields
    package var body: [UInt8]
    /// When the runner let it go (its pacing slot), set just before it is handed to the transport.
    package var releasedAt: Double?

    init(label: String, eventIDs: [String], _ request: OutboundRequest) {
        self.label = label
        self.eventIDs = eventIDs
        fields = request.headers
        body = request.body
    }

    /// The headers as sent, names spelled as given.
    package var headers: [(name: String, value: String)] { fields.map { ($0.name.rawName, $0.value) } }
}

/// Turns records into requests: filters, decodes, then renders and signs exactly as a delivery
/// worker would (the same `OutboundRequestBuilder`), plus the replay marker header. Pure apart
/// from the time it is given.
package struct ReplayPlan: Sendable {
    package var format: DeliveryFormat { didSet { rebuild() } }
    package var filter = ReplayFilter()
    /// Overrides the business identity field by field: for On-Prem bodies (which carry none) and
    /// for Cloud output (`entry[].id`, `metadata`).
    package var business: BusinessIdentity? { didSet { rebuild() } }
    /// The identity of each On-Prem route by name (from a config file), for bodies captured on it.
    package var routeIdentities: [String: BusinessIdentity] = [:]
    package var unsupported: UnsupportedPolicy = .defaultPolicy { didSet { rebuild() } }
    package var phoneless: PhonelessPolicy = .defaultPolicy { didSet { rebuild() } }
    /// Re-signs `X-Hub-Signature-256` (cloud, and raw bodies) with this app secret.
    package var appSecret: String? { didSet { rebuild() } }
    /// Signs canonical requests per Standard Webhooks with this key.
    package var signingKey: StandardWebhooksKey? { didSet { rebuild() } }
    package var headers: [(name: String, value: String)] = [] { didSet { rebuild() } }
    /// Made again whenever a setting changes (before the replay starts), so the secret is keyed
    /// once per replay, not once per request.
    private var outbound: OutboundRequestBuilder

    package init(format: DeliveryFormat) {
        self.format = format
        outbound = Self.builder(
            format: format, business: nil, unsupported: .defaultPolicy, phoneless: .defaultPolicy, appSecret: nil, signingKey: nil, headers: []
        )
    }

    private mutating func rebuild() {
        outbound = Self.builder(
            format: format, business: business, unsupported: unsupported, phoneless: phoneless, appSecret: appSecret,
            signingKey: signingKey, headers: headers
        )
    }

    private static func builder(
        format: DeliveryFormat, business: BusinessIdentity?, unsupported: UnsupportedPolicy, phoneless: PhonelessPolicy, appSecret: String?,
        signingKey: StandardWebhooksKey?, headers: [(name: String, value: String)]
    ) -> OutboundRequestBuilder {
        var fields: HTTPFields = [.cutoverReplay: "1"]
        for header in headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return OutboundRequestBuilder(
            format: format, unsupported: unsupported, phoneless: phoneless, business: business,
            appSecret: appSecret.map(HMACSHA256Key.init(secret:)),
            standardWebhooksKey: signingKey, headers: fields
        )
    }

    /// What one record comes to.
    package struct Prepared: Sendable {
        /// Whether the record passed the filters.
        package var matched = false
        package var requests: [ReplayRequest] = []
        /// Why the record, or an event of it, cannot be replayed: counted as failed.
        package var failures: [String] = []
        /// Events the target format has no place for (the `unsupported` policy dropped them).
        package var skipped: [String] = []
    }

    package func prepare(_ record: ReplayRecord, now: Double) -> Prepared {
        var prepared = Prepared()
        guard filter.matches(receivedAt: record.request.receivedAt) else { return prepared }
        if let problem = record.problem {
            prepared.matched = true
            prepared.failures.append("\(record.label): \(problem)")
            return prepared
        }
        let events: [CanonicalEvent]
        do {
            events = try self.events(of: record)
        } catch {
            // A body that does not decode has no events to match an event filter.
            if filter.filtersEvents { return prepared }
            // Raw replay sends bytes, decodable or not (a quarantined body).
            guard format == .raw else {
                prepared.matched = true
                prepared.failures.append("\(record.label): cannot decode: \(error)")
                return prepared
            }
            prepared.matched = true
            append(raw: record, events: [], to: &prepared)
            return prepared
        }
        let wanted = events.filter(filter.matches)
        if format == .raw {
            // The whole body, when any of its events is wanted. A spool request with no events of
            // its own (a redelivery) is not sent again.
            if filter.filtersEvents || record.storedEvents != nil, wanted.isEmpty { return prepared }
            prepared.matched = true
            append(raw: record, events: events, to: &prepared)
            return prepared
        }
        guard !wanted.isEmpty else { return prepared }
        prepared.matched = true
        for event in wanted {
            do {
                switch try outbound.request(event: event, now: now) {
                case .send(let request):
                    prepared.requests.append(ReplayRequest(label: record.label, eventIDs: [event.id], request))
                case .filtered(let reason):
                    prepared.skipped.append("\(record.label) \(event.id): \(reason)")
                case .deadLetter(let reason):
                    // Not sendable to this destination as configured: a failure, not a quiet skip.
                    prepared.failures.append("\(record.label) \(event.id): \(reason)")
                }
            } catch {
                prepared.failures.append("\(record.label) \(event.id): \(error)")
            }
        }
        return prepared
    }

    /// The whole body as received, once.
    private func append(raw record: ReplayRecord, events: [CanonicalEvent], to prepared: inout Prepared) {
        let ids = events.map(\.id)
        do {
            let request = try outbound.request(
                rawBody: record.request.body, eventIDs: ids, originalSignature: record.request.header(WebhookSignature.headerName)
            )
            prepared.requests.append(ReplayRequest(label: record.label, eventIDs: ids, request))
        } catch {
            prepared.failures.append("\(record.label): \(error)")
        }
    }

    /// The record's events: as stored, or decoded from the body with its route's identity.
    func events(of record: ReplayRecord) throws -> [CanonicalEvent] {
        if let stored = record.storedEvents {
            return try stored.map { payload in
                var event = try CanonicalEvent(bytes: payload)
                if let business, format == .canonical { event = Self.overriding(event, with: business) }
                return event
            }
        }
        let route = record.request.route ?? ""
        let api: WebhookInputFormat = route == "cloud" ? .cloud : route.hasPrefix("onprem/") ? .onprem : .auto
        let routeName = route.hasPrefix("onprem/") ? String(route.dropFirst("onprem/".count)) : nil
        let identity = (routeName.flatMap { routeIdentities[$0] } ?? BusinessIdentity()).overridden(by: business)
        return try WebhookDecoder().decode(record.request.body, api: api, business: identity.isEmpty ? nil : identity, route: routeName)
    }

    /// Stored events keep the identity they were delivered with; an explicit override replaces it in canonical output.
    private static func overriding(_ event: CanonicalEvent, with business: BusinessIdentity) -> CanonicalEvent {
        var event = event
        let merged = event.business.overridden(by: business)
        event.data = event.data.setting("business", .object(merged.json))
        return event
    }
}

/// Times on the command line: RFC 3339 (`2025-06-01T12:00:00Z`) or how long ago (`90s`, `15m`,
/// `2h`, `7d`, `1w`, `1d12h`).
package enum ReplayTime {
    package static func parse(_ text: String, now: Double) -> Double? {
        if let time = RFC3339.parse(text) { return time }
        return DurationText.seconds(text).map { now - $0 }
    }
}
