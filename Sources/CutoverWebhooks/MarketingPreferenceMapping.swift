/// Marketing opt-outs ("Offers and announcements": stop / resume marketing messages), which both
/// APIs report in different shapes (Meta's user_preferences webhook reference, which shows both
/// syntaxes: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/user_preferences):
///
/// - Cloud: a webhook field of its own, `user_preferences`, whose value holds `contacts[]` and
///   `user_preferences[{wa_id, detail, category: "marketing_messages", value: stop|resume, timestamp}]`
///   (2026: `user_id`, `parent_user_id`, `wa_id` optional).
/// - On-Prem: a `system` message `{from, id, system{body, marketing: stop|resume, type:
///   "user_preference_changed"}, timestamp, type: "system"}` with the user's contact.
///
/// The canonical event keeps each as its API sent it (a Cloud field event, an On-Prem message
/// event); cross rendering turns one into the other. Each preference is one On-Prem message; the
/// Cloud value has no message id, so an On-Prem message made from it takes the On-Prem id Cutover
/// carried (`user_preferences[].id`, from an On-Prem original) or the event's id.
enum MarketingPreferenceMapping {
    static let cloudField = "user_preferences"
    static let onPremSystemType = "user_preference_changed"
    static let marketingCategory = "marketing_messages"

    /// An On-Prem-shaped system message reporting a marketing preference.
    static func isPreferenceChange(_ m: JSONObject) -> Bool {
        m["type"]?.stringValue == "system" && m["system"]?["type"]?.stringValue == onPremSystemType
    }

    // MARK: Cloud -> On-Prem

    /// One On-Prem system message per `user_preferences[]` element, each with its contact from
    /// `contacts[]` (matched by BSUID, else phone); `nil` when the value has none to give.
    static func onPremMessages(fromCloudValue value: JSONObject, eventID: String) -> [(message: JSONObject, contact: JSONObject?)]? {
        guard let preferences = objectArray(value["user_preferences"]) else { return nil }
        let contacts = ContactIndex(objectArray(value["contacts"]) ?? [])
        var out: [(JSONObject, JSONObject?)] = []
        for (index, p) in preferences.enumerated() {
            guard (p["category"]?.stringValue ?? marketingCategory) == marketingCategory else { return nil }
            var m = JSONObject(minimumCapacity: 8)
            m.appendIfPresent("from", p["wa_id"])
            m.appendIfPresent("from_user_id", p["user_id"])
            m.appendIfPresent("from_parent_user_id", p["parent_user_id"])
            m.append("id", p["id"] ?? .string(preferences.count == 1 ? eventID : "\(eventID).\(index)"))
            var system = JSONObject(minimumCapacity: 3)
            system.appendIfPresent("body", p["detail"])
            system.appendIfPresent("marketing", p["value"])
            system.append("type", .string(onPremSystemType))
            m.append("system", .object(system))
            m.appendIfPresent("timestamp", p["timestamp"].map(onPremTimestamp))
            m.append("type", "system")
            let ci = contacts.match(waID: p["wa_id"]?.scalarText, userID: p["user_id"]?.scalarText)
            out.append((m, ci.map { contacts.contacts[$0] }))
        }
        return out
    }

    /// On-Prem writes every timestamp as a string of Unix seconds; Cloud's `user_preferences[]`
    /// writes a number. Only the JSON type changes, so either trip back gives the original.
    static func onPremTimestamp(_ t: JSONValue) -> JSONValue {
        if case .number(let digits) = t { return .string(digits) }
        return t
    }

    static func cloudTimestamp(_ t: JSONValue) -> JSONValue {
        if case .string(let text) = t, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return .number(text) }
        return t
    }

    // MARK: On-Prem -> Cloud

    /// The `user_preferences[]` element for an On-Prem preference message (its id carried as `id`).
    static func cloudPreference(fromOnPrem m: JSONObject) -> JSONObject {
        let system = m["system"]?.objectValue
        var p = JSONObject(minimumCapacity: 8)
        p.appendIfPresent("wa_id", m["from"])
        p.appendIfPresent("user_id", m["from_user_id"])
        p.appendIfPresent("parent_user_id", m["from_parent_user_id"])
        p.appendIfPresent("detail", system?["body"])
        p.append("category", .string(marketingCategory))
        p.appendIfPresent("value", system?["marketing"])
        p.appendIfPresent("timestamp", m["timestamp"].map(cloudTimestamp))
        p.appendIfPresent("id", m["id"])
        return p
    }

    /// `value` (a Cloud `user_preferences` value being built) with one more preference and its
    /// contact (once per user; `{profile: {name: ""}, wa_id}` when the On-Prem body had none).
    static func appending(_ preference: JSONObject, contact: JSONObject?, to value: JSONObject) -> JSONObject {
        var out = value
        let contact = contact ?? preference["wa_id"].map { ["profile": ["name": ""], "wa_id": $0] }
        if let contact {
            var contacts = out["contacts"]?.arrayValue ?? []
            let user = UserIdentity(contact: contact).key
            if user == nil || !contacts.contains(where: { UserIdentity(contact: $0.objectValue).key == user }) {
                contacts.append(.object(contact))
            }
            out["contacts"] = .array(contacts)
        }
        out["user_preferences"] = .array((out["user_preferences"]?.arrayValue ?? []) + [.object(preference)])
        return out
    }
}
