/// The two WhatsApp webhook dialects.
package enum WebhookAPI: String, Sendable, Equatable, CaseIterable {
    case cloud
    case onprem
}

/// The business a notification belongs to. Cloud bodies carry it; On-Prem bodies do not (the
/// On-Prem route's configuration supplies it).
package struct BusinessIdentity: Sendable, Equatable {
    package var phoneNumberID: String?
    package var displayPhoneNumber: String?
    package var wabaID: String?

    package init(phoneNumberID: String? = nil, displayPhoneNumber: String? = nil, wabaID: String? = nil) {
        self.phoneNumberID = phoneNumberID
        self.displayPhoneNumber = displayPhoneNumber
        self.wabaID = wabaID
    }

    package var isEmpty: Bool { phoneNumberID == nil && displayPhoneNumber == nil && wabaID == nil }

    /// Each field of `override` that is set wins over this identity's.
    package func overridden(by override: BusinessIdentity?) -> BusinessIdentity {
        guard let override else { return self }
        return BusinessIdentity(
            phoneNumberID: override.phoneNumberID ?? phoneNumberID,
            displayPhoneNumber: override.displayPhoneNumber ?? displayPhoneNumber,
            wabaID: override.wabaID ?? wabaID
        )
    }

    /// `{waba_id?, phone_number_id?, display_phone_number?}`
    package var json: JSONObject {
        var o = JSONObject(minimumCapacity: 3)
        o.appendIfPresent("waba_id", wabaID.map(JSONValue.string))
        o.appendIfPresent("phone_number_id", phoneNumberID.map(JSONValue.string))
        o.appendIfPresent("display_phone_number", displayPhoneNumber.map(JSONValue.string))
        return o
    }

    package init(json: JSONObject?) {
        phoneNumberID = json?["phone_number_id"]?.scalarText
        displayPhoneNumber = json?["display_phone_number"]?.scalarText
        wabaID = json?["waba_id"]?.scalarText
    }
}

/// What a canonical event is about.
package enum CanonicalEventKind: Sendable, Equatable {
    case message
    case status
    case error
    /// Any other webhook field (business management, Coexistence, groups...); carries the change's `value`.
    case field(String)
}

/// Why a stored canonical event could not be read back.
package struct CanonicalEventError: Error, Sendable, Equatable, CustomStringConvertible {
    package var reason: String
    package init(_ reason: String) { self.reason = reason }
    package var description: String { "invalid canonical event: \(reason)" }
}

