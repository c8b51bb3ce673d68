/// Which dialect to read a body as.
package enum WebhookInputFormat: String, Sendable, Equatable, CaseIterable {
    case auto
    case cloud
    case onprem
}

/// Why a body could not be turned into canonical events (the proxy quarantines such bodies).
package enum WebhookDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidJSON(JSONParseError)
    case notAnObject
    /// Neither a Cloud envelope nor an On-Prem body; carries the top-level keys seen.
    case unrecognizedShape(keys: [String])
    /// A Cloud envelope whose structure is broken (e.g. `entry` or `changes` not arrays of objects).
    case malformedEnvelope(String)
    /// OpenSSL could not hash an item for its id. The body is not decoded rather than given
    /// an id computed another way: ids are dedup keys.
    case digestFailed(WebhookCryptoError)
    /// An object repeats a key (Meta never sends one; consumers disagree on which value counts,
    /// and the event id would take the first).
    case duplicateKey(String, offset: Int)
    /// A number a 64-bit float cannot hold, or absurdly long (strict consumers fail on it).
    case unreadableNumber(String, offset: Int)
    /// A Cloud body whose `object` is not `whatsapp_business_account` (nil: absent or not a string).
    case wrongObject(String?)
    /// More events than one request may make: an amplification body, not a Meta batch.
    case tooManyEvents(limit: Int)

    package var description: String {
        switch self {
        case .invalidJSON(let e): return "invalid JSON: \(e)"
        case .notAnObject: return "webhook body is not a JSON object"
        case .unrecognizedShape(let keys): return "not a Cloud or On-Prem webhook body (keys: \(keys.joined(separator: ", ")))"
        case .malformedEnvelope(let why): return "malformed Cloud envelope: \(why)"
        case .digestFailed(let error): return "cannot compute an event id: \(error)"
        case .duplicateKey(let key, let offset): return "duplicate key \"\(key)\" at byte \(offset)"
        case .unreadableNumber(let text, let offset): return "number no consumer can read at byte \(offset): \(text)"
        case .wrongObject(let object?): return "Cloud body with object \"\(object)\", expected whatsapp_business_account"
        case .wrongObject(nil): return "Cloud body without object: whatsapp_business_account"
        case .tooManyEvents(let limit): return "more than \(limit) events in one request"
        }
    }

    /// The `reason` label of the quarantine metric: a fixed set, whatever the body says.
    package var reasonLabel: String {
        switch self {
        case .invalidJSON: return "invalid_json"
        case .notAnObject: return "not_an_object"
        case .unrecognizedShape: return "unrecognized_shape"
        case .malformedEnvelope: return "malformed_envelope"
        case .digestFailed: return "digest_failed"
        case .duplicateKey: return "duplicate_key"
        case .unreadableNumber: return "unreadable_number"
        case .wrongObject: return "wrong_object"
        case .tooManyEvents: return "too_many_events"
        }
    }
}

