import PropertyBased
import Testing
@testable import CutoverWebhooks

/// One generated notification: which template, a free text (any Unicode up to U+2FFF, quotes,
/// backslashes, slashes, control characters), and small integers that vary ids, numbers and shapes.
struct ItemSpec: Sendable, CustomStringConvertible {
    var kind: Int
    var text: String
    var n: Int
    var flag: Bool

    var description: String { "ItemSpec(kind: \(kind), n: \(n), flag: \(flag), text: \(text.debugDescription))" }
}

/// A generated body: its items, how many entries/changes they spread over (Cloud), and a key-order rotation.
struct BodySpec: Sendable, CustomStringConvertible {
    var items: [ItemSpec]
    var rotation: Int
    var reverseContacts: Bool
    var description: String { "BodySpec(rotation: \(rotation), reverseContacts: \(reverseContacts), items: \(items))" }
}

enum Generated {
    static let textGen = Gen.character(in: "\u{01}"..."\u{2FFF}").string(of: 0...12)
    static let item = zip(Gen.int(in: 0...11), textGen, Gen.int(in: 0...999), Gen.bool)
        .map { ItemSpec(kind: $0, text: $1, n: $2, flag: $3) }
    static let body = zip(item.array(of: 1...6), Gen.int(in: 0...5), Gen.bool)
        .map { BodySpec(items: $0, rotation: $1, reverseContacts: $2) }

    /// Rotates the member order of every object (key order must never matter).
    static func rotated(_ v: JSONValue, by r: Int) -> JSONValue {
        switch v {
        case .object(let o):
            var members = o.members.map { ($0.key, rotated($0.value, by: r)) }
            if members.count > 1 { let k = r % members.count; members = Array(members[k...] + members[..<k]) }
            return .object(JSONObject(members.map { (key: $0.0, value: $0.1) }))
        case .array(let a): return .array(a.map { rotated($0, by: r) })
        default: return v
        }
    }

    static func wa(_ n: Int) -> String { "1650555" + String(String(10_000 + n % 10_000).dropFirst()) }

    /// On-Prem body: contacts, messages, statuses and errors from the specs.
    static func onPrem(_ spec: BodySpec) -> JSONValue {
        var contacts: [JSONValue] = [], messages: [JSONValue] = [], statuses: [JSONValue] = [], errors: [JSONValue] = []
        for (i, s) in spec.items.enumerated() {
            let from = wa(s.n)
            let id = JSONValue.string("ABGG\(i)x\(s.n)")
            let ts: JSONValue = s.flag ? .string(String(1_600_000_000 + s.n)) : .int(1_600_000_000 + s.n)
            var m: JSONObject = ["from": .string(from), "id": id, "timestamp": ts]
            var withContact = true
            switch s.kind {
            case 0: m["type"] = "text"; m["text"] = ["body": .string(s.text)]
            case 1: m["type"] = "voice"; m["voice"] = ["id": .string("v-\(s.n)"), "mime_type": "audio/ogg; codecs=opus", "sha256": "abc"]; withContact = false
            case 2: m["type"] = "image"; m["image"] = ["id": .string("i-\(s.n)"), "caption": s.flag ? .string(s.text) : .null, "mime_type": "image/jpeg"]; withContact = false
            case 3: m["type"] = "location"; m["location"] = ["latitude": .number("37.\(s.n)"), "longitude": .number("-122.\(s.n)"), "name": .string(s.text)]
            case 4: m["type"] = "system"; m["system"] = ["body": .string(s.text), "new_wa_id": .string(wa(s.n + 1)), "type": s.flag ? "user_changed_number" : "customer_changed_number"]; withContact = false
            case 5: m["type"] = "interactive"; m["interactive"] = ["type": "list_reply", "list_reply": ["id": .string("row\(s.n)"), "title": .string(s.text)]]
            case 6: m["type"] = "unknown"; m["errors"] = [["code": 501, "title": "Unknown message type", "details": .string(s.text)]]
            case 7: m["type"] = "text"; m["text"] = ["body": .string(s.text)]; m["referral"] = ["source_url": "https://fb.me/x", "image": ["id": .string("r\(s.n)")], "headline": .string(s.text)]; m["context"] = ["forwarded": true]
            case 8:
                var st: JSONObject = ["id": .string("gBGG\(i)"), "status": "sent", "timestamp": ts, "type": "message"]
                if s.flag { st["recipient_id"] = .string(from) }
                st["message"] = ["recipient_id": .string(from)]
                st["conversation"] = ["id": .string("c\(s.n)"), "origin": ["type": "business_initiated"], "expiration_timestamp": .int(1_600_086_400)]
                st["pricing"] = ["billable": .bool(s.flag), "pricing_model": "CBP", "category": "business_initiated"]
                statuses.append(.object(st)); continue
            case 9:
                statuses.append(["id": .string("gBGG\(i)"), "recipient_id": .string(from), "status": s.flag ? "failed" : "deleted", "timestamp": ts,
                                 "errors": [["code": 470, "title": .string(s.text), "details": "outside window", "href": "h"]]]); continue
            case 10:
                errors.append(["code": .int(400 + s.n), "title": .string(s.text), "details": "d", "href": "h"]); continue
            default: m["type"] = "ephemeral"; m["x_unknown_\(s.n % 3)"] = .string(s.text)
            }
            messages.append(.object(m))
            if withContact, !contacts.contains(where: { $0["wa_id"] == .string(from) }) {
                contacts.append(["profile": ["name": .string(s.text)], "wa_id": .string(from)])
            }
        }
        if spec.reverseContacts { contacts.reverse() }
        var body = JSONObject()
        if !contacts.isEmpty { body["contacts"] = .array(contacts) }
        if !messages.isEmpty { body["messages"] = .array(messages) }
        if !statuses.isEmpty { body["statuses"] = .array(statuses) }
        if !errors.isEmpty { body["errors"] = .array(errors) }
        return rotated(.object(body), by: spec.rotation)
    }

