import CutoverTestSupport
import Foundation
import Testing
@testable import CutoverWebhooks

/// The business identity an On-Prem route would supply.
let routeBusiness = BusinessIdentity(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881", wabaID: "102290129340398")

/// Every canonical event the fixtures produce: each fixture decoded (On-Prem with and without a
/// route identity), and each fixture's cross rendering (every policy) decoded again.
func allCanonicalEvents() throws -> [(name: String, event: CanonicalEvent)] {
    var out: [(String, CanonicalEvent)] = []
    for (api, name) in Fixtures.all {
        let events = try decode(api, name, business: api == .onprem ? routeBusiness : nil, route: "default")
        out += events.map { ("\(api.rawValue)/\(name)", $0) }
        if api == .onprem { out += try decode(api, name, route: "bare").map { ("\(api.rawValue)/\(name) (no identity)", $0) } }
        let other: WebhookOutputFormat = api == .cloud ? .onprem : .cloud
        for policy in UnsupportedPolicy.allCases {
            for phoneless in PhonelessPolicy.allCases {
                guard let body = WebhookRenderer.render(events: events, as: other, unsupported: policy, phoneless: phoneless).body else { continue }
                let back = try WebhookDecoder().decode(body, api: .auto, business: routeBusiness, route: "default")
                out += back.map { ("\(api.rawValue)/\(name) -> \(other.rawValue) (\(policy.rawValue), \(phoneless.rawValue))", $0) }
            }
        }
    }
    return out
}

@Suite struct FixtureSetTests {
    @Test func enoughFixturesEachWithProvenance() throws {
        #expect(Fixtures.all.count >= 100)
        for (api, name) in Fixtures.all {
            let sources = try String(contentsOf: Fixtures.sources(api, name), encoding: .utf8)
            let file = Fixtures.url(api, name).lastPathComponent
            #expect(sources.contains(file), "\(api.rawValue)/\(name) has no provenance in SOURCES.md")
        }
    }

    /// Every type the issue lists is present in the fixture set.
    @Test func coverage() throws {
        var messageTypes = Set<String>(), interactive = Set<String>(), system = Set<String>(), statuses = Set<String>()
        var fields = Set<String>()
        for (api, name) in Fixtures.all {
            for e in try decode(api, name, route: "r") {
                let key = "\(api.rawValue):"
                if let m = e.message {
                    messageTypes.insert(key + (m["type"]?.stringValue ?? ""))
                    if let t = m["interactive"]?["type"]?.stringValue { interactive.insert(t) }
                    if let t = m["system"]?["type"]?.stringValue { system.insert(t) }
                }
                if let s = e.status?["status"]?.stringValue { statuses.insert(key + s) }
                if case .field(let f) = e.kind { fields.insert(f) }
            }
        }
        for t in ["text", "image", "audio", "video", "document", "sticker", "location", "contacts", "button", "interactive",
                  "reaction", "order", "system", "unsupported", "unknown", "request_welcome", "edit", "revoke"] {
            #expect(messageTypes.contains("cloud:" + t), "cloud message type \(t)")
        }
        for t in ["text", "image", "audio", "video", "document", "sticker", "location", "contacts", "button", "interactive",
                  "order", "system", "unknown", "ephemeral"] {
            #expect(messageTypes.contains("onprem:" + t), "onprem message type \(t)")
        }
        #expect(interactive.isSuperset(of: ["button_reply", "list_reply", "nfm_reply", "call_permission_reply"]))
        #expect(system.isSuperset(of: ["user_changed_number", "customer_identity_changed", "user_changed_user_id", "group_created"]))
        for s in ["sent", "delivered", "read", "played", "failed"] { #expect(statuses.contains("cloud:" + s)) }
        for s in ["sent", "delivered", "read", "failed", "deleted", "warning"] { #expect(statuses.contains("onprem:" + s)) }
        #expect(fields.isSuperset(of: [
            "message_template_status_update", "message_template_quality_update", "message_template_components_update",
            "template_category_update", "phone_number_name_update", "phone_number_quality_update", "account_update",
            "account_review_update", "account_alerts", "business_capability_update", "security", "flows", "calls", "history",
            "smb_message_echoes", "smb_app_state_sync", "user_preferences", "partner_solutions", "payment_configuration_update",
            "automatic_events", "group_lifecycle_update", "group_participants_update", "group_settings_update",
            "group_status_update", "business_username_update",
        ]))
    }
}

