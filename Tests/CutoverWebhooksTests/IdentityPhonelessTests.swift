import HTTPTypes
import Testing
@testable import CutoverWebhooks

/// Issue 11, item 2: Cloud messages and statuses with no phone number, for On-Prem destinations.
@Suite struct IdentityPhonelessTests {
    static let phonelessFixtures = [
        "cloud-2026/p02_text_username_no_phone.json", "cloud-2026/p03_voice_username_no_phone.json",
        "cloud-2026/p05_status_failed_bsuid_only.json", "cloud-2026/p12_contacts_contact_request_no_from.json",
        "cloud-2026/p10_user_preferences_stop_bsuid.json",
        "msg_text_bsuid_username_no_phone.json", "status_delivered_bsuid_no_phone.json",
    ]

    /// Under the default, whatever the unsupported policy (passThrough too): a dead letter with the reason.
    @Test(arguments: phonelessFixtures)
    func noPhoneIsADeadLetterByDefault(_ name: String) throws {
        let events = try decode(.cloud, name)
        for policy in UnsupportedPolicy.allCases {
            let out = WebhookRenderer.render(events: events, as: .onprem, unsupported: policy)
            #expect(out.body == nil, "\(name) \(policy): nothing without a phone is sent")
            #expect(out.dropped == [DroppedEvent(eventID: events[0].id, reason: PhonelessPolicy.reason, deadLetter: true)], "\(name) \(policy)")
            #expect(out.userIDForPhone.isEmpty)
        }
        // Other targets are not affected.
        #expect(WebhookRenderer.render(events: events, as: .cloud).dropped.isEmpty)
    }

    @Test(arguments: phonelessFixtures)
    func underUserIDTheBSUIDStandsIn(_ name: String) throws {
        let events = try decode(.cloud, name)
        let out = WebhookRenderer.render(events: events, as: .onprem, phoneless: .userID)
        #expect(out.dropped.isEmpty)
        #expect(out.userIDForPhone == [events[0].id])
        let body = try #require(out.document)
        let userID = events[0].user?.userID ?? bsuid  // a user_preferences field event names its users inside
        if let message = body.at("messages", 0) {
            #expect(message["from"] == .string(userID))
        } else {
            #expect(body.at("statuses", 0, "recipient_id") == .string(userID))
            #expect(body.at("statuses", 0, "message", "recipient_id") == .string(userID))
        }
        if let contact = body.at("contacts", 0) { #expect(contact["wa_id"] == .string(userID)) }
        // What went out decodes as On-Prem, as the same user (one stream).
        let back = try WebhookDecoder().decode(out.body!, api: .onprem, business: routeBusiness)
        #expect(back.first?.subject == events[0].subject || events[0].subject == nil)
    }

    /// The shape two real On-Prem consumers accepted, as committed beside the samples.
    @Test func p02RendersAsTheExpectedOnPremBody() throws {
        let events = try decode(.cloud, "cloud-2026/p02_text_username_no_phone.json")
        let out = WebhookRenderer.render(events: events, as: .onprem, phoneless: .userID)
        let expected = try Fixtures.json(.cloud, "cloud-2026/onprem_expected_user_id_as_wa_id_for_p02.json")
        let body = try #require(out.document)
        #expect(body.semanticallyEquals(expected), "\(body.jsonString)")
        #expect(body == expected, "same key order too")
    }

    @Test func statusesAndMessagesWithTheirPhoneAreUnchangedByThePolicy() throws {
        for name in ["cloud-2026/p01_text_phone_bsuid_parent_username.json", "cloud-2026/p04_status_delivered_username_phone.json", "msg_text.json"] {
            let events = try decode(.cloud, name)
            let dead = WebhookRenderer.render(events: events, as: .onprem, phoneless: .deadLetter)
            let standIn = WebhookRenderer.render(events: events, as: .onprem, phoneless: .userID)
            #expect(dead.body != nil && dead.body == standIn.body, "\(name)")
            #expect(standIn.userIDForPhone.isEmpty)
        }
        let (onprem, _) = try render(decode(.cloud, "cloud-2026/p01_text_phone_bsuid_parent_username.json"), .onprem)
        #expect(onprem?.at("messages", 0, "from") == .string(phone))
        #expect(onprem?.at("messages", 0, "from_user_id") == .string(bsuid))  // carried
        #expect(onprem?.at("contacts", 0, "profile", "username") == "@realsheenanelson")
    }

    /// A status sent to a BSUID omits `recipient_id`, but its contact may still know the phone.
    @Test func aStatusWhoseContactKnowsThePhoneUsesIt() throws {
        var event = try decode(.cloud, "cloud-2026/p04_status_delivered_username_phone.json")[0]
        event.data["status"] = .object(event.status!.removing("recipient_id"))
        let out = WebhookRenderer.render(events: [event], as: .onprem)
        #expect(out.dropped.isEmpty && out.userIDForPhone.isEmpty)
        #expect(out.document?.at("statuses", 0, "recipient_id") == .string(phone))
        #expect(out.document?.at("statuses", 0, "message", "recipient_id") == .string(phone))
    }

    @Test func onlyThePhonelessEventOfABatchIsRefused() throws {
        let events = try decode(.cloud, "cloud-2026/p01_text_phone_bsuid_parent_username.json")
            + decode(.cloud, "cloud-2026/p05_status_failed_bsuid_only.json")
        let out = WebhookRenderer.render(events: events, as: .onprem)
        #expect(out.dropped.map(\.eventID) == [events[1].id])
        #expect(out.document?["messages"] != nil && out.document?["statuses"] == nil)
    }

    @Test func theOutboundBuilderTurnsTheRefusalIntoADeadLetterAndMarksStandIns() throws {
        let event = try decode(.cloud, "cloud-2026/p02_text_username_no_phone.json")[0]
        let byDefault = OutboundRequestBuilder(format: .onprem)
        #expect(try byDefault.request(storedEvent: event.serialized(), eventID: event.id, now: 0) == .deadLetter(reason: PhonelessPolicy.reason))
        let standIn = OutboundRequestBuilder(format: .onprem, phoneless: .userID)
        guard case .send(let request) = try standIn.request(storedEvent: event.serialized(), eventID: event.id, now: 0) else {
            Issue.record("not sent")
            return
        }
        #expect(request.headers[.cutoverPhoneless] == "user_id")
        #expect(try JSONValue.parse(request.body).at("messages", 0, "from") == .string(bsuid))
        // Cloud destinations get the body as Meta sent it, with no header.
        guard case .send(let cloud) = try OutboundRequestBuilder(format: .cloud, phoneless: .userID).request(event: event, now: 0) else {
            Issue.record("not sent")
            return
        }
        #expect(cloud.headers[.cutoverPhoneless] == nil)
    }
}

@Suite struct IdentityNoUserTests {
    /// Neither a phone nor a BSUID: nobody to address, so no policy sends it, and it is no phone-less user.
    @Test func anItemThatNamesNoUserIsDroppedNotDeadLettered() throws {
        let events = try decode(.cloud, "cutover_missing_optionals.json").filter { $0.kind == .status }
        for phoneless in PhonelessPolicy.allCases {
            for policy in UnsupportedPolicy.allCases {
                let out = WebhookRenderer.render(events: events, as: .onprem, unsupported: policy, phoneless: phoneless)
                #expect(out.body == nil)
                #expect(out.dropped.map(\.deadLetter) == [false], "\(phoneless) \(policy)")
                #expect(out.dropped.first?.reason.contains("names no user") == true)
            }
        }
    }
}
