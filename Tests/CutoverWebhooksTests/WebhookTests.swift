import Testing
@testable import CutoverWebhooks

@Suite struct RoundTripTests {
    /// The round-trip law: decode -> render to the origin API gives back an equal JSON value (key
    /// order aside), both straight from the decoded events and through the canonical bytes the spool stores.
    @Test(arguments: Fixtures.all.map { "\($0.0.rawValue)/\($0.1)" })
    func originRoundTrip(_ path: String) throws {
        let api = WebhookAPI(rawValue: String(path.split(separator: "/", maxSplits: 1)[0]))!
        let name = String(path.split(separator: "/", maxSplits: 1)[1])
        let original = try Fixtures.json(api, name)
        let events = try decode(api, name, as: .auto, route: api == .onprem ? "default" : nil)
        #expect(!events.isEmpty)
        #expect(events.allSatisfy { $0.api == api })
        let format: WebhookOutputFormat = api == .cloud ? .cloud : .onprem

        let (direct, outcome) = try render(events, format)
        #expect(outcome.dropped.isEmpty && outcome.substituted.isEmpty)
        #expect(direct?.semanticallyEquals(original) == true, "\(name)\n\(direct?.jsonString ?? "nil")")

        // Through the stored canonical form.
        let stored = events.map { $0.serialized() }
        let reread = try stored.map { try CanonicalEvent(bytes: $0) }
        #expect(reread == events)
        let (again, _) = try render(reread, format)
        #expect(again?.semanticallyEquals(original) == true, "\(name) via canonical bytes")

        // One event per request still renders (delivery's case), and ids are unique in a body.
        for event in events {
            #expect(WebhookRenderer.render(events: [event], as: format).body != nil)
        }
        #expect(Set(events.map(\.id)).count == events.count, "\(name) duplicate ids")
    }

    /// Every fixture also cross-renders to the other API into a body the decoder accepts, and to canonical.
    @Test(arguments: Fixtures.all.map { "\($0.0.rawValue)/\($0.1)" })
    func crossRenderIsDecodable(_ path: String) throws {
        let api = WebhookAPI(rawValue: String(path.split(separator: "/", maxSplits: 1)[0]))!
        let name = String(path.split(separator: "/", maxSplits: 1)[1])
        let events = try decode(api, name, business: BusinessIdentity(phoneNumberID: "1", displayPhoneNumber: "2", wabaID: "3"))
        let other: WebhookOutputFormat = api == .cloud ? .onprem : .cloud
        for policy in UnsupportedPolicy.allCases {
            let out = WebhookRenderer.render(events: events, as: other, unsupported: policy)
            // Never silent: every event is rendered, substituted or reported dropped.
            if let body = out.body {
                let back = try WebhookDecoder().decode(body, api: .auto)
                #expect(back.allSatisfy { $0.api == (api == .cloud ? .onprem : .cloud) })
                if policy == .passThrough && api == .onprem { #expect(back.count == events.count, "\(name)") }
            } else {
                #expect(out.dropped.count == events.count, "\(name)")
            }
        }
        let canonical = WebhookRenderer.render(events: events, as: .canonical)
        let parsed = try JSONValue.parse(canonical.body!)
        if events.count == 1 {
            #expect(try CanonicalEvent(json: parsed) == events[0])
        } else {
            #expect(try parsed.arrayValue!.map { try CanonicalEvent(json: $0) } == events)
        }
    }
}

@Suite struct CanonicalEventTests {
    @Test func messageEventShape() throws {
        let events = try decode(.cloud, "msg_text.json")
        #expect(events.count == 1)
        let e = events[0]
        #expect(e.id == "msg:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=")
        #expect(e.type == "com.whatsapp.message.received")
        #expect(e.kind == .message)
        #expect(e.source == "whatsapp:106540352242922")
        #expect(e.subject == "16505551234")
        #expect(e.time == "2025-06-08T20:59:43Z")
        #expect(e.api == .cloud)
        #expect(e.contactKey == "106540352242922|16505551234")
        #expect(e.business == BusinessIdentity(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881", wabaID: "102290129340398"))
        #expect(e.contact?["profile"]?["name"] == "Sheena Nelson")
        #expect(e.message?["text"]?["body"] == "Does it come in another color?")
        let json = e.json
        #expect(json["specversion"] == "1.0")
        #expect(json["whatsappapi"] == "cloud")
        #expect(json["datacontenttype"] == "application/json")
        #expect(json.at("data", "batch", "entry", "id") == "102290129340398")
        #expect(json.at("data", "batch", "value", "messaging_product") == "whatsapp")
        #expect(json.at("data", "batch", "change", "field") == "messages")
    }

