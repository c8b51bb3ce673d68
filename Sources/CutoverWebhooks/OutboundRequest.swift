import HTTPTypes

/// What a destination receives: the shape of one of the two APIs, CloudEvents, or the exact bytes
/// Cutover received. The config's `format:` and the CLI's `--format` spell it the same way.
package enum DeliveryFormat: String, Sendable, Codable, CaseIterable {
    case onprem, cloud, canonical, raw

    /// The renderer's format; nil for `raw`, whose bytes are sent as received.
    package var rendered: WebhookOutputFormat? {
        switch self {
        case .onprem: .onprem
        case .cloud: .cloud
        case .canonical: .canonical
        case .raw: nil
        }
    }

    /// Whether a delivery in this format renders the decoded event (and so can use one kept in
    /// `DecodedEventCache`): `canonical` sends the stored bytes, `raw` the request's.
    package var rendersDecodedEvent: Bool { self == .onprem || self == .cloud }
}

extension WebhookInputFormat {
    /// Read a body as the API it arrived on.
    package init(_ api: WebhookAPI) {
        switch api {
        case .cloud: self = .cloud
        case .onprem: self = .onprem
        }
    }
}

/// The header names of outbound requests, made once: building an `HTTPField.Name` validates and
/// lowercases it, which a per-delivery call would repeat for nothing.
extension HTTPField.Name {
    /// The event id (several, comma-separated, for a raw body), so the endpoint can drop a repeat:
    /// delivery is at least once.
    package static let cutoverEventID = HTTPField.Name("X-Cutover-Event-Id")!
    /// Marks a request sent by `cutover replay`.
    package static let cutoverReplay = HTTPField.Name("X-Cutover-Replay")!
    /// `user_id`: the body's phone fields hold a business-scoped user id (`PhonelessPolicy.userID`).
    package static let cutoverPhoneless = HTTPField.Name("X-Cutover-Phoneless")!
    package static let xHubSignature256 = HTTPField.Name(WebhookSignature.headerName)!
    package static let webhookID = HTTPField.Name("webhook-id")!
    package static let webhookTimestamp = HTTPField.Name("webhook-timestamp")!
    package static let webhookSignature = HTTPField.Name("webhook-signature")!
}

/// Exactly what one destination is sent for one event: the body and its headers, in order.
package struct OutboundRequest: Sendable, Equatable {
    package var body: [UInt8]
    package var headers: HTTPFields
}

/// What building a request came to, short of an error.
package enum OutboundOutcome: Sendable, Equatable {
    case send(OutboundRequest)
    /// The destination's API has no such notification and its `unsupported` policy leaves it out.
    case filtered(reason: String)
    /// The event must not be sent nor left out quietly: the delivery becomes a dead letter.
    case deadLetter(reason: String)
}

/// Why no request could be built.
package enum OutboundError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stored event is not a canonical event: it will never render.
    case unrenderable(String)
    /// A `raw` request needs the body as received, and none was given.
    case missingRawBody
    /// OpenSSL failed while signing: a fault of this process, not of the event.
    case signing(WebhookCryptoError)

    package var description: String {
        switch self {
        case .unrenderable(let reason): "cannot render: \(reason)"
        case .missingRawBody: "cannot render: the raw request is no longer stored"
        case .signing(let error): "cannot sign: \(error)"
        }
    }
}

