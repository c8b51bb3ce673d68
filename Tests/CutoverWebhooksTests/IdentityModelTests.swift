import Testing
@testable import CutoverWebhooks

let bsuid = "US.13491208655302741918"
let phone = "16505551234"

/// A Cloud `messages` change with the given value members (metadata of the fixtures' business).
func cloudBody(_ value: JSONObject) -> [UInt8] {
    var v: JSONObject = ["messaging_product": "whatsapp", "metadata": ["display_phone_number": "15550783881", "phone_number_id": "106540352242922"]]
    for m in value { v.append(m.key, m.value) }
    let body: JSONValue = [
        "object": "whatsapp_business_account",
        "entry": [["id": "102290129340398", "changes": [["value": .object(v), "field": "messages"]]]],
    ]
    return body.serialized()
}

/// Issue 11, item 1: one user is one subject and one ordering stream, with or without the phone.
@Suite struct IdentityModelTests {
    @Test func theSameUserWithAndWithoutAPhoneIsOneSubjectAndOneStream() throws {
        let withPhone = try decode(.cloud, "cloud-2026/p01_text_phone_bsuid_parent_username.json")[0]
        let withoutPhone = try decode(.cloud, "cloud-2026/p02_text_username_no_phone.json")[0]
        #expect(withPhone.subject == bsuid)
        #expect(withoutPhone.subject == bsuid)
        #expect(withPhone.contactKey == withoutPhone.contactKey)
        #expect(withPhone.contactKey == "106540352242922|" + bsuid)

        let delivered = try decode(.cloud, "cloud-2026/p04_status_delivered_username_phone.json")[0]
        let failed = try decode(.cloud, "cloud-2026/p05_status_failed_bsuid_only.json")[0]
        #expect(delivered.subject == bsuid && failed.subject == bsuid)
        #expect(delivered.contactKey == failed.contactKey)
    }

    @Test func aContactCarriesPhoneUserIDParentAndUsernameSideBySide() throws {
        let event = try decode(.cloud, "cloud-2026/p01_text_phone_bsuid_parent_username.json")[0]
        #expect(event.user == UserIdentity(
            phone: phone, userID: bsuid, parentUserID: "US.ENT.11815799212886844830", username: "@realsheenanelson"))
        let phoneless = try decode(.cloud, "cloud-2026/p02_text_username_no_phone.json")[0]
        #expect(phoneless.user?.phone == nil)
        #expect(phoneless.user?.userID == bsuid)
        #expect(phoneless.contact?["user_id"] == .string(bsuid))
        // A status takes what its contact knows when the status itself names less.
        var status = try decode(.cloud, "cloud-2026/p14_status_read_contacts_no_profile.json")[0]
        status.data["status"] = .object(status.status!.removing("recipient_user_id"))
        #expect(status.user == UserIdentity(phone: phone, userID: bsuid))
    }

    @Test func theSubjectPrefersTheBSUIDOfTheItemThenOfItsContactThenThePhone() throws {
        // A status naming only the phone, whose contact has the BSUID.
        let statusOnly = cloudBody([
            "contacts": [["wa_id": .string(phone), "user_id": .string(bsuid)]],
            "statuses": [["id": "wamid.S", "status": "read", "timestamp": "1", "recipient_id": .string(phone)]],
        ])
        #expect(try WebhookDecoder().decode(statusOnly, api: .cloud)[0].subject == bsuid)
        // Before BSUIDs: the phone, as always.
        #expect(try decode(.cloud, "msg_text.json")[0].subject == phone)
        #expect(try decode(.onprem, "meta-doc-inbound-text.json")[0].subject == "16315551234")
        // A BSUID change notice opens the stream of the new BSUID.
        let change = try decode(.cloud, "cloud-2026/p09_system_user_changed_user_id.json")[0]
        #expect(change.subject == "US.99887766554433221100")
        // Group messages: the participant; group statuses: the group (its participants are not the recipient).
        #expect(try decode(.cloud, "cloud-2026/p07_group_text_bsuid.json")[0].subject == bsuid)
        #expect(try decode(.cloud, "cloud-2026/p08_group_status_read.json")[0].subject == "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD")
        // Errors and management fields are about no user.
        #expect(try decode(.cloud, "cloud-2026/p11_calls_connect_bsuid.json")[0].subject == nil)
    }

    @Test func contactsMatchByBSUIDBeforePhone() throws {
        // Two contacts share the phone (a number passed on: the BSUID is regenerated); the BSUID decides.
        let body = cloudBody([
            "contacts": [["wa_id": .string(phone), "user_id": "US.1"], ["wa_id": .string(phone), "user_id": .string(bsuid)]],
            "messages": [["from": .string(phone), "from_user_id": .string(bsuid), "id": "wamid.M", "timestamp": "1", "type": "text", "text": ["body": "hi"]]],
        ])
        let events = try WebhookDecoder().decode(body, api: .cloud)
        #expect(events[0].batch?["contact_index"] == 1)
        #expect(events[0].contact?["user_id"] == .string(bsuid))
        // The unmatched contact still round-trips.
        let (cloud, _) = try render(events, .cloud)
        #expect(cloud?.semanticallyEquals(try JSONValue.parse(body)) == true)
        // A message with no BSUID still matches by phone.
        let plain = try decode(.cloud, "msg_text.json")[0]
        #expect(plain.batch?["contact_index"] == 0)
    }

    @Test func storedEventsKeepTheSubjectTheyWereStoredWith() throws {
        // An event stored before the BSUID took precedence: subject and ordering key are the phone.
        var stored = try decode(.cloud, "cloud-2026/p01_text_phone_bsuid_parent_username.json")[0]
        stored.subject = phone
        let reread = try CanonicalEvent(bytes: stored.serialized())
        #expect(reread.subject == phone)
        #expect(reread.contactKey == "106540352242922|" + phone)
        #expect(reread.user?.userID == bsuid)  // the identity itself is read from the data either way
        // It still renders exactly as before.
        let (cloud, _) = try render([reread], .cloud)
        #expect(cloud?.semanticallyEquals(try Fixtures.json(.cloud, "cloud-2026/p01_text_phone_bsuid_parent_username.json")) == true)
    }
}