    @Test func onPremEventsTakeBusinessAndSourceFromTheRoute() throws {
        let biz = BusinessIdentity(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881", wabaID: "102290129340398")
        let e = try decode(.onprem, "meta-doc-inbound-text.json", business: biz, route: "acme")[0]
        #expect(e.source == "whatsapp:106540352242922")
        #expect(e.business == biz)
        let bare = try decode(.onprem, "meta-doc-inbound-text.json", route: "acme")[0]
        #expect(bare.source == "cutover:onprem/acme")
        #expect(bare.api == .onprem)
        #expect(bare.json["whatsappapi"] == "onprem")
    }

    @Test func managementFieldCarriesTheValueIntact() throws {
        let original = try Fixtures.json(.cloud, "mgmt_message_template_status_update_approved.json")
        let events = try decode(.cloud, "mgmt_message_template_status_update_approved.json")
        #expect(events.count == 1)
        #expect(events[0].type == "com.whatsapp.message_template_status_update")
        #expect(events[0].kind == .field("message_template_status_update"))
        #expect(events[0].value == original.at("entry", 0, "changes", 0, "value"))
        #expect(events[0].time != nil)
        #expect(events[0].id.hasPrefix("message_template_status_update:sha256:"))
        #expect(events[0].source == "whatsapp:waba:102290129340398")
        // The Cloud route name does not change the source or the id.
        let viaRoute = try decode(.cloud, "mgmt_message_template_status_update_approved.json", route: "cloud")
        #expect(viaRoute == events)
    }

    @Test func statusIDsAreStableAndPerStatus() throws {
        let a = try decode(.cloud, "cutover_batch_two_entries.json")
        let b = try decode(.cloud, "cutover_batch_two_entries.json")
        #expect(a.map(\.id) == b.map(\.id))
        #expect(a == b)
        let statuses = a.filter { $0.kind == .status }
        #expect(statuses.map(\.id) == [
            "status:wamid.CUTOVER.out.1:delivered:1749416390",
            "status:wamid.CUTOVER.out.1:read:1749416391",
            "status:wamid.CUTOVER.out.2:failed:1749416392",
        ])
        // Ids do not depend on the batch an item arrived in.
        let single = try decode(.onprem, "meta-doc-inbound-text.json")
        let again = try WebhookDecoder().decode(JSONValue.parse(Fixtures.bytes(.onprem, "meta-doc-inbound-text.json")).serialized(), api: .auto)
        #expect(single.map(\.id) == again.map(\.id))
        let error1 = try decode(.onprem, "meta-doc-errors-media-download.json", route: "r")[0].id
        let error2 = try decode(.onprem, "meta-doc-errors-media-download.json", route: "r")[0].id
        #expect(error1 == error2 && error1.hasPrefix("error:sha256:") && error1.count == "error:sha256:".count + 64)
    }

    @Test func readsBackItsOwnJSONAndRejectsOthers() throws {
        let e = try decode(.cloud, "msg_image.json")[0]
        var withExtra = e
        withExtra.otherAttributes = ["traceparent": "00-abc"]
        #expect(try CanonicalEvent(json: withExtra.json) == withExtra)
        #expect(throws: CanonicalEventError.self) { try CanonicalEvent(json: ["specversion": "0.3"]) }
        #expect(throws: CanonicalEventError.self) { try CanonicalEvent(bytes: Array("{".utf8)) }
        var noAPI = e.json.objectValue!
        noAPI["whatsappapi"] = "fax"
        #expect(throws: CanonicalEventError.self) { try CanonicalEvent(json: .object(noAPI)) }
    }