/// Renders, signs and heads the request one destination receives for an event: what delivery
/// sends, what replay sends (plus its marker header) and what an inspector shows. Pure apart
/// from the time it is given; keyed once per destination, so it is built once and reused.
package struct OutboundRequestBuilder: Sendable {
    package let format: DeliveryFormat
    package let unsupported: UnsupportedPolicy
    package let phoneless: PhonelessPolicy
    /// Overrides the business identity field by field in Cloud output (`entry[].id`, `metadata`).
    package let business: BusinessIdentity?
    /// Signs `X-Hub-Signature-256`: cloud bodies, and raw bodies (re-signed).
    package let appSecret: HMACSHA256Key?
    /// Signs canonical bodies per Standard Webhooks.
    package let standardWebhooksKey: StandardWebhooksKey?
    /// Content-Type, User-Agent and the extra headers; Cutover's own headers are added per request.
    private let baseHeaders: HTTPFields

    /// `headers` come after Content-Type and User-Agent and replace them when named the same; the
    /// event id and signature headers replace any of `headers` named like them.
    package init(
        format: DeliveryFormat, unsupported: UnsupportedPolicy = .defaultPolicy, phoneless: PhonelessPolicy = .defaultPolicy,
        business: BusinessIdentity? = nil,
        appSecret: HMACSHA256Key? = nil, standardWebhooksKey: StandardWebhooksKey? = nil, headers: HTTPFields = [:]
    ) {
        self.format = format
        self.unsupported = unsupported
        self.phoneless = phoneless
        self.business = business
        self.appSecret = appSecret
        self.standardWebhooksKey = standardWebhooksKey
        var base: HTTPFields = [.contentType: "application/json", .userAgent: "Cutover"]
        for field in headers {
            if field.name == .contentType || field.name == .userAgent { base[field.name] = field.value } else { base.append(field) }
        }
        baseHeaders = base
    }

    /// For an event as the spool stores it (canonical JSON); `rawBody` is the request it came in,
    /// which only `raw` needs; `decoded`, the same event still in memory (`DecodedEventCache`),
    /// spares `onprem` and `cloud` parsing the payload.
    package func request(
        storedEvent payload: [UInt8], eventID: String, rawBody: [UInt8]? = nil, decoded: CanonicalEvent? = nil, now: Double
    ) throws(OutboundError) -> OutboundOutcome {
        switch format {
        case .raw:
            guard let rawBody else { throw .missingRawBody }
            return .send(try request(rawBody: rawBody, eventIDs: [eventID]))
        case .canonical:
            // The stored bytes are the event's serialization already; parsing and re-serializing
            // them would cost time and could only change what was signed at ingress.
            return .send(try signed(body: payload, eventIDs: [eventID], now: now))
        case .onprem, .cloud:
            if let decoded, decoded.id == eventID { return try request(event: decoded, now: now) }
            let event: CanonicalEvent
            do { event = try CanonicalEvent(bytes: payload) } catch { throw .unrenderable("\(error)") }
            return try request(event: event, now: now)
        }
    }

    /// For a decoded event. `raw` cannot be built from one: it needs the bytes as received.
    package func request(event: CanonicalEvent, now: Double) throws(OutboundError) -> OutboundOutcome {
        guard let output = format.rendered else { throw .missingRawBody }
        let outcome = WebhookRenderer.render(events: [event], as: output, business: business, unsupported: unsupported, phoneless: phoneless)
        if let refused = outcome.dropped.first(where: \.deadLetter) { return .deadLetter(reason: refused.reason) }
        guard let body = outcome.body else {
            return .filtered(reason: outcome.dropped.first?.reason ?? "not representable in \(format.rawValue)")
        }
        var request = try signed(body: body, eventIDs: [event.id], now: now)
        if !outcome.userIDForPhone.isEmpty { request.headers[.cutoverPhoneless] = PhonelessPolicy.userID.rawValue }
        return .send(request)
    }

    /// For the exact bytes of a received request (`raw`): re-signed when there is an app secret,
    /// else with `originalSignature`, which still holds for the unchanged bytes. `eventIDs` may be
    /// empty (a body that does not decode).
    package func request(rawBody: [UInt8], eventIDs: [String], originalSignature: String? = nil) throws(OutboundError) -> OutboundRequest {
        var request = try signed(body: rawBody, eventIDs: eventIDs, now: 0)
        if appSecret == nil, let originalSignature { request.headers[.xHubSignature256] = originalSignature }
        return request
    }

    private func signed(body: [UInt8], eventIDs: [String], now: Double) throws(OutboundError) -> OutboundRequest {
        var headers = baseHeaders
        let id = eventIDs.joined(separator: ",")
        if !eventIDs.isEmpty { headers[.cutoverEventID] = id }
        do {
            switch format {
            case .canonical:
                headers[.webhookID] = id
                if let standardWebhooksKey {
                    let timestamp = String(Int(now))
                    headers[.webhookTimestamp] = timestamp
                    headers[.webhookSignature] = try standardWebhooksKey.sign(id: id, timestamp: timestamp, body: body)
                }
            case .cloud, .raw:
                if let appSecret { headers[.xHubSignature256] = try WebhookSignature.sign(body: body, key: appSecret) }
            case .onprem:
                break
            }
        } catch {
            throw .signing(error)
        }
        return OutboundRequest(body: body, headers: headers)
    }
}
