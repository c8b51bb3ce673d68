import Foundation
import Testing
@testable import CutoverWebhooks

private func cloudItem(_ body: JSONValue?, _ key: String = "messages") -> JSONValue? {
    body?.at("entry", 0, "changes", 0, "value", key, 0)
}

@Suite struct SystemMessageTests {
    @Test func onPremNumberChangeTakesCloudNames() throws {
        let original = try Fixtures.json(.onprem, "meta-doc-inbound-system-user-changed-number.json")
        let events = try decode(.onprem, "meta-doc-inbound-system-user-changed-number.json", business: routeBusiness)
        #expect(events[0].message?["system"]?["type"] == "user_changed_number")
        #expect(events[0].message?["system"]?["wa_id"] == "16315558890")
        #expect(events[0].message?["system"]?["new_wa_id"] == nil)
        let (cloud, out) = try render(events, .cloud)
        #expect(out.substituted.isEmpty && out.dropped.isEmpty)
        let m = cloudItem(cloud)
        #expect(m?.at("system", "wa_id") == "16315558890")
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "contacts") == nil)  // Cloud sends no contacts with system messages
        // And back: Cloud -> On-Prem gives the On-Prem names again.
        let (onprem, _) = try render(WebhookDecoder().decode(cloud!.serialized(), api: .cloud), .onprem)
        #expect(onprem?["messages"]?.semanticallyEquals(original["messages"]!) == true, "\(onprem?.text ?? "")")
    }

    @Test(arguments: [
        ("meta-doc-inbound-system-user-identity-changed.json", "user", "customer"),
        ("inbound-system-customer-identity-changed.reconstructed.json", "customer", "customer"),
    ])
    func onPremIdentityChangeTakesCloudNames(_ name: String, _ onPremKey: String, _ cloudKey: String) throws {
        let original = try Fixtures.json(.onprem, name)
        let (cloud, _) = try render(decode(.onprem, name, business: routeBusiness), .cloud)
        let system = cloudItem(cloud)?["system"]
        #expect(system?["type"] == "customer_identity_changed")
        #expect(system?[cloudKey] == original.at("messages", 0, "system", onPremKey))
        #expect(system?["identity"] == original.at("messages", 0, "system", "identity"))
    }

    @Test func cloudSystemMessagesTakeOnPremNames() throws {
        let (current, _) = try render(decode(.cloud, "msg_system_user_changed_number.json"), .onprem)
        #expect(current?.at("messages", 0, "system", "type") == "user_changed_number")
        #expect(current?.at("messages", 0, "system", "new_wa_id") == "12195555358")
        #expect(current?.at("messages", 0, "system", "wa_id") == nil)
        #expect(current?["contacts"] == nil)
        let (legacy, _) = try render(decode(.cloud, "msg_system_customer_changed_number_legacy.json"), .onprem)
        #expect(legacy?.at("messages", 0, "system", "type") == "user_changed_number")
        #expect(legacy?.at("messages", 0, "system", "new_wa_id") == "16505559999")
        let (identity, _) = try render(decode(.cloud, "msg_system_customer_identity_changed.json"), .onprem)
        #expect(identity?.at("messages", 0, "system", "type") == "user_identity_changed")
        #expect(identity?.at("messages", 0, "system", "user") == "16505551234")
        #expect(identity?.at("messages", 0, "system", "customer") == nil)
        // A BSUID change has no On-Prem concept, and this one names no phone number at all: a dead
        // letter by default under every unsupported policy (issue 11), On-Prem `unknown` when the
        // BSUID may stand in.
        let events = try decode(.cloud, "msg_system_user_changed_user_id.json")
        for policy in UnsupportedPolicy.allCases {
            let out = WebhookRenderer.render(events: events, as: .onprem, unsupported: policy)
            #expect(out.body == nil && out.dropped.map(\.deadLetter) == [true])
        }
        let standIn = WebhookRenderer.render(events: events, as: .onprem, phoneless: .userID)
        #expect(standIn.document?.at("messages", 0, "type") == "unknown")
    }

    @Test func legacyGroupSystemMessageFollowsThePolicyToCloud() throws {
        let events = try decode(.onprem, "cutover-inbound-system-group-created-legacy.json", business: routeBusiness)
        #expect(events[0].unrecognized == nil)
        let (cloud, out) = try render(events, .cloud)
        #expect(out.substituted == [events[0].id])
        #expect(cloudItem(cloud)?["type"] == "unsupported")
        #expect(cloudItem(cloud)?.at("unsupported", "type") == "system")
    }
}

