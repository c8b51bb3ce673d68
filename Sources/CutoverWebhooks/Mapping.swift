/// The field mappings between the On-Prem and Cloud vocabularies (the source for the mapping table
/// DESIGN.md asks for in docs/mapping.md).
///
/// Canonical = Cloud vocabulary. An On-Prem item is changed on decode only where both APIs have the
/// concept under different names, and each change is recorded in `batch.undo` so rendering back to
/// On-Prem is the exact inverse:
/// - `type: "voice"` + `voice{...}`  ->  `type: "audio"` + `audio{..., voice: true}`   (undo `type: "voice"`)
/// - errors `{code, title, details, href}`  ->  `{code, title, message: title, error_data{details}, href}`
///   (only when no error of the item already has `message`/`error_data`; undo `errors: true`)
/// - statuses without `recipient_id` get it from `message.recipient_id`                (undo `recipient_id: true`)
/// - `system` messages take Cloud's names: `user_changed_number`/`customer_changed_number` + `new_wa_id`
///   -> `user_changed_number` + `wa_id`; `user_identity_changed` + `user` -> `customer_identity_changed`
///   + `customer`                                                          (undo `system`: the original object)
/// - `referral` with an `image`/`video` object and no `media_type` gains Cloud's `media_type`
///                                                                         (undo `referral`: the original object)
/// - a status's one-element `contacts` (a Cloud status contact Cutover carried there) becomes the
///   event's contact                                                       (undo `contacts: true`)
enum OnPremMapping {
    // MARK: decode (On-Prem -> canonical)

    static func messageToCanonical(_ m: JSONObject, undo: inout JSONObject) -> JSONObject {
        var out = m
        if m["type"]?.stringValue == "voice", case .object(let voice)? = m["voice"], !m.contains("audio"), !voice.contains("voice") {
            out = out.renaming("voice", to: "audio", value: .object(voice.setting("voice", true)))
            out["type"] = "audio"
            undo.append("type", "voice")
        }
        if let converted = errorsToCloud(out) {
            out = converted
            undo.append("errors", true)
        }
        if m["type"]?.stringValue == "system", case .object(let system)? = m["system"],
           let converted = systemToCloud(system) {
            out["system"] = .object(converted)
            undo.append("system", .object(system))
        }
        if case .object(let referral)? = m["referral"], let converted = referralToCloud(referral) {
            out["referral"] = .object(converted)
            undo.append("referral", .object(referral))
        }
        return out
    }

    /// On-Prem system message -> Cloud names; nil when nothing changes.
    static func systemToCloud(_ s: JSONObject) -> JSONObject? {
        var out = s
        switch s["type"]?.stringValue {
        case "user_changed_number", "customer_changed_number":
            out["type"] = "user_changed_number"
            if let n = s["new_wa_id"], !s.contains("wa_id") { out = out.renaming("new_wa_id", to: "wa_id", value: n) }
        case "user_identity_changed", "customer_identity_changed":
            out["type"] = "customer_identity_changed"
            if let u = s["user"], !s.contains("customer") { out = out.renaming("user", to: "customer", value: u) }
        default:
            return nil
        }
        return out == s ? nil : out
    }

    /// Cloud (canonical) system message -> On-Prem names; `nil` when On-Prem has no such system message.
    static func systemToOnPrem(_ s: JSONObject) -> JSONObject? {
        var out = s
        switch s["type"]?.stringValue {
        case "user_changed_number", "customer_changed_number":
            out["type"] = "user_changed_number"
            if let n = s["wa_id"], !s.contains("new_wa_id") { out = out.renaming("wa_id", to: "new_wa_id", value: n) }
        case "customer_identity_changed", "user_identity_changed":
            out["type"] = "user_identity_changed"
            if let c = s["customer"], !s.contains("user") { out = out.renaming("customer", to: "user", value: c) }
        default:
            return nil
        }
        return out
    }

