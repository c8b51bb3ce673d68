/// The body format a destination wants.
package enum WebhookOutputFormat: String, Sendable, Equatable, CaseIterable {
    case onprem
    case cloud
    case canonical
}

/// What to do with a notification the target API has no concept for (a reaction to an On-Prem
/// endpoint, a `deleted` status to a Cloud endpoint, a management field to an On-Prem endpoint, a
/// message whose type body is missing). Items with no phone number for an On-Prem endpoint follow
/// `PhonelessPolicy` instead. The default (`WebhookRenderer.render`'s `unsupported:` argument) is `.unknownMessage`; the full
/// per-field table is docs/mapping.md.
package enum UnsupportedPolicy: String, Sendable, Equatable, CaseIterable {
    /// The default policy.
    package static let defaultPolicy: UnsupportedPolicy = .unknownMessage

    /// Messages: On-Prem `type: "unknown"` with error 501 / Cloud `type: "unsupported"` with error
    /// 131051 (a `deleted` status becomes Cloud's inbound `unsupported` message, as Cloud itself once
    /// reported deletions). Statuses and management fields with no equivalent are dropped and counted.
    case unknownMessage
    /// Leave the item out and count it.
    case drop
    /// Render the item as it is (in the target's envelope) even though the target does not know it.
    /// Management fields still cannot go to On-Prem (no envelope for them) and are dropped and
    /// counted; a Cloud message without its type body still becomes On-Prem `unknown` (as is, a
    /// consumer rejects the whole POST).
    case passThrough
}

/// One notification left out of a rendered body, and why.
package struct DroppedEvent: Sendable, Equatable {
    package var eventID: String
    package var reason: String
    /// The event must not be left out quietly: a delivery of it becomes a dead letter with
    /// `reason` (e.g. a phone-less message for an On-Prem destination under `.deadLetter`).
    package var deadLetter: Bool

    package init(eventID: String, reason: String, deadLetter: Bool = false) {
        self.eventID = eventID
        self.reason = reason
        self.deadLetter = deadLetter
    }
}

/// A rendered body plus what did not make it into it. Never silent: every event is either rendered,
/// substituted (rendered as the target's unknown/unsupported message) or listed in `dropped`.
package struct RenderOutcome: Sendable {
    /// The body; `nil` when every event was dropped (nothing to send).
    package var body: [UInt8]?
    /// The same body as a JSON value.
    package var document: JSONValue?
    /// Ids of events rendered as the target's unknown/unsupported message.
    package var substituted: [String]
    package var dropped: [DroppedEvent]
    /// Ids of events whose business-scoped user id stood in for the missing phone number
    /// (`PhonelessPolicy.userID`); the delivery says so in a header.
    package var userIDForPhone: [String] = []

    package var droppedCount: Int { dropped.count }
}

/// Renders canonical events as one webhook body.
///
/// - `.cloud` / `.onprem`: one body for the whole group (a batch decoded from one body renders back
///   as that batch). Events whose origin is the target API are rendered by the exact inverse of
///   decoding (`data.batch`); others go through the documented cross mapping (`Mapping.swift`).
/// - `.canonical`: one event renders as one CloudEvent JSON object; several render as a JSON array of
///   CloudEvents (the CloudEvents JSON batch format, `application/cloudevents-batch+json`).
///
/// `business` overrides, field by field, the business identity the events carry (Cloud output only:
/// `entry[].id` and `metadata`). `phoneless` decides what an On-Prem body gets for a Cloud message
/// or status that names no phone number (`PhonelessRendering`), whatever `unsupported` says.
package enum WebhookRenderer {
    package static func render(
        events: [CanonicalEvent], as format: WebhookOutputFormat, business: BusinessIdentity? = nil,
        unsupported policy: UnsupportedPolicy = .defaultPolicy, phoneless: PhonelessPolicy = .defaultPolicy
    ) -> RenderOutcome {
        let document: JSONValue?
        var substituted: [String] = []
        var dropped: [DroppedEvent] = []
        var userIDForPhone: [String] = []
        switch format {
        case .canonical:
            if events.isEmpty { document = nil } else if events.count == 1 { document = events[0].json } else {
                document = .array(events.map(\.json))
            }
        case .cloud:
            document = CloudRendering(override: business, policy: policy).render(events, substituted: &substituted, dropped: &dropped)
        case .onprem:
            document = OnPremRendering(policy: policy, phoneless: phoneless)
                .render(events, substituted: &substituted, dropped: &dropped, userIDForPhone: &userIDForPhone)
        }
        return RenderOutcome(
            body: document?.serialized(), document: document, substituted: substituted, dropped: dropped, userIDForPhone: userIDForPhone
        )
    }
}

