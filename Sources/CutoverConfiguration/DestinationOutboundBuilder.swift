import CutoverWebhooks
import HTTPTypes

extension RelaySettings.DestinationSettings {
    /// The one builder of what this destination is sent: its delivery worker sends through it and
    /// the admin API's event view renders through it, so what the cockpit shows is what went out.
    package var outboundBuilder: OutboundRequestBuilder {
        var fields = HTTPFields()
        for header in headers {
            if let name = HTTPField.Name(header.name) { fields[name] = header.value }
        }
        return OutboundRequestBuilder(
            format: format, unsupported: unsupported, phoneless: phoneless,
            appSecret: appSecret.map(HMACSHA256Key.init(secret:)), standardWebhooksKey: signingKey, headers: fields
        )
    }
}