@Suite struct MappingDocTests {
    /// The mechanical tie: every field path of every fixture has a row in docs/mapping.md, in the
    /// section of its API.
    @Test func everyFixtureFieldPathIsDocumented() throws {
        let doc = try String(contentsOfFile: Repo.path("docs/mapping.md"), encoding: .utf8)
        guard let cloudStart = doc.range(of: "## Cloud API: `messages` field"), let onPremStart = doc.range(of: "## On-Premises API") else {
            Issue.record("docs/mapping.md lacks its Cloud or On-Prem section")
            return
        }
        let sections: [WebhookAPI: Substring] = [
            .cloud: doc[cloudStart.upperBound..<onPremStart.lowerBound],
            .onprem: doc[onPremStart.upperBound...],
        ]
        var missing: [String] = []
        var total = 0
        for (api, name) in Fixtures.all {
            let paths = FieldPaths.of(try Fixtures.json(api, name), api: api)
            total += paths.count
            for p in paths.sorted() where !sections[api]!.contains("`\(p)`") {
                missing.append("\(api.rawValue): `\(p)` (\(name))")
            }
        }
        #expect(total > 0)
        let unique = Array(Set(missing.map { $0.components(separatedBy: " (")[0] })).sorted()
        #expect(unique.isEmpty, "fields missing from docs/mapping.md:\n\(unique.joined(separator: "\n"))")
    }

    @Test func pathsCollapseIndicesAndSplitTheCloudEnvelope() throws {
        let cloud = FieldPaths.of(try Fixtures.json(.cloud, "msg_audio_voice.json"), api: .cloud)
        #expect(cloud.contains("messages[].audio.voice"))
        #expect(cloud.contains("entry[].changes[].field"))
        #expect(cloud.contains("object"))
        let mgmt = FieldPaths.of(try Fixtures.json(.cloud, "mgmt_account_update_disabled_update.json"), api: .cloud)
        #expect(mgmt.contains("account_update.ban_info.waba_ban_state"))
        let onprem = FieldPaths.of(try Fixtures.json(.onprem, "meta-doc-inbound-voice.json"), api: .onprem)
        #expect(onprem.contains("messages[].voice.mime_type"))
    }
}

@Suite struct CanonicalSchemaTests {
    /// Every canonical event from every fixture (and from every cross rendering) validates against
    /// docs/canonical.schema.json, checked by Python's jsonschema (Draft 2020-12).
    @Test func everyCanonicalEventValidates() throws {
        let events = try allCanonicalEvents()
        #expect(events.count > 200)
        let lines: [JSONValue] = events.map { .object(["name": .string($0.name), "event": $0.event.json]) }
        do {
            let out = try External.consumer("validate_canonical.py", lines: lines, arguments: [Repo.path("docs/canonical.schema.json")],
                                            python: Repo.systemPython)
            #expect(out.contains("ok \(events.count)"), "\(out)")
        } catch {
            Issue.record("\(error)")
        }
    }

    /// The schema is not vacuous: broken events are rejected.
    @Test func schemaRejectsBrokenEvents() throws {
        let good = try decode(.onprem, "meta-doc-inbound-voice.json", business: routeBusiness)[0]
        var voice = good
        voice.data["message"] = .object(good.message!.setting("type", "voice"))
        var noData = good.json.objectValue!
        noData["data"] = nil
        var badAPI = good.json.objectValue!
        badAPI["whatsappapi"] = "fax"
        var extra = good
        extra.data["surprise"] = true
        for (name, event) in [("voice type", voice.json), ("no data", .object(noData)), ("bad api", .object(badAPI)), ("extra data key", extra.json)] {
            let r = try runCommand(Repo.systemPython, [Repo.path("scripts/consumers/validate_canonical.py"), Repo.path("docs/canonical.schema.json")],
                                   stdin: Data(JSONValue.object(["name": .string(name), "event": event]).serialized() + [0x0A]))
            #expect(r.status != 0, "schema accepted \(name)")
        }
    }
}

@Suite struct ConsumerTests {
    /// What pywa should make of a Cloud body (handler class and a few attributes of the update).
    static func pywaExpectation(_ cloud: JSONValue) -> JSONValue {
        let value = cloud.at("entry", 0, "changes", 0, "value")
        var attrs = JSONObject()
        var handler: JSONValue = .null
        if let m = value?["messages"]?.at(0) {
            let type = m["type"]?.stringValue ?? ""
            if let id = m["id"], id.stringValue != nil { attrs["id"] = id }
            handler = "MessageHandler"
            switch type {
            case "button":
                handler = "CallbackButtonHandler"
            case "interactive":
                switch m["interactive"]?["type"]?.stringValue {
                case "button_reply": handler = "CallbackButtonHandler"
                case "list_reply": handler = "CallbackSelectionHandler"
                default: break
                }
            case "system":
                switch m["system"]?["type"]?.stringValue {
                case "user_changed_number":
                    handler = "PhoneNumberChangeHandler"
                    attrs["new_wa_id"] = m["system"]?["wa_id"]
                case "customer_identity_changed":
                    handler = "IdentityChangeHandler"
                default: break
                }
            default:
                attrs["type"] = .string(type)
                if let from = m["from"], from.stringValue != nil { attrs["from_user.wa_id"] = from }
                if type == "audio" { attrs["audio.voice"] = .bool(m["audio"]?["voice"]?.boolValue ?? false) }
                if type == "text" { attrs["text"] = m["text"]?["body"] }
            }
        } else if value?["user_preferences"] != nil {
            handler = "UserMarketingPreferencesHandler"  // an On-Prem `user_preference_changed` message
        } else if let s = value?["statuses"]?.at(0) {
            handler = "MessageStatusHandler"
            attrs["id"] = s["id"]
            attrs["status"] = s["status"]
        }
        return .object(["handler": handler, "attrs": .object(attrs)])
    }