/// Turns one webhook body (Cloud or On-Prem) into canonical events, one per message, status, error
/// or management change.
///
/// `data.batch` records what rebuilding the origin body needs:
/// - Cloud: `entry_index`, `change_index`, `item` (`messages`/`statuses`/`errors`; absent for a
///   management change), `item_index`, `body` (the body minus `entry`), `entry` (the entry minus
///   `changes`: `id`, `time`, unknown keys), `change` (the change minus `value`: `field`, unknown keys),
///   `value` (the `messages` value minus the item arrays: `messaging_product`, `metadata`, unknown keys).
/// - On-Prem: `item`, `item_index`, `body` (top-level keys other than the item arrays), and `undo`
///   (`type: "voice"`, `errors: true`, `recipient_id: true`, `system: <original>`, `referral:
///   <original>`, `contacts: true`: which On-Prem -> Cloud vocabulary changes were applied to this item; see
///   `OnPremMapping` and docs/mapping.md).
/// - Both: `contact_index` (position of the matched contact in `contacts[]`) and, on the first event of
///   a value/body only, `other_contacts: [{index, contact}]` for contacts no item matched.
package struct WebhookDecoder: Sendable {
    /// Well above Meta's batches (tens of items per change), far below what 3 MB of tiny items make.
    package static let defaultMaxEvents = 1_000

    package var parser: any JSONDecoding
    package var maxEvents: Int

    package init(parser: any JSONDecoding = JSONParser.webhook, maxEvents: Int = WebhookDecoder.defaultMaxEvents) {
        self.parser = parser
        self.maxEvents = maxEvents
    }

    package func decode(
        _ body: UnsafeRawBufferPointer, api: WebhookInputFormat = .auto, business: BusinessIdentity? = nil,
        route: String? = nil
    ) throws(WebhookDecodeError) -> [CanonicalEvent] {
        try decode(json: parse(body), api: api, business: business, route: route)
    }

    /// The strict parse `decode` starts with, its failures as decode errors; for callers that look
    /// at the tree (`eventIDs`) before decoding it.
    package func parse(_ body: UnsafeRawBufferPointer) throws(WebhookDecodeError) -> JSONValue {
        do { return try parser.parse(body) } catch {
            switch error.reason {
            case .duplicateKey(let key): throw .duplicateKey(key, offset: error.offset)
            case .unreadableNumber(let text): throw .unreadableNumber(text, offset: error.offset)
            default: throw .invalidJSON(error)
            }
        }
    }

    package func decode(
        _ body: [UInt8], api: WebhookInputFormat = .auto, business: BusinessIdentity? = nil, route: String? = nil
    ) throws(WebhookDecodeError) -> [CanonicalEvent] {
        let result: Result<[CanonicalEvent], WebhookDecodeError> = body.withUnsafeBytes { raw in
            do throws(WebhookDecodeError) {
                return .success(try decode(raw, api: api, business: business, route: route))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Which API a parsed body is in, or `nil` when neither.
    package static func detect(_ root: JSONObject) -> WebhookAPI? {
        if root["object"]?.stringValue == "whatsapp_business_account" || root.contains("entry") { return .cloud }
        for key in ["contacts", "messages", "statuses", "errors"] where root.contains(key) { return .onprem }
        return nil
    }

    package func decode(
        json root: JSONValue, api: WebhookInputFormat = .auto, business: BusinessIdentity? = nil, route: String? = nil
    ) throws(WebhookDecodeError) -> [CanonicalEvent] {
        guard case .object(let object) = root else { throw .notAnObject }
        let resolved: WebhookAPI
        switch api {
        case .cloud: resolved = .cloud
        case .onprem: resolved = .onprem
        case .auto:
            guard let detected = WebhookDecoder.detect(object) else { throw .unrecognizedShape(keys: object.keys) }
            resolved = detected
        }
        switch resolved {
        case .cloud:
            guard case .string("whatsapp_business_account")? = object["object"] else { throw .wrongObject(object["object"]?.stringValue) }
            return try CloudDecoding(route: route, fallback: business, maxEvents: maxEvents).decode(object)
        case .onprem:
            return try OnPremDecoding(route: route, business: business ?? BusinessIdentity(), maxEvents: maxEvents).decode(object)
        }
    }
}

// MARK: - Shared helpers

enum Keys {
    static let itemArrays = ["messages", "statuses", "errors"]
}

/// An array whose elements are all objects, non-empty: the only shape the decoders split.
func objectArray(_ value: JSONValue?) -> JSONObjects? {
    guard case .array(let elements)? = value, !elements.isEmpty else { return nil }
    for element in elements {
        guard case .object = element else { return nil }
    }
    return JSONObjects(checked: elements)
}

/// The objects of a JSON array whose elements were all checked to be objects, read in place: a
/// body's item and contact arrays are walked several times per request, and copying each into an
/// `[JSONObject]` first cost an allocation per array per walk.
struct JSONObjects: RandomAccessCollection, ExpressibleByArrayLiteral {
    private let elements: [JSONValue]

    fileprivate init(checked elements: [JSONValue]) { self.elements = elements }
    init(arrayLiteral objects: JSONObject...) { elements = objects.map(JSONValue.object) }

    var startIndex: Int { 0 }
    var endIndex: Int { elements.count }

    subscript(position: Int) -> JSONObject {
        guard case .object(let object) = elements[position] else { preconditionFailure("JSONObjects holds objects only") }
        return object
    }
}

/// `whatsapp:<phone_number_id>` when known; else, for On-Prem, `cutover:onprem/<route>`; else
/// `whatsapp:waba:<waba_id>` (Cloud management fields carry only the WABA); else `cutover:unknown`.
func eventSource(_ business: BusinessIdentity, route: String?, api: WebhookAPI) -> String {
    if let p = business.phoneNumberID { return "whatsapp:" + p }
    if api == .onprem, let route { return "cutover:onprem/" + route }
    if let w = business.wabaID { return "whatsapp:waba:" + w }
    if let route { return "cutover:\(api.rawValue)/" + route }
    return "cutover:unknown"
}

func eventTime(_ value: JSONValue?) -> String? {
    guard let t = value?.integerValue else { return nil }
    return RFC3339.format(unixSeconds: t)
}

/// Stable id for items without an identity of their own: SHA-256 over the business key, the item's
/// kind and its key-sorted canonical bytes.
func hashedID(
    prefix: String, business: BusinessIdentity, route: String?, parts: [String], item: JSONValue
) throws(WebhookDecodeError) -> String {
    var bytes: [UInt8] = []
    for p in [business.wabaID ?? "", business.phoneNumberID ?? "", route ?? ""] + parts {
        bytes.append(contentsOf: p.utf8)
        bytes.append(0x0A)
    }
    // Raw U+2028/U+2029, as before they were escaped: an id must not change across an upgrade.
    bytes.append(contentsOf: item.serialized(sortedKeys: true, escapesLineSeparators: false))
    do { return prefix + (try SHA256Digest.hex(bytes)) } catch { throw .digestFailed(error) }
}

func messageEventID(_ m: JSONObject, business: BusinessIdentity, route: String?) throws(WebhookDecodeError) -> String {
    if let id = m["id"]?.scalarText, !id.isEmpty { return "msg:" + id }
    return try hashedID(prefix: "msg:sha256:", business: business, route: route, parts: ["message"], item: .object(m))
}

func statusEventID(_ s: JSONObject, business: BusinessIdentity, route: String?) throws(WebhookDecodeError) -> String {
    if let id = s["id"]?.scalarText, !id.isEmpty {
        return "status:" + id + ":" + (s["status"]?.scalarText ?? "") + ":" + (s["timestamp"]?.scalarText ?? "")
    }
    return try hashedID(prefix: "status:sha256:", business: business, route: route, parts: ["status"], item: .object(s))
}

/// Finds the contact for an item: `user_id` equal to `userID` (the BSUID, which stays when Meta
/// withholds the phone), else `wa_id` equal to `waID` (the first such contact). Linear for the
/// usual one or two contacts; indexed for large batches.
struct ContactIndex {
    let contacts: JSONObjects
    private var byWaID: [String: Int] = [:]
    private var byUserID: [String: Int] = [:]
    private let indexed: Bool

    init(_ contacts: JSONObjects) {
        self.contacts = contacts
        indexed = contacts.count > 8
        guard indexed else { return }
        for (i, c) in contacts.enumerated() {
            if let w = c["wa_id"]?.scalarText, byWaID[w] == nil { byWaID[w] = i }
            if let u = c["user_id"]?.scalarText, byUserID[u] == nil { byUserID[u] = i }
        }
    }

    func match(waID: String?, userID: String?) -> Int? {
        if indexed {
            if let userID, let i = byUserID[userID] { return i }
            if let waID, let i = byWaID[waID] { return i }
            return nil
        }
        if let userID, let i = contacts.firstIndex(where: { $0["user_id"]?.scalarText == userID }) { return i }
        if let waID, let i = contacts.firstIndex(where: { $0["wa_id"]?.scalarText == waID }) { return i }
        return nil
    }
}

func makeData(
    business: BusinessIdentity, contact: JSONObject?, itemKey: String, item: JSONValue?, batch: JSONObject
) -> JSONObject {
    var data = JSONObject(minimumCapacity: 4)
    data.append("business", .object(business.json))
    data.appendIfPresent("contact", contact.map(JSONValue.object))
    data.appendIfPresent(itemKey, item)
    data.append("batch", .object(batch))
    return data
}

func otherContactsJSON(_ contacts: JSONObjects, used: [Bool]) -> JSONValue? {
    var out: [JSONValue] = []
    for (i, c) in contacts.enumerated() where !used[i] {
        out.append(.object(["index": .int(i), "contact": .object(c)]))
    }
    return out.isEmpty ? nil : .array(out)
}

// MARK: - Cloud

private struct CloudDecoding {
    let route: String?
    let fallback: BusinessIdentity?
    let maxEvents: Int

    func decode(_ root: JSONObject) throws(WebhookDecodeError) -> [CanonicalEvent] {
        let bodySkeleton = root.removing("entry")
        guard case .array(let entries)? = root["entry"] else { throw .malformedEnvelope("entry is not an array") }
        var events: [CanonicalEvent] = []
        for (entryIndex, entryValue) in entries.enumerated() {
            guard case .object(let entry) = entryValue else { throw .malformedEnvelope("entry[\(entryIndex)] is not an object") }
            guard case .array(let changes)? = entry["changes"] else {
                throw .malformedEnvelope("entry[\(entryIndex)].changes is not an array")
            }
            let entrySkeleton = entry.removing("changes")
            for (changeIndex, changeValue) in changes.enumerated() {
                guard case .object(let change) = changeValue else {
                    throw .malformedEnvelope("entry[\(entryIndex)].changes[\(changeIndex)] is not an object")
                }
                var batch = JSONObject(minimumCapacity: 9)
                batch.append("entry_index", .int(entryIndex))
                batch.append("change_index", .int(changeIndex))
                batch.append("body", .object(bodySkeleton))
                batch.append("entry", .object(entrySkeleton))
                batch.append("change", .object(change.removing("value")))
                let field = change["field"]?.stringValue ?? ""
                let before = events.count
                guard before < maxEvents else { throw .tooManyEvents(limit: maxEvents) }
                if field == "messages", case .object(let value)? = change["value"] {
                    try decodeMessagesValue(value, entry: entry, batch: batch, into: &events)
                }
                if events.count == before {
                    events.append(try fieldEvent(field: field, change: change, entry: entry, batch: batch))
                }
            }
        }
        return events
    }

    func business(entry: JSONObject, value: JSONObject?) -> BusinessIdentity {
        let metadata = value?["metadata"]?.objectValue
        return BusinessIdentity(
            phoneNumberID: metadata?["phone_number_id"]?.scalarText ?? fallback?.phoneNumberID,
            displayPhoneNumber: metadata?["display_phone_number"]?.scalarText ?? fallback?.displayPhoneNumber,
            wabaID: entry["id"]?.scalarText ?? fallback?.wabaID
        )
    }

    func fieldEvent(field: String, change: JSONObject, entry: JSONObject, batch: JSONObject) throws(WebhookDecodeError) -> CanonicalEvent {
        let value = change["value"]
        let biz = business(entry: entry, value: value?.objectValue)
        let name = field.isEmpty ? "unknown_field" : field
        let id = try hashedID(
            prefix: "\(name):sha256:", business: biz, route: nil,
            parts: [name, entry["time"]?.scalarText ?? ""], item: value ?? .null
        )
        return CanonicalEvent(
            id: id, type: CanonicalEvent.EventType.fieldPrefix + name, source: eventSource(biz, route: route, api: .cloud),
            subject: nil, time: eventTime(entry["time"]), api: .cloud,
            data: makeData(business: biz, contact: nil, itemKey: "value", item: value, batch: batch)
        )
    }

    func decodeMessagesValue(
        _ value: JSONObject, entry: JSONObject, batch: JSONObject, into events: inout [CanonicalEvent]
    ) throws(WebhookDecodeError) {
        let biz = business(entry: entry, value: value)
        let source = eventSource(biz, route: route, api: .cloud)
        let contacts = objectArray(value["contacts"]) ?? []
        let contactIndex = ContactIndex(contacts)
        var consumed: [String] = contacts.isEmpty ? [] : ["contacts"]
        var arrays: [(key: String, items: JSONObjects)] = []
        for m in value where Keys.itemArrays.contains(m.key) {
            if let items = objectArray(m.value), !arrays.contains(where: { $0.key == m.key }) {
                arrays.append((m.key, items))
                consumed.append(m.key)
            }
        }
        guard !arrays.isEmpty else { return }
        // Checked before any event is built, so an amplification body costs its parse and no more.
        guard events.count + arrays.reduce(0, { $0 + $1.items.count }) <= maxEvents else { throw .tooManyEvents(limit: maxEvents) }
        var batch = batch
        batch.append("value", .object(value.removing(consumed)))
        var used = [Bool](repeating: false, count: contacts.count)
        let first = events.count
        for (key, items) in arrays {
            for (index, item) in items.enumerated() {
                var b = batch
                b.append("item", .string(key))
                b.append("item_index", .int(index))
                switch key {
                case "messages":
                    let ci = contactIndex.match(waID: item["from"]?.scalarText, userID: item["from_user_id"]?.scalarText)
                    if let ci { used[ci] = true; b.append("contact_index", .int(ci)) }
                    events.append(CanonicalEvent(
                        id: try messageEventID(item, business: biz, route: nil), type: CanonicalEvent.EventType.messageReceived,
                        source: source, subject: UserIdentity(message: item, contact: ci.map { contacts[$0] }).key,
                        time: eventTime(item["timestamp"]), api: .cloud,
                        data: makeData(business: biz, contact: ci.map { contacts[$0] }, itemKey: "message", item: .object(item), batch: b)
                    ))
                case "statuses":
                    let ci = contactIndex.match(
                        waID: item["recipient_id"]?.scalarText, userID: item["recipient_user_id"]?.scalarText)
                    if let ci { used[ci] = true; b.append("contact_index", .int(ci)) }
                    events.append(CanonicalEvent(
                        id: try statusEventID(item, business: biz, route: nil), type: CanonicalEvent.EventType.messageStatus,
                        source: source, subject: UserIdentity(status: item, contact: ci.map { contacts[$0] }).key,
                        time: eventTime(item["timestamp"]), api: .cloud,
                        data: makeData(business: biz, contact: ci.map { contacts[$0] }, itemKey: "status", item: .object(item), batch: b)
                    ))
                default:
                    events.append(CanonicalEvent(
                        id: try hashedID(prefix: "error:sha256:", business: biz, route: nil, parts: ["error"], item: .object(item)),
                        type: CanonicalEvent.EventType.error, source: source, subject: nil, time: nil, api: .cloud,
                        data: makeData(business: biz, contact: nil, itemKey: "error", item: .object(item), batch: b)
                    ))
                }
            }
        }
        if let others = otherContactsJSON(contacts, used: used) {
            events[first].data = events[first].data.settingBatch("other_contacts", others)
        }
    }
}

extension JSONObject {
    /// A copy whose `batch` object has `key` set.
    func settingBatch(_ key: String, _ value: JSONValue) -> JSONObject {
        var b = self["batch"]?.objectValue ?? JSONObject()
        b[key] = value
        return setting("batch", .object(b))
    }
}

// MARK: - On-Prem

private struct OnPremDecoding {
    let route: String?
    let business: BusinessIdentity
    let maxEvents: Int

    func decode(_ root: JSONObject) throws(WebhookDecodeError) -> [CanonicalEvent] {
        let contacts = objectArray(root["contacts"]) ?? []
        let contactIndex = ContactIndex(contacts)
        var consumed: [String] = contacts.isEmpty ? [] : ["contacts"]
        var arrays: [(key: String, items: JSONObjects)] = []
        for m in root where Keys.itemArrays.contains(m.key) {
            if let items = objectArray(m.value), !arrays.contains(where: { $0.key == m.key }) {
                arrays.append((m.key, items))
                consumed.append(m.key)
            }
        }
        guard !arrays.isEmpty else {
            // Only contacts, or empty arrays: nothing to notify. Keep it visible as an unknown shape.
            throw .unrecognizedShape(keys: root.keys)
        }
        guard arrays.reduce(0, { $0 + $1.items.count }) <= maxEvents else { throw .tooManyEvents(limit: maxEvents) }
        var base = JSONObject(minimumCapacity: 6)
        base.append("body", .object(root.removing(consumed)))
        let source = eventSource(business, route: route, api: .onprem)
        var used = [Bool](repeating: false, count: contacts.count)
        var events: [CanonicalEvent] = []
        for (key, items) in arrays {
            for (index, item) in items.enumerated() {
                var b = base
                b.append("item", .string(key))
                b.append("item_index", .int(index))
                var undo = JSONObject()
                switch key {
                case "messages":
                    // BSUIDs only reach an On-Prem body as extra keys Cutover rendered (`phoneless: user_id`).
                    let ci = contactIndex.match(waID: item["from"]?.scalarText, userID: item["from_user_id"]?.scalarText)
                    if let ci { used[ci] = true; b.append("contact_index", .int(ci)) }
                    let message = OnPremMapping.messageToCanonical(item, undo: &undo)
                    if !undo.isEmpty { b.append("undo", .object(undo)) }
                    events.append(CanonicalEvent(
                        id: try messageEventID(item, business: business, route: route),
                        type: CanonicalEvent.EventType.messageReceived, source: source,
                        subject: UserIdentity(message: item, contact: ci.map { contacts[$0] }).key,
                        time: eventTime(item["timestamp"]), api: .onprem,
                        data: makeData(business: business, contact: ci.map { contacts[$0] }, itemKey: "message", item: .object(message), batch: b)
                    ))
                case "statuses":
                    var status = OnPremMapping.statusToCanonical(item, undo: &undo)
                    let ci = contactIndex.match(waID: status["recipient_id"]?.scalarText, userID: status["recipient_user_id"]?.scalarText)
                    if let ci { used[ci] = true; b.append("contact_index", .int(ci)) }
                    // A Cloud status contact Cutover carried inside the status (On-Prem statuses have none).
                    let contact = ci.map { contacts[$0] } ?? OnPremMapping.liftStatusContact(&status, undo: &undo)
                    if !undo.isEmpty { b.append("undo", .object(undo)) }
                    events.append(CanonicalEvent(
                        id: try statusEventID(item, business: business, route: route),
                        type: CanonicalEvent.EventType.messageStatus, source: source,
                        subject: UserIdentity(status: status, contact: contact).key,
                        time: eventTime(item["timestamp"]), api: .onprem,
                        data: makeData(business: business, contact: contact, itemKey: "status", item: .object(status), batch: b)
                    ))
                default:
                    var error = item
                    if let converted = OnPremMapping.errorToCloud(item) {
                        error = converted
                        undo.append("errors", true)
                        b.append("undo", .object(undo))
                    }
                    events.append(CanonicalEvent(
                        id: try hashedID(prefix: "error:sha256:", business: business, route: route, parts: ["error"], item: .object(item)),
                        type: CanonicalEvent.EventType.error, source: source, subject: nil, time: nil, api: .onprem,
                        data: makeData(business: business, contact: nil, itemKey: "error", item: .object(error), batch: b)
                    ))
                }
            }
        }
        if let others = otherContactsJSON(contacts, used: used) {
            events[0].data = events[0].data.settingBatch("other_contacts", others)
        }
        return events
    }
}
