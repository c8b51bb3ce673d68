import CutoverTestSupport
import Foundation
import Testing
@testable import CutoverWebhooks

/// Webhook bodies are relayed to consumers in several languages: what they would read differently,
/// or not at all, is quarantined instead of relayed.
@Suite struct StrictJSONTests {
    let strict = JSONParser.webhook

    func parse(_ text: String, with parser: JSONParser = .webhook) throws(JSONParseError) -> JSONValue {
        let bytes = Array(text.utf8)
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { raw in
            do throws(JSONParseError) { return .success(try parser.parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    func reason(_ text: String) -> JSONParseError.Reason? {
        do { _ = try parse(text); return nil } catch { return error.reason }
    }

    // MARK: Duplicate keys

    @Test func repeatedKeysAreRejectedWhereTheyRepeat() {
        #expect(reason(#"{"id":"a","id":"b"}"#) == .duplicateKey("id"))
        #expect(reason(#"{"a":{"x":1,"y":2,"x":3}}"#) == .duplicateKey("x"))
        #expect(reason(#"[{"a":1},{"a":2,"a":2}]"#) == .duplicateKey("a"))
        do {
            _ = try parse(#"{"a":1, "b":2, "a":3}"#)
            Issue.record("accepted a repeated key")
        } catch {
            #expect(error.offset == 15, "the offset is the repeated key's")
        }
    }

    @Test func keysEqualOnlyAfterUnescapingAreTheSameKey() {
        #expect(reason(#"{"id":"a","\u0069d":"b"}"#) == .duplicateKey("id"))
        #expect(reason(#"{"é":1,"\u00e9":2}"#) == .duplicateKey("é"))
    }

    @Test func wideObjectsAreCheckedPastTheLinearScan() {
        for width in [15, 16, 17, 40, 5_000] {
            let members = (0..<width).map { #""k\#($0)":\#($0)"# }
            let unique = "{" + members.joined(separator: ",") + "}"
            #expect(reason(unique) == nil, "\(width) distinct keys")
            let repeated = "{" + (members + [#""k0":0"#]).joined(separator: ",") + "}"
            #expect(reason(repeated) == .duplicateKey("k0"), "key 0 again after \(width)")
            let repeatedLate = "{" + (members + [#""k\#(width - 1)":0"#]).joined(separator: ",") + "}"
            #expect(reason(repeatedLate) == .duplicateKey("k\(width - 1)"), "the last key again after \(width)")
        }
    }

    @Test func sameKeysInSiblingObjectsAreFine() throws {
        let value = try parse(#"{"a":{"id":1},"b":{"id":2},"c":[{"id":3},{"id":4}]}"#)
        #expect(value["b"]?["id"] == .number("2"))
    }

    @Test func theLenientParserStillKeepsDuplicates() throws {
        let value = try parse(#"{"z":1,"a":2,"z":3}"#, with: JSONParser())
        #expect(value.objectValue?.keys == ["z", "a", "z"])
    }

    // MARK: Numbers

    @Test(arguments: [
        "1e999999", "-1e999999", "1E400", "1e309", "2e308", "1e-400", "-1.5e-999", "1e0000000000000400", "1e99999",
        String(repeating: "9", count: 101), "0." + String(repeating: "1", count: 100), "-" + String(repeating: "7", count: 400),
    ])
    func numbersNoConsumerCanReadAreRejected(_ number: String) {
        guard case .unreadableNumber(let shown)? = reason(#"{"n":\#(number)}"#) else {
            Issue.record("\(number.prefix(30)) accepted")
            return
        }
        #expect(shown.utf8.count <= 27, "the reason quotes at most the number's start")
        #expect(number.hasPrefix(shown.replacingOccurrences(of: "...", with: "")))
    }

    @Test(arguments: [
        "0", "-0", "1.0", "1e3", "2.50E-7", "1e308", "1.7976931348623157e308", "1e00000000000000000001", "-1e-300", "5e-324", "0e99999", "0.0e-99999",
        "12345678901234567890123", String(repeating: "9", count: 100), "0." + String(repeating: "0", count: 98) + "1",
    ])
    func readableNumbersKeepTheirText(_ number: String) throws {
        #expect(try parse(#"{"n":\#(number)}"#)["n"] == .number(number))
    }

    @Test func theDigitLimitIsTheParsers() {
        let number = String(repeating: "1", count: 30)
        #expect((try? parse(number, with: JSONParser(rejectsAmbiguity: true, maxNumberDigits: 30))) != nil)
        #expect((try? parse(number, with: JSONParser(rejectsAmbiguity: true, maxNumberDigits: 29))) == nil)
        #expect((try? parse("1e999999", with: JSONParser())) == .number("1e999999"), "lenient: any RFC 8259 number")
    }

    // MARK: Fixtures

    @Test func everyFixtureParsesStrictly() throws {
        for (api, name) in Fixtures.all {
            let bytes = Fixtures.bytes(api, name)
            let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { raw in
                do throws(JSONParseError) { return .success(try strict.parse(raw)) } catch { return .failure(error) }
            }
            guard case .success(let value) = result else {
                Issue.record("\(api.rawValue)/\(name): \(result)")
                continue
            }
            #expect(value == (try Fixtures.json(api, name)), "\(name): strict and lenient read the same value")
        }
    }
}

@Suite struct StrictDecodingTests {
    static let business = BusinessIdentity(phoneNumberID: "P", displayPhoneNumber: "1555", wabaID: "W")

    func decodeError(_ body: String, api: WebhookInputFormat, decoder: WebhookDecoder = WebhookDecoder()) -> WebhookDecodeError? {
        do {
            _ = try decoder.decode(Array(body.utf8), api: api, business: Self.business, route: "default")
            return nil
        } catch {
            return error
        }
    }

    static func cloud(messages: [String], object: String? = #""whatsapp_business_account""#) -> String {
        let head = object.map { #"{"object":\#($0),"# } ?? "{"
        return head + #""entry":[{"id":"W","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","#
            + #""metadata":{"display_phone_number":"1555","phone_number_id":"P"},"messages":["#
            + messages.joined(separator: ",") + "]}}]}]}"
    }

    static func message(_ id: Int) -> String {
        #"{"from":"1650","id":"wamid.\#(id)","timestamp":"1700000000","type":"text","text":{"body":"hi"}}"#
    }

    @Test func aRepeatedEventIDIsADuplicateKeyNotTheFirstID() {
        let body = Self.cloud(messages: [#"{"from":"1650","id":"a","id":"b","type":"text","text":{"body":"hi"}}"#])
        guard case .duplicateKey("id", let offset)? = decodeError(body, api: .cloud) else {
            Issue.record("decoded \(body)")
            return
        }
        #expect(Array(body.utf8)[offset] == UInt8(ascii: "\""))
        #expect(decodeError(body, api: .cloud)?.reasonLabel == "duplicate_key")
        #expect(decodeError(#"{"messages":[{"id":"a","from":"1","from":"2","type":"text"}]}"#, api: .onprem)?.reasonLabel == "duplicate_key")
    }

    @Test func anUnreadableNumberIsQuarantinedWithItsText() {
        let error = decodeError(Self.cloud(messages: [#"{"from":"1650","id":"a","timestamp":1e999999,"type":"text"}"#]), api: .cloud)
        guard case .unreadableNumber("1e999999", _)? = error else {
            Issue.record("got \(String(describing: error))")
            return
        }
        #expect(error?.description.contains("1e999999") == true)
        #expect(error?.reasonLabel == "unreadable_number")
    }

    @Test func cloudBodiesMustBeAboutAWhatsAppBusinessAccount() throws {
        #expect(decodeError(Self.cloud(messages: [Self.message(1)], object: #""page""#), api: .cloud) == .wrongObject("page"))
        #expect(decodeError(Self.cloud(messages: [Self.message(1)], object: nil), api: .cloud) == .wrongObject(nil))
        #expect(decodeError(Self.cloud(messages: [Self.message(1)], object: "7"), api: .cloud) == .wrongObject(nil))
        #expect(decodeError(Self.cloud(messages: [Self.message(1)], object: nil), api: .auto) == .wrongObject(nil),
                "an entry array alone still reads as Cloud, and is refused")
        #expect(decodeError(Self.cloud(messages: [Self.message(1)]), api: .cloud) == nil)
        #expect(WebhookDecodeError.wrongObject("page").description.contains("\"page\""))
        #expect(WebhookDecodeError.wrongObject("page").reasonLabel == "wrong_object")
    }

    @Test func theEventLimitQuarantinesAmplificationBodies() throws {
        let decoder = WebhookDecoder(maxEvents: 50)
        let atLimit = Self.cloud(messages: (0..<50).map(Self.message))
        #expect(try decoder.decode(Array(atLimit.utf8), api: .cloud).count == 50)
        let over = Self.cloud(messages: (0..<51).map(Self.message))
        #expect(decodeError(over, api: .cloud, decoder: decoder) == .tooManyEvents(limit: 50))
        #expect(WebhookDecodeError.tooManyEvents(limit: 50).reasonLabel == "too_many_events")

        // One management change per entry: every change is an event of its own.
        let changes = (0..<51).map { #"{"id":"W","time":\#($0),"changes":[{"field":"account_alerts","value":{"n":\#($0)}}]}"# }
        let fields = #"{"object":"whatsapp_business_account","entry":["# + changes.joined(separator: ",") + "]}"
        #expect(decodeError(fields, api: .cloud, decoder: decoder) == .tooManyEvents(limit: 50))

        let onprem = #"{"statuses":["# + (0..<51).map { #"{"id":"s\#($0)","status":"sent","timestamp":"1"}"# }.joined(separator: ",") + "]}"
        #expect(decodeError(onprem, api: .onprem, decoder: decoder) == .tooManyEvents(limit: 50))
        #expect(try WebhookDecoder(maxEvents: 51).decode(Array(onprem.utf8), api: .onprem).count == 51)
    }

    @Test func theDefaultLimitIsFarAboveMetasBatchesAndBelowA3MBBody() throws {
        #expect(WebhookDecoder().maxEvents == 1_000)
        // ~40k tiny messages fit in 3 MB: the body the limit exists for.
        let tiny = (0..<40_000).map { #"{"id":"\#($0)"}"# }
        let body = Self.cloud(messages: tiny)
        #expect(body.utf8.count < 3_000_000)
        #expect(decodeError(body, api: .cloud) == .tooManyEvents(limit: 1_000))
    }

    @Test func everyFixtureStillDecodes() throws {
        for (api, name) in Fixtures.all {
            do {
                let events = try WebhookDecoder().decode(Fixtures.bytes(api, name), api: api == .cloud ? .cloud : .onprem, route: "default")
                #expect(!events.isEmpty, "\(name)")
            } catch {
                Issue.record("\(api.rawValue)/\(name): \(error)")
            }
        }
    }
}

@Suite struct LineSeparatorTests {
    @Test func theWriterEscapesU2028AndU2029() throws {
        let value: JSONValue = ["k\u{2028}": "a\u{2028}b\u{2029}c"]
        #expect(value.jsonString == #"{"k\u2028":"a\u2028b\u2029c"}"#)
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(!value.serialized().contains(0xE2), "no raw separator left")
    }

    @Test func otherThreeByteSequencesStayRaw() {
        // E2 80 xx neighbours (en dash, ellipsis, U+202A), the euro sign, and a separator at the end.
        let text = "\u{2013}\u{2026}\u{202A}\u{20AC}\u{2027}x\u{2029}"
        let written = JSONValue.string(text).jsonString
        #expect(written == "\"\u{2013}\u{2026}\u{202A}\u{20AC}\u{2027}x\\u2029\"")
    }

    @Test func canonicalEventsCarryNoRawSeparator() throws {
        let body = StrictDecodingTests.cloud(messages: [
            #"{"from":"1650","id":"wamid.ls","timestamp":"1700000000","type":"text","text":{"body":"line\u2028one\u2029"}}"#
        ])
        let events = try WebhookDecoder().decode(Array(body.utf8), api: .cloud)
        let line = events[0].serialized()
        #expect(!line.contains(0xE2))
        #expect(String(decoding: line, as: UTF8.self).contains(#"line\u2028one\u2029"#))
        #expect(try CanonicalEvent(bytes: line).data == events[0].data)
    }

    @Test func hashedIDsKeepTheRawFormEarlierVersionsHashed() throws {
        // The id of an error item containing U+2028, as computed before the writer escaped it:
        // sha256("W\nP\n\nerror\n" + {"code":1,"title":"a<U+2028>b"}) (Python's hashlib).
        let body = StrictDecodingTests.cloud(messages: []).replacingOccurrences(
            of: #""messages":[]"#, with: #""errors":[{"title":"a\u2028b","code":1}]"#)
        let events = try WebhookDecoder().decode(Array(body.utf8), api: .cloud)
        #expect(events.map(\.id) == ["error:sha256:" + Self.expectedErrorHash])
    }

    static let expectedErrorHash = "7e88fea2cbd54f035b74b998690e6b0a3d64707efd9dac79df5fbf7b2b3ddc17"
}