@Suite struct CrossShapeTests {
    @Test func onPremReferralGainsMediaTypeAndRoundTrips() throws {
        let events = try decode(.onprem, "meta-doc-inbound-text-referral-ctwa.json", business: routeBusiness)
        #expect(events[0].message?["referral"]?["media_type"] == "image")
        #expect(events[0].batch?["undo"]?["referral"] != nil)
        let (cloud, _) = try render(events, .cloud)
        #expect(cloudItem(cloud)?.at("referral", "media_type") == "image")
        #expect(cloudItem(cloud)?.at("referral", "ctwa_clid") != nil)
        let video = try decode(.onprem, "cutover-inbound-image-referral-video.json", business: routeBusiness)
        #expect(video[0].message?["referral"]?["media_type"] == "video")
        // A referral with only source_url is left alone.
        let bare = try decode(.onprem, "cutover-inbound-text-referral-source-url-only.json")
        #expect(bare[0].message?["referral"] == ["source_url": "https://fb.me/CCCCC"])
        #expect(bare[0].batch?["undo"] == nil)
    }

    @Test func cloudReferralKeepsItsCloudOnlyKeysOnOnPrem() throws {
        let (onprem, out) = try render(decode(.cloud, "msg_video_ctwa_referral_video.json"), .onprem)
        #expect(out.dropped.isEmpty)
        #expect(onprem?.at("messages", 0, "referral", "source_url") == "https://fb.me/3cr4Wqqkv")
        #expect(onprem?.at("messages", 0, "referral", "video_url") != nil)
        #expect(onprem?["contacts"] == nil)  // video: On-Prem sends no contacts
    }

    @Test func onPremMediaGetsACloudContactAndAudioGetsAVoiceFlag() throws {
        let (cloud, _) = try render(decode(.onprem, "cutover-inbound-audio-file.json", business: routeBusiness), .cloud)
        #expect(cloudItem(cloud)?.at("audio", "voice") == false)
        #expect(cloudItem(cloud, "contacts") == ["profile": ["name": ""], "wa_id": "16315551234"])
        let (voice, _) = try render(decode(.onprem, "meta-doc-inbound-voice.json", business: routeBusiness), .cloud)
        #expect(cloudItem(voice)?.at("audio", "voice") == true)
        #expect(cloudItem(voice, "contacts")?["wa_id"] == cloudItem(voice)?["from"])
        // Text keeps the real contact.
        let (text, _) = try render(decode(.onprem, "meta-doc-inbound-text.json", business: routeBusiness), .cloud)
        #expect(cloudItem(text, "contacts")?.at("profile", "name") != "")
    }

    /// Issue 11 changed this: no policy sends a body without `from`/`recipient_id` any more
    /// (passThrough did); by default the delivery is a dead letter (`IdentityPhonelessTests`).
    @Test func bsuidOnlyItemsCannotReachOnPremByDefault() throws {
        for name in ["msg_text_bsuid_username_no_phone.json", "status_delivered_bsuid_no_phone.json"] {
            let events = try decode(.cloud, name)
            for policy in UnsupportedPolicy.allCases {
                let out = WebhookRenderer.render(events: events, as: .onprem, unsupported: policy)
                #expect(out.body == nil && out.droppedCount == 1, "\(name) \(policy)")
                #expect(out.dropped[0].reason == PhonelessPolicy.reason && out.dropped[0].deadLetter)
            }
            #expect(WebhookRenderer.render(events: events, as: .onprem, phoneless: .userID).body != nil)
        }
        // With a phone number, the BSUID fields are carried.
        let (onprem, _) = try render(decode(.cloud, "msg_text_bsuid_with_phone.json"), .onprem)
        #expect(onprem?.at("messages", 0, "from_user_id") == "US.13491208655302741918")
        #expect(onprem?.at("contacts", 0, "user_id") == "US.13491208655302741918")
    }

    @Test(arguments: [
        ("status_played_voice.json", UnsupportedPolicy.unknownMessage, false),
        ("status_played_voice.json", .passThrough, true),
        ("legacy_status_payment_transaction.json", .unknownMessage, false),
        ("status_read_group.json", .unknownMessage, true),
    ])
    func cloudStatusesToOnPrem(_ name: String, _ policy: UnsupportedPolicy, _ rendered: Bool) throws {
        let out = WebhookRenderer.render(events: try decode(.cloud, name), as: .onprem, unsupported: policy)
        #expect((out.body != nil) == rendered, "\(name)")
        #expect(out.droppedCount == (rendered ? 0 : 1))
    }