    @Test func detectionAndDecodeErrors() throws {
        let decoder = WebhookDecoder()
        #expect(throws: WebhookDecodeError.notAnObject) { try decoder.decode(Array("[]".utf8)) }
        #expect(throws: WebhookDecodeError.unrecognizedShape(keys: ["hello"])) { try decoder.decode(Array(#"{"hello":1}"#.utf8)) }
        #expect(throws: WebhookDecodeError.malformedEnvelope("entry is not an array")) {
            try decoder.decode(Array(#"{"object":"whatsapp_business_account","entry":{}}"#.utf8))
        }
        do {
            _ = try decoder.decode(Array(#"{"messages":[1,"#.utf8))
            Issue.record("accepted truncated body")
        } catch {
            guard case .invalidJSON(let e) = error else { Issue.record("wrong error \(error)"); return }
            #expect(e.reason == .unexpectedEnd)
        }
        #expect(try decoder.decode(Fixtures.bytes(.onprem, "meta-doc-inbound-text.json"), api: .auto)[0].api == .onprem)
        #expect(try decoder.decode(Fixtures.bytes(.cloud, "msg_text.json"), api: .auto)[0].api == .cloud)
    }
}

@Suite struct BatchTests {
    @Test func cloudBatchSplitsAndMatchesContactsByWaID() throws {
        let events = try decode(.cloud, "cutover_batch_two_entries.json")
        #expect(events.map(\.type) == [
            "com.whatsapp.message.received", "com.whatsapp.message.received", "com.whatsapp.message.received",
            "com.whatsapp.message.status", "com.whatsapp.message.status", "com.whatsapp.message.status",
            "com.whatsapp.message_template_status_update", "com.whatsapp.error",
        ])
        #expect(events[0].contact?["profile"]?["name"] == "First Sender")
        #expect(events[1].contact?["profile"]?["name"] == "Second Sender")
        #expect(events[2].contact?["profile"]?["name"] == "First Sender")
        #expect(events[3].contact == nil)
        #expect(events[0].batch?["other_contacts"]?.at(0, "index") == 2)
        #expect(events[6].business.wabaID == "222290129340399")
        #expect(events[6].value?["message_template_id"] == .number("12345678901234567890"))
        #expect(events[7].business.phoneNumberID == "206540352242923")
        #expect(events[7].error?["code"] == 130429)
        #expect(events[3].subject == "16505550001")
        #expect(events[0].contactKey == events[2].contactKey)
        #expect(events[0].contactKey != events[1].contactKey)
        // Each event alone renders as a complete single-item Cloud body.
        let (one, _) = try render([events[1]], .cloud)
        #expect(one?.at("entry", 0, "changes", 0, "value", "messages")?.arrayValue?.count == 1)
        #expect(one?.at("entry", 0, "changes", 0, "value", "contacts", 0, "wa_id") == "16505550002")
    }

    @Test func onPremBodyWithReversedContactsAndAStatus() throws {
        let events = try decode(.onprem, "cutover-two-messages-reversed-contacts-and-status.json", route: "default")
        #expect(events.count == 3)
        #expect(events[0].contact?["profile"]?["name"] == "First Sender")
        #expect(events[1].contact?["profile"]?["name"] == "Second Sender")
        #expect(events[2].kind == .status)
        #expect(events[1].message?["type"] == "audio")
        #expect(events[1].message?["audio"]?["voice"] == true)
        let (cloud, out) = try render(events, .cloud, business: BusinessIdentity(phoneNumberID: "P", displayPhoneNumber: "D", wabaID: "W"))
        #expect(out.dropped.isEmpty)
        #expect(cloud?.at("entry", 0, "id") == "W")
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "metadata", "phone_number_id") == "P")
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "messages")?.arrayValue?.count == 2)
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "statuses")?.arrayValue?.count == 1)
        let back = try WebhookDecoder().decode(cloud!.serialized(), api: .cloud)
        #expect(back.map(\.id) == events.map(\.id))
        #expect(back[0].contact?["profile"]?["name"] == "First Sender")
        #expect(back[1].contact?["profile"]?["name"] == "Second Sender")
    }
}

