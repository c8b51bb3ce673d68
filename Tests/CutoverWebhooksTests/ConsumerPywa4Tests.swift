import CutoverTestSupport
import Foundation
import Testing
@testable import CutoverWebhooks

/// pywa 4.x, the current major of the most used Python Cloud library, reading what Cutover sends
/// to a Cloud endpoint (scripts/consumers/check_pywa.py in the `pywa4` venv). pywa 4 identifies a
/// user by `contacts[].user_id` (the BSUID) and takes the user from `value.contacts[0]` for
/// messages, statuses, calls and preferences alike.
@Suite struct ConsumerPywa4Tests {
    /// What pywa 4.x should make of a Cloud body: its handler class and a few attributes of the
    /// update. Handler names and dispatch follow pywa 4.5's `server.py` (`_handle_messages_field`,
    /// `_handle_calls_field`, `_handle_user_preferences_field`).
    static func expectation(_ cloud: JSONValue) -> JSONValue {
        let change = cloud.at("entry", 0, "changes", 0)
        let value = change?["value"]
        let contact = value?["contacts"]?.at(0)
        var attrs = JSONObject()
        var handler: JSONValue = .null
        switch change?["field"]?.stringValue {
        case "messages":
            if let m = value?["messages"]?.at(0) {
                attrs["id"] = m["id"]
                handler = "MessageHandler"
                switch m["type"]?.stringValue ?? "" {
                case "button": handler = "CallbackButtonHandler"
                case "interactive":
                    switch m["interactive"]?["type"]?.stringValue {
                    case "button_reply": handler = "CallbackButtonHandler"
                    case "list_reply": handler = "CallbackSelectionHandler"
                    case "call_permission_reply": handler = "CallPermissionUpdateHandler"
                    default: break
                    }
                case "system":
                    switch m["system"]?["type"]?.stringValue {
                    case "user_changed_number", "user_changed_user_id", "customer_changed_number": handler = "PhoneNumberChangeHandler"
                    case "customer_identity_changed": handler = "IdentityChangeHandler"
                    default: break
                    }
                case let type:
                    attrs["type"] = .string(type)
                    attrs["from_user.bsuid"] = contact?["user_id"] ?? .null
                    attrs["from_user.wa_id"] = contact?["wa_id"] ?? .null
                    if type == "audio" { attrs["audio.voice"] = .bool(m["audio"]?["voice"]?.boolValue ?? false) }
                    if type == "text" { attrs["text"] = m["text"]?["body"] }
                }
            } else if let s = value?["statuses"]?.at(0) {
                if s["recipient_type"] == "group" {
                    handler = "GroupMessageStatusesHandler"
                } else {
                    handler = "MessageStatusHandler"
                    attrs["id"] = s["id"]
                    attrs["status"] = s["status"]
                    attrs["from_user.bsuid"] = contact?["user_id"] ?? .null
                    if let recipient = s["recipient_id"] { attrs["from_user.wa_id"] = recipient }
                }
            }
        case "user_preferences":
            if value?["user_preferences"]?.at(0)?["category"] == "marketing_messages" {
                handler = "UserMarketingPreferencesHandler"
                attrs["from_user.bsuid"] = contact?["user_id"] ?? .null
            }
        case "calls":
            switch value?["calls"]?.at(0)?["event"]?.stringValue {
            case "connect": handler = "CallConnectHandler"
            case "terminate": handler = "CallTerminateHandler"
            default: if value?["statuses"] != nil { handler = "CallStatusHandler" }
            }
            if handler != .null { attrs["from_user.bsuid"] = contact?["user_id"] ?? .null }
        default:
            break
        }
        return .object(["handler": handler, "attrs": .object(attrs)])
    }

    /// 2026 Cloud bodies pywa 4.5 drops as Meta sends them (Cutover forwards them unchanged: it
    /// cannot make up the contact Meta left out). Each is asserted to be refused, for this reason.
    static let refusedAsMetaSendsThem: [String: (refusal: String, why: String)] = [
        "p05_status_failed_bsuid_only.json": (
            "KeyError: 'contacts'",
            "Meta omits contacts[] on a failed status; pywa 4.5's MessageStatus.from_update indexes value['contacts']"
        ),
        "p16_smb_message_echoes_to_user_id.json": (
            "KeyError: 'contacts'",
            "a Coexistence echo names its recipient in the echo (to / to_user_id), with no contacts[] (Meta's smb_message_echoes example has none); pywa 4.5 indexes value['contacts']"
        ),
        "p08_group_status_read.json": (
            "KeyError: 'contacts'",
            "a group status names its participant in the status, with no contacts[]; pywa 4.5's GroupMessageStatuses indexes value['contacts']"
        ),
    ]

    static func run(_ lines: [JSONValue], python: Result<String, TestFailure> = Repo.pywa4Python) throws -> String {
        try External.consumer("check_pywa.py", lines: lines, python: python.get())
    }