    /// On-Prem referral -> Cloud: adds `media_type` from the `image`/`video` object; nil when nothing changes.
    static func referralToCloud(_ r: JSONObject) -> JSONObject? {
        guard !r.contains("media_type") else { return nil }
        if r["image"]?.objectValue != nil { return r.setting("media_type", "image") }
        if r["video"]?.objectValue != nil { return r.setting("media_type", "video") }
        return nil
    }

    static func statusToCanonical(_ s: JSONObject, undo: inout JSONObject) -> JSONObject {
        var out = s
        if let converted = errorsToCloud(out) {
            out = converted
            undo.append("errors", true)
        }
        if !out.contains("recipient_id"), let r = out["message"]?["recipient_id"] {
            out.append("recipient_id", r)
            undo.append("recipient_id", true)
        }
        return out
    }

    /// The item with its `errors` converted to the Cloud shape, or nil when there is nothing to convert.
    static func errorsToCloud(_ item: JSONObject) -> JSONObject? {
        guard let errors = objectArray(item["errors"]) else { return nil }
        var converted: [JSONValue] = []
        for e in errors {
            guard let c = errorToCloud(e) else { return nil }
            converted.append(.object(c))
        }
        return item.setting("errors", .array(converted))
    }

    /// On-Prem error -> Cloud error; nil when it already has Cloud-only keys.
    static func errorToCloud(_ e: JSONObject) -> JSONObject? {
        guard !e.contains("message"), !e.contains("error_data") else { return nil }
        var out = JSONObject(minimumCapacity: e.count + 1)
        for m in e {
            switch m.key {
            case "title":
                out.append("title", m.value)
                out.append("message", m.value)
            case "details":
                out.append("error_data", .object(["details": m.value]))
            default:
                out.append(m.key, m.value)
            }
        }
        return out
    }

    // MARK: render back to origin (canonical -> On-Prem, exact inverse)

    /// `contact` is the event's contact, which undo `contacts` puts back inside a status.
    static func undoItem(_ item: JSONObject, undo: JSONObject?, isError: Bool, contact: JSONObject? = nil) -> JSONObject {
        guard let undo else { return item }
        if isError { return undo["errors"]?.boolValue == true ? errorFromCloudExact(item) : item }
        var out = item
        if undo["type"]?.stringValue == "voice", case .object(let audio)? = out["audio"] {
            out = out.renaming("audio", to: "voice", value: .object(audio.removing("voice")))
            out["type"] = "voice"
        }
        if undo["errors"]?.boolValue == true {
            if let errors = objectArray(out["errors"]) {
                out["errors"] = .array(errors.map { .object(errorFromCloudExact($0)) })
            }
        }
        if undo["recipient_id"]?.boolValue == true { out["recipient_id"] = nil }
        if let system = undo["system"], out.contains("system") { out["system"] = system }
        if let referral = undo["referral"], out.contains("referral") { out["referral"] = referral }
        if undo["contacts"]?.boolValue == true, let contact { out.append("contacts", [.object(contact)]) }
        return out
    }

    /// Inverse of `errorToCloud`.
    static func errorFromCloudExact(_ e: JSONObject) -> JSONObject {
        var out = JSONObject(minimumCapacity: e.count)
        for m in e {
            switch m.key {
            case "message": continue
            case "error_data":
                if case .object(let d) = m.value, let details = d["details"] { out.append("details", details) }
            default: out.append(m.key, m.value)
            }
        }
        return out
    }

    // MARK: cross (Cloud -> On-Prem)

    /// Cloud error -> On-Prem `{code, title, details, href}` (+ unknown keys), with the On-Prem code
    /// of the same condition and the Cloud code in `cloud_code` (`ErrorCodeMapping`).
    static func errorToOnPrem(_ e: JSONObject) -> JSONObject {
        var out = JSONObject(minimumCapacity: e.count)
        let details = e["error_data"]?["details"] ?? e["details"]
        for m in e {
            switch m.key {
            case "message":
                if !e.contains("title") { out.append("title", m.value) }
            case "error_data", "details": continue
            case "title":
                out.append("title", m.value)
                out.appendIfPresent("details", details)
            default: out.append(m.key, m.value)
            }
        }
        if !e.contains("title"), !out.contains("details") { out.appendIfPresent("details", details) }
        return ErrorCodeMapping.codeToOnPrem(out)
    }

