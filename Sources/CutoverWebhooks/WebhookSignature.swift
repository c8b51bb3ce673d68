import COpenSSL

/// An OpenSSL failure, with the text of OpenSSL's oldest queued error.
package struct WebhookCryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    package var operation: String
    package var openSSLMessage: String

    package var description: String { "\(operation) failed: \(openSSLMessage.isEmpty ? "unknown OpenSSL error" : openSSLMessage)" }

    static func current(_ operation: String) -> WebhookCryptoError {
        var buffer = [CChar](repeating: 0, count: 256)
        cutover_openssl_error_text(&buffer, buffer.count)
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        ERR_clear_error()
        return WebhookCryptoError(operation: operation, openSSLMessage: String(decoding: bytes, as: UTF8.self))
    }
}

/// A keyed HMAC-SHA256 context (OpenSSL EVP_MAC), reusable for many messages.
/// Not thread-safe: keep one per thread or per task; it is deliberately not `Sendable`.
package final class HMACSHA256 {
    private let context: OpaquePointer

    package init(key: some Collection<UInt8>) throws(WebhookCryptoError) {
        let keyBytes = Array(key)
        let ctx = keyBytes.withUnsafeBufferPointer { cutover_hmac_sha256_new($0.baseAddress, $0.count) }
        guard let ctx else { throw WebhookCryptoError.current("HMAC-SHA256 key setup") }
        context = ctx
    }

    deinit { EVP_MAC_CTX_free(context) }

    /// The 32-byte MAC of `data`.
    package func mac(_ data: UnsafeRawBufferPointer) throws(WebhookCryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = out.withUnsafeMutableBufferPointer { o in
            cutover_hmac_sha256_compute(context, data.baseAddress, data.count, o.baseAddress)
        }
        guard ok == 1 else { throw WebhookCryptoError.current("HMAC-SHA256") }
        return out
    }

    package func mac(_ data: [UInt8]) throws(WebhookCryptoError) -> [UInt8] {
        let result: Result<[UInt8], WebhookCryptoError> = data.withUnsafeBytes { raw in
            do throws(WebhookCryptoError) { return .success(try mac(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

/// `X-Hub-Signature-256` signing and verification (HMAC-SHA256 over the exact body bytes).
package enum WebhookSignature {
    package static let headerName = "X-Hub-Signature-256"

    /// `sha256=<lowercase hex>` of the body keyed with `secret`.
    package static func sign(body: [UInt8], secret: String) throws(WebhookCryptoError) -> String {
        let hmac = try HMACSHA256(key: Array(secret.utf8))
        return "sha256=" + hex(try hmac.mac(body))
    }

    /// Same as `sign(body:secret:)` with an already keyed context (the outbound hot path).
    package static func sign(body: [UInt8], using hmac: HMACSHA256) throws(WebhookCryptoError) -> String {
        "sha256=" + hex(try hmac.mac(body))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `sha256=<64 hex digits>` (hex in either case) into 32 bytes.
    static func parseHeader(_ header: String) -> [UInt8]? {
        var utf8 = Array(header.utf8)
        // Tolerate surrounding whitespace only.
        while let last = utf8.last, last == 0x20 || last == 0x09 { utf8.removeLast() }
        var start = 0
        while start < utf8.count, utf8[start] == 0x20 || utf8[start] == 0x09 { start += 1 }
        let prefix = Array("sha256=".utf8)
        guard utf8.count - start == prefix.count + 64 else { return nil }
        for i in 0..<prefix.count {
            var c = utf8[start + i]
            if c >= 0x41 && c <= 0x5A { c |= 0x20 }
            guard c == prefix[i] else { return nil }
        }
        var out = [UInt8](repeating: 0, count: 32)
        var i = start + prefix.count
        for j in 0..<32 {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out[j] = hi << 4 | lo
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}

/// Checks `X-Hub-Signature-256` against several app secrets (rotation, several apps).
/// Holds only key bytes, so it is `Sendable`; each check creates a keyed context per secret (≈ 2 µs).
package struct WebhookSignatureVerifier: Sendable, CustomStringConvertible, CustomReflectable {
    private let secrets: [[UInt8]]

    package var secretCount: Int { secrets.count }
    /// Never prints the secrets.
    package var description: String { "WebhookSignatureVerifier(\(secrets.count) secrets)" }
    package var customMirror: Mirror { Mirror(self, children: ["secretCount": secrets.count]) }

    package init(secrets: [String]) { self.secrets = secrets.map { Array($0.utf8) } }
    package init(secretBytes: [[UInt8]]) { self.secrets = secretBytes }

    /// True when `header` is `sha256=<hex>` and matches the HMAC of `body` under any secret
    /// (constant-time compare). A missing or malformed header, no secrets, or an OpenSSL failure is false.
    package func verify(header: String?, body: UnsafeRawBufferPointer) -> Bool {
        guard let header, let expected = WebhookSignature.parseHeader(header) else { return false }
        var matched = false
        for secret in secrets {
            guard let hmac = try? HMACSHA256(key: secret), let mac = try? hmac.mac(body) else { continue }
            if ConstantTime.equals(mac, expected) { matched = true }
        }
        return matched
    }

    package func verify(header: String?, body: [UInt8]) -> Bool {
        body.withUnsafeBytes { verify(header: header, body: $0) }
    }
}

/// SHA-256 through OpenSSL's EVP_Digest (used for the ids of notifications without an id of their own).
enum SHA256Digest {
    /// Throws rather than falls back: these ids are dedup keys, and an id computed any other way
    /// would let a redelivered notification through as new.
    static func hex(_ data: [UInt8]) throws(WebhookCryptoError) -> String {
        try hex(data, algorithm: EVP_sha256())
    }

    /// `algorithm` is a parameter so a test can make OpenSSL fail.
    static func hex(_ data: [UInt8], algorithm: OpaquePointer?) throws(WebhookCryptoError) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { d in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(d.baseAddress, d.count, o.baseAddress, &length, algorithm, nil)
            }
        }
        guard ok == 1, length == 32 else { throw WebhookCryptoError.current("SHA-256") }
        return WebhookSignature.hex(out)
    }
}