    @Test(arguments: [
        "msg_interactive_nfm_reply_flow.json", "msg_interactive_nfm_reply_address.json", "msg_interactive_call_permission_reply.json",
        "msg_request_welcome.reconstructed.json", "msg_edit_coexistence.json", "msg_revoke_coexistence.json", "msg_reaction_removed.json",
    ])
    func cloudOnlyMessagesBecomeOnPremUnknown(_ name: String) throws {
        let events = try decode(.cloud, name)
        let (onprem, out) = try render(events, .onprem)
        #expect(out.substituted == events.map(\.id))
        #expect(onprem?.at("messages", 0, "type") == "unknown")
        #expect(onprem?.at("messages", 0, "errors", 0, "code") == 501)
        #expect(onprem?.at("messages", 0, "id") == events[0].message?["id"])
        #expect(WebhookRenderer.render(events: events, as: .onprem, unsupported: .drop).body == nil)
    }

    @Test func onPremOnlyMessagesBecomeCloudUnsupported() throws {
        let events = try decode(.onprem, "inbound-ephemeral.reconstructed.json", business: routeBusiness)
        let (cloud, out) = try render(events, .cloud)
        #expect(out.substituted.count == 1)
        #expect(cloudItem(cloud)?["type"] == "unsupported")
        #expect(cloudItem(cloud)?.at("unsupported", "type") == "ephemeral")
        #expect(cloudItem(cloud)?.at("errors", 0, "code") == 131051)
        let warning = WebhookRenderer.render(events: try decode(.onprem, "status-warning-catalog.reconstructed.json", business: routeBusiness), as: .cloud)
        #expect(warning.body == nil && warning.droppedCount == 1)
    }

    @Test func legacyCloudErrorShapesReachOnPrem() throws {
        let (onprem, _) = try render(decode(.cloud, "status_failed_legacy_code_title.json"), .onprem)
        #expect(onprem?.at("statuses", 0, "errors", 0) == ["code": 470, "cloud_code": 131047, "title": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."])
        let (unknown, _) = try render(decode(.cloud, "legacy_msg_unknown_130501.json"), .onprem)
        #expect(unknown?.at("messages", 0, "type") == "unknown")
        // Relay bodies with Cloud-shaped errors inside the On-Prem envelope stay Cloud-shaped.
        let relay = try decode(.onprem, "cutover-status-failed-cloud-style-errors-relay.json", business: routeBusiness)
        #expect(relay[0].batch?["undo"] == nil)
        let (cloud, _) = try render(relay, .cloud)
        #expect(cloudItem(cloud, "statuses")?.at("errors", 0, "error_data", "details") == "Message Undeliverable.")
    }
}

@Suite struct RecognitionTests {
    @Test func unknownThingsAreFlaggedAndCarried() throws {
        let hologram = try decode(.cloud, "cutover_unknown_type_unknown_fields.json")[0]
        #expect(hologram.unrecognized == "message type hologram")
        let field = try decode(.cloud, "mgmt_unknown_future_field.json")[0]
        #expect(field.isUnrecognized)
        #expect(field.type == "com.whatsapp.x_future_field")
        let empty = try decode(.cloud, "cutover_messages_change_without_items.json")
        #expect(empty.count == 1 && empty[0].isUnrecognized)
        #expect(try decode(.onprem, "cutover-unknown-type-unknown-fields.json")[0].isUnrecognized)
    }

    /// Everything the references describe is recognized: only the deliberately unknown fixtures are flagged.
    @Test func everyDocumentedFixtureIsRecognized() throws {
        var flagged: [String] = []
        for (api, name) in Fixtures.all {
            for e in try decode(api, name, route: "r") where e.isUnrecognized { flagged.append("\(api.rawValue)/\(name): \(e.unrecognized!)") }
        }
        #expect(Set(flagged.map { $0.components(separatedBy: ":")[0] }) == [
            "cloud/cutover_unknown_type_unknown_fields.json", "cloud/mgmt_unknown_future_field.json",
            "cloud/cutover_messages_change_without_items.json", "onprem/cutover-unknown-type-unknown-fields.json",
        ], "\(flagged)")
    }

    @Test func shapeSignaturesIgnoreValuesAndKeyOrder() throws {
        let a = try decode(.cloud, "msg_text.json")[0]
        var b = a
        var m = JSONObject()
        for member in a.message!.members.reversed() { m.append(member.key, member.value) }
        m["text"] = ["body": "something else"]
        b.data["message"] = .object(m)
        #expect(WebhookShape.signature(of: a) == WebhookShape.signature(of: b))
        #expect(WebhookShape.signature(of: a) == "cloud/message/text{from,id,text,timestamp,type}")
        let hologram = try decode(.cloud, "cutover_unknown_type_unknown_fields.json")[0]
        #expect(WebhookShape.signature(of: hologram).hasPrefix("cloud/message/hologram{"))
        let field = try decode(.cloud, "mgmt_unknown_future_field.json")[0]
        #expect(WebhookShape.signature(of: field) == "cloud/field/x_future_field{event,x_future}")
        #expect(WebhookShape.signature(ofBody: ["b": 1, "a": 2]) == "body{a,b}")
        let status = try decode(.onprem, "meta-doc-status-read.json")[0]
        #expect(WebhookShape.signature(of: status).hasPrefix("onprem/status/read{"))
    }
}