    static func errorsToOnPrem(_ item: JSONObject) -> JSONObject {
        guard case .array(let errors)? = item["errors"] else { return item }
        return item.setting("errors", .array(errors.map { e in e.objectValue.map { .object(errorToOnPrem($0)) } ?? e }))
    }

    static let onPremUnknownError: JSONValue = [
        "code": 501, "title": "Unknown message type", "details": "Message type is not currently supported",
    ]
    static let cloudUnsupportedError: JSONValue = [
        "code": 131051, "title": "Message type unknown", "message": "Message type unknown",
        "error_data": ["details": "Message type is currently not supported."],
    ]

    /// Message types both APIs know under the same name and shape.
    static let sharedTypes: Set<String> = [
        "text", "image", "audio", "video", "document", "sticker", "location", "contacts", "button", "interactive",
        "order", "system",
    ]
    /// System message types the Cloud API sends (canonical names).
    static let cloudSystemTypes: Set<String> = ["user_changed_number", "customer_changed_number", "customer_identity_changed"]
    /// Interactive reply types On-Prem knows.
    static let onPremInteractiveTypes: Set<String> = ["button_reply", "list_reply"]

    /// On-Prem omits `contacts[]` for these message types.
    static let onPremTypesWithoutContacts: Set<String> = ["image", "video", "audio", "voice", "document", "sticker", "system"]

    enum Cross {
        case mapped(JSONObject)
        /// Rendered as the target's "unknown/unsupported message" under `.unknownMessage`.
        case substituted(JSONObject)
        case unsupported(reason: String)
    }

    /// Cloud (canonical) message -> On-Prem message. A message without `from` has been through
    /// `PhonelessRendering` already (the renderer's first step).
    static func cloudMessageToOnPrem(_ m: JSONObject, policy: UnsupportedPolicy) -> Cross {
        let type = m["type"]?.stringValue ?? ""
        var out = m
        if sharedTypes.contains(type), !hasTypeBody(m, type: type) {
            // Meta's "unsupported payload" case (`type: interactive`, no `interactive`, a 131000
            // error beside it): the bare type is no On-Prem message and a strict consumer rejects
            // the whole POST with it, errors included. Passing it through would do just that.
            if policy == .drop { return .unsupported(reason: "message type \(type) without its \(type) body") }
            return .substituted(onPremUnknown(from: m))
        }
        switch type {
        case "system":
            guard case .object(let system)? = m["system"], let converted = systemToOnPrem(system) else {
                return unsupportedToOnPrem(m, policy: policy, reason: "system message \(m["system"]?["type"]?.stringValue ?? "") has no On-Prem equivalent")
            }
            out["system"] = .object(converted)
            return .mapped(errorsToOnPrem(out))
        case "audio":
            if case .object(let audio)? = m["audio"] {
                if audio["voice"]?.boolValue == true {
                    out = out.renaming("audio", to: "voice", value: .object(audio.removing("voice")))
                    out["type"] = "voice"
                } else {
                    out["audio"] = .object(audio.removing("voice"))
                }
            }
            return .mapped(errorsToOnPrem(out))
        case "unsupported", "unknown":
            // Same concept: On-Prem's `unknown` with error 501.
            return .mapped(onPremUnknown(from: m))
        case "interactive":
            if let t = m["interactive"]?["type"]?.stringValue, !onPremInteractiveTypes.contains(t) {
                return unsupportedToOnPrem(m, policy: policy, reason: "interactive \(t) has no On-Prem equivalent")
            }
            return .mapped(errorsToOnPrem(out))
        default:
            if sharedTypes.contains(type) { return .mapped(errorsToOnPrem(out)) }
            return unsupportedToOnPrem(m, policy: policy, reason: "message type \(type) has no On-Prem equivalent")
        }
    }

