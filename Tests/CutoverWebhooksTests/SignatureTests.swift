import CutoverLocking
import Dispatch
import Testing
@testable import CutoverWebhooks

@Suite struct SignatureTests {
    @Test func rfc4231TestCase2() throws {
        let sig = try WebhookSignature.sign(body: Array("what do ya want for nothing?".utf8), secret: "Jefe")
        #expect(sig == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func reusedContextGivesTheSameMAC() throws {
        let hmac = try HMACSHA256(key: Array("Jefe".utf8))
        let body = Array("what do ya want for nothing?".utf8)
        for _ in 0..<3 {
            #expect(try WebhookSignature.sign(body: body, using: hmac) == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        }
        #expect(try hmac.mac([]).count == 32)
    }

    @Test func verifierChecksExactBytesAndSeveralSecrets() throws {
        let body = Fixtures.bytes(.cloud, "cutover_unicode_escapes_minified.json")
        let header = try WebhookSignature.sign(body: body, secret: "new-secret")
        let verifier = WebhookSignatureVerifier(secrets: ["old-secret", "new-secret"])
        #expect(verifier.verify(header: header, body: body))
        #expect(verifier.verify(header: "sha256=" + header.dropFirst(7).uppercased(), body: body))
        #expect(verifier.verify(header: "SHA256=" + header.dropFirst(7), body: body))
        #expect(verifier.verify(header: " \t" + header + "\t ", body: body), "surrounding whitespace is tolerated")
        #expect(verifier.verifiedMAC(header: header, body: body) == Array(try HMACSHA256(key: Array("new-secret".utf8)).mac(body)))
        #expect(verifier.verifiedMAC(header: header, body: tampered(body)) == nil)
        #expect(!WebhookSignatureVerifier(secrets: ["old-secret"]).verify(header: header, body: body))
        #expect(!WebhookSignatureVerifier(secrets: []).verify(header: header, body: body))
        #expect(!"\(verifier)".contains("secret") || "\(verifier)" == "WebhookSignatureVerifier(2 secrets)")
        #expect(!String(reflecting: verifier).contains("new-secret"))
        var tampered = body
        tampered[10] ^= 1
        #expect(!verifier.verify(header: header, body: tampered))
        // Re-serializing changes the bytes (Meta's \/ escapes), so the signature no longer matches.
        let reserialized = try JSONValue.parse(body).serialized()
        #expect(!verifier.verify(header: header, body: reserialized))
        let bad: [String?] = [
            nil, "", "sha256=", "sha1=" + String(header.dropFirst(7)), header + "0", String(header.dropLast()) + "g",
            "sha256 =" + header.dropFirst(7), header + ", " + header, "x" + header.dropFirst(),
        ]
        for bad in bad {
            #expect(!verifier.verify(header: bad, body: body))
        }
        #expect(verifier.verify(header: try WebhookSignature.sign(body: [], secret: "old-secret"), body: []))
    }

    @Test func hexWritesEveryByteAsTwoLowercaseDigitsAfterThePrefix() {
        let bytes = (0...255).map { UInt8($0) }
        let expected = bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
        #expect(WebhookSignature.hex(bytes) == expected)
        #expect(WebhookSignature.hex(bytes, prefix: "sha256=") == "sha256=" + expected)
        #expect(WebhookSignature.hex([]) == "")
        #expect(WebhookSignature.hex([], prefix: "sha256=") == "sha256=")
    }

    @Test func everyDigitOfTheHeaderIsCheckedAndDecoded() throws {
        let mac = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let digits = WebhookSignature.hex(mac)
        #expect(WebhookSignature.parseHeader("sha256=" + digits) == mac)
        #expect(WebhookSignature.parseHeader("sha256=" + digits.uppercased()) == mac)
        let notHex: [Character] = ["g", "G", "/", ":", "@", "`", "z", " ", "+", "\u{7F}"]
        for position in 0..<64 {
            for bad in notHex {
                var chars = Array(digits)
                chars[position] = bad
                #expect(WebhookSignature.parseHeader("sha256=" + String(chars)) == nil, "digit \(position) as \(bad)")
            }
        }
    }

    private func tampered(_ body: [UInt8]) -> [UInt8] {
        var copy = body
        copy[0] ^= 1
        return copy
    }

    @Test func aSharedKeyGivesTheSameMACFromManyThreads() throws {
        let key = HMACSHA256Key(secret: "Jefe")
        let body = Array("what do ya want for nothing?".utf8)
        let expected = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        let mismatches = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for round in 0..<200 {
                // Two lengths interleaved, so a context shared by two threads at once would show.
                let message = round % 2 == 0 ? body : body + [UInt8(thread)]
                let signature = try? WebhookSignature.sign(body: message, key: key)
                let want = round % 2 == 0 ? expected : try? WebhookSignature.sign(body: message, secret: "Jefe")
                if signature == nil || signature != want { mismatches.withLock { $0 += 1 } }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
        #expect(try WebhookSignature.sign(body: body, key: key) == expected)
    }

    @Test func eventIDDigestsFailLoudlyInsteadOfFallingBack() throws {
        #expect(try SHA256Digest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // No digest algorithm: OpenSSL fails, and the caller hears of it (there is no other id to fall back to).
        #expect(throws: WebhookCryptoError.self) { try SHA256Digest.hex(Array("abc".utf8), algorithm: nil) }
        let error = WebhookDecodeError.digestFailed(WebhookCryptoError(operation: "SHA-256", openSSLMessage: "no digest set"))
        #expect("\(error)" == "cannot compute an event id: SHA-256 failed: no digest set")
    }

    @Test func httpDatesAreIMFFixdatesOnly() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("Tue, 14 Nov 2023 22:13:20 GMT") == 1_700_000_000)
        #expect(HTTPDate.parse("Thu, 29 Feb 2024 00:00:00 GMT") == 1_709_164_800)
        for text in [
            "", "soon", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT ", "Sun, 06 Nov 1994 08:4x:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
        ] {
            #expect(HTTPDate.parse(text) == nil, "\(text)")
        }
    }
}
