/// A Standard Webhooks signing key: the bytes behind a `whsec_` secret, keyed once for any thread.
package struct StandardWebhooksKey: Sendable, Equatable, CustomStringConvertible {
    package let bytes: [UInt8]
    private let hmac: HMACSHA256Key

    package init(bytes: [UInt8]) {
        self.bytes = bytes
        hmac = HMACSHA256Key(key: bytes)
    }

    /// `whsec_` followed by base64, or bare base64 (how some providers hand the secret out); nil otherwise.
    package init?(secret: String) {
        let encoded = secret.hasPrefix(Self.prefix) ? secret.dropFirst(Self.prefix.count) : Substring(secret)
        guard let bytes = Base64.decode(encoded) else { return nil }
        self.init(bytes: bytes)
    }

    private static let prefix = "whsec_"

    /// Never prints the key.
    package var description: String { "StandardWebhooksKey(\(bytes.count) bytes)" }

    package static func == (a: StandardWebhooksKey, b: StandardWebhooksKey) -> Bool { a.bytes == b.bytes }

    /// `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`.
    package func sign(id: String, timestamp: String, body: [UInt8]) throws(WebhookCryptoError) -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        return "v1," + Base64.encode(try hmac.mac(content))
    }
}

/// Signs canonical deliveries per the Standard Webhooks spec.
package enum StandardWebhooksSignature {
    /// One signature under `key`; a destination keeps a `StandardWebhooksKey` instead, keyed once.
    package static func sign(id: String, timestamp: String, body: [UInt8], key: [UInt8]) throws(WebhookCryptoError) -> String {
        try StandardWebhooksKey(bytes: key).sign(id: id, timestamp: timestamp, body: body)
    }
}