    /// Cloud body: items spread over one or two entries and several changes.
    static func cloud(_ spec: BodySpec) -> JSONValue {
        var entries: [(id: String, changes: [JSONValue])] = []
        for (i, s) in spec.items.enumerated() {
            let from = wa(s.n)
            let waba = s.n % 2 == 0 ? "102290129340398" : "202290129340399"
            let metadata: JSONValue = ["display_phone_number": "15550783881", "phone_number_id": .string("1065403522429\(s.n % 2)")]
            let id = JSONValue.string("wamid.GEN\(i)x\(s.n)")
            let ts = JSONValue.string(String(1_750_000_000 + s.n))
            var value: JSONObject = ["messaging_product": "whatsapp", "metadata": metadata]
            var field = "messages"
            let contact: JSONValue = ["profile": ["name": .string(s.text)], "wa_id": .string(from)]
            switch s.kind {
            case 0: value["contacts"] = [contact]; value["messages"] = [["from": .string(from), "id": id, "timestamp": ts, "type": "text", "text": ["body": .string(s.text)]]]
            case 1: value["contacts"] = [contact]; value["messages"] = [["from": .string(from), "id": id, "timestamp": ts, "type": "audio", "audio": ["id": "1", "mime_type": "audio/ogg; codecs=opus", "voice": .bool(s.flag)]]]
            case 2: value["contacts"] = [contact]; value["messages"] = [["from": .string(from), "id": id, "timestamp": ts, "type": "reaction", "reaction": s.flag ? ["message_id": "wamid.X", "emoji": .string(s.text)] : ["message_id": "wamid.X"]]]
            case 3: value["contacts"] = [contact]; value["messages"] = [["from": .string(from), "id": id, "timestamp": ts, "type": "interactive", "interactive": ["type": "nfm_reply", "nfm_reply": ["name": "flow", "body": "Sent", "response_json": .string(JSONValue.object(["flow_token": .string(s.text)]).text)]]]]
            case 4: value["statuses"] = [["id": id, "status": s.flag ? "read" : "played", "timestamp": ts, "recipient_id": .string(from)], ["id": id, "status": "delivered", "timestamp": ts, "recipient_id": .string(from), "pricing": ["billable": true, "pricing_model": "PMP", "type": "regular", "category": "marketing"]]]
            case 5: value["statuses"] = [["id": id, "status": "failed", "timestamp": ts, "recipient_id": .string(from), "errors": [["code": 131049, "title": .string(s.text), "message": .string(s.text), "error_data": ["details": "d"]]]]]
            case 6: value["errors"] = [["code": 130429, "title": .string(s.text), "message": .string(s.text), "error_data": ["details": "rate"]]]
            case 7: value = ["entity_type": "BUSINESS", "entity_id": .string("\(s.n)"), "alert_info": ["alert_description": .string(s.text), "alert_severity": "WARNING"]]; field = "account_alerts"
            case 8: value = ["event": "APPROVED", "message_template_id": .number("1234567890123456789\(s.n % 10)"), "message_template_name": .string(s.text), "reason": .null]; field = "message_template_status_update"
            case 9: value["contacts"] = [["wa_id": .string(wa(s.n + 7))], contact]; value["messages"] = [["from": .string(from), "id": id, "timestamp": ts, "type": "hologram", "hologram": ["depth": .number("1.50")]], ["from": .string(from), "id": .string("wamid.GEN\(i)b"), "timestamp": ts, "type": "text", "text": ["body": "second"]]]
            case 10: value["contacts"] = [["profile": ["name": .string(s.text), "username": "@u"], "user_id": "US.1"]]; value["messages"] = [["from_user_id": "US.1", "id": id, "timestamp": ts, "type": "text", "text": ["body": .string(s.text)]]]
            default: value["messages"] = [["from": .string(from), "id": id, "timestamp": ts, "type": "system", "system": ["body": .string(s.text), "wa_id": .string(wa(s.n + 1)), "type": "user_changed_number"]]]
            }
            let change: JSONValue = ["field": .string(field), "value": .object(value)]
            if let e = entries.firstIndex(where: { $0.id == waba }), s.flag || field != "messages" {
                entries[e].changes.append(change)
            } else {
                entries.append((waba, [change]))
            }
        }
        let entryValues: [JSONValue] = entries.map { ["id": .string($0.id), "time": 1_750_000_000, "changes": .array($0.changes)] }
        return rotated(["object": "whatsapp_business_account", "entry": .array(entryValues)], by: spec.rotation)
    }
}

