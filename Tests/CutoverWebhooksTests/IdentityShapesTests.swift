import Testing
@testable import CutoverWebhooks

private func cloudValue(_ body: JSONValue?) -> JSONValue? { body?.at("entry", 0, "changes", 0, "value") }

/// Issue 11, item 3: a Cloud status's contact (name, username, BSUIDs) survives On-Prem and back.
@Suite struct IdentityStatusContactTests {
    @Test(arguments: ["cloud-2026/p04_status_delivered_username_phone.json", "cloud-2026/p14_status_read_contacts_no_profile.json"])
    func statusContactsRideInsideTheOnPremStatusAndComeBack(_ name: String) throws {
        let original = try Fixtures.json(.cloud, name)
        let contact = try #require(cloudValue(original)?.at("contacts", 0))
        let events = try decode(.cloud, name)
        let (onprem, out) = try render(events, .onprem)
        #expect(out.dropped.isEmpty)
        let body = try #require(onprem)
        #expect(body["contacts"] == nil, "a top-level contact would read as a message's sender")
        #expect(body.at("statuses", 0, "contacts") == [contact])

        // On-Prem -> canonical: the contact is the event's again, not part of the status.
        let back = try WebhookDecoder().decode(body.serialized(), api: .onprem, business: routeBusiness)
        #expect(back[0].contact == contact.objectValue)
        #expect(back[0].status?["contacts"] == nil)
        #expect(back[0].subject == events[0].subject)
        // ... -> On-Prem: the same body (exact inverse) ...
        let (again, _) = try render(back, .onprem)
        #expect(again?.semanticallyEquals(body) == true)
        // ... -> Cloud: the contact is in `contacts[]` where Cloud puts it, with every key it had.
        let (cloud, _) = try render(back, .cloud)
        #expect(cloudValue(cloud)?["contacts"] == [contact])
        #expect(cloudValue(cloud)?.at("statuses", 0, "contacts") == nil)
        #expect(cloudValue(cloud)?.at("statuses", 0, "recipient_user_id") == .string(bsuid))
    }

    @Test func onPremStatusesWithoutACarriedContactAreUnchanged() throws {
        let events = try decode(.onprem, "cutover-statuses-batch-two-recipients.json", business: routeBusiness)
        #expect(events.allSatisfy { $0.batch?["undo"]?["contacts"] == nil })
    }
}

/// Issue 11, item 4: a Cloud message without its type body is On-Prem `unknown` with 501, and the
/// errors delivered beside it still arrive.
@Suite struct IdentityUnrenderableBodyTests {
    @Test func theUnsupportedPayloadCaseBecomesUnknownAndKeepsItsErrors() throws {
        let events = try decode(.cloud, "msg_unsupported_with_value_errors.json")
        for policy in [UnsupportedPolicy.unknownMessage, .passThrough] {
            let out = WebhookRenderer.render(events: events, as: .onprem, unsupported: policy)
            let body = try #require(out.document)
            #expect(body.at("messages", 0, "type") == "unknown", "\(policy)")
            #expect(body.at("messages", 0, "errors", 0, "code") == 501)
            #expect(body.at("messages", 0, "interactive") == nil)
            #expect(body.at("messages", 0, "context", "id") != nil)
            #expect(body.at("errors", 0, "code") == 131000)
            #expect(body.at("errors", 0, "details") == "Unsupported webhook payload")
            #expect(out.substituted == [events[0].id])
        }
        // drop leaves the message out, never the errors.
        let dropped = WebhookRenderer.render(events: events, as: .onprem, unsupported: .drop)
        #expect(dropped.document?["messages"] == nil)
        #expect(dropped.document?.at("errors", 0, "code") == 131000)
        #expect(dropped.dropped.map(\.eventID) == [events[0].id])
    }

    @Test(arguments: [
        ("text", JSONValue.string("hello")), ("image", .null), ("contacts", JSONValue.object(["name": ["formatted_name": "A"]])),
        ("location", .array([])), ("button", .bool(true)),
    ])
    func aTypeBodyThatIsNotAnObjectIsUnknown(_ type: String, _ bodyValue: JSONValue) throws {
        let body = cloudBody([
            "contacts": [["profile": ["name": "A"], "wa_id": .string(phone)]],
            "messages": [["from": .string(phone), "id": "wamid.X", "timestamp": "1", "type": .string(type), type: bodyValue]],
        ])
        let (onprem, out) = try render(WebhookDecoder().decode(body, api: .cloud), .onprem)
        #expect(onprem?.at("messages", 0, "type") == "unknown", "\(type)")
        #expect(out.substituted.count == 1)
    }

    @Test func wellFormedBodiesAreNotTouched() throws {
        let (onprem, out) = try render(decode(.cloud, "msg_contacts_vcard_origin.json"), .onprem)
        #expect(onprem?.at("messages", 0, "type") == "contacts")
        #expect(out.substituted.isEmpty)
    }
}