    /// Whether the message carries the body its type names: an object (`contacts`: an array).
    static func hasTypeBody(_ m: JSONObject, type: String) -> Bool {
        switch m[type] {
        case .object?: return type != "contacts"
        case .array?: return type == "contacts"
        default: return false
        }
    }

    static func onPremUnknown(from m: JSONObject) -> JSONObject {
        var out = JSONObject(minimumCapacity: 6)
        out.appendIfPresent("from", m["from"])
        out.appendIfPresent("id", m["id"])
        out.appendIfPresent("timestamp", m["timestamp"])
        out.appendIfPresent("context", m["context"])
        out.append("type", "unknown")
        out.append("errors", [onPremUnknownError])
        return out
    }

    static func unsupportedToOnPrem(_ m: JSONObject, policy: UnsupportedPolicy, reason: String) -> Cross {
        switch policy {
        case .unknownMessage: return .substituted(onPremUnknown(from: m))
        case .drop: return .unsupported(reason: reason)
        case .passThrough: return .mapped(errorsToOnPrem(m))
        }
    }

    static let onPremStatuses: Set<String> = ["sent", "delivered", "read", "failed"]

    /// Cloud (canonical) status -> On-Prem status (`recipient_id`, `message.recipient_id`, `type: "message"`).
    /// A status without `recipient_id` has been through `PhonelessRendering` already. The status's
    /// Cloud contact (name, username, BSUIDs) rides along inside it as `contacts: [contact]`: On-Prem
    /// bodies with statuses have no contacts, and a top-level one would read as a message's sender.
    static func cloudStatusToOnPrem(_ s: JSONObject, contact: JSONObject?, policy: UnsupportedPolicy) -> Cross {
        let status = s["status"]?.stringValue ?? ""
        let type = s["type"]?.stringValue
        if (!onPremStatuses.contains(status) || (type != nil && type != "message")) && policy != .passThrough {
            return .unsupported(reason: "status \(type.map { $0 + "/" } ?? "")\(status) has no On-Prem equivalent")
        }
        var out = errorsToOnPrem(s)
        if type == nil { out.append("type", "message") }
        if !out.contains("message"), let r = s["recipient_id"] { out.append("message", ["recipient_id": r]) }
        if let contact, !out.contains("contacts") { out.append("contacts", [.object(contact)]) }
        return .mapped(out)
    }

    /// Inverse of the contact `cloudStatusToOnPrem` carries: takes a status's one-element
    /// `contacts` out of it (undo `contacts`) so it is the event's contact again.
    static func liftStatusContact(_ s: inout JSONObject, undo: inout JSONObject) -> JSONObject? {
        guard let contacts = objectArray(s["contacts"]), contacts.count == 1 else { return nil }
        s["contacts"] = nil
        undo.append("contacts", true)
        return contacts[0]
    }

    // MARK: cross (On-Prem canonical -> Cloud)

    static func cloudUnsupported(from m: JSONObject, originalType: String) -> JSONObject {
        var out = JSONObject(minimumCapacity: 7)
        out.appendIfPresent("from", m["from"])
        out.appendIfPresent("id", m["id"])
        out.appendIfPresent("timestamp", m["timestamp"])
        out.appendIfPresent("context", m["context"])
        out.append("errors", [cloudUnsupportedError])
        out.append("type", "unsupported")
        out.append("unsupported", ["type": .string(originalType)])
        return out
    }