    /// (a) Every 2026 Cloud fixture, rendered Cloud -> Cloud by Cutover as delivery sends it, is
    /// Meta's body unchanged and is parsed by pywa 4.x into the update of its kind, or is one of
    /// the named bodies pywa 4.x drops however it is sent.
    @Test func cloud2026FixturesAsSentByCutover() throws {
        var lines: [JSONValue] = []
        var kinds: [String: Int] = [:]
        for name in Cloud2026Fixtures.cloudNames {
            let original = try JSONValue.parse(Cloud2026Fixtures.bytes(name))
            let events = try WebhookDecoder().decode(Cloud2026Fixtures.bytes(name), api: .cloud, business: nil, route: "default")
            #expect(events.count == 1, "\(name): one notification per sample")
            for event in events {
                guard case .body(let cloud) = try DeliveredBody.of(event, as: .cloud) else {
                    Issue.record("\(name): Cutover sent nothing to a Cloud endpoint")
                    continue
                }
                #expect(cloud.semanticallyEquals(original), "\(name): Cloud -> Cloud changed the body")
                var expect = Self.expectation(cloud)
                if let refused = Self.refusedAsMetaSendsThem[name] {
                    expect = ["refused": .string(refused.refusal)]
                } else {
                    #expect(expect["handler"]?.stringValue != nil, "\(name): no pywa 4 handler expected; name the shape in refusedAsMetaSendsThem")
                }
                kinds[expect["handler"]?.stringValue ?? "refused", default: 0] += 1
                lines.append(["name": .string(name), "body": .string(cloud.text), "expect": expect])
            }
        }
        #expect(lines.count == Cloud2026Fixtures.cloudNames.count)
        #expect(Set(Self.refusedAsMetaSendsThem.keys).isSubset(of: Cloud2026Fixtures.cloudNames))
        // One of each kind the samples carry: message, status, system, preferences, call, button.
        #expect(kinds.keys.count >= 7, "\(kinds)")
        let out = try Self.run(lines)
        #expect(out.contains("pywa 4.5.0"), "\(out)")
        #expect(out.contains("ok \(lines.count)"), "\(out)")
    }

