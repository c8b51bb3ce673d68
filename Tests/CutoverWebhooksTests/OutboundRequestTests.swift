import HTTPTypes
import Testing

@testable import CutoverWebhooks

/// The builder, from what delivery and replay each expected of their own copy before.
@Suite struct OutboundRequestTests {
    private func onpremEvent(_ id: String = "wamid.1") throws -> CanonicalEvent {
        let body = #"{"contacts":[{"profile":{"name":"A"},"wa_id":"15550001111"}],"messages":[{"from":"15550001111","id":"\#(id)","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}"#
        return try #require(try WebhookDecoder().decode(Array(body.utf8), api: .onprem, business: BusinessIdentity(phoneNumberID: "111")).first)
    }

    private struct NotSent: Error {
        var outcome: OutboundOutcome
    }

    private func sent(_ outcome: OutboundOutcome) throws -> OutboundRequest {
        guard case .send(let request) = outcome else { throw NotSent(outcome: outcome) }
        return request
    }

    @Test func cloudIsReSignedWithTheAppSecretAndCarriesTheEventID() throws {
        let event = try onpremEvent()
        let builder = OutboundRequestBuilder(
            format: .cloud, business: BusinessIdentity(phoneNumberID: "999"), appSecret: HMACSHA256Key(secret: "s3cret")
        )
        let request = try sent(try builder.request(storedEvent: event.serialized(), eventID: event.id, now: 0))
        #expect(request.headers[.cutoverEventID] == "msg:wamid.1")
        let signature = try #require(request.headers[.xHubSignature256])
        #expect(WebhookSignatureVerifier(secrets: ["s3cret"]).verify(header: signature, body: request.body))
        #expect(!WebhookSignatureVerifier(secrets: ["other"]).verify(header: signature, body: request.body))
        let text = String(decoding: request.body, as: UTF8.self)
        #expect(text.contains("whatsapp_business_account") && text.contains(#""phone_number_id":"999""#))
        // The same event decoded or as stored comes to the same request.
        #expect(try builder.request(event: event, now: 0) == .send(request))
    }

    @Test func canonicalSendsTheStoredBytesSignedPerStandardWebhooks() throws {
        let key: [UInt8] = Array("0123456789abcdef".utf8)
        let builder = OutboundRequestBuilder(format: .canonical, standardWebhooksKey: StandardWebhooksKey(bytes: key))
        // Not how the serializer would write it: proof that the stored bytes are sent, not re-serialized.
        let stored = Array(try onpremEvent().serialized().map { $0 == UInt8(ascii: ",") ? [UInt8(ascii: ","), UInt8(ascii: " ")] : [$0] }.joined())
        let request = try sent(try builder.request(storedEvent: stored, eventID: "msg:wamid.1", now: 1_700_000_000.9))
        #expect(request.body == stored)
        #expect(request.headers[.webhookID] == "msg:wamid.1")
        #expect(request.headers[.webhookTimestamp] == "1700000000")
        var signed = Array("msg:wamid.1.1700000000.".utf8)
        signed += stored
        let expected = "v1," + Base64.encode(try HMACSHA256(key: key).mac(signed))
        #expect(request.headers[.webhookSignature] == expected)
        #expect(request.headers[.xHubSignature256] == nil)

        // Without a key: the id still goes out, no timestamp or signature.
        let unsigned = try sent(try OutboundRequestBuilder(format: .canonical).request(storedEvent: stored, eventID: "e", now: 0))
        #expect(unsigned.headers[.webhookID] == "e" && unsigned.headers[.webhookSignature] == nil && unsigned.headers[.webhookTimestamp] == nil)
    }