/// Issue 11, item 5: an On-Prem `button` without a payload.
@Suite struct IdentityButtonPayloadTests {
    static let withoutPayload: [UInt8] = Array(#"""
        {"contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"16505551234"}],"messages":[{"button":{"text":"No"},"context":{"from":"16315558007","id":"gBGGFmkiWVVPAgkgQkwi7IORac0"},"from":"16505551234","id":"ABGGFmkiWVVPAgo-sKD87hgxPHdF","timestamp":"1591210827","type":"button"}]}
        """#.utf8)

    @Test func aMissingPayloadRendersToCloudAsNull() throws {
        let events = try WebhookDecoder().decode(Self.withoutPayload, api: .onprem, business: routeBusiness)
        let (cloud, out) = try render(events, .cloud)
        #expect(out.substituted.isEmpty)
        let button = try #require(cloudValue(cloud)?.at("messages", 0, "button")?.objectValue)
        #expect(button.keys == ["payload", "text"])
        #expect(button["payload"] == .null)
        // On-Prem -> canonical -> On-Prem is exact: no payload key appears.
        let (onprem, _) = try render(events, .onprem)
        #expect(onprem?.semanticallyEquals(try JSONValue.parse(Self.withoutPayload)) == true)
        // Through a Cloud body, the null is On-Prem's own way of saying "no payload".
        let (through, _) = try render(WebhookDecoder().decode(cloud!.serialized(), api: .cloud), .onprem)
        #expect(through?.at("messages", 0, "button") == ["payload": nil, "text": "No"])
    }

    @Test func aNullPayloadRoundTripsThroughCloud() throws {
        let name = "cutover-inbound-button-payload-null.json"
        let original = try Fixtures.json(.onprem, name)
        let (cloud, _) = try render(decode(.onprem, name, business: routeBusiness), .cloud)
        #expect(cloudValue(cloud)?.at("messages", 0, "button", "payload") == .null)
        let (onprem, _) = try render(WebhookDecoder().decode(cloud!.serialized(), api: .cloud), .onprem)
        #expect(onprem?["messages"]?.semanticallyEquals(original["messages"]!) == true, "\(onprem?.jsonString ?? "")")
    }
}

/// Issue 7: marketing opt-outs, Cloud `user_preferences` <-> On-Prem `user_preference_changed`.
@Suite struct IdentityMarketingPreferenceTests {
    @Test(arguments: [("mgmt_user_preferences_stop.json", "stop"), ("mgmt_user_preferences_resume.json", "resume")])
    func cloudPreferencesBecomeOnPremSystemMessages(_ name: String, _ value: String) throws {
        let events = try decode(.cloud, name)
        let (onprem, out) = try render(events, .onprem)
        #expect(out.dropped.isEmpty)
        let m = try #require(onprem?.at("messages", 0))
        #expect(m["type"] == "system")
        #expect(m.at("system", "type") == "user_preference_changed")
        #expect(m.at("system", "marketing") == .string(value))
        #expect(m["from"] == .string(phone))
        #expect(m["id"] == .string(events[0].id))
        // Cloud's number becomes On-Prem's string of the same seconds.
        let cloudTimestamp = try #require(cloudValue(try Fixtures.json(.cloud, name))?.at("user_preferences", 0, "timestamp"))
        guard case .number(let seconds) = cloudTimestamp else { Issue.record("\(name): Cloud timestamp is not a number"); return }
        #expect(m["timestamp"] == .string(seconds))
        #expect(onprem?.at("contacts", 0, "wa_id") == .string(phone))
        #expect(try WebhookDecoder().decode(onprem!.serialized(), api: .onprem)[0].unrecognized == nil)
    }

    @Test func onPremPreferenceMessagesBecomeTheCloudFieldAndComeBack() throws {
        let name = "meta-page-inbound-system-user-preference-changed.json"
        let original = try Fixtures.json(.onprem, name)
        let events = try decode(.onprem, name, business: routeBusiness)
        #expect(events[0].unrecognized == nil)
        let (cloud, out) = try render(events, .cloud)
        #expect(out.dropped.isEmpty && out.substituted.isEmpty)
        #expect(cloud?.at("entry", 0, "changes", 0, "field") == "user_preferences")
        let preference = try #require(cloudValue(cloud)?.at("user_preferences", 0))
        #expect(preference["wa_id"] == .string(phone))
        #expect(preference["value"] == "stop")
        #expect(preference["category"] == "marketing_messages")
        #expect(preference["detail"] == original.at("messages", 0, "system", "body"))
        #expect(cloudValue(cloud)?.at("contacts", 0) == original.at("contacts", 0))
        let back = try WebhookDecoder().decode(cloud!.serialized(), api: .cloud)
        #expect(back[0].type == "com.whatsapp.user_preferences")
        let (onprem, _) = try render(back, .onprem)
        #expect(onprem?.semanticallyEquals(original) == true, "\(onprem?.jsonString ?? "")")
    }

    @Test func aPhonelessPreferenceFollowsThePhonelessPolicy() throws {
        let events = try decode(.cloud, "cloud-2026/p10_user_preferences_stop_bsuid.json")
        #expect(WebhookRenderer.render(events: events, as: .onprem).dropped.first?.deadLetter == true)
        let out = WebhookRenderer.render(events: events, as: .onprem, phoneless: .userID)
        #expect(out.document?.at("messages", 0, "from") == .string(bsuid))
        #expect(out.document?.at("messages", 0, "from_user_id") == .string(bsuid))
        #expect(out.document?.at("contacts", 0, "wa_id") == .string(bsuid))
        #expect(out.document?.at("contacts", 0, "profile", "username") == "@realsheenanelson")
    }
}

/// Issue 11, item 6: what an On-Prem endpoint receives for each 2026 shape, under both phoneless policies.
@Suite struct Identity2026ShapeTests {
    enum Expect: Equatable {
        case rendered
        case substituted
        case dropped
        case deadLetterOrStandIn
    }

    static let decisions: [String: Expect] = [
        "p01_text_phone_bsuid_parent_username.json": .rendered,
        "p02_text_username_no_phone.json": .deadLetterOrStandIn,
        "p03_voice_username_no_phone.json": .deadLetterOrStandIn,
        "p04_status_delivered_username_phone.json": .rendered,
        "p05_status_failed_bsuid_only.json": .deadLetterOrStandIn,
        "p06_status_sent_pmp_free_entry_point_v24.json": .rendered,
        "p07_group_text_bsuid.json": .rendered,
        "p08_group_status_read.json": .rendered,
        "p09_system_user_changed_user_id.json": .substituted,
        "p10_user_preferences_stop_bsuid.json": .deadLetterOrStandIn,
        "p11_calls_connect_bsuid.json": .dropped,
        "p12_contacts_contact_request_no_from.json": .deadLetterOrStandIn,
        "p13_button_no_context_bsuid.json": .rendered,
        "p14_status_read_contacts_no_profile.json": .rendered,
        "p15_calls_business_initiated_to_user_id.json": .dropped,
        "p16_smb_message_echoes_to_user_id.json": .dropped,
    ]

    @Test func everySampleHasADecision() {
        let names = Fixtures.names(.cloud).filter { $0.hasPrefix("cloud-2026/") }.map { String($0.dropFirst("cloud-2026/".count)) }
        #expect(Set(names) == Set(Self.decisions.keys))
    }

    @Test(arguments: decisions.keys.sorted())
    func onPremOutcome(_ file: String) throws {
        let events = try decode(.cloud, "cloud-2026/" + file)
        let byDefault = WebhookRenderer.render(events: events, as: .onprem)
        let standIn = WebhookRenderer.render(events: events, as: .onprem, phoneless: .userID)
        switch Self.decisions[file]! {
        case .rendered:
            for out in [byDefault, standIn] { #expect(out.body != nil && out.dropped.isEmpty && out.substituted.isEmpty, "\(file)") }
        case .substituted:
            #expect(byDefault.substituted == [events[0].id])
            #expect(byDefault.document?.at("messages", 0, "type") == "unknown")
        case .dropped:
            #expect(byDefault.body == nil && byDefault.dropped.count == 1 && !byDefault.dropped[0].deadLetter)
        case .deadLetterOrStandIn:
            #expect(byDefault.body == nil && byDefault.dropped.allSatisfy(\.deadLetter) && byDefault.dropped.count == 1)
            #expect(standIn.body != nil && standIn.userIDForPhone == [events[0].id], "\(file)")
        }
    }

    @Test func twentyTwentySixFieldsAreCarriedToOnPrem() throws {
        let (group, _) = try render(decode(.cloud, "cloud-2026/p07_group_text_bsuid.json"), .onprem)
        #expect(group?.at("messages", 0, "group_id") != nil)
        let (groupStatus, _) = try render(decode(.cloud, "cloud-2026/p08_group_status_read.json"), .onprem)
        #expect(groupStatus?.at("statuses", 0, "recipient_participant_user_id") == .string(bsuid))
        #expect(groupStatus?.at("statuses", 0, "pricing", "type") == "free_group_customer_service")
        let (pmp, _) = try render(decode(.cloud, "cloud-2026/p06_status_sent_pmp_free_entry_point_v24.json"), .onprem)
        #expect(pmp?.at("statuses", 0, "pricing", "category") == "referral_conversion")
        let out = WebhookRenderer.render(events: try decode(.cloud, "cloud-2026/p12_contacts_contact_request_no_from.json"), as: .onprem, phoneless: .userID)
        #expect(out.document?.at("messages", 0, "origin") == "contact_request")
        #expect(out.document?.at("messages", 0, "contacts", 0, "vcard") != nil)
    }
}