    /// The checker is strict with pywa 4: a status with its contacts removed (the On-Prem -> Cloud
    /// shape before this change) is refused for them, and expecting a refusal of a body pywa
    /// accepts fails.
    @Test func checkerNoticesWhatPywa4Drops() throws {
        let p04 = try JSONValue.parse(Cloud2026Fixtures.bytes("p04_status_delivered_username_phone.json"))
        var change = try #require(p04.at("entry", 0, "changes", 0)?.objectValue)
        change["value"] = .object(try #require(change["value"]?.objectValue).removing("contacts"))
        var entry = try #require(p04.at("entry", 0)?.objectValue)
        entry["changes"] = [.object(change)]
        let stripped = JSONValue.object(try #require(p04.objectValue).setting("entry", [.object(entry)]))
        #expect(stripped.at("entry", 0, "changes", 0, "value", "statuses") != nil)
        #expect(stripped.at("entry", 0, "changes", 0, "value", "contacts") == nil)
        let noContacts: JSONValue = ["name": "status without contacts", "body": .string(stripped.text), "expect": Self.expectation(p04)]
        #expect(throws: ConsumerFailure.self) { try Self.run([noContacts]) }
        let refusedForContacts: JSONValue = ["name": "status without contacts", "body": .string(stripped.text), "expect": ["refused": "KeyError: 'contacts'"]]
        #expect(try Self.run([refusedForContacts]).contains("ok 1"))
        let acceptedButExpectedRefused: JSONValue = ["name": "p04", "body": .string(p04.text), "expect": ["refused": "KeyError"]]
        #expect(throws: ConsumerFailure.self) { try Self.run([acceptedButExpectedRefused]) }
    }

    /// The On-Prem status events of every On-Prem fixture, as a Cloud endpoint receives them
    /// (one per request).
    static func onPremStatusesAsCloud() throws -> [(name: String, event: CanonicalEvent, delivered: DeliveredBody)] {
        var out: [(String, CanonicalEvent, DeliveredBody)] = []
        for name in Fixtures.names(.onprem) {
            for event in try decode(.onprem, name, business: routeBusiness) where event.status != nil {
                out.append(("\(name) \(event.id)", event, try DeliveredBody.of(event, as: .cloud)))
            }
        }
        return out
    }

    /// (b) Every On-Prem status rendered to Cloud carries `contacts: [{"wa_id": recipient_id}]`
    /// and is parsed by pywa 4.x and still by pywa 3.9 as a status with the On-Prem status value,
    /// id and recipient. What pywa refuses is only what docs/mapping.md lists as not mappable
    /// (an item the On-Prem client sent without a field Cloud always has); `deleted` becomes
    /// Cloud's `unsupported` message and `warning` has no Cloud status.
    @Test func onPremStatusesRenderedToCloud() throws {
        var lines: [JSONValue] = []
        var accepted = 0, knownGaps = 0, substituted = 0, filtered = 0
        for (name, event, delivered) in try Self.onPremStatusesAsCloud() {
            let status = try #require(event.status)
            let value = status["status"]?.stringValue
            guard case .body(let cloud) = delivered else {
                #expect(value == "warning", "\(name): \(value ?? "") not sent to Cloud: \(delivered)")
                filtered += 1
                continue
            }
            if value == "deleted" {
                #expect(cloud.at("entry", 0, "changes", 0, "value", "messages", 0, "type") == "unsupported")
                substituted += 1
                continue
            }
            let contacts = cloud.at("entry", 0, "changes", 0, "value", "contacts")
            if let recipient = status["recipient_id"] {
                if event.contact == nil {
                    #expect(contacts == .array([.object(["wa_id": recipient])]), "\(name): contacts \(contacts?.text ?? "none")")
                } else {
                    #expect(contacts?.at(0)?["wa_id"] == recipient, "\(name): contacts \(contacts?.text ?? "none")")
                }
            } else {
                #expect(contacts == nil, "\(name): a contact without a recipient")
            }
            let expect: JSONValue
            if let gap = ConsumerTests.pywaKnownGap(event) {
                expect = ["refused": .string(Self.refusal(forKnownGap: gap))]
                knownGaps += 1
            } else {
                let recipient = try #require(status["recipient_id"], "\(name): no recipient")
                expect = ["handler": "MessageStatusHandler",
                          "attrs": ["id": status["id"] ?? .null, "status": .string(value ?? ""), "from_user.wa_id": recipient]]
                accepted += 1
            }
            lines.append(["name": .string(name), "body": .string(cloud.text), "expect": expect])
        }
        #expect(accepted >= 15, "accepted \(accepted)")
        #expect(substituted >= 1 && filtered >= 1)
        let pywa4 = try Self.run(lines)
        #expect(pywa4.contains("pywa 4.5.0") && pywa4.contains("ok \(lines.count)"), "\(pywa4)")
        let pywa39 = try Self.run(lines, python: Repo.consumersPython)
        #expect(pywa39.contains("pywa 3.9.0") && pywa39.contains("ok \(lines.count)"), "\(pywa39)")
        print("On-Prem statuses -> Cloud, pywa 4.5 and 3.9: \(accepted) accepted, \(knownGaps) refused (not mappable), \(substituted) deleted -> unsupported message, \(filtered) warning not sent")
    }

    /// The exception pywa raises (both majors) for each gap `ConsumerTests.pywaKnownGap` names.
    static func refusal(forKnownGap gap: String) -> String {
        if gap.hasPrefix("no timestamp") { return "KeyError: 'timestamp'" }
        if gap.hasPrefix("2021 CBP conversation") { return "KeyError: 'origin'" }
        if gap.hasPrefix("2021 pricing") { return "KeyError: 'category'" }
        if gap.hasPrefix("identity change") { return "KeyError: 'identity'" }
        return gap
    }

    /// pywa 4.x handlers whose update takes its user from `contacts[0]["user_id"]` (`User.from_contact`);
    /// an On-Prem marketing opt-out becomes a Cloud `user_preferences` update, which does the same.
    static let handlersNeedingUserID: Set<String> = [
        "MessageHandler", "CallbackButtonHandler", "CallbackSelectionHandler", "CallPermissionUpdateHandler",
        "UserMarketingPreferencesHandler",
    ]

    /// (4) The documented limitation: pywa 4 builds a message's user from `contacts[0].user_id`,
    /// and an On-Prem message has no business-scoped user id (Cutover does not invent one), so
    /// pywa 4 drops every On-Prem message rendered to Cloud whose handler needs the user; system
    /// messages (number changes), whose user pywa 4 builds from `from`, still pass. Asserted per
    /// body, with the reason.
    @Test func onPremMessagesRenderedToCloudLackTheUserIDPywa4Needs() throws {
        var lines: [JSONValue] = []
        var outcomes: [String: Int] = [:]
        for name in Fixtures.names(.onprem) {
            for event in try decode(.onprem, name, business: routeBusiness) where event.message != nil {
                guard case .body(let cloud) = try DeliveredBody.of(event, as: .cloud) else { continue }
                let value = cloud.at("entry", 0, "changes", 0, "value")
                #expect(value?["contacts"]?.arrayValue?.contains { $0["user_id"] != nil } != true, "\(name): a user id was made up")
                var expect = Self.expectation(cloud)
                let handler = expect["handler"]?.stringValue ?? ""
                let outcome: String
                if let gap = ConsumerTests.pywaKnownGap(event) {
                    outcome = Self.refusal(forKnownGap: gap)
                    expect = ["refused": .string(outcome)]
                } else if Self.handlersNeedingUserID.contains(handler) {
                    outcome = "KeyError: 'user_id'"
                    expect = ["refused": .string(outcome)]
                } else {
                    outcome = "accepted by \(handler)"
                }
                outcomes[outcome, default: 0] += 1
                lines.append(["name": .string("\(name) \(event.id)"), "body": .string(cloud.text), "expect": expect])
            }
        }
        #expect((outcomes["KeyError: 'user_id'"] ?? 0) >= 40, "\(outcomes)")
        let out = try Self.run(lines)
        #expect(out.contains("ok \(lines.count)"), "\(out)")
        print("On-Prem messages -> Cloud, pywa 4.5, \(lines.count) bodies: \(outcomes.sorted { $0.key < $1.key })")
    }
}