/// Items gathered for one array of a body, placed by their original position when known.
private struct Slots {
    var items: [(position: Int, value: JSONValue)] = []
    /// Positions taken (kept so large batches stay linear).
    var taken: Set<Int> = []
    var maxPosition = -1
    var sorted = true

    mutating func add(_ value: JSONValue, at position: Int?) {
        let p = position ?? maxPosition + 1
        if p < maxPosition { sorted = false }
        items.append((p, value))
        taken.insert(p)
        maxPosition = max(maxPosition, p)
    }

    /// Adds unless an item already sits at `position`.
    mutating func addOnce(_ value: JSONValue, at position: Int) {
        if !taken.contains(position) { add(value, at: position) }
    }

    var array: [JSONValue] {
        if sorted { return items.map(\.value) }
        return items.enumerated().sorted { ($0.element.position, $0.offset) < ($1.element.position, $1.offset) }.map(\.element.value)
    }
    var isEmpty: Bool { items.isEmpty }
}

private struct ValueAccumulator {
    var skeleton: JSONObject
    var contacts = Slots()
    var contactIDs: Set<String> = []
    var arrays: [(key: String, slots: Slots)] = []

    mutating func add(_ key: String, _ value: JSONValue, at position: Int?) {
        if let i = arrays.firstIndex(where: { $0.key == key }) {
            arrays[i].slots.add(value, at: position)
        } else {
            var s = Slots()
            s.add(value, at: position)
            arrays.append((key, s))
        }
    }

    /// Adds a contact by origin position, or (cross rendering) once per contact id.
    mutating func addContact(_ contact: JSONObject, at position: Int?) {
        if let position {
            contacts.addOnce(.object(contact), at: position)
            return
        }
        let key = contact["wa_id"]?.scalarText ?? contact["user_id"]?.scalarText ?? contact.jsonKey
        if contactIDs.insert(key).inserted { contacts.add(.object(contact), at: nil) }
    }

    mutating func addOtherContacts(_ batch: JSONObject?) {
        guard case .array(let others)? = batch?["other_contacts"] else { return }
        for o in others {
            guard let index = o["index"]?.integerValue, case .object(let c)? = o["contact"] else { continue }
            contacts.addOnce(.object(c), at: Int(index))
        }
    }

    func build() -> JSONObject {
        var value = skeleton
        if !contacts.isEmpty { value.append("contacts", .array(contacts.array)) }
        for (key, slots) in arrays { value.append(key, .array(slots.array)) }
        return value
    }
}

extension JSONObject {
    fileprivate var jsonKey: String { String(decoding: JSONValue.object(self).serialized(sortedKeys: true), as: UTF8.self) }
}

private func batchInt(_ batch: JSONObject?, _ key: String) -> Int? {
    guard let v = batch?[key]?.integerValue else { return nil }
    return Int(exactly: v)
}

// MARK: - Cloud

private struct CloudRendering {
    let override: BusinessIdentity?
    let policy: UnsupportedPolicy

    enum ChangeContent {
        case messages(ValueAccumulator)
        case value(JSONValue?)
    }

    struct ChangeAcc {
        var key: String
        var skeleton: JSONObject
        var content: ChangeContent
    }

    struct EntryAcc {
        var key: String
        var skeleton: JSONObject
        var changes: [ChangeAcc]
    }