    @Test func standardWebhooksKeyMatchesTheReferenceVectorAndParsesWhsecOnce() throws {
        let key = try #require(StandardWebhooksKey(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        #expect(key == StandardWebhooksKey(secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "bare base64 is accepted too")
        let signature = try key.sign(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(StandardWebhooksKey(secret: "whsec_not base64!") == nil)
        #expect(!"\(key)".contains("MfKQ") && "\(key)" == "StandardWebhooksKey(24 bytes)")
    }

    @Test func onpremCarriesTheConfiguredHeadersAndTheEventID() throws {
        let event = try onpremEvent()
        let builder = OutboundRequestBuilder(
            format: .onprem, appSecret: HMACSHA256Key(secret: "unused for onprem"),
            headers: [HTTPField.Name("X-Env")!: "staging", .contentType: "application/vnd.test+json", .cutoverEventID: "forged"]
        )
        let request = try sent(try builder.request(storedEvent: event.serialized(), eventID: event.id, now: 0))
        #expect(request.headers.map(\.name) == [.contentType, .userAgent, HTTPField.Name("X-Env")!, .cutoverEventID])
        #expect(request.headers[.contentType] == "application/vnd.test+json", "a configured header replaces the default")
        #expect(request.headers[.userAgent] == "Cutover")
        #expect(request.headers[.cutoverEventID] == "msg:wamid.1", "Cutover's own headers cannot be overridden")
        #expect(request.headers[.xHubSignature256] == nil, "On-Prem has no signature")
        #expect(String(decoding: request.body, as: UTF8.self).contains(#""messages":[{"#))
    }

    @Test func theUnsupportedPolicyFiltersWhatTheTargetCannotCarry() throws {
        // A reaction has no On-Prem form; `drop` leaves it out instead of sending `unknown`.
        let reaction = try #require(try WebhookDecoder().decode(Fixtures.bytes(.cloud, "msg_reaction.json"), api: .cloud).first)
        let dropped = try OutboundRequestBuilder(format: .onprem, unsupported: .drop).request(event: reaction, now: 0)
        guard case .filtered(let reason) = dropped else {
            Issue.record("expected filtered, got \(dropped)")
            return
        }
        #expect(!reason.isEmpty)
        let substituted = try OutboundRequestBuilder(format: .onprem, unsupported: .unknownMessage).request(event: reaction, now: 0)
        #expect(String(decoding: try sent(substituted).body, as: UTF8.self).contains(#""type":"unknown""#))
    }

    @Test func rawPassesTheBytesWithTheOriginalSignatureOrReSigns() throws {
        let body = Array("{ \"object\": \"whatsapp_business_account\", \"entry\": [] }".utf8)
        let plain = try OutboundRequestBuilder(format: .raw).request(rawBody: body, eventIDs: ["a", "b"], originalSignature: "sha256=abc")
        #expect(plain.body == body)
        #expect(plain.headers[.xHubSignature256] == "sha256=abc")
        #expect(plain.headers[.cutoverEventID] == "a,b")

        let resigned = try OutboundRequestBuilder(format: .raw, appSecret: HMACSHA256Key(secret: "staging"))
            .request(rawBody: body, eventIDs: [], originalSignature: "sha256=abc")
        #expect(resigned.body == body)
        #expect(WebhookSignatureVerifier(secrets: ["staging"]).verify(header: resigned.headers[.xHubSignature256], body: body))
        #expect(resigned.headers[.cutoverEventID] == nil, "a body that did not decode has no event ids")

        // Delivery hands over the stored event and the request it came in.
        let delivered = try sent(try OutboundRequestBuilder(format: .raw).request(storedEvent: [], eventID: "e", rawBody: body, now: 0))
        #expect(delivered.body == body && delivered.headers[.cutoverEventID] == "e")
        #expect(throws: OutboundError.missingRawBody) { try OutboundRequestBuilder(format: .raw).request(storedEvent: [], eventID: "e", now: 0) }
    }

    @Test func aStoredEventThatIsNotOneCannotRender() {
        #expect(throws: OutboundError.self) {
            try OutboundRequestBuilder(format: .cloud).request(storedEvent: Array("{}".utf8), eventID: "e", now: 0)
        }
        #expect("\(OutboundError.unrenderable("x"))" == "cannot render: x")
    }

    @Test func deliveryFormatsMapToTheRenderer() {
        #expect(DeliveryFormat.allCases.map(\.rawValue) == ["onprem", "cloud", "canonical", "raw"], "the config's spelling")
        #expect(DeliveryFormat.allCases.compactMap(\.rendered) == WebhookOutputFormat.allCases)
        #expect(WebhookAPI.allCases.map(WebhookInputFormat.init) == [.cloud, .onprem])
    }
}