@Suite struct CrossRenderingTests {
    let biz = BusinessIdentity(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881", wabaID: "102290129340398")

    @Test func onPremVoiceBecomesCloudVoiceAudioAndBack() throws {
        let original = try Fixtures.json(.onprem, "meta-doc-inbound-voice.json")
        let events = try decode(.onprem, "meta-doc-inbound-voice.json", business: biz)
        let (cloud, _) = try render(events, .cloud)
        let msg = cloud?.at("entry", 0, "changes", 0, "value", "messages", 0)
        #expect(msg?["type"] == "audio")
        #expect(msg?["audio"]?["voice"] == true)
        #expect(msg?["voice"] == nil)
        #expect(msg?["audio"]?["id"] == original.at("messages", 0, "voice", "id"))
        let back = try WebhookDecoder().decode(cloud!.serialized(), api: .cloud)
        let (onprem, _) = try render(back, .onprem)
        #expect(onprem?.semanticallyEquals(original) == true, "\(onprem?.jsonString ?? "")")
    }

    @Test func cloudVoiceAudioBecomesOnPremVoiceAndPlainAudioStaysAudio() throws {
        let (onprem, _) = try render(decode(.cloud, "msg_audio_voice.json"), .onprem)
        #expect(onprem?.at("messages", 0, "type") == "voice")
        #expect(onprem?.at("messages", 0, "voice", "mime_type") == "audio/ogg; codecs=opus")
        #expect(onprem?.at("messages", 0, "voice", "voice") == nil)
        #expect(onprem?["contacts"] == nil)  // On-Prem omits contacts on media
        var plain = try decode(.cloud, "msg_audio_voice.json")
        var message = plain[0].message!
        message["audio"] = .object(message["audio"]!.objectValue!.setting("voice", false))
        plain[0].data["message"] = .object(message)
        let (audio, _) = try render(plain, .onprem)
        #expect(audio?.at("messages", 0, "type") == "audio")
        #expect(audio?.at("messages", 0, "audio", "voice") == nil)
    }

    @Test func cloudFailedStatusErrorsTakeTheOnPremShape() throws {
        let (onprem, out) = try render(decode(.cloud, "status_failed_131049.json"), .onprem)
        #expect(out.dropped.isEmpty)
        let status = onprem?.at("statuses", 0)
        #expect(status?["status"] == "failed")
        #expect(status?["recipient_id"] == "16505551234")
        #expect(status?["type"] == "message")
        #expect(status?.at("message", "recipient_id") == "16505551234")
        #expect(status?["timestamp"] == "1751142888")
        let expected: JSONValue = [
            "code": 131049,
            "title": "This message was not delivered to maintain healthy ecosystem engagement.",
            "details": "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
            "href": "/documentation/business-messaging/whatsapp/support/error-codes",
        ]
        #expect(status?.at("errors", 0)?.semanticallyEquals(expected) == true, "\(status?.jsonString ?? "")")
        #expect(onprem?["contacts"] == nil)
    }

    @Test func onPremFailedStatusErrorsTakeTheCloudShape() throws {
        let (cloud, _) = try render(decode(.onprem, "meta-doc-status-failed-470-outside-window.json", business: biz), .cloud)
        let status = cloud?.at("entry", 0, "changes", 0, "value", "statuses", 0)
        #expect(status?["recipient_id"] == "12064001000")
        // 470 and 131047 name the same condition (docs/mapping.md, "Error codes"); the On-Prem code rides along.
        #expect(status?.at("errors", 0, "code") == 131047)
        #expect(status?.at("errors", 0, "onprem_code") == 470)
        #expect(status?.at("errors", 0, "message") == status?.at("errors", 0, "title"))
        let (cloud480, _) = try render(decode(.onprem, "meta-doc-status-failed-480-identity-changed.json", business: biz), .cloud)
        let e480 = cloud480?.at("entry", 0, "changes", 0, "value", "statuses", 0, "errors", 0)
        #expect(e480?["code"] == 480)
        if let details = try Fixtures.json(.onprem, "meta-doc-status-failed-480-identity-changed.json").at("statuses", 0, "errors", 0, "details") {
            #expect(e480?.at("error_data", "details") == details)
            #expect(e480?["details"] == nil)
        }
    }

    @Test func onPremV245StatusMovesRecipientAndDropsMessageType() throws {
        let events = try decode(.onprem, "status-sent-v2.45-shape.reconstructed.json", business: biz)
        #expect(events[0].subject == "12015551797")
        #expect(events[0].status?["recipient_id"] == "12015551797")
        let (cloud, _) = try render(events, .cloud)
        let s = cloud?.at("entry", 0, "changes", 0, "value", "statuses", 0)
        #expect(s?["recipient_id"] == "12015551797")
        #expect(s?["type"] == nil)
        #expect(s?["message"] == nil)
        #expect(s?.at("conversation", "origin", "type") == "business_initiated")
    }

    @Test func onPremTopLevelErrorsBecomeCloudValueErrors() throws {
        let (cloud, _) = try render(decode(.onprem, "meta-doc-errors-media-download.json", business: biz), .cloud)
        let expected: JSONValue = [
            // On-Prem 400 is Cloud 131052, "Media download error" in both (docs/mapping.md, "Error codes").
            "code": 131052, "onprem_code": 400, "title": "Media download error", "message": "Media download error",
            "error_data": ["details": "Failed to download the media from the sender."], "href": "location for error detail",
        ]
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "errors", 0)?.semanticallyEquals(expected) == true)
        #expect(cloud?.at("entry", 0, "changes", 0, "field") == "messages")
        let (back, _) = try render(decode(.cloud, "value_errors_rate_limit.json"), .onprem)
        #expect(back?.at("errors", 0, "code") == 429)
        #expect(back?.at("errors", 0, "cloud_code") == 130429)
        #expect(back?.at("errors", 0, "message") == nil)
        #expect(back?.at("errors", 0, "error_data") == nil)
    }

    /// On-Prem -> Cloud -> On-Prem gives back the same messages for every shared type.
    @Test(arguments: [
        "meta-doc-inbound-text.json", "meta-doc-inbound-image.json", "meta-doc-inbound-voice.json",
        "meta-doc-inbound-video-frequently-forwarded.json", "meta-doc-inbound-document.json",
        "meta-doc-inbound-sticker-with-metadata.json", "meta-doc-inbound-location.json",
        "meta-doc-inbound-contacts-vcard.json", "meta-doc-inbound-text-reply-context.json",
        "cutover-unicode-escapes-minified.json", "meta-doc-inbound-button-template-quick-reply.json",
    ])
    func onPremMessagesSurviveACloudHop(_ name: String) throws {
        let original = try Fixtures.json(.onprem, name)
        let (cloud, out) = try render(decode(.onprem, name, business: biz), .cloud)
        #expect(out.dropped.isEmpty && out.substituted.isEmpty)
        let (back, _) = try render(WebhookDecoder().decode(cloud!.serialized(), api: .cloud), .onprem)
        #expect(back?["messages"]?.semanticallyEquals(original["messages"]!) == true, "\(back?.jsonString ?? "")")
        if name == "meta-doc-inbound-sticker-with-metadata.json" {
            #expect(cloud?.at("entry", 0, "changes", 0, "value", "messages", 0, "sticker", "metadata", "sticker-pack-name") == "Happy New Year")
        }
    }

    /// Cloud -> On-Prem -> Cloud gives back the same messages for every shared type.
    @Test(arguments: [
        "msg_text.json", "msg_image.json", "msg_audio_voice.json", "msg_video.json", "msg_document.json",
        "msg_sticker_animated.json", "msg_location_place.json", "msg_contacts.json", "msg_interactive_list_reply.json",
        "cutover_unicode_escapes_minified.json",
    ])
    func cloudMessagesSurviveAnOnPremHop(_ name: String) throws {
        let original = try Fixtures.json(.cloud, name)
        let events = try decode(.cloud, name)
        let (onprem, out) = try render(events, .onprem)
        #expect(out.dropped.isEmpty && out.substituted.isEmpty)
        let back = try WebhookDecoder().decode(onprem!.serialized(), api: .onprem, business: events[0].business)
        let (cloud, _) = try render(back, .cloud)
        let path: [Any] = ["entry", 0, "changes", 0, "value", "messages"]
        let want = original.at("entry", 0, "changes", 0, "value", "messages")!
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "messages")?.semanticallyEquals(want) == true, "\(path) \(cloud?.jsonString ?? "")")
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "metadata")?.semanticallyEquals(original.at("entry", 0, "changes", 0, "value", "metadata")!) == true)
        if original.at("entry", 0, "changes", 0, "value", "messages", 0, "type") == "text" {
            #expect(cloud?.semanticallyEquals(original) == true, "\(cloud?.jsonString ?? "")")
        }
    }

    @Test func statusesCrossBothWays() throws {
        for (name, status) in [("meta-doc-status-sent-cbp-billable.json", "sent"), ("meta-doc-status-delivered.json", "delivered"), ("meta-doc-status-read.json", "read")] {
            let (cloud, out) = try render(decode(.onprem, name, business: biz), .cloud)
            #expect(out.dropped.isEmpty)
            #expect(cloud?.at("entry", 0, "changes", 0, "value", "statuses", 0, "status") == .string(status))
            #expect(cloud?.at("entry", 0, "changes", 0, "value", "statuses", 0, "timestamp")?.stringValue != nil)
        }
        for name in ["status_sent_pmp_marketing.json", "status_delivered_cbp_service.json"] {
            let (onprem, out) = try render(decode(.cloud, name), .onprem)
            #expect(out.dropped.isEmpty)
            #expect(onprem?.at("statuses", 0, "type") == "message")
            #expect(onprem?.at("statuses", 0, "timestamp")?.stringValue != nil)
        }
    }

    @Test func reactionToOnPremFollowsThePolicy() throws {
        let events = try decode(.cloud, "msg_reaction.json")
        let (unknown, out) = try render(events, .onprem)
        #expect(out.substituted == [events[0].id])
        #expect(unknown?.at("messages", 0, "type") == "unknown")
        #expect(unknown?.at("messages", 0, "errors", 0, "code") == 501)
        #expect(unknown?.at("messages", 0, "id") == events[0].message?["id"])
        let dropped = WebhookRenderer.render(events: events, as: .onprem, unsupported: .drop)
        #expect(dropped.body == nil)
        #expect(dropped.droppedCount == 1 && dropped.dropped[0].eventID == events[0].id)
        let (passed, _) = try render(events, .onprem, policy: .passThrough)
        #expect(passed?.at("messages", 0, "type") == "reaction")
    }

    @Test func deletedStatusToCloudFollowsThePolicy() throws {
        let events = try decode(.onprem, "meta-doc-status-deleted.json", business: biz)
        let (unsupported, out) = try render(events, .cloud)
        #expect(out.substituted.count == 1)
        let m = unsupported?.at("entry", 0, "changes", 0, "value", "messages", 0)
        #expect(m?["type"] == "unsupported")
        #expect(m?.at("errors", 0, "code") == 131051)
        #expect(m?.at("unsupported", "type") == "deleted")
        #expect(WebhookRenderer.render(events: events, as: .cloud, unsupported: .drop).droppedCount == 1)
        let (passed, _) = try render(events, .cloud, policy: .passThrough)
        #expect(passed?.at("entry", 0, "changes", 0, "value", "statuses", 0, "status") == "deleted")
        // A management field cannot go to On-Prem: dropped and counted, never silent.
        let mgmt = WebhookRenderer.render(events: try decode(.cloud, "mgmt_account_alerts.json"), as: .onprem)
        #expect(mgmt.body == nil && mgmt.droppedCount == 1)
    }

    @Test func unknownTypesAndFieldsSurvive() throws {
        let cloudEvents = try decode(.cloud, "cutover_unknown_type_unknown_fields.json")
        #expect(cloudEvents[0].message?["type"] == "hologram")
        #expect(cloudEvents[0].message?["hologram"]?["depth"] == .number("1.0"))
        #expect(cloudEvents[0].batch?["body"]?["x_top_level_unknown"] != nil)
        #expect(cloudEvents[0].batch?["value"]?["x_value_unknown"] == "value-level")
        let (onprem, out) = try render(cloudEvents, .onprem, policy: .passThrough)
        #expect(out.substituted.isEmpty)
        #expect(onprem?.at("messages", 0, "hologram", "frames") == 24)
        #expect(onprem?.at("messages", 0, "x_message_unknown", "nested", 0) == true)
        let (substituted, out2) = try render(cloudEvents, .onprem)
        #expect(out2.substituted.count == 1 && substituted?.at("messages", 0, "type") == "unknown")

        let onPremEvents = try decode(.onprem, "cutover-unknown-type-unknown-fields.json", business: biz)
        #expect(onPremEvents[0].message?["_vnd"] != nil)
        #expect(onPremEvents[1].status?["x_status_unknown"] == .number("12345678901234567890123"))
        let (cloud, out3) = try render(onPremEvents, .cloud, policy: .passThrough)
        #expect(out3.substituted.isEmpty && out3.dropped.isEmpty)
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "messages", 0, "type") == "hologram")
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "statuses", 0, "x_status_unknown") == .number("12345678901234567890123"))
        let (unsupported, _) = try render(onPremEvents, .cloud)
        #expect(unsupported?.at("entry", 0, "changes", 0, "value", "messages", 0, "unsupported", "type") == "hologram")
    }

    @Test func renderOverrideWinsForCloud() throws {
        let events = try decode(.cloud, "msg_text.json")
        let (cloud, _) = try render(events, .cloud, business: BusinessIdentity(phoneNumberID: "999"))
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "metadata", "phone_number_id") == "999")
        #expect(cloud?.at("entry", 0, "changes", 0, "value", "metadata", "display_phone_number") == "15550783881")
        #expect(cloud?.at("entry", 0, "id") == "102290129340398")
    }

    @Test func canonicalRendering() throws {
        let events = try decode(.cloud, "cutover_batch_two_entries.json")
        let many = try JSONValue.parse(WebhookRenderer.render(events: events, as: .canonical).body!)
        #expect(many.arrayValue?.count == events.count)
        let one = try JSONValue.parse(WebhookRenderer.render(events: [events[0]], as: .canonical).body!)
        #expect(one == events[0].json)
        #expect(WebhookRenderer.render(events: [], as: .canonical).body == nil)
    }
}