    /// On-Prem-origin canonical message -> Cloud message.
    static func onPremMessageToCloud(_ m: JSONObject, policy: UnsupportedPolicy) -> Cross {
        let type = m["type"]?.stringValue ?? ""
        if type == "unknown" { return .mapped(cloudUnsupported(from: m, originalType: "unknown")) }
        let known: Bool
        switch type {
        case "system": known = cloudSystemTypes.contains(m["system"]?["type"]?.stringValue ?? "")
        case "interactive": known = WebhookVocabulary.cloudInteractiveTypes.contains(m["interactive"]?["type"]?.stringValue ?? "")
        default: known = sharedTypes.contains(type)
        }
        if known {
            var out = errorsCloudShaped(m)
            // Cloud flags every audio message: `voice: false` for a plain audio file.
            if type == "audio", case .object(let audio)? = out["audio"], !audio.contains("voice") {
                out["audio"] = .object(audio.setting("voice", false))
            }
            // A template button without a payload: On-Prem sends `payload: null` (or, from some
            // clients, no key); Cloud consumers read the key unconditionally.
            if type == "button", case .object(let button)? = out["button"], !button.contains("payload") {
                out["button"] = .object(JSONObject([("payload", .null)] + button.members))
            }
            return .mapped(out)
        }
        switch policy {
        case .unknownMessage: return .substituted(cloudUnsupported(from: m, originalType: type))
        case .drop: return .unsupported(reason: "message type \(type) has no Cloud equivalent")
        case .passThrough: return .mapped(errorsCloudShaped(m))
        }
    }

    /// The item's errors as a Cloud endpoint receives them (`errorRenderedToCloud`, one by one).
    static func errorsCloudShaped(_ item: JSONObject) -> JSONObject {
        guard case .array(let errors)? = item["errors"] else { return item }
        return item.setting("errors", .array(errors.map { e in e.objectValue.map { .object(errorRenderedToCloud($0)) } ?? e }))
    }

    /// On-Prem-origin error -> Cloud: the Cloud shape where it is still On-Prem-shaped (mixed shapes
    /// stay as decoded), and the Cloud code of the same condition with the On-Prem code in
    /// `onprem_code` (`ErrorCodeMapping`).
    static func errorRenderedToCloud(_ e: JSONObject) -> JSONObject {
        ErrorCodeMapping.codeToCloud(errorToCloud(e) ?? e)
    }

    /// On-Prem-origin canonical status -> Cloud status; a `deleted` status becomes (under
    /// `.unknownMessage`) the inbound `unsupported` message Cloud itself used for deletions.
    static func onPremStatusToCloud(_ s: JSONObject, policy: UnsupportedPolicy) -> (Cross, isMessage: Bool) {
        let status = s["status"]?.stringValue ?? ""
        guard onPremStatuses.contains(status) || policy == .passThrough else {
            if status == "deleted" && policy == .unknownMessage {
                var m = JSONObject(minimumCapacity: 3)
                m.appendIfPresent("from", s["recipient_id"] ?? s["message"]?["recipient_id"])
                m.appendIfPresent("id", s["id"])
                m.appendIfPresent("timestamp", s["timestamp"])
                return (.substituted(cloudUnsupported(from: m, originalType: "deleted")), true)
            }
            return (.unsupported(reason: "status \(status) has no Cloud equivalent"), false)
        }
        var out = errorsCloudShaped(s)
        if out["type"]?.stringValue == "message" { out["type"] = nil }
        if case .object(let msg)? = out["message"] {
            if !out.contains("recipient_id"), let r = msg["recipient_id"] { out.append("recipient_id", r) }
            let rest = msg.removing("recipient_id")
            out["message"] = rest.isEmpty ? nil : .object(rest)
        }
        return (.mapped(out), false)
    }
}

extension JSONObject {
    /// A copy with the member `old` replaced, in place, by `new: value` (appended when `old` is absent).
    func renaming(_ old: String, to new: String, value: JSONValue) -> JSONObject {
        var out = JSONObject(minimumCapacity: count)
        var done = false
        for m in self {
            if m.key == old && !done {
                out.append(new, value)
                done = true
            } else if m.key != new {
                out.append(m.key, m.value)
            }
        }
        if !done { out.append(new, value) }
        return out
    }
}
