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
        for bad in [nil, "", "sha256=", "sha1=" + String(header.dropFirst(7)), header + "0", String(header.dropLast()) + "g"] {
            #expect(!verifier.verify(header: bad, body: body))
        }
        #expect(verifier.verify(header: try WebhookSignature.sign(body: [], secret: "old-secret"), body: []))
    }
}
