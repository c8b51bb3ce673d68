import ArgumentParser
import CutoverWebhooks
import Foundation

/// The secrets `--sign` uses on the command line (`replay`, `probe`): the option's value, else the
/// environment's, as delivery names them.
struct SigningSecrets {
    var appSecret: String?
    var signingSecret: String?

    init(appSecret: String?, signingSecret: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.appSecret = appSecret ?? environment["CUTOVER_APP_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
        self.signingSecret = signingSecret ?? environment["CUTOVER_SIGNING_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var signingKey: StandardWebhooksKey? { signingSecret.flatMap(StandardWebhooksKey.init(secret:)) }

    /// That `--sign` can sign `format`: a secret of the right kind is there and well formed.
    func validateSigning(_ format: DeliveryFormat) throws {
        switch format {
        case .onprem: throw ValidationError("--sign: onprem deliveries carry no signature (add headers with --header)")
        case .cloud, .raw:
            if appSecret == nil { throw ValidationError("--sign with --format \(format.rawValue) needs --app-secret or CUTOVER_APP_SECRET") }
        case .canonical:
            guard let signingSecret else {
                throw ValidationError("--sign with --format canonical needs --signing-secret or CUTOVER_SIGNING_SECRET")
            }
            if StandardWebhooksKey(secret: signingSecret) == nil { throw ValidationError("--signing-secret: expected whsec_ followed by base64") }
        }
    }
}