@Suite struct PropertyTests {
    /// The round-trip law on generated bodies of both APIs, directly and through the stored
    /// canonical bytes; and the cross rendering of each is a body the decoder accepts.
    @Test func generatedBodiesRoundTrip() async {
        await propertyCheck(count: 150, input: Generated.body) { spec in
            for api in WebhookAPI.allCases {
                let body = api == .cloud ? Generated.cloud(spec) : Generated.onPrem(spec)
                let bytes = body.serialized()
                let events: [CanonicalEvent]
                do { events = try WebhookDecoder().decode(bytes, api: .auto, route: "gen") } catch {
                    Issue.record("\(api) body rejected: \(error)\n\(body.text)")
                    continue
                }
                #expect(events.allSatisfy { $0.api == api })
                let origin: WebhookOutputFormat = api == .cloud ? .cloud : .onprem
                let direct = WebhookRenderer.render(events: events, as: origin)
                #expect(direct.dropped.isEmpty)
                let back = direct.body.flatMap { try? JSONValue.parse($0) }
                #expect(back?.semanticallyEquals(body) == true, "\(api)\n\(body.text)\n\(back?.text ?? "nil")")
                let stored = events.compactMap { try? CanonicalEvent(bytes: $0.serialized()) }
                #expect(stored == events)
                for policy in UnsupportedPolicy.allCases {
                    let cross = WebhookRenderer.render(events: events, as: api == .cloud ? .onprem : .cloud, unsupported: policy)
                    #expect(cross.droppedCount + (cross.body == nil ? 0 : 1) > 0)
                    if let out = cross.body {
                        #expect(throws: Never.self) { _ = try WebhookDecoder().decode(out, api: .auto, route: "gen") }
                    }
                }
            }
        }
    }

    /// Malformed JSON gives a typed error, never a trap: every strict prefix of a body, and a body
    /// followed by garbage, is `WebhookDecodeError.invalidJSON`.
    @Test func malformedJSONIsATypedError() async {
        await propertyCheck(count: 150, input: Generated.body, Gen.int(in: 0...Int.max), Gen.element(of: [UInt8]("x}]1\",{".utf8))) { spec, cut, garbage in
            for body in [Generated.cloud(spec), Generated.onPrem(spec)] {
                let bytes = body.serialized()
                let prefix: [UInt8] = Array(bytes.prefix(cut % bytes.count))
                let trailing: [UInt8] = bytes + [garbage ?? 0x78]
                for broken in [prefix, trailing] {
                    do throws(WebhookDecodeError) {
                        _ = try WebhookDecoder().decode(broken, api: .auto)
                        Issue.record("accepted malformed JSON: \(String(decoding: broken, as: UTF8.self))")
                    } catch {
                        guard case .invalidJSON = error else { Issue.record("wrong error \(error)"); continue }
                    }
                }
            }
        }
    }

    /// Random byte corruption never crashes the decoder or the renderers: the outcome is events or
    /// a typed error.
    @Test func corruptedBodiesNeverCrash() async {
        await propertyCheck(count: 300, input: Generated.body, Gen.int(in: 0...Int.max), Gen.uint8().array(of: 1...4)) { spec, position, noise in
            for body in [Generated.cloud(spec), Generated.onPrem(spec)] {
                var bytes = body.serialized()
                for (k, b) in noise.enumerated() { bytes[(position &+ k * 7) % bytes.count] = b }
                do {
                    let events = try WebhookDecoder().decode(bytes, api: .auto, route: "r")
                    for format in WebhookOutputFormat.allCases { _ = WebhookRenderer.render(events: events, as: format) }
                    _ = events.map { WebhookShape.signature(of: $0) }
                } catch let error as WebhookDecodeError {
                    #expect(!error.description.isEmpty)
                } catch {
                    Issue.record("untyped error \(error)")
                }
            }
        }
    }
}
