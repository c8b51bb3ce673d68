import CutoverWebhooks
import HTTPTypes

extension HTTPField.Name {
    /// Marks a request sent by `cutover probe`: an endpoint can tell a probe from real traffic.
    package static let cutoverProbe = HTTPField.Name("X-Cutover-Probe")!
}

/// What `cutover probe` does with one example before anything is sent.
package enum ProbeStep: Sendable {
    /// The request, exactly as delivery would send it to this destination.
    case send(OutboundRequest)
    /// The format has no place for this notification: delivery leaves it out too (`unsupported`).
    case skipped(reason: String)
    /// Delivery would make it a dead letter (`phoneless: dead_letter`): not sent, not a refusal.
    case deadLetter(reason: String)
    /// No request could be built (signing failed).
    case failed(reason: String)
}

/// One example and what becomes of it.
package struct ProbeItem: Sendable {
    package var name: String
    package var api: WebhookAPI
    package var eventID: String
    package var step: ProbeStep
}

/// Turns the catalog into requests through the one `OutboundRequestBuilder` delivery uses, with
/// the probe's marker header in front of the caller's headers.
package struct ProbePlan: Sendable {
    package var format: DeliveryFormat
    package var unsupported: UnsupportedPolicy = .defaultPolicy
    package var phoneless: PhonelessPolicy = .defaultPolicy
    /// Overrides the business identity of the examples (and of Cloud output, as delivery's would).
    package var business: BusinessIdentity?
    package var appSecret: String?
    package var signingKey: StandardWebhooksKey?
    package var headers: [(name: String, value: String)] = []
    /// Names (or leading parts of names: `status`, `message.interactive`) to send; empty: all.
    package var types: [String] = []

    package init(format: DeliveryFormat) { self.format = format }

    /// Whether `name` is one of `types`: equal to one, or under one (`message.interactive`
    /// takes `message.interactive.list_reply`); a trailing `*` matches any name starting so.
    package func selects(_ name: String) -> Bool {
        types.isEmpty || types.contains { filter in
            if filter.hasSuffix("*") { return name.hasPrefix(filter.dropLast()) }
            return name == filter || name.hasPrefix(filter + ".")
        }
    }

    /// `--type` values that select nothing in the catalog (a typo, most likely).
    package func unmatchedTypes(in cases: [ProbeCase]) -> [String] {
        types.filter { filter in
            var single = self
            single.types = [filter]
            return !cases.contains { single.selects($0.name) }
        }
    }

    package func items(_ cases: [ProbeCase], now: Double) -> [ProbeItem] {
        var fields: HTTPFields = [.cutoverProbe: "1"]
        for header in headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        let builder = OutboundRequestBuilder(
            format: format, unsupported: unsupported, phoneless: phoneless, business: business,
            appSecret: appSecret.map(HMACSHA256Key.init(secret:)), standardWebhooksKey: signingKey, headers: fields
        )
        return cases.filter { selects($0.name) }.map { probe in
            let step: ProbeStep
            do {
                switch try builder.request(event: probe.event, now: now) {
                case .send(let request): step = .send(request)
                case .filtered(let reason): step = .skipped(reason: reason)
                case .deadLetter(let reason): step = .deadLetter(reason: reason)
                }
            } catch {
                step = .failed(reason: "\(error)")
            }
            return ProbeItem(name: probe.name, api: probe.event.api, eventID: probe.event.id, step: step)
        }
    }
}
