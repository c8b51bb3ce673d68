import Testing

@testable import CutoverWebhooks

/// `eventIDs` is what the ingress deduplicates on before it normalizes: it must name exactly the
/// ids `decode` gives, in order, or a retry would be answered for events never stored.
struct WebhookEventIDTests {
    static let business = BusinessIdentity(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881", wabaID: "102290129340398")

    @Test(arguments: Fixtures.all.map { "\($0.0.rawValue):\($0.1)" })
    func idsAreTheDecodedEventsIds(_ fixture: String) throws {
        let api = WebhookAPI(rawValue: String(fixture.prefix { $0 != ":" }))!
        let name = String(fixture.drop { $0 != ":" }.dropFirst())
        let decoder = WebhookDecoder()
        let format: WebhookInputFormat = api == .cloud ? .cloud : .onprem
        let route: String? = api == .onprem ? "default" : nil
        let business: BusinessIdentity? = api == .onprem ? Self.business : nil
        let root = try decoder.parse(Fixtures.bytes(api, name))
        let ids = decoder.eventIDs(json: root, api: format, business: business, route: route)
        let decoded = try? decoder.decode(json: root, api: format, business: business, route: route)
        #expect(ids == decoded?.map(\.id), "\(fixture)")
        if let decoded { #expect(!decoded.isEmpty || ids == []) }
    }

    @Test(arguments: [
        #"{"object":"page","entry":[]}"#,
        #"{"object":"whatsapp_business_account","entry":{}}"#,
        #"{"object":"whatsapp_business_account","entry":[{"changes":[1]}]}"#,
        #"{"object":"whatsapp_business_account","entry":[7]}"#,
        #"[1,2]"#,
    ])
    func bodiesDecodeRefusesHaveNoIds(_ body: String) throws {
        let decoder = WebhookDecoder()
        let root = try decoder.parse(Array(body.utf8))
        #expect(decoder.eventIDs(json: root, api: .cloud) == nil)
        #expect(throws: WebhookDecodeError.self) { try decoder.decode(json: root, api: .cloud) }
    }

    @Test func onPremBodiesWithoutItemsAndAmplificationBodiesHaveNoIds() throws {
        let decoder = WebhookDecoder(maxEvents: 2)
        let onlyContacts = try decoder.parse(Array(#"{"contacts":[{"wa_id":"1"}],"messages":[]}"#.utf8))
        #expect(decoder.eventIDs(json: onlyContacts, api: .onprem) == nil)
        let three = try decoder.parse(Array(#"{"messages":[{"id":"a"},{"id":"b"},{"id":"c"}]}"#.utf8))
        #expect(decoder.eventIDs(json: three, api: .onprem) == nil)
        #expect(throws: WebhookDecodeError.tooManyEvents(limit: 2)) { try decoder.decode(json: three, api: .onprem) }
        let two = try decoder.parse(Array(#"{"messages":[{"id":"a"},{"id":"b"}]}"#.utf8))
        #expect(decoder.eventIDs(json: two, api: .onprem) == ["msg:a", "msg:b"])
    }
}
