import CutoverWebhooks
import Foundation

/// Signs canonical deliveries per the Standard Webhooks spec: `webhook-signature` is `v1,` and the
/// base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` under the secret's key bytes.
enum StandardWebhooksSignature {
    static func sign(id: String, timestamp: String, body: [UInt8], key: [UInt8]) throws -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        let mac = try HMACSHA256(key: key).mac(content)
        return "v1," + Data(mac).base64EncodedString()
    }
}
