import Testing

@testable import CutoverWebhooks

@Suite struct DecodedEventCacheTests {
    private func events(_ api: WebhookAPI, _ name: String) throws -> [CanonicalEvent] {
        try decode(api, name, business: BusinessIdentity(phoneNumberID: "111", displayPhoneNumber: "15550001111", wabaID: "222"),
                   route: api == .onprem ? "default" : nil)
    }

    /// The cache's promise: a delivery rendered from the kept event sends exactly the bytes and
    /// headers a delivery rendered from the stored payload sends, for every fixture and both APIs.
    @Test(arguments: Fixtures.all.map { "\($0.0.rawValue)/\($0.1)" })
    func aKeptEventRendersExactlyAsItsStoredPayload(_ path: String) throws {
        let api = WebhookAPI(rawValue: String(path.split(separator: "/", maxSplits: 1)[0]))!
        let name = String(path.split(separator: "/", maxSplits: 1)[1])
        for format in [DeliveryFormat.onprem, .cloud] {
            let builder = OutboundRequestBuilder(format: format, business: BusinessIdentity(phoneNumberID: "999"), appSecret: HMACSHA256Key(secret: "s"))
            for event in try events(api, name) {
                let stored = event.serialized()
                let parsed = try builder.request(storedEvent: stored, eventID: event.id, now: 1_700_000_000)
                let kept = try builder.request(storedEvent: stored, eventID: event.id, decoded: event, now: 1_700_000_000)
                #expect(kept == parsed, "\(path) as \(format)")
            }
        }
    }

    @Test func anEventIsFoundOnlyUnderTheRequestThatStoredIt() throws {
        let cache = DecodedEventCache(capacity: 8)
        let events = try events(.cloud, "msg_order.json")
        let event = try #require(events.first)
        cache.insert(requestID: 7, events: [DecodedEventCache.Stored(event, renders: 1)])
        #expect(cache.take(requestID: 8, eventID: event.id) == nil, "a later request repeating the id is not the stored row's")
        #expect(cache.take(requestID: 7, eventID: event.id + "x") == nil)
        #expect(cache.take(requestID: 7, eventID: event.id) == event)
    }

    @Test func theFirstOfARepeatedKeyStays() throws {
        let cache = DecodedEventCache(capacity: 8)
        let event = try #require(try events(.cloud, "msg_order.json").first)
        var other = event
        other.type = "changed"
        cache.insert(requestID: 1, events: [DecodedEventCache.Stored(event, renders: 1), DecodedEventCache.Stored(other, renders: 1)])
        #expect(cache.count == 1)
        #expect(cache.take(requestID: 1, eventID: event.id) == event)
    }

    @Test func theOldestAreForgottenPastTheCapacity() throws {
        let cache = DecodedEventCache(capacity: 3)
        let event = try #require(try events(.cloud, "msg_order.json").first)
        for request in 1...5 { cache.insert(requestID: Int64(request), events: [DecodedEventCache.Stored(event, renders: 1)]) }
        #expect(cache.count == 3)
        #expect((1...5).map { cache.take(requestID: Int64($0), eventID: event.id) != nil } == [false, false, true, true, true])
    }

    @Test func capacityZeroKeepsNothing() throws {
        let cache = DecodedEventCache(capacity: 0)
        let event = try #require(try events(.cloud, "msg_order.json").first)
        cache.insert(requestID: 1, events: [DecodedEventCache.Stored(event, renders: 1)])
        #expect(cache.take(requestID: 1, eventID: event.id) == nil)
        #expect(cache.count == 0)
    }

    @Test func anEventIsKeptForItsRendersAndForgottenAfterTheLast() throws {
        let cache = DecodedEventCache(capacity: 8)
        let events = try events(.cloud, "msg_order.json")
        let event = try #require(events.first)
        var unrendered = event
        unrendered.id = "only-raw-destinations"
        cache.insert(requestID: 1, events: [DecodedEventCache.Stored(event, renders: 2), DecodedEventCache.Stored(unrendered, renders: 0)])
        #expect(cache.count == 1, "an event no delivery renders is not kept")
        #expect(cache.take(requestID: 1, eventID: event.id) == event)
        #expect(cache.count == 1)
        #expect(cache.take(requestID: 1, eventID: event.id) == event)
        #expect(cache.count == 0)
        #expect(cache.take(requestID: 1, eventID: event.id) == nil, "a third render (a retry) parses the payload")
    }

    @Test func aTakenPlaceIsReusedWithoutForgettingTheKeptOnes() throws {
        let cache = DecodedEventCache(capacity: 2)
        let event = try #require(try events(.cloud, "msg_order.json").first)
        cache.insert(requestID: 1, events: [DecodedEventCache.Stored(event, renders: 1)])
        #expect(cache.take(requestID: 1, eventID: event.id) != nil)
        cache.insert(requestID: 2, events: [DecodedEventCache.Stored(event, renders: 1)])
        cache.insert(requestID: 3, events: [DecodedEventCache.Stored(event, renders: 1)])
        // The ring came round to request 1's place, already empty: request 2 is still kept.
        #expect(cache.count == 2)
        #expect(cache.take(requestID: 2, eventID: event.id) != nil)
        #expect(cache.take(requestID: 3, eventID: event.id) != nil)
    }

    /// A kept event under another id (a caller's mistake) is not used: the payload decides.
    @Test func aDecodedEventOfAnotherIdIsIgnored() throws {
        let events = try events(.onprem, "cutover-inbound-text-wamid-reply.json")
        let event = try #require(events.first)
        var impostor = event
        impostor.id = "someone-else"
        let builder = OutboundRequestBuilder(format: .cloud)
        let stored = event.serialized()
        #expect(try builder.request(storedEvent: stored, eventID: event.id, decoded: impostor, now: 0)
                == builder.request(storedEvent: stored, eventID: event.id, now: 0))
    }
}