    /// On-Prem items whose Cloud rendering pywa cannot take, and why (docs/mapping.md, "What cannot
    /// be mapped"): Cutover passes what the On-Prem client sent; it does not invent values.
    static func pywaKnownGap(_ event: CanonicalEvent) -> String? {
        let item = event.message ?? event.status
        if let item, item["timestamp"] == nil { return "no timestamp in the On-Prem item (Cloud always sends one)" }
        if let s = event.status {
            if s["conversation"] != nil, s["conversation"]?["origin"] == nil { return "2021 CBP conversation without origin" }
            if s["pricing"] != nil, s["pricing"]?["category"] == nil { return "2021 pricing without category (NBP/early CBP)" }
        }
        if event.message?["system"]?["type"] == "customer_identity_changed" {
            return "identity change: pywa needs message-level identity{acknowledged, created_timestamp, hash}, On-Prem sends a hash only"
        }
        return nil
    }

    /// Cloud bodies Cutover renders from On-Prem fixtures (one event per body, as delivered) are
    /// parsed by pywa into the expected typed updates; a push-to-talk note is an audio message
    /// flagged as voice.
    @Test func pywaParsesCloudBodiesRenderedFromOnPrem() throws {
        var lines: [JSONValue] = []
        var voiceNotes = 0
        for name in Fixtures.names(.onprem) {
            for event in try decode(.onprem, name, business: routeBusiness) {
                if Self.pywaKnownGap(event) != nil { continue }
                guard let body = WebhookRenderer.render(events: [event], as: .cloud).body else { continue }
                let cloud = try JSONValue.parse(body)
                let expect = Self.pywaExpectation(cloud)
                if expect.at("attrs", "audio.voice") == true { voiceNotes += 1 }
                lines.append(["name": .string("\(name) \(event.id)"), "body": .string(cloud.text), "expect": expect])
            }
        }
        #expect(voiceNotes >= 2)
        #expect(lines.count > 60)
        do {
            let out = try External.consumer("check_pywa.py", lines: lines)
            #expect(out.contains("ok \(lines.count)"), "\(out)")
        } catch {
            Issue.record("\(error)")
        }
    }

    /// pywa is strict enough to catch a broken voice mapping (guards against a vacuous check).
    @Test func pywaNoticesAVoiceNoteThatIsNotFlagged() throws {
        let event = try decode(.onprem, "meta-doc-inbound-voice.json", business: routeBusiness)[0]
        var cloud = try JSONValue.parse(WebhookRenderer.render(events: [event], as: .cloud).body!)
        let expect = Self.pywaExpectation(cloud)
        #expect(expect.at("attrs", "audio.voice") == true)
        // Break the body the way a wrong mapping would: voice flag dropped.
        var text = cloud.text
        text = text.replacingOccurrences(of: "\"voice\":true", with: "\"voice\":false")
        cloud = try JSONValue.parse(Array(text.utf8))
        let line: JSONValue = ["name": "broken voice", "body": .string(cloud.text), "expect": expect]
        #expect(throws: ConsumerFailure.self) { try External.consumer("check_pywa.py", lines: [line]) }
    }

    /// Canonical events are read by the CloudEvents Python SDK (structured JSON mode).
    @Test func cloudEventsSDKReadsCanonicalEvents() throws {
        var lines: [JSONValue] = []
        for (api, name) in Fixtures.all {
            for event in try decode(api, name, business: api == .onprem ? routeBusiness : nil, route: "default") {
                lines.append(["name": .string("\(api.rawValue)/\(name) \(event.id)"), "body": .string(event.json.text)])
            }
        }
        do {
            let out = try External.consumer("check_cloudevents.py", lines: lines)
            #expect(out.contains("ok \(lines.count)"), "\(out)")
        } catch {
            Issue.record("\(error)")
        }
    }
}