    func render(_ events: [CanonicalEvent], substituted: inout [String], dropped: inout [DroppedEvent]) -> JSONValue? {
        var bodySkeleton: JSONObject?
        var entries: [EntryAcc] = []

        for event in events {
            let batch = event.batch
            let fromCloud = event.api == .cloud
            let biz = event.business.overridden(by: override)

            // Entry and change identity.
            let entryKey: String
            let changeKey: String
            var entrySkeleton: JSONObject
            var changeSkeleton: JSONObject
            if fromCloud, let ei = batchInt(batch, "entry_index"), let ci = batchInt(batch, "change_index") {
                entryKey = "c\(ei)"
                changeKey = "c\(ci)"
                entrySkeleton = batch?["entry"]?.objectValue ?? JSONObject()
                changeSkeleton = batch?["change"]?.objectValue ?? ["field": "messages"]
                if bodySkeleton == nil { bodySkeleton = batch?["body"]?.objectValue }
            } else {
                entryKey = "x" + (biz.wabaID ?? "")
                changeKey = "x" + (biz.phoneNumberID ?? "") + "|" + (event.kind.fieldName ?? "messages")
                entrySkeleton = ["id": .string(biz.wabaID ?? "")]
                changeSkeleton = ["field": .string(event.kind.fieldName ?? "messages")]
            }
            if let w = override?.wabaID { entrySkeleton["id"] = .string(w) }

            // The item in Cloud vocabulary.
            var itemKey: String
            var item: JSONObject
            switch event.kind {
            case .field:
                if !fromCloud && policy != .passThrough {
                    dropped.append(DroppedEvent(eventID: event.id, reason: "field event from On-Prem"))
                    continue
                }
                let e = entryIndex(&entries, key: entryKey, skeleton: entrySkeleton)
                if entries[e].changes.firstIndex(where: { $0.key == changeKey }) == nil {
                    entries[e].changes.append(ChangeAcc(key: changeKey, skeleton: changeSkeleton, content: .value(event.value)))
                }
                continue
            case .message:
                guard let m = event.message else {
                    dropped.append(DroppedEvent(eventID: event.id, reason: "message event without data.message"))
                    continue
                }
                itemKey = "messages"
                item = m
                if !fromCloud, MarketingPreferenceMapping.isPreferenceChange(m) {
                    addPreferenceChange(m, event: event, business: biz, entryKey: entryKey, entrySkeleton: entrySkeleton, to: &entries)
                    continue
                }
                if !fromCloud {
                    switch OnPremMapping.onPremMessageToCloud(m, policy: policy) {
                    case .mapped(let o): item = o
                    case .substituted(let o): item = o; substituted.append(event.id)
                    case .unsupported(let reason): dropped.append(DroppedEvent(eventID: event.id, reason: reason)); continue
                    }
                }
            case .status:
                guard let s = event.status else {
                    dropped.append(DroppedEvent(eventID: event.id, reason: "status event without data.status"))
                    continue
                }
                itemKey = "statuses"
                item = s
                if !fromCloud {
                    let (cross, isMessage) = OnPremMapping.onPremStatusToCloud(s, policy: policy)
                    if isMessage { itemKey = "messages" }
                    switch cross {
                    case .mapped(let o): item = o
                    case .substituted(let o): item = o; substituted.append(event.id)
                    case .unsupported(let reason): dropped.append(DroppedEvent(eventID: event.id, reason: reason)); continue
                    }
                }
            case .error:
                guard let e = event.error else {
                    dropped.append(DroppedEvent(eventID: event.id, reason: "error event without data.error"))
                    continue
                }
                itemKey = "errors"
                item = fromCloud ? e : OnPremMapping.errorRenderedToCloud(e)
            }

            var valueSkeleton: JSONObject
            if fromCloud, let v = batch?["value"]?.objectValue {
                valueSkeleton = v
                if let override, case .object(var metadata)? = valueSkeleton["metadata"] {
                    if let p = override.phoneNumberID { metadata["phone_number_id"] = .string(p) }
                    if let d = override.displayPhoneNumber { metadata["display_phone_number"] = .string(d) }
                    valueSkeleton["metadata"] = .object(metadata)
                }
            } else {
                valueSkeleton = crossValueSkeleton(biz)
            }

            let e = entryIndex(&entries, key: entryKey, skeleton: entrySkeleton)
            var c: Int
            if let found = entries[e].changes.firstIndex(where: { $0.key == changeKey }) {
                c = found
            } else {
                entries[e].changes.append(ChangeAcc(key: changeKey, skeleton: changeSkeleton, content: .messages(ValueAccumulator(skeleton: valueSkeleton))))
                c = entries[e].changes.count - 1
            }
            guard case .messages(var acc) = entries[e].changes[c].content else {
                dropped.append(DroppedEvent(eventID: event.id, reason: "conflicting change position"))
                continue
            }
            let position = fromCloud ? batchInt(batch, "item_index") : nil
            acc.add(itemKey, .object(item), at: position)
            if let contact = event.contact {
                acc.addContact(contact, at: fromCloud ? batchInt(batch, "contact_index") : nil)
            } else if !fromCloud, itemKey == "messages", item["type"]?.stringValue != "system", let from = item["from"] {
                // On-Prem omits contacts[] for media; Cloud always sends the sender's contact (name unknown here).
                acc.addContact(["profile": ["name": ""], "wa_id": from], at: nil)
            } else if !fromCloud, itemKey == "statuses", let recipient = item["recipient_id"] {
                // Cloud names a status's recipient in contacts[] since 2026 (pywa 4.x needs it). On-Prem
                // knows only the phone: no user id or name is made up.
                acc.addContact(["wa_id": recipient], at: nil)
            }
            if fromCloud { acc.addOtherContacts(batch) }
            entries[e].changes[c].content = .messages(acc)
        }

        guard !entries.isEmpty else { return nil }
        var body = bodySkeleton ?? ["object": "whatsapp_business_account"]
        var entryValues: [JSONValue] = []
        for entry in entries {
            var o = entry.skeleton
            var changes: [JSONValue] = []
            for change in entry.changes {
                var co = change.skeleton
                switch change.content {
                case .messages(let acc): co.append("value", .object(acc.build()))
                case .value(let v): co.appendIfPresent("value", v)
                }
                changes.append(.object(co))
            }
            o.append("changes", .array(changes))
            entryValues.append(.object(o))
        }
        body.append("entry", .array(entryValues))
        return .object(body)
    }

