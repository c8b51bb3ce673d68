/// One notification `cutover probe` sends: the name an operator reads and filters by, and the
/// canonical event, exactly as Cutover would have stored it had the notification arrived.
package struct ProbeCase: Sendable, Equatable {
    /// `message.audio.voice`, `status.read`, `field.account_update`: kind, then what tells this
    /// notification apart from the others of its kind.
    package var name: String
    package var event: CanonicalEvent
}

/// Why the compiled-in examples did not decode: a bug in this file, which the catalog's tests catch.
package struct ProbeCatalogError: Error, Sendable, CustomStringConvertible {
    package var description: String
}

/// The examples `cutover probe` sends: one per notification type Cutover knows (the vocabulary of
/// `WebhookVocabulary`, which `ProbeCatalogTests` holds this list to), built in code and decoded by
/// the same `WebhookDecoder` ingress uses, so each event is what the spool would hold.
///
/// Types only one API sends come from that API: `voice`, `unknown`, `ephemeral`, the `deleted` and
/// `warning` statuses and On-Prem's own system messages and errors arrive as On-Prem bodies; the rest
/// as Cloud bodies, which is where a migrated number's traffic comes from. Two items name no phone
/// number (a username user known only by a business-scoped user id), to show what the destination's
/// `phoneless` policy does with them.
package enum ProbeCatalog {
    /// The business the examples belong to when the caller names none (Meta's documentation values).
    package static let defaultBusiness = BusinessIdentity(
        phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881", wabaID: "102290129340398"
    )
    /// The user the examples come from or go to.
    package static let user = "16505551234"

    /// Every example, in catalog order. `business` overrides `defaultBusiness` field by field.
    /// `runID` goes into every item id, so a second probe is not a repeat an endpoint would drop;
    /// `time` (Unix seconds) is every item's timestamp.
    package static func cases(business: BusinessIdentity? = nil, runID: String, time: Int) throws(ProbeCatalogError) -> [ProbeCase] {
        let identity = defaultBusiness.overridden(by: business)
        var cases: [ProbeCase] = []
        cases.reserveCapacity(examples.count)
        for example in examples {
            let text = example.json
                .replacing("%ID%", with: "wamid.CUTOVERPROBE.\(runID).\(example.name)")
                .replacing("%TS%", with: String(time))
                .replacing("%USER%", with: user)
                .replacing("%PHONE_ID%", with: identity.phoneNumberID ?? "")
                .replacing("%DISPLAY%", with: identity.displayPhoneNumber ?? "")
            let item: JSONValue
            do { item = try JSONValue.parse(text) } catch {
                throw ProbeCatalogError(description: "probe example \(example.name) is not JSON: \(error)")
            }
            let body = envelope(example, item: item, business: identity, time: time)
            let events: [CanonicalEvent]
            do {
                events = try WebhookDecoder().decode(
                    json: body, api: WebhookInputFormat(example.api), business: identity, route: example.api == .onprem ? "probe" : nil
                )
            } catch {
                throw ProbeCatalogError(description: "probe example \(example.name) does not decode: \(error)")
            }
            guard events.count == 1 else {
                throw ProbeCatalogError(description: "probe example \(example.name) makes \(events.count) events, not one")
            }
            cases.append(ProbeCase(name: example.name, event: events[0]))
        }
        return cases
    }

    /// The body a notification of this example arrives in.
    private static func envelope(_ example: Example, item: JSONValue, business: BusinessIdentity, time: Int) -> JSONValue {
        let contacts: JSONValue? = example.withContact ? [["profile": ["name": "Cutover Probe"], "wa_id": .string(user)]] : nil
        switch example.api {
        case .onprem:
            var body = JSONObject()
            body.appendIfPresent("contacts", contacts)
            body.append(example.item.arrayKey, [item])
            return .object(body)
        case .cloud:
            let change: JSONObject
            if case .field(let field) = example.item {
                change = ["value": item, "field": .string(field)]
            } else {
                var value: JSONObject = ["messaging_product": "whatsapp"]
                var metadata = JSONObject()
                metadata.appendIfPresent("display_phone_number", business.displayPhoneNumber.map(JSONValue.string))
                metadata.appendIfPresent("phone_number_id", business.phoneNumberID.map(JSONValue.string))
                value.append("metadata", .object(metadata))
                value.appendIfPresent("contacts", contacts)
                value.append(example.item.arrayKey, [item])
                change = ["value": .object(value), "field": "messages"]
            }
            var entry: JSONObject = [:]
            entry.appendIfPresent("id", business.wabaID.map(JSONValue.string))
            if case .field = example.item { entry.append("time", .int(time)) }
            entry.append("changes", [.object(change)])
            return ["object": "whatsapp_business_account", "entry": [.object(entry)]]
        }
    }

    private enum Item {
        case message, status, error
        case field(String)

        var arrayKey: String {
            switch self {
            case .message: "messages"
            case .status: "statuses"
            case .error, .field: "errors"
            }
        }
    }

    private struct Example {
        var name: String
        var api: WebhookAPI
        var item: Item
        /// The item, or the field's `value`; `%ID%`, `%TS%`, `%USER%`, `%PHONE_ID%` and `%DISPLAY%` are filled in.
        var json: String
        var withContact = false

        static func cloudMessage(_ name: String, _ json: String) -> Example {
            Example(name: "message." + name, api: .cloud, item: .message, json: json, withContact: true)
        }
        static func onpremMessage(_ name: String, _ json: String) -> Example {
            Example(name: "message." + name, api: .onprem, item: .message, json: json, withContact: true)
        }
        static func cloudStatus(_ name: String, _ json: String) -> Example {
            Example(name: "status." + name, api: .cloud, item: .status, json: json)
        }
        static func onpremStatus(_ name: String, _ json: String) -> Example {
            Example(name: "status." + name, api: .onprem, item: .status, json: json)
        }
        static func field(_ field: String, _ json: String) -> Example {
            Example(name: "field." + field, api: .cloud, item: .field(field), json: json)
        }
    }

    private static let image = #""image":{"caption":"Probe image","mime_type":"image/jpeg","sha256":"ZBcJj6MoKbgRCCpd3nBQ7OH1iE8oPqnxcP4oH5H8nNM=","id":"1429631637876186"}"#
    private static let context = #""context":{"from":"%DISPLAY%","id":"wamid.CUTOVERPROBE.context"}"#

    private static let examples: [Example] = [
        .cloudMessage("text", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"text","text":{"body":"Cutover probe: text"}}"#),
        .cloudMessage("image", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"image",\#(image)}"#),
        .cloudMessage("audio", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"audio","audio":{"mime_type":"audio/mpeg","sha256":"fa9e1807d936b7cebe63654ea3a7912b1fa9479220258d823590521ef53b0710","id":"1013349887052290","voice":false}}"#),
        .cloudMessage("audio.voice", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"audio","audio":{"mime_type":"audio/ogg; codecs=opus","sha256":"fa9e1807d936b7cebe63654ea3a7912b1fa9479220258d823590521ef53b0710","id":"1013349887052291","voice":true}}"#),
        .cloudMessage("video", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"video","video":{"caption":"Probe video","mime_type":"video/mp4","sha256":"a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2","id":"1173682087587463"}}"#),
        .cloudMessage("document", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"document","document":{"caption":"Probe document","filename":"probe.pdf","mime_type":"application/pdf","sha256":"a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b3","id":"1003383421387256"}}"#),
        .cloudMessage("sticker", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"sticker","sticker":{"mime_type":"image/webp","sha256":"ZBcJj6MoKbgRCCpd3nBQ7OH1iE8oPqnxcP4oH5H8nNM=","id":"1429631637876187","animated":false}}"#),
        .cloudMessage("location", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"location","location":{"address":"101 Forest Ave, Palo Alto, CA 94301","latitude":37.44221496582,"longitude":-122.16165924072,"name":"Philz Coffee","url":"https://philzcoffee.com/"}}"#),
        .cloudMessage("contacts", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"contacts","contacts":[{"name":{"first_name":"Barbara","last_name":"Johnson","formatted_name":"Barbara J. Johnson"},"phones":[{"phone":"+1 (415) 555-0829","wa_id":"14155550829","type":"MOBILE"}]}]}"#),
        .cloudMessage("button", #"{\#(context),"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"button","button":{"payload":"Unsubscribe","text":"Unsubscribe"}}"#),
        .cloudMessage("interactive.button_reply", #"{\#(context),"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"probe-yes","title":"Yes"}}}"#),
        .cloudMessage("interactive.list_reply", #"{\#(context),"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"probe-row-1","title":"Row 1","description":"The first row"}}}"#),
        .cloudMessage("interactive.nfm_reply", #"{\#(context),"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"{\"flow_token\": \"CUTOVERPROBE\"}"}}}"#),
        .cloudMessage("interactive.call_permission_reply", #"{\#(context),"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"interactive","interactive":{"type":"call_permission_reply","call_permission_reply":{"response":"accept","expiration_timestamp":1750695102,"response_source":"user_action"}}}"#),
        .cloudMessage("reaction", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"reaction","reaction":{"message_id":"wamid.CUTOVERPROBE.context","emoji":"\u2764\ufe0f"}}"#),
        .cloudMessage("order", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"order","order":{"catalog_id":"194836987003835","text":"Probe order","product_items":[{"product_retailer_id":"di9ozbzfi4","quantity":2,"item_price":30,"currency":"USD"}]}}"#),
        .cloudMessage("system.user_changed_number", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"system","system":{"body":"User changed from 16505551234 to 12195555358","wa_id":"12195555358","type":"user_changed_number"}}"#),
        .cloudMessage("system.customer_changed_number", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"system","system":{"body":"User changed from 16505551234 to 16505559999","new_wa_id":"16505559999","type":"customer_changed_number","customer":"16505551234"}}"#),
        .cloudMessage("system.customer_identity_changed", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"system","system":{"body":"Security code changed","customer":"16505551234","identity":"Rc/eg9Rl0JA=","type":"customer_identity_changed"}}"#),
        .cloudMessage("system.user_changed_user_id", #"{"from":"%USER%","from_user_id":"US.13491208655302741918","id":"%ID%","timestamp":"%TS%","type":"system","system":{"body":"User's business-scoped user id changed","user_id":"US.99991208655302741918","type":"user_changed_user_id"}}"#),
        .cloudMessage("unsupported", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}],"type":"unsupported","unsupported":{"type":"hologram"}}"#),
        .cloudMessage("request_welcome", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"request_welcome"}"#),
        .cloudMessage("edit", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"edit","edit":{"original_message_id":"wamid.CUTOVERPROBE.context","message":{"type":"text","text":{"body":"Cutover probe: edited"}}}}"#),
        .cloudMessage("revoke", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"revoke","revoke":{"original_message_id":"wamid.CUTOVERPROBE.context"}}"#),
        // A username user whose phone Meta withholds: the destination's `phoneless` policy decides.
        Example(
            name: "message.text.phoneless", api: .cloud, item: .message,
            json: #"{"from_user_id":"US.13491208655302741918","id":"%ID%","timestamp":"%TS%","type":"text","text":{"body":"Cutover probe: from a username user"}}"#
        ),

        .onpremMessage("voice", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"voice","voice":{"file":"/usr/local/wamedia/shared/probe","id":"463eb7ec-ff4e-4d9b-b110-1879cbd411b2","mime_type":"audio/ogg; codecs=opus","sha256":"fa9e1807d936b7cebe63654ea3a7912b1fa9479220258d823590521ef53b0710"}}"#),
        .onpremMessage("unknown", #"{"errors":[{"code":501,"details":"Message type is not currently supported","title":"Unknown message type"}],"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"unknown"}"#),
        .onpremMessage("ephemeral", #"{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"ephemeral"}"#),
        .onpremMessage("system.user_identity_changed", #"{"from":"%USER%","id":"%ID%","system":{"identity":"Rc/eg9Rl0JA=","type":"user_identity_changed","user":"%USER%"},"timestamp":"%TS%","type":"system"}"#),
        .onpremMessage("system.user_preference_changed", #"{"from":"%USER%","id":"%ID%","system":{"body":"User requested to stop marketing messages","marketing":"stop","type":"user_preference_changed"},"timestamp":"%TS%","type":"system"}"#),

        .cloudStatus("sent", #"{"id":"%ID%","status":"sent","timestamp":"%TS%","recipient_id":"%USER%","conversation":{"id":"CUTOVERPROBE","origin":{"type":"service"}},"pricing":{"billable":false,"pricing_model":"PMP","category":"service","type":"free_customer_service"}}"#),
        .cloudStatus("delivered", #"{"id":"%ID%","status":"delivered","timestamp":"%TS%","recipient_id":"%USER%"}"#),
        .cloudStatus("read", #"{"id":"%ID%","status":"read","timestamp":"%TS%","recipient_id":"%USER%"}"#),
        .cloudStatus("played", #"{"id":"%ID%","status":"played","timestamp":"%TS%","recipient_id":"%USER%"}"#),
        .cloudStatus("failed", #"{"id":"%ID%","status":"failed","timestamp":"%TS%","recipient_id":"%USER%","errors":[{"code":131049,"title":"This message was not delivered to maintain healthy ecosystem engagement.","message":"This message was not delivered to maintain healthy ecosystem engagement.","error_data":{"details":"In order to maintain a healthy ecosystem engagement, the message failed to be delivered."}}]}"#),
        .cloudStatus("payment.captured", #"{"id":"%ID%","from":"%USER%","type":"payment","status":"captured","payment":{"reference_id":"cutover-probe-order"},"timestamp":"%TS%"}"#),
        .cloudStatus("payment.pending", #"{"id":"%ID%","from":"%USER%","type":"payment","status":"pending","payment":{"reference_id":"cutover-probe-order"},"timestamp":"%TS%"}"#),
        Example(
            name: "status.delivered.phoneless", api: .cloud, item: .status,
            json: #"{"id":"%ID%","status":"delivered","timestamp":"%TS%","recipient_user_id":"US.13491208655302741918"}"#
        ),
        .onpremStatus("deleted", #"{"id":"%ID%","recipient_id":"%USER%","status":"deleted","timestamp":"%TS%"}"#),
        .onpremStatus("warning", #"{"errors":[{"code":2026,"title":"Some products could not be sent because they are either hidden or they don't have an approved status."}],"id":"%ID%","recipient_id":"%USER%","status":"warning","timestamp":"%TS%","type":"message"}"#),

        Example(
            name: "error.130429", api: .cloud, item: .error,
            json: #"{"code":130429,"title":"Rate limit hit","message":"Rate limit hit","error_data":{"details":"Message failed to send because there were too many messages sent from this phone number in a short period of time"}}"#
        ),
        Example(
            name: "error.onprem.400", api: .onprem, item: .error,
            json: #"{"code":400,"title":"Media download error","details":"Failed to download the media from the sender."}"#
        ),

        .field("message_template_status_update", #"{"event":"APPROVED","message_template_id":1689556908129832,"message_template_name":"cutover_probe","message_template_language":"en-US","reason":"NONE","message_template_category":"UTILITY"}"#),
        .field("message_template_quality_update", #"{"previous_quality_score":"GREEN","new_quality_score":"YELLOW","message_template_id":806312974732579,"message_template_name":"cutover_probe","message_template_language":"en-US"}"#),
        .field("message_template_components_update", #"{"message_template_id":1315502779341834,"message_template_name":"cutover_probe","message_template_language":"en_US","message_template_element":"Thank you for your order, {{1}}!"}"#),
        .field("template_category_update", #"{"message_template_id":278077987957091,"message_template_name":"cutover_probe","message_template_language":"en-US","previous_category":"UTILITY","new_category":"MARKETING"}"#),
        .field("phone_number_name_update", #"{"display_phone_number":"%DISPLAY%","decision":"APPROVED","requested_verified_name":"Cutover Probe","rejection_reason":null}"#),
        .field("phone_number_quality_update", #"{"display_phone_number":"%DISPLAY%","event":"THROUGHPUT_UPGRADE","current_limit":"TIER_UNLIMITED"}"#),
        .field("account_update", #"{"event":"MM_LITE_TERMS_SIGNED","waba_info":{"owner_business_id":"2329417887457253","waba_id":"980198427658004"}}"#),
        .field("account_review_update", #"{"decision":"APPROVED"}"#),
        .field("account_alerts", #"{"entity_type":"BUSINESS","entity_id":"506914307656634","alert_info":{"alert_severity":"WARNING","alert_status":"ACTIVE","alert_type":"INCREASED_CAPABILITIES_ELIGIBILITY_DEFERRED","alert_description":"Cutover probe alert"}}"#),
        .field("business_capability_update", #"{"max_daily_conversations_per_business":2000,"max_phone_numbers_per_waba":25}"#),
        .field("security", #"{"display_phone_number":"%DISPLAY%","event":"PIN_CHANGED"}"#),
        .field("flows", #"{"event":"FLOW_STATUS_CHANGE","message":"Flow Cutover Probe changed status from DRAFT to PUBLISHED","flow_id":"6627390910605886","old_status":"DRAFT","new_status":"PUBLISHED"}"#),
        .field("user_preferences", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"contacts":[{"wa_id":"%USER%"}],"user_preferences":[{"wa_id":"%USER%","detail":"User requested to stop marketing messages","category":"marketing_messages","value":"stop","timestamp":%TS%}]}"#),
        .field("smb_message_echoes", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"message_echoes":[{"from":"%DISPLAY%","to":"%USER%","id":"%ID%","timestamp":"%TS%","type":"text","text":{"body":"Cutover probe: echo"}}]}"#),
        .field("smb_app_state_sync", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"state_sync":[{"type":"contact","contact":{"full_name":"Cutover Probe","first_name":"Cutover","phone_number":"%USER%"},"action":"add","metadata":{"timestamp":"%TS%"}}]}"#),
        .field("history", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"history":[{"metadata":{"phase":0,"chunk_order":1,"progress":100},"threads":[{"id":"%USER%","messages":[{"from":"%USER%","id":"%ID%","timestamp":"%TS%","type":"text","text":{"body":"Cutover probe: history"},"history_context":{"status":"READ"}}]}]}]}"#),
        .field("partner_solutions", #"{"event":"SOLUTION_CREATED","solution_id":"774485461512159","solution_status":"INITIATED"}"#),
        .field("payment_configuration_update", #"{"configuration_name":"cutover-probe","provider_name":"razorpay","provider_mid":"acc_GP4lfNA0iIMn5B","status":"Needs Testing","created_timestamp":%TS%,"updated_timestamp":%TS%}"#),
        .field("automatic_events", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"automatic_events":[{"id":"%ID%","event_name":"LeadSubmitted","timestamp":%TS%,"ctwa_clid":"CUTOVERPROBE"}]}"#),
        .field("group_lifecycle_update", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"groups":[{"timestamp":"%TS%","group_id":"CUTOVERPROBEGROUP","type":"group_create","request_id":"cutover-probe","subject":"Cutover probe"}]}"#),
        .field("group_participants_update", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"groups":[{"timestamp":"%TS%","group_id":"CUTOVERPROBEGROUP","type":"group_participants_add","reason":"invite_link","added_participants":[{"wa_id":"%USER%"}]}]}"#),
        .field("group_settings_update", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"groups":[{"timestamp":"%TS%","group_id":"CUTOVERPROBEGROUP","type":"group_settings_update","request_id":"cutover-probe","group_subject":{"text":"Cutover probe","update_successful":true}}]}"#),
        .field("group_status_update", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"groups":[{"timestamp":"%TS%","group_id":"CUTOVERPROBEGROUP","type":"group_suspend"}]}"#),
        .field("calls", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"statuses":[{"id":"wacid.CUTOVERPROBE","timestamp":"%TS%","type":"call","status":"RINGING","recipient_id":"%USER%"}]}"#),
        .field("business_username_update", #"{"display_phone_number":"%DISPLAY%","username":"@cutoverprobe","status":"approved"}"#),
        .field("message_echoes", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"message_echoes":[{"from":"%DISPLAY%","to":"%USER%","id":"%ID%","timestamp":"%TS%","type":"text","text":{"body":"Cutover probe: echo"}}]}"#),
        .field("tracking_events", #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"%DISPLAY%","phone_number_id":"%PHONE_ID%"},"tracking_events":[{"id":"%ID%","event_name":"Purchase","timestamp":%TS%}]}"#),
        .field("account_settings_update", #"{"event":"SETTINGS_UPDATED","phone_number_id":"%PHONE_ID%"}"#),
        .field("business_status_update", #"{"business_id":"2329417887457253","event":"BUSINESS_VERIFIED"}"#),
    ]
}
