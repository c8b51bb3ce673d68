/// What Cutover knows of each API's vocabulary (the notification types docs/mapping.md lists).
/// Anything outside it is still decoded and carried intact, but flagged so the proxy can count it
/// and log it once per shape (`CanonicalEvent.unrecognized`, `WebhookShape.signature`).
package enum WebhookVocabulary {
    /// Message types of either API, in canonical (Cloud) names plus On-Prem's own (`voice` becomes
    /// `audio` on decode; `ephemeral` and `unknown` stay).
    package static let messageTypes: Set<String> = [
        "text", "image", "audio", "video", "document", "sticker", "location", "contacts", "button", "interactive",
        "reaction", "order", "system", "unsupported", "unknown", "request_welcome", "edit", "revoke", "ephemeral",
        "voice",
    ]
    /// `interactive.type` values the Cloud API sends.
    package static let cloudInteractiveTypes: Set<String> = ["button_reply", "list_reply", "nfm_reply", "call_permission_reply"]
    /// `system.type` values of both APIs and eras (plus legacy On-Prem `group_*` types).
    package static let systemTypes: Set<String> = [
        "user_changed_number", "customer_changed_number", "user_identity_changed", "customer_identity_changed",
        "user_changed_user_id", "user_preference_changed",
    ]
    /// Status values of both APIs (On-Prem `deleted`/`warning`, Cloud `played`, legacy payment statuses).
    package static let statuses: Set<String> = [
        "sent", "delivered", "read", "played", "failed", "deleted", "warning", "captured", "pending",
    ]
    /// `statuses[].type` values (On-Prem `message`, legacy Cloud `payment`, Cloud calls `call`).
    package static let statusTypes: Set<String> = ["message", "payment", "call"]
    /// Cloud webhook fields other than `messages` (each becomes the event type `com.whatsapp.<field>`).
    package static let cloudFields: Set<String> = [
        "message_template_status_update", "message_template_quality_update", "message_template_components_update",
        "template_category_update", "phone_number_name_update", "phone_number_quality_update", "account_update",
        "account_review_update", "account_alerts", "business_capability_update", "security", "flows",
        "user_preferences", "smb_message_echoes", "smb_app_state_sync", "history", "partner_solutions",
        "payment_configuration_update", "automatic_events", "group_lifecycle_update", "group_participants_update",
        "group_settings_update", "group_status_update", "calls", "business_username_update", "message_echoes",
        "tracking_events", "account_settings_update", "business_status_update",
    ]
}

extension CanonicalEvent {
    /// Why Cutover does not recognize this notification, or `nil` when it does. An unrecognized item
    /// is still carried intact (round trips hold); the proxy counts it and logs its
    /// `WebhookShape.signature` once.
    package var unrecognized: String? {
        switch kind {
        case .message:
            guard let m = message else { return "message event without data.message" }
            guard let type = m["type"]?.stringValue else { return "message without type" }
            guard WebhookVocabulary.messageTypes.contains(type) else { return "message type \(type)" }
            if type == "interactive", let t = m["interactive"]?["type"]?.stringValue,
               !WebhookVocabulary.cloudInteractiveTypes.contains(t) {
                return "interactive type \(t)"
            }
            if type == "system", let t = m["system"]?["type"]?.stringValue, !WebhookVocabulary.systemTypes.contains(t),
               !t.hasPrefix("group_") {
                return "system type \(t)"
            }
            return nil
        case .status:
            guard let s = status else { return "status event without data.status" }
            guard let value = s["status"]?.stringValue else { return "status without status" }
            if !WebhookVocabulary.statuses.contains(value), s["type"]?.stringValue != "payment" { return "status \(value)" }
            if let t = s["type"]?.stringValue, !WebhookVocabulary.statusTypes.contains(t) { return "status type \(t)" }
            return nil
        case .error:
            return error == nil ? "error event without data.error" : nil
        case .field(let field):
            if field == "messages" { return "messages change without messages, statuses or errors" }
            return WebhookVocabulary.cloudFields.contains(field) ? nil : "webhook field \(field)"
        }
    }

    /// `unrecognized != nil`.
    package var isUnrecognized: Bool { unrecognized != nil }
}

/// Shape signatures for "log once per shape": equal for two notifications that differ only in values.
package enum WebhookShape {
    /// `<api>/<kind>/<discriminator>{<sorted keys of the item>}`, e.g.
    /// `cloud/message/hologram{from,hologram,id,timestamp,type}`; pure, cheap, bounded (at most 64 keys).
    package static func signature(of event: CanonicalEvent) -> String {
        let item: JSONObject?
        let kind: String
        var discriminator = ""
        switch event.kind {
        case .message:
            kind = "message"
            item = event.message
            discriminator = item?["type"]?.stringValue ?? ""
            if let sub = item?[discriminator]?["type"]?.stringValue { discriminator += "." + sub }
        case .status:
            kind = "status"
            item = event.status
            discriminator = (item?["type"]?.stringValue).map { $0 + "." } ?? ""
            discriminator += item?["status"]?.stringValue ?? ""
        case .error:
            kind = "error"
            item = event.error
            discriminator = item?["code"]?.scalarText ?? ""
        case .field(let field):
            kind = "field"
            item = event.value?.objectValue
            discriminator = field
        }
        return "\(event.api.rawValue)/\(kind)/\(discriminator)" + keySignature(item)
    }

    /// Signature of a body no decoder accepted: its top-level keys, sorted.
    package static func signature(ofBody body: JSONValue) -> String {
        switch body {
        case .object(let o): return "body" + keySignature(o)
        case .array: return "body[array]"
        default: return "body[scalar]"
        }
    }

    static func keySignature(_ o: JSONObject?) -> String {
        guard let o else { return "{}" }
        let keys = Set(o.keys).sorted().prefix(64)
        return "{" + keys.joined(separator: ",") + "}"
    }
}