    /// `messaging_product` and `metadata` of a value built for an On-Prem-origin event (`biz`
    /// already carries the override).
    func crossValueSkeleton(_ biz: BusinessIdentity) -> JSONObject {
        var value: JSONObject = ["messaging_product": "whatsapp"]
        var metadata = JSONObject(minimumCapacity: 2)
        metadata.append("display_phone_number", .string(biz.displayPhoneNumber ?? ""))
        metadata.append("phone_number_id", .string(biz.phoneNumberID ?? ""))
        value.append("metadata", .object(metadata))
        return value
    }

    /// An On-Prem marketing-preference system message as (one more element of) the business's
    /// Cloud `user_preferences` change (`MarketingPreferenceMapping`).
    func addPreferenceChange(
        _ m: JSONObject, event: CanonicalEvent, business biz: BusinessIdentity, entryKey: String, entrySkeleton: JSONObject,
        to entries: inout [EntryAcc]
    ) {
        let field = MarketingPreferenceMapping.cloudField
        let e = entryIndex(&entries, key: entryKey, skeleton: entrySkeleton)
        let key = "x" + (biz.phoneNumberID ?? "") + "|" + field
        let preference = MarketingPreferenceMapping.cloudPreference(fromOnPrem: m)
        if let c = entries[e].changes.firstIndex(where: { $0.key == key }), case .value(.object(let value)?) = entries[e].changes[c].content {
            entries[e].changes[c].content = .value(.object(MarketingPreferenceMapping.appending(preference, contact: event.contact, to: value)))
        } else {
            let value = MarketingPreferenceMapping.appending(preference, contact: event.contact, to: crossValueSkeleton(biz))
            entries[e].changes.append(ChangeAcc(key: key, skeleton: ["field": .string(field)], content: .value(.object(value))))
        }
    }

    func entryIndex(_ entries: inout [EntryAcc], key: String, skeleton: JSONObject) -> Int {
        if let i = entries.firstIndex(where: { $0.key == key }) { return i }
        entries.append(EntryAcc(key: key, skeleton: skeleton, changes: []))
        return entries.count - 1
    }
}

extension CanonicalEventKind {
    var fieldName: String? {
        if case .field(let f) = self { return f }
        return nil
    }
}

// MARK: - On-Prem

private struct OnPremRendering {
    let policy: UnsupportedPolicy
    let phoneless: PhonelessPolicy

