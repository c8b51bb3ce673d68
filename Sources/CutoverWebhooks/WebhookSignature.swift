import COpenSSL
import CutoverLocking

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

/// A keyed HMAC-SHA256 context (OpenSSL EVP_MAC), reset and reused for each message.
/// Not thread-safe, so deliberately not `Sendable`: to share a secret across threads use `HMACSHA256Key`.
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

/// One secret's HMAC-SHA256 for any number of threads. Keying a context costs several microseconds
/// (an EVP_MAC fetch and the key pads), resetting a keyed one a fraction of that, and a context is
/// not thread-safe: so keyed contexts are pooled, each lent to one caller at a time, and a new one
/// is keyed only when every pooled one is lent out.
package final class HMACSHA256Key: Sendable {
    /// Lent out of the pool to one thread at a time, which is what makes it safe to send.
    private final class Lent: @unchecked Sendable {
        let hmac: HMACSHA256
        init(_ hmac: HMACSHA256) { self.hmac = hmac }
    }

    private let key: [UInt8]
    private let pool = Locked<[Lent]>([])
    /// More callers at once than this (cores, in practice) key a context each and drop it after.
    private static let maxPooled = 16

    /// Keys nothing yet: OpenSSL's errors surface on the first MAC, where the caller handles them.
    package init(key: some Collection<UInt8>) { self.key = Array(key) }

    package convenience init(secret: String) { self.init(key: secret.utf8) }

    /// The 32-byte MAC of `data`.
    package func mac(_ data: UnsafeRawBufferPointer) throws(WebhookCryptoError) -> [UInt8] {
        let context: Lent
        if let pooled = pool.withLock({ $0.popLast() }) { context = pooled } else { context = Lent(try HMACSHA256(key: key)) }
        // A context whose MAC failed is dropped, not pooled: OpenSSL may have left it half-finished.
        let mac = try context.hmac.mac(data)
        pool.withLock { pooled in
            if pooled.count < Self.maxPooled { pooled.append(context) }
        }
        return mac
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

    /// `sha256=<lowercase hex>` of the body keyed with `secret`; keys a context for this one call.
    package static func sign(body: [UInt8], secret: String) throws(WebhookCryptoError) -> String {
        let hmac = try HMACSHA256(key: Array(secret.utf8))
        return hex(try hmac.mac(body), prefix: "sha256=")
    }

    /// Same as `sign(body:secret:)` with a context the caller keeps keyed across messages on one thread.
    package static func sign(body: [UInt8], using hmac: HMACSHA256) throws(WebhookCryptoError) -> String {
        hex(try hmac.mac(body), prefix: "sha256=")
    }

    /// Same as `sign(body:secret:)` with a key shared by every thread that signs for one destination.
    package static func sign(body: [UInt8], key: HMACSHA256Key) throws(WebhookCryptoError) -> String {
        hex(try key.mac(body), prefix: "sha256=")
    }

    /// Lowercase hex of `bytes` after `prefix`, written straight into the string's storage (a
    /// signature header per delivery: building it from a digit table, a byte array and a
    /// concatenation took four allocations).
    package static func hex(_ bytes: [UInt8], prefix: StaticString = "") -> String {
        let prefixCount = prefix.utf8CodeUnitCount
        return String(unsafeUninitializedCapacity: prefixCount + bytes.count * 2) { buffer in
            for index in 0..<prefixCount { buffer[index] = prefix.utf8Start[index] }
            var index = prefixCount
            for byte in bytes {
                buffer[index] = JSONWriter.hexDigit(byte >> 4)
                buffer[index + 1] = JSONWriter.hexDigit(byte & 0x0F)
                index += 2
            }
            return index
        }
    }

    /// Decodes `sha256=<64 hex digits>` (hex in either case) into 32 bytes.
    static func parseHeader(_ header: String) -> [UInt8]? {
        // A header value from the HTTP codec is a native string; only another kind is copied first.
        header.utf8.withContiguousStorageIfAvailable(parseHeader(utf8:)) ?? parseHeader(utf8: Array(header.utf8))
    }

    private static func parseHeader<Bytes: RandomAccessCollection<UInt8>>(utf8: Bytes) -> [UInt8]? where Bytes.Index == Int {
        // Tolerate surrounding whitespace only.
        var start = utf8.startIndex
        var end = utf8.endIndex
        while end > start, utf8[end - 1] == 0x20 || utf8[end - 1] == 0x09 { end -= 1 }
        while start < end, utf8[start] == 0x20 || utf8[start] == 0x09 { start += 1 }
        let prefix: StaticString = "sha256="
        let prefixLength = prefix.utf8CodeUnitCount
        guard end - start == prefixLength + 64 else { return nil }
        for i in 0..<prefixLength {
            var c = utf8[start + i]
            if c >= 0x41 && c <= 0x5A { c |= 0x20 }
            guard c == prefix.utf8Start[i] else { return nil }
        }
        let digits = start + prefixLength
        // Every digit's value or'ed together: any 0xFF (not a hex digit) shows in the high bit.
        var invalid: UInt8 = 0
        let mac = [UInt8](unsafeUninitializedCapacity: 32) { out, initialized in
            for j in 0..<32 {
                let high = nibbleValues[Int(utf8[digits + 2 * j])]
                let low = nibbleValues[Int(utf8[digits + 2 * j + 1])]
                invalid |= high | low
                out[j] = high << 4 | (low & 0x0F)
            }
            initialized = 32
        }
        return invalid & 0x80 == 0 ? mac : nil
    }

    /// The value of each hex digit (either case) by its byte; 0xFF for every other byte.
    private static let nibbleValues: [UInt8] = (0...255).map { byte in
        switch UInt8(byte) {
        case 0x30...0x39: UInt8(byte) - 0x30
        case 0x61...0x66: UInt8(byte) - 0x61 + 10
        case 0x41...0x46: UInt8(byte) - 0x41 + 10
        default: 0xFF
        }
    }
}

/// Checks `X-Hub-Signature-256` against several app secrets (rotation, several apps).
/// Each secret is keyed once, when the verifier is made (at start and on reload), not per request.
package struct WebhookSignatureVerifier: Sendable, CustomStringConvertible, CustomReflectable {
    private let keys: [HMACSHA256Key]

    package var secretCount: Int { keys.count }
    /// Never prints the secrets.
    package var description: String { "WebhookSignatureVerifier(\(keys.count) secrets)" }
    package var customMirror: Mirror { Mirror(self, children: ["secretCount": keys.count]) }

    package init(secrets: [String]) { keys = secrets.map(HMACSHA256Key.init(secret:)) }
    package init(secretBytes: [[UInt8]]) { keys = secretBytes.map { HMACSHA256Key(key: $0) } }

    /// True when `header` is `sha256=<hex>` and matches the HMAC of `body` under any secret
    /// (constant-time compare). A missing or malformed header, no secrets, or an OpenSSL failure is false.
    package func verify(header: String?, body: UnsafeRawBufferPointer) -> Bool {
        verifiedMAC(header: header, body: body) != nil
    }

    package func verify(header: String?, body: [UInt8]) -> Bool {
        body.withUnsafeBytes { verify(header: header, body: $0) }
    }

    /// `verify`, giving the 32 bytes the header named when they match: an identity of exactly
    /// this body (nobody without a secret can make another body with the same HMAC).
    package func verifiedMAC(header: String?, body: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let header, let expected = WebhookSignature.parseHeader(header) else { return nil }
        var matched = false
        // Every secret is tried, so the time taken does not tell which one matched.
        for key in keys {
            guard let mac = try? key.mac(body) else { continue }
            if ConstantTime.equals(mac, expected) { matched = true }
        }
        return matched ? expected : nil
    }

    package func verifiedMAC(header: String?, body: [UInt8]) -> [UInt8]? {
        body.withUnsafeBytes { verifiedMAC(header: header, body: $0) }
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
