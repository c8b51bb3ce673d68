import CutoverTestSupport
import Testing
@testable import CutoverWebhooks

@Suite struct JSONParserTests {
    @Test func parsesScalarsAndKeepsNumbersRaw() throws {
        let v = try JSONValue.parse(#"{"a":1.0,"b":12345678901234567890123,"c":-0,"d":1e3,"e":2.50E-7,"f":true,"g":false,"h":null}"#)
        #expect(v["a"] == .number("1.0"))
        #expect(v["b"] == .number("12345678901234567890123"))
        #expect(v["c"] == .number("-0"))
        #expect(v["d"] == .number("1e3"))
        #expect(v["e"] == .number("2.50E-7"))
        #expect(v["f"] == .bool(true))
        #expect(v["g"] == .bool(false))
        #expect(v["h"] == .null)
        #expect(v.serialized() == Array(#"{"a":1.0,"b":12345678901234567890123,"c":-0,"d":1e3,"e":2.50E-7,"f":true,"g":false,"h":null}"#.utf8))
    }

    @Test func keepsKeyOrderAndDuplicates() throws {
        let v = try JSONValue.parse(#"{"z":1,"a":2,"z":3}"#)
        #expect(v.objectValue?.keys == ["z", "a", "z"])
        #expect(v["z"] == .number("1"))
    }

    /// Long keys of the webhook vocabulary come back as shared literals; a key of the same length
    /// that differs, an escaped spelling of one and a long value are read as written.
    @Test func longVocabularyKeysReadTheSameAsAnyOther() throws {
        let v = try JSONValue.parse(
            #"{"display_phone_number":"1","display_phone_numbex":"2","messaging_\u0070roduct":"3","v":"display_phone_number","product_retailer_id_":"4"}"#)
        #expect(v.objectValue?.keys == ["display_phone_number", "display_phone_numbex", "messaging_product", "v", "product_retailer_id_"])
        #expect(v["display_phone_number"] == .string("1"))
        #expect(v["display_phone_numbex"] == .string("2"))
        #expect(v["messaging_product"] == .string("3"))
        #expect(v["v"] == .string("display_phone_number"))
        #expect(v["product_retailer_id_"] == .string("4"))
        #expect(v.serialized() == Array(#"{"display_phone_number":"1","display_phone_numbex":"2","messaging_product":"3","v":"display_phone_number","product_retailer_id_":"4"}"#.utf8))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let v = try JSONValue.parse(#"["a\/b","\"\\\b\f\n\r\t","\u00e9\u65E5","\ud83d\ude00","\u0000x","caf\u00e9 d\u00E9j\u00e0"]"#)
        #expect(v == .array([.string("a/b"), .string("\"\\\u{08}\u{0C}\n\r\t"), .string("é日"), .string("😀"), .string("\u{0}x"), .string("café déjà")]))
    }

    @Test func rawUTF8IsAccepted() throws {
        #expect(try JSONValue.parse(Array("\"日本 😀\"".utf8)) == .string("日本 😀"))
    }

    @Test(arguments: [
        ("", JSONParseError.Reason.emptyInput),
        ("   ", .unexpectedEnd),
        ("{", .unexpectedEnd),
        (#"{"a""#, .unexpectedEnd),
        (#"{"a":"#, .unexpectedEnd),
        (#"{"a":1"#, .unexpectedEnd),
        (#"["abc"#, .unexpectedEnd),
        (#""\u12"#, .unexpectedEnd),
        ("tru", .unexpectedEnd),
        ("trux", .invalidLiteral),
        ("01", .trailingData),
        ("1.", .unexpectedEnd),
        ("1.x", .invalidNumber),
        ("-", .unexpectedEnd),
        ("-a", .invalidNumber),
        ("+1", .unexpectedByte(UInt8(ascii: "+"))),
        ("1e", .unexpectedEnd),
        ("[1,]", .unexpectedByte(UInt8(ascii: "]"))),
        (#"{"a":1,}"#, .unexpectedByte(UInt8(ascii: "}"))),
        (#"{a:1}"#, .unexpectedByte(UInt8(ascii: "a"))),
        (#""\x""#, .invalidEscape),
        (#""\u12G4""#, .invalidUnicodeEscape),
        (#""\ud83d""#, .loneSurrogate),
        (#""\ud83dx""#, .loneSurrogate),
        (#""\ud83d\u0041""#, .loneSurrogate),
        (#""\ude00""#, .loneSurrogate),
        ("\"a\u{01}b\"", .controlCharacterInString),
        ("\"tab\there\"", .controlCharacterInString),
        ("[1] [2]", .trailingData),
        ("NaN", .unexpectedByte(UInt8(ascii: "N"))),
    ])
    func rejectsMalformedInput(input: String, reason: JSONParseError.Reason) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(input) }
        do {
            _ = try JSONValue.parse(input)
        } catch {
            #expect(error.reason == reason, "\(input)")
            #expect(error.offset >= 0 && error.offset <= input.utf8.count)
        }
    }

    @Test func rejectsInvalidUTF8() {
        for bad: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0x5C, 0x6E, 0xC0, 0xAF, 0x22]] {
            do {
                _ = try JSONValue.parse(bad)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.reason == .invalidUTF8)
            }
        }
    }

    @Test func nestingDepthIsLimited() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try JSONValue.parse(ok) }
        let deep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        do {
            _ = try JSONValue.parse(deep)
            Issue.record("accepted 513 levels")
        } catch {
            #expect(error.reason == .tooDeep(limit: 512))
        }
        let veryDeep = String(repeating: #"{"a":"#, count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(veryDeep) }
    }

    @Test func neverTrapsOnRandomBytes() {
        var rng = SplitMix64(seed: 42)
        let alphabet = Array(#"{}[]",:\/"0123456789-+.eEtrufalsn u \"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xF0, 0xFF]
        for round in 0..<20_000 {
            let length = Int(rng.next() % 64)
            var bytes: [UInt8] = []
            for _ in 0..<length {
                bytes.append(round % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[Int(rng.next() % UInt64(alphabet.count))])
            }
            if let v = try? JSONValue.parse(bytes) {
                // Whatever parses must re-parse to the same value.
                #expect((try? JSONValue.parse(v.serialized())) == v)
            }
        }
    }

    @Test func everyPrefixOfEveryFixtureFailsCleanly() throws {
        var checked = 0
        for (api, name) in Fixtures.all {
            let bytes = Fixtures.bytes(api, name)
            #expect(throws: Never.self, "\(name)") { try JSONValue.parse(bytes) }
            // Files may end in whitespace; a prefix that only drops trailing whitespace is still complete.
            var end = bytes.count
            while end > 0, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[end - 1]) { end -= 1 }
            for n in 0..<end {
                let prefix = Array(bytes[0..<n])
                // A strict prefix of an object is never a complete JSON text (whitespace-only tails aside).
                if (try? JSONValue.parse(prefix)) != nil { Issue.record("\(name) prefix \(n) parsed") }
                checked += 1
            }
        }
        #expect(checked > 50_000)
    }

    @Test func mutatedFixturesNeverTrapTheDecoderOrRenderers() {
        var rng = SplitMix64(seed: 7)
        let decoder = WebhookDecoder()
        for (api, name) in Fixtures.all {
            let original = Fixtures.bytes(api, name)
            for _ in 0..<25 {
                var bytes = original
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: bytes.remove(at: i)
                    default: bytes.insert(Array(#"{}[]",:0"#.utf8)[Int(rng.next() % 8)], at: i)
                    }
                }
                guard let events = try? decoder.decode(bytes) else { continue }
                for format in WebhookOutputFormat.allCases {
                    for policy in UnsupportedPolicy.allCases {
                        _ = WebhookRenderer.render(events: events, as: format, unsupported: policy)
                    }
                }
            }
        }
    }
}

@Suite struct JSONWriterTests {
    @Test func escapesOnlyWhatItMust() {
        let v: JSONValue = ["k\"ey": "a/b \"q\" \\ \n\r\t\u{08}\u{0C}\u{01}\u{1F} é 😀"]
        #expect(v.jsonString == #"{"k\"ey":"a/b \"q\" \\ \n\r\t\b\f\u0001\u001f é 😀"}"#)
    }

    /// The escaper reads eight bytes at a time: every position of every escaped byte inside and
    /// across those words, and long runs of plain text around them, against a byte-by-byte reference.
    @Test func escapesAtEveryPositionOfAWord() {
        let specials: [String] = ["\"", "\\", "\n", "\u{01}", "\u{1F}", "\u{2028}", "\u{2029}", "\u{2026}", "é", "😀"]
        for special in specials {
            for prefix in 0..<18 {
                for suffix in [0, 1, 7, 8, 9, 23] {
                    let text = String(repeating: "a", count: prefix) + special + String(repeating: "z", count: suffix)
                    #expect(JSONValue.string(text).serialized() == Self.referenceEscaped(text), "\(prefix) + \(special) + \(suffix)")
                }
            }
        }
        let mixed = (0..<300).map { i in i % 37 == 0 ? "\u{2028}" : i % 11 == 0 ? "\"" : i % 5 == 0 ? "\t" : "x" }.joined()
        #expect(JSONValue.string(mixed).serialized() == Self.referenceEscaped(mixed))
        #expect(JSONValue.string("a\u{2028}b").serialized(escapesLineSeparators: false) == Array("\"a\u{2028}b\"".utf8))
    }

    @Test func growsPastItsFirstBuffer() throws {
        let long = String(repeating: "0123456789", count: 1_000)
        let value: JSONValue = ["a": .string(long), "b": .array(Array(repeating: .string(long), count: 3))]
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(value.serialized().count == 4 * (long.utf8.count + 2) + #"{"a":,"b":[,,]}"#.utf8.count)
    }

    /// JSON string escaping one byte at a time, as the writer's rules say.
    private static func referenceEscaped(_ text: String) -> [UInt8] {
        var out: [UInt8] = [0x22]
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0xE2, i + 2 < bytes.count, bytes[i + 1] == 0x80, bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9 {
                out += Array((bytes[i + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                i += 3
                continue
            }
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0x08: out += [0x5C, 0x62]
            case 0x0C: out += [0x5C, 0x66]
            case ..<0x20: out += Array("\\u00".utf8) + [Array("0123456789abcdef".utf8)[Int(b >> 4)], Array("0123456789abcdef".utf8)[Int(b & 0xF)]]
            default: out.append(b)
            }
            i += 1
        }
        out.append(0x22)
        return out
    }

    @Test func roundTripsEveryFixture() throws {
        for (api, name) in Fixtures.all {
            let v = try Fixtures.json(api, name)
            let again = try JSONValue.parse(v.serialized())
            #expect(again == v, "\(name)")
        }
    }

    @Test func sortedKeysIsStable() throws {
        let a = try JSONValue.parse(#"{"b":1,"a":{"d":2,"c":3}}"#)
        let b = try JSONValue.parse(#"{"a":{"c":3,"d":2},"b":1}"#)
        #expect(a.serialized(sortedKeys: true) == b.serialized(sortedKeys: true))
        #expect(a != b)
        #expect(a.semanticallyEquals(b))
    }

    @Test func semanticEqualityRules() throws {
        #expect(try JSONValue.parse(#""a\/b""#).semanticallyEquals(.string("a/b")))
        #expect(JSONValue.number("1.0").semanticallyEquals(.number("1")))
        #expect(JSONValue.number("1e2").semanticallyEquals(.number("100")))
        #expect(JSONValue.number("-0").semanticallyEquals(.number("0")))
        #expect(!JSONValue.number("12345678901234567890").semanticallyEquals(.number("12345678901234567891")))
        #expect(!JSONValue.number("1").semanticallyEquals(.string("1")))
        #expect(!JSONValue.array([1, 2]).semanticallyEquals([2, 1]))
        #expect(!(try JSONValue.parse(#"{"a":1,"a":2}"#)).semanticallyEquals(try JSONValue.parse(#"{"a":1,"b":2}"#)))
    }

    @Test func objectHelpers() {
        let o: JSONObject = ["a": 1, "b": 2, "c": 3]
        #expect(o.removing("b").keys == ["a", "c"])
        #expect(o.setting("b", "x").keys == ["a", "b", "c"])
        #expect(o.setting("d", 4).keys == ["a", "b", "c", "d"])
        #expect(o.setting("a", nil).keys == ["b", "c"])
        #expect(o.renaming("b", to: "z", value: true).keys == ["a", "z", "c"])
    }

    @Test func rfc3339() {
        #expect(RFC3339.format(unixSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(unixSeconds: 951_782_400) == "2000-02-29T00:00:00Z")
        #expect(RFC3339.format(unixSeconds: 1_749_416_383) == "2025-06-08T20:59:43Z")
        #expect(RFC3339.format(unixSeconds: -1) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.format(unixSeconds: Int64.max) == nil)
        #expect(RFC3339.format(unixSeconds: -62_135_596_800) == "0001-01-01T00:00:00Z")
        #expect(RFC3339.format(unixSeconds: 253_402_300_799) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.format(unixSeconds: -62_135_596_801) == nil)
        #expect(RFC3339.format(unixSeconds: 253_402_300_800) == nil)
    }

    @Test func rfc3339WithMilliseconds() {
        #expect(RFC3339.format(1_749_416_383.25) == "2025-06-08T20:59:43.250Z")
        #expect(RFC3339.format(0.0) == "1970-01-01T00:00:00.000Z")
        // Rounding that reaches a whole second carries into it, across a day and a year.
        #expect(RFC3339.format(1_735_689_599.9996) == "2025-01-01T00:00:00.000Z")
        #expect(RFC3339.format(-0.5) == "1969-12-31T23:59:59.500Z")
        // A damaged stored time: a string, not a trap.
        #expect(RFC3339.format(1e300) == "invalid-time")
        #expect(RFC3339.format(-.infinity) == "invalid-time")
        #expect(RFC3339.format(.nan) == "invalid-time")
        // Every formatted instant parses back to itself, whole seconds and milliseconds alike.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let seconds = Int64.random(in: -62_135_596_800...253_402_300_799, using: &generator)
            let millis = Int64.random(in: 0...999, using: &generator)
            let whole = RFC3339.format(unixSeconds: seconds)
            #expect(whole.flatMap(RFC3339.parse) == Double(seconds), "\(seconds) -> \(whole ?? "nil")")
            let text = RFC3339.format(Double(seconds) + Double(millis) / 1000)
            let parsed = RFC3339.parse(text) ?? .nan
            #expect(abs(parsed - (Double(seconds) + Double(millis) / 1000)) < 0.0006, "\(seconds).\(millis) -> \(text)")
        }
    }
}
