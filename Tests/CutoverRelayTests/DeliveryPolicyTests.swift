@testable import CutoverConfiguration
@testable import CutoverDelivery
import CutoverHTTP
import CutoverHTTPClient
@testable import CutoverOperations
import CutoverWebhooks
import Foundation
import HTTPTypes
import Testing

struct CircuitBreakerTests {
    @Test func opensAfterConsecutiveFailuresAndProbesAfterThePause() {
        var breaker = CircuitBreaker(failureThreshold: 3, openDuration: 5, maxOpenDuration: 40)
        let step1 = breaker.allowance(now: 0)
        #expect(step1 == .any)
        let step2 = breaker.recordFailure(now: 1)
        #expect(!step2)
        let step3 = breaker.recordFailure(now: 2)
        #expect(!step3)
        let step4 = breaker.recordFailure(now: 3)
        #expect(step4, "the third consecutive failure opens the circuit")
        let step5 = breaker.allowance(now: 4)
        #expect(step5 == .none(until: 8))
        let step6 = breaker.allowance(now: 8)
        #expect(step6 == .probe)
        // A failed probe doubles the pause, up to the maximum.
        let step7 = breaker.recordFailure(now: 9)
        #expect(step7)
        let step8 = breaker.allowance(now: 10)
        #expect(step8 == .none(until: 19))
        let step9 = breaker.allowance(now: 19)
        #expect(step9 == .probe)
        breaker.recordFailure(now: 19)
        let step10 = breaker.allowance(now: 20)
        #expect(step10 == .none(until: 39))
        let probeAt39 = breaker.allowance(now: 39)
        #expect(probeAt39 == .probe)
        breaker.recordFailure(now: 39)
        let step11 = breaker.allowance(now: 40)
        #expect(step11 == .none(until: 79))
        let step12 = breaker.allowance(now: 79)
        #expect(step12 == .probe)
        breaker.recordSuccess()
        let step13 = breaker.allowance(now: 80)
        #expect(step13 == .any)
    }

    @Test func aSuccessResetsTheFailureCount() {
        var breaker = CircuitBreaker(failureThreshold: 2, openDuration: 5, maxOpenDuration: 5)
        breaker.recordFailure(now: 0)
        breaker.recordSuccess()
        let step14 = breaker.recordFailure(now: 1)
        #expect(!step14)
        let step15 = breaker.allowance(now: 1)
        #expect(step15 == .any)
    }
}

struct DeliveryOutcomeTests {
    private func response(_ status: Int, headers: HTTPFields = [:]) -> Result<HTTP1Response, HTTPClientError> {
        .success(HTTP1Response(head: HTTPResponse(status: .init(code: status), headerFields: headers), version: .http1_1, keepAlive: true, body: Array("nope".utf8)))
    }

    @Test func classifiesResponses() {
        #expect(DeliveryOutcome(response(204), deadLetterStatuses: [410]) == .delivered(status: 204))
        #expect(DeliveryOutcome(response(410), deadLetterStatuses: [410]) == .permanentFailure("HTTP 410: nope", status: 410))
        #expect(DeliveryOutcome(response(500), deadLetterStatuses: [410]) == .failed("HTTP 500: nope", status: 500, retryAfter: nil))
        #expect(
            DeliveryOutcome(response(429, headers: [.retryAfter: "120"]), deadLetterStatuses: [410])
                == .failed("HTTP 429: nope", status: 429, retryAfter: 120))
        #expect(DeliveryOutcome(.failure(.connectionClosed), deadLetterStatuses: []) == .failed("connection closed before a response arrived", status: nil, retryAfter: nil))
    }

    @Test func retryAfterAcceptsSecondsAndHTTPDates() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        #expect(RetryAfter.seconds("30", now: now) == 30)
        #expect(RetryAfter.seconds("Tue, 14 Nov 2023 22:14:20 GMT", now: now) == 60)
        #expect(RetryAfter.seconds("soon", now: now) == nil)
    }

    @Test func retryAfterTakesOnlyDigitsOrAnIMFFixdate() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        #expect(RetryAfter.seconds(" 0 ", now: now) == 0)
        #expect(RetryAfter.seconds("Tue, 14 Nov 2023 22:13:20 GMT", now: now) == 0)
        #expect(RetryAfter.seconds("Mon, 13 Nov 2023 00:00:00 GMT", now: now) == 0, "a date in the past means now")
        #expect(RetryAfter.seconds("Wed, 15 Nov 2023 22:13:20 GMT", now: now) == 86_400)
        for garbage in ["", "inf", "nan", "-5", "1.5", "1e3", "30s", "Tue, 14 Nov 2023 22:14:20 UTC", "Tuesday, 14-Nov-23 22:14:20 GMT"] {
            #expect(RetryAfter.seconds(garbage, now: now) == nil, "\(garbage)")
        }
    }
}

struct DestinationMatchTests {
    private func destination(_ match: CutoverConfig.Match) throws -> RelaySettings.DestinationSettings {
        var config = CutoverConfig()
        var destination = CutoverConfig.Destination(name: "d", url: try #require(DestinationURL("http://127.0.0.1:1/")), format: .cloud)
        destination.match = match
        config.destinations = [destination]
        return try #require(try RelaySettings(config: config, environment: [:]).destinations.first)
    }

    @Test func matchesPhoneNumbersAndEventTypePatterns() throws {
        let all = try destination(.init())
        #expect(all.accepts(type: "com.whatsapp.message.status", phoneNumberID: nil))
        let numbers = try destination(.init(phoneNumberIDs: ["111"]))
        #expect(numbers.accepts(type: "com.whatsapp.message.received", phoneNumberID: "111"))
        #expect(!numbers.accepts(type: "com.whatsapp.message.received", phoneNumberID: "222"))
        #expect(!numbers.accepts(type: "com.whatsapp.message.received", phoneNumberID: nil))
        let types = try destination(.init(eventTypes: ["com.whatsapp.message.*", "com.whatsapp.error"]))
        #expect(types.accepts(type: "com.whatsapp.message.status", phoneNumberID: "1"))
        #expect(types.accepts(type: "com.whatsapp.error", phoneNumberID: "1"))
        #expect(!types.accepts(type: "com.whatsapp.flows", phoneNumberID: "1"))
    }

    @Test func aShadowOnlyConfigurationIsRejected() throws {
        var config = CutoverConfig()
        var shadow = CutoverConfig.Destination(name: "s", url: try #require(DestinationURL("http://127.0.0.1:1/")), format: .cloud)
        shadow.role = .shadow
        config.destinations = [shadow]
        #expect(throws: ConfigError.self) { try RelaySettings(config: config, environment: [:]) }
    }
}

struct StandardWebhooksSignatureTests {
    /// The example from the Standard Webhooks spec's reference test vectors.
    @Test func matchesTheReferenceVector() throws {
        let key = [UInt8](Data(base64Encoded: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!)
        let signature = try StandardWebhooksSignature.sign(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330",
            body: Array(#"{"test": 2432232314}"#.utf8), key: key
        )
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }
}