@Suite struct LargeBodyTests {
    /// Meta sends bodies up to 3 MB: one generated in each dialect decodes, splits and round-trips.
    @Test func threeMegabyteBodies() throws {
        var messages: [JSONValue] = []
        var contacts: [JSONValue] = []
        var i = 0
        var size = 0
        while size < 3_000_000 {
            let waID = "1650555" + String(String(10_000 + i % 10_000).dropFirst())
            let text = String(repeating: "ü€ \\/ \"x\" ", count: 20)
            let m: JSONValue = ["from": .string(waID), "id": .string("wamid.LARGE\(i)"), "timestamp": "1750000000", "type": "text", "text": ["body": .string(text)]]
            size += m.serialized().count + 60
            messages.append(m)
            if i < 10_000 { contacts.append(["profile": ["name": .string("User \(i)")], "wa_id": .string(waID)]) }
            i += 1
        }
        let cloud: JSONValue = ["object": "whatsapp_business_account", "entry": [[
            "id": "102290129340398",
            "changes": [["field": "messages", "value": [
                "messaging_product": "whatsapp", "metadata": ["display_phone_number": "15550783881", "phone_number_id": "106540352242922"],
                "contacts": .array(contacts), "messages": .array(messages),
            ]]],
        ]]]
        let onprem: JSONValue = ["contacts": .array(contacts), "messages": .array(messages)]
        for (api, body) in [(WebhookAPI.cloud, cloud), (.onprem, onprem)] {
            let bytes = body.serialized()
            #expect(bytes.count > 2_900_000 && bytes.count < 3_300_000)
            // ~8,000 messages: far past the default `max_events_per_request`, which a deployment
            // receiving such batches raises; the size, not the limit, is under test here.
            let events = try WebhookDecoder(maxEvents: messages.count).decode(bytes, api: .auto, route: "big")
            #expect(events.count == messages.count)
            let back = WebhookRenderer.render(events: events, as: api == .cloud ? .cloud : .onprem)
            #expect(try JSONValue.parse(back.body!).semanticallyEquals(body))
        }
    }
}

@Suite struct EdgeCaseTests {
    /// Numbers where strings are expected (and the reverse) are accepted, identify the item the same
    /// way, and are carried as sent (a round trip keeps their JSON type).
    @Test func numbersAndStringsSwapped() throws {
        let cloud = try decode(.cloud, "cutover_numbers_and_strings_swapped.json")
        #expect(cloud.count == 2)
        #expect(cloud[0].subject == "16505551234")
        #expect(cloud[0].business == routeBusiness.overridden(by: BusinessIdentity(displayPhoneNumber: "15550783881")))
        #expect(cloud[0].source == "whatsapp:106540352242922")
        #expect(cloud[0].time == "2025-06-16T16:18:40Z")
        #expect(cloud[0].contact?["wa_id"] == .number("16505551234"))
        #expect(cloud[0].message?["order"]?["product_items"]?.at(0, "quantity") == "2")
        let onprem = try decode(.onprem, "cutover-numbers-and-strings-swapped.json", business: routeBusiness)
        #expect(onprem.map(\.subject) == ["16315551234", "16315551234"])
        #expect(onprem[0].contact != nil)
        #expect(onprem[1].time != nil)
        let (back, _) = try render(onprem, .onprem)
        #expect(back?.at("messages", 0, "from") == .number("16315551234"))
    }

    @Test func missingOptionalsAndEmptyArrays() throws {
        let missing = try decode(.cloud, "cutover_missing_optionals.json")
        #expect(missing.map(\.time) == [nil, nil])
        #expect(missing[1].subject == nil)
        #expect(missing[0].business.displayPhoneNumber == nil)
        let empty = try decode(.cloud, "cutover_empty_arrays.json")
        #expect(empty.count == 1 && empty[0].batch?["value"]?["statuses"] == [])
        let onprem = try decode(.onprem, "cutover-empty-arrays.json", route: "r")
        #expect(onprem.count == 1 && onprem[0].contact == nil)
        #expect(throws: WebhookDecodeError.self) { try WebhookDecoder().decode(Array(#"{"contacts":[],"messages":[]}"#.utf8)) }
        #expect(try WebhookDecoder().decode(Array(#"{"object":"whatsapp_business_account","entry":[]}"#.utf8)).isEmpty)
    }
}