/// One notification as a CloudEvents 1.0 event (structured JSON mode).
///
/// ```
/// { "specversion": "1.0", "id": "msg:wamid.HBg...", "source": "whatsapp:106540352242922",
///   "type": "com.whatsapp.message.received", "subject": "16505551234",
///   "time": "2025-06-08T20:59:43Z", "whatsappapi": "cloud", "datacontenttype": "application/json",
///   "data": { "business": {...}, "contact": {...}, "message": {...}, "batch": {...} } }
/// ```
///
/// `data` holds `business`, `contact` (when one matches), exactly one of `message` / `status` /
/// `error` / `value`, and `batch` (what rebuilding the original envelope needs; see `WebhookDecoder`).
///
/// `subject` is the user the event is about, as `UserIdentity.key` gives it: the business-scoped
/// user id when the item or its contact carries one (`from_user_id`, `recipient_user_id`,
/// `contacts[].user_id`, `system.user_id`), else the phone (`from`, `recipient_id`); none for
/// errors and management fields. So a user Meta sends with a phone one day and without it the
/// next stays one subject and one ordering stream (`contactKey`). Events decoded before BSUIDs
/// took precedence (Cutover before issue 11) keep the subject and ordering key they were stored
/// with: the spool keeps both and nothing recomputes them, so at the upgrade a user with a BSUID
/// may have deliveries pending under the phone while new ones queue under the BSUID; those two
/// streams are not ordered against each other until the old one drains.
package struct CanonicalEvent: Sendable, Equatable {
    package static let specVersion = "1.0"
    package static let extensionName = "whatsappapi"

    package enum EventType {
        package static let messageReceived = "com.whatsapp.message.received"
        package static let messageStatus = "com.whatsapp.message.status"
        package static let error = "com.whatsapp.error"
        package static let fieldPrefix = "com.whatsapp."
    }

    package var id: String
    package var type: String
    package var source: String
    package var subject: String?
    /// RFC 3339 UTC, from the item's own Unix timestamp (absent when the item has none).
    package var time: String?
    /// The API the notification arrived in (`whatsappapi` extension attribute).
    package var api: WebhookAPI
    package var data: JSONObject
    /// Any other attributes read back by `init(json:)`, kept so they survive.
    package var otherAttributes: JSONObject

    package init(
        id: String, type: String, source: String, subject: String?, time: String?, api: WebhookAPI,
        data: JSONObject, otherAttributes: JSONObject = JSONObject()
    ) {
        self.id = id
        self.type = type
        self.source = source
        self.subject = subject
        self.time = time
        self.api = api
        self.data = data
        self.otherAttributes = otherAttributes
    }

    // MARK: data accessors

    package var kind: CanonicalEventKind {
        switch type {
        case EventType.messageReceived: return .message
        case EventType.messageStatus: return .status
        case EventType.error: return .error
        default:
            if type.hasPrefix(EventType.fieldPrefix) { return .field(String(type.dropFirst(EventType.fieldPrefix.count))) }
            return .field(type)
        }
    }

    package var business: BusinessIdentity { BusinessIdentity(json: data["business"]?.objectValue) }
    package var contact: JSONObject? { data["contact"]?.objectValue }
    package var message: JSONObject? { data["message"]?.objectValue }
    package var status: JSONObject? { data["status"]?.objectValue }
    package var error: JSONObject? { data["error"]?.objectValue }
    /// The change's `value` of a management (non-`messages`) field, carried intact.
    package var value: JSONValue? { data["value"] }
    package var batch: JSONObject? { data["batch"]?.objectValue }

    /// Per-contact ordering key: business number (phone number id, else display number, else WABA
    /// id, else source) + `|` + contact (`subject`: the BSUID, else the phone; empty for
    /// business-level events). The spool stores it with each delivery at ingest.
    package var contactKey: String {
        let b = business
        let number = b.phoneNumberID ?? b.displayPhoneNumber ?? b.wabaID ?? source
        let contact = subject ?? ""
        // One allocation: `number + "|" + contact` made an intermediate string of its own.
        var key = ""
        key.reserveCapacity(number.utf8.count + 1 + contact.utf8.count)
        key += number
        key += "|"
        key += contact
        return key
    }

    // MARK: JSON

    /// The full CloudEvent.
    package var json: JSONValue {
        var o = JSONObject(minimumCapacity: 10 + otherAttributes.count)
        o.append("specversion", .string(CanonicalEvent.specVersion))
        o.append("id", .string(id))
        o.append("source", .string(source))
        o.append("type", .string(type))
        o.appendIfPresent("subject", subject.map(JSONValue.string))
        o.appendIfPresent("time", time.map(JSONValue.string))
        o.append(CanonicalEvent.extensionName, .string(api.rawValue))
        o.append("datacontenttype", .string("application/json"))
        for m in otherAttributes { o.append(m.key, m.value) }
        o.append("data", .object(data))
        return .object(o)
    }

    /// Compact JSON bytes of `json`. A Cloud message's event is 1.2 KB and more (the envelope plus
    /// `data`): started at 1 KB, nearly every serialization grew its buffer once.
    package func serialized() -> [UInt8] { json.serialized(capacity: 4096) }

    private static let knownAttributes: Set<String> = [
        "specversion", "id", "source", "type", "subject", "time", extensionName, "datacontenttype", "data",
    ]

    /// Reads back an event produced by `json` / `serialized()`.
    package init(json: JSONValue) throws(CanonicalEventError) {
        guard case .object(let o) = json else { throw CanonicalEventError("not a JSON object") }
        guard o["specversion"]?.stringValue == CanonicalEvent.specVersion else { throw CanonicalEventError("specversion is not 1.0") }
        guard let id = o["id"]?.stringValue, !id.isEmpty else { throw CanonicalEventError("missing id") }
        guard let type = o["type"]?.stringValue, !type.isEmpty else { throw CanonicalEventError("missing type") }
        guard let source = o["source"]?.stringValue else { throw CanonicalEventError("missing source") }
        guard let apiText = o[CanonicalEvent.extensionName]?.stringValue, let api = WebhookAPI(rawValue: apiText) else {
            throw CanonicalEventError("missing or unknown \(CanonicalEvent.extensionName)")
        }
        guard let data = o["data"]?.objectValue else { throw CanonicalEventError("data is not an object") }
        if let ct = o["datacontenttype"], ct.stringValue != "application/json" {
            throw CanonicalEventError("datacontenttype is not application/json")
        }
        var others = JSONObject()
        for m in o where !CanonicalEvent.knownAttributes.contains(m.key) { others.append(m.key, m.value) }
        self.init(
            id: id, type: type, source: source, subject: o["subject"]?.stringValue, time: o["time"]?.stringValue,
            api: api, data: data, otherAttributes: others
        )
    }

    /// Reads back an event from its JSON bytes (e.g. from the spool).
    package init(bytes: [UInt8]) throws(CanonicalEventError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw CanonicalEventError("\(error)") }
        try self.init(json: value)
    }
}