    func render(
        _ events: [CanonicalEvent], substituted: inout [String], dropped: inout [DroppedEvent], userIDForPhone: inout [String]
    ) -> JSONValue? {
        var bodySkeleton: JSONObject?
        var acc = ValueAccumulator(skeleton: JSONObject())
        var rendered = 0
        for event in events {
            let batch = event.batch
            let fromOnPrem = event.api == .onprem
            if fromOnPrem, bodySkeleton == nil { bodySkeleton = batch?["body"]?.objectValue }
            let position = fromOnPrem ? batchInt(batch, "item_index") : nil
            let undo = batch?["undo"]?.objectValue
            var withContact = true
            var contact = event.contact
            var standsIn = false
            let key: String
            let item: JSONObject
            switch event.kind {
            case .field(MarketingPreferenceMapping.cloudField):
                guard renderPreferences(event, into: &acc, dropped: &dropped, userIDForPhone: &userIDForPhone) else { continue }
                rendered += 1
                continue
            case .field(let f):
                dropped.append(DroppedEvent(eventID: event.id, reason: "webhook field \(f) has no On-Prem equivalent"))
                continue
            case .message:
                guard let m = event.message else {
                    dropped.append(DroppedEvent(eventID: event.id, reason: "message event without data.message"))
                    continue
                }
                key = "messages"
                if fromOnPrem {
                    item = OnPremMapping.undoItem(m, undo: undo, isError: false)
                } else {
                    let addressed: JSONObject
                    switch PhonelessRendering.message(m, contact: contact, policy: phoneless) {
                    case .deadLetter: dropped.append(phonelessDeadLetter(event)); continue
                    case .noUser(let reason): dropped.append(DroppedEvent(eventID: event.id, reason: reason)); continue
                    case .phone(let i, let c): addressed = i; contact = c
                    case .userIDStandsIn(let i, let c): addressed = i; contact = c; standsIn = true
                    }
                    switch OnPremMapping.cloudMessageToOnPrem(addressed, policy: policy) {
                    case .mapped(let o): item = o
                    case .substituted(let o): item = o; substituted.append(event.id)
                    case .unsupported(let reason): dropped.append(DroppedEvent(eventID: event.id, reason: reason)); continue
                    }
                    withContact = !OnPremMapping.onPremTypesWithoutContacts.contains(item["type"]?.stringValue ?? "")
                }
            case .status:
                guard let s = event.status else {
                    dropped.append(DroppedEvent(eventID: event.id, reason: "status event without data.status"))
                    continue
                }
                key = "statuses"
                if fromOnPrem {
                    // A contact Cutover carried inside the status goes back there, not to `contacts[]`.
                    let inside = undo?["contacts"]?.boolValue == true
                    withContact = !inside
                    item = OnPremMapping.undoItem(s, undo: undo, isError: false, contact: inside ? contact : nil)
                } else {
                    withContact = false
                    let addressed: JSONObject
                    switch PhonelessRendering.status(s, contact: contact, policy: phoneless) {
                    case .deadLetter: dropped.append(phonelessDeadLetter(event)); continue
                    case .noUser(let reason): dropped.append(DroppedEvent(eventID: event.id, reason: reason)); continue
                    case .phone(let i, let c): addressed = i; contact = c
                    case .userIDStandsIn(let i, let c): addressed = i; contact = c; standsIn = true
                    }
                    switch OnPremMapping.cloudStatusToOnPrem(addressed, contact: contact, policy: policy) {
                    case .mapped(let o): item = o
                    case .substituted(let o): item = o; substituted.append(event.id)
                    case .unsupported(let reason): dropped.append(DroppedEvent(eventID: event.id, reason: reason)); continue
                    }
                }
            case .error:
                guard let e = event.error else {
                    dropped.append(DroppedEvent(eventID: event.id, reason: "error event without data.error"))
                    continue
                }
                key = "errors"
                item = fromOnPrem ? OnPremMapping.undoItem(e, undo: undo, isError: true) : OnPremMapping.errorToOnPrem(e)
            }
            rendered += 1
            if standsIn { userIDForPhone.append(event.id) }
            acc.add(key, .object(item), at: position)
            if withContact, let contact {
                acc.addContact(contact, at: fromOnPrem ? batchInt(batch, "contact_index") : nil)
            }
            if fromOnPrem { acc.addOtherContacts(batch) }
        }
        guard rendered > 0 else { return nil }
        acc.skeleton = bodySkeleton ?? JSONObject()
        return .object(acc.build())
    }

    func phonelessDeadLetter(_ event: CanonicalEvent) -> DroppedEvent {
        DroppedEvent(eventID: event.id, reason: PhonelessPolicy.reason, deadLetter: true)
    }

    /// A Cloud `user_preferences` change as On-Prem `user_preference_changed` system messages with
    /// their contacts; false when nothing was rendered (the reason is in `dropped`).
    func renderPreferences(
        _ event: CanonicalEvent, into acc: inout ValueAccumulator, dropped: inout [DroppedEvent], userIDForPhone: inout [String]
    ) -> Bool {
        guard let value = event.value?.objectValue,
              let messages = MarketingPreferenceMapping.onPremMessages(fromCloudValue: value, eventID: event.id) else {
            dropped.append(DroppedEvent(eventID: event.id, reason: "user_preferences without marketing preferences to render"))
            return false
        }
        var addressed: [(message: JSONObject, contact: JSONObject?)] = []
        var standsIn = false
        for (m, c) in messages {
            switch PhonelessRendering.message(m, contact: c, policy: phoneless) {
            case .deadLetter:
                dropped.append(phonelessDeadLetter(event))
                return false
            case .noUser(let reason):
                dropped.append(DroppedEvent(eventID: event.id, reason: reason))
                return false
            case .phone(let i, let c): addressed.append((i, c))
            case .userIDStandsIn(let i, let c): addressed.append((i, c)); standsIn = true
            }
        }
        for (m, c) in addressed {
            acc.add("messages", .object(m), at: nil)
            if let c { acc.addContact(c, at: nil) }
        }
        if standsIn { userIDForPhone.append(event.id) }
        return true
    }
}
