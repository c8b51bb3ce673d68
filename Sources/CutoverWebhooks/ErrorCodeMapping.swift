/// Error codes that name the same condition in Meta's On-Premises and Cloud error-code references,
/// used when an error object crosses from one API to the other (docs/mapping.md, "Error codes", is
/// the same table with its sources; `ErrorCodeMappingTests` keeps the two equal).
///
/// Cross rendering puts the target API's code in `code` and keeps the source's code beside it, so an
/// endpoint that branches on its own API's codes sees them, and nothing is lost:
/// - Cloud -> On-Prem: `code` is the On-Prem code, `cloud_code` the Cloud code it came from.
/// - On-Prem -> Cloud: `code` is the Cloud code, `onprem_code` the On-Prem code it came from.
/// An error that already carries the key of the target API came from that API through Cutover: its
/// code is put back and the key removed, so Cloud -> On-Prem -> Cloud (and the reverse) returns the
/// original object. Codes not in the table, and codes that are not integers, cross unchanged with no
/// key added. Rendering to the API an event came from never goes through here.
enum ErrorCodeMapping {
    struct Pair: Sendable, Equatable {
        var onPrem: Int
        var cloud: Int
    }

    /// Only pairs both references describe as the same condition; one row per code on each side,
    /// so the mapping is its own inverse.
    ///
    /// Sources: the On-Prem "Error and Status Messages" page,
    /// https://developers.facebook.com/docs/whatsapp/on-premises/errors (stored copy at
    /// /docs/whatsapp/api/errors, whose text reaches 433; 470-472 are read from its transcription at
    /// support.cequens.com, article 44002294177); the Cloud "Error codes" page,
    /// https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes, as transcribed in
    /// pywa's `pywa/errors.py` and YCloud's "Handle WhatsApp errors" guide.
    static let pairs: [Pair] = [
        // Both "Media download error": media a user sent could not be downloaded (On-Prem page; pywa MediaDownloadError).
        Pair(onPrem: 400, cloud: 131052),
        // Both "Business eligibility — payment issue", same sentence (On-Prem page; pywa BusinessPaymentIssue).
        Pair(onPrem: 402, cloud: 131042),
        // Both "Rate limit hit": the number's send throughput (On-Prem page; pywa RateLimitHit, YCloud).
        Pair(onPrem: 429, cloud: 130429),
        // Both "Re-engagement message": more than 24 hours since the customer last replied (cequens
        // transcription; pywa ReEngagementMessage; Cutover's Cloud fixture status_failed_legacy_code_title
        // carries 131047 with the On-Prem sentence verbatim).
        Pair(onPrem: 470, cloud: 131047),
        // Both "Spam rate limit hit", same sentence (cequens transcription; pywa SpamRateLimitHit).
        Pair(onPrem: 471, cloud: 131048),
        // Both "User's number is part of an experiment", same sentence (cequens transcription; Cloud page
        // as quoted by Braze's WhatsApp docs).
        Pair(onPrem: 472, cloud: 130472),
        // On-Prem "Unknown message type" on `unknown` messages (Meta's inbound webhook example) and Cloud
        // "Unsupported message type" on `unsupported` messages (pywa UnsupportedMessageType).
        Pair(onPrem: 501, cloud: 131051),
        // On-Prem "Receiver Incapable" (failed status in Meta's address-message guide) and Cloud "Message
        // undeliverable", whose listed reasons include a recipient on a WhatsApp version too old for the
        // message (pywa MessageUndeliverable, YCloud).
        Pair(onPrem: 1026, cloud: 131026),
    ]

    /// On an On-Prem error rendered from Cloud: the Cloud code.
    static let carriedCloudCodeKey = "cloud_code"
    /// On a Cloud error rendered from On-Prem: the On-Prem code.
    static let carriedOnPremCodeKey = "onprem_code"

    private static let onPremByCloud: [Int: Int] = Dictionary(uniqueKeysWithValues: pairs.map { ($0.cloud, $0.onPrem) })
    private static let cloudByOnPrem: [Int: Int] = Dictionary(uniqueKeysWithValues: pairs.map { ($0.onPrem, $0.cloud) })

    static func onPremCode(forCloud code: Int) -> Int? { onPremByCloud[code] }
    static func cloudCode(forOnPrem code: Int) -> Int? { cloudByOnPrem[code] }

    /// A Cloud-vocabulary error's code as an On-Prem endpoint should see it.
    static func codeToOnPrem(_ error: JSONObject) -> JSONObject {
        translate(error, restoring: carriedOnPremCodeKey, carrying: carriedCloudCodeKey, forward: onPremByCloud, backward: cloudByOnPrem)
    }

    /// An On-Prem error's code as a Cloud endpoint should see it.
    static func codeToCloud(_ error: JSONObject) -> JSONObject {
        translate(error, restoring: carriedCloudCodeKey, carrying: carriedOnPremCodeKey, forward: cloudByOnPrem, backward: onPremByCloud)
    }

    /// `forward` maps the source API's codes to the target's, `backward` the target's to the source's.
    private static func translate(_ error: JSONObject, restoring restoredKey: String, carrying carriedKey: String,
                                  forward: [Int: Int], backward: [Int: Int]) -> JSONObject {
        guard let code = error["code"], let current = codeText(code).flatMap({ Int($0) }) else { return error }
        // Put back a code Cutover translated on the way in, but only when the pair still agrees, so a
        // hand-edited object never loses its `code`.
        if let original = error[restoredKey], let restored = codeText(original).flatMap({ Int($0) }), backward[restored] == current {
            return error.removing(restoredKey).setting("code", original)
        }
        // A key of that name from elsewhere is not Cutover's to overwrite.
        guard !error.contains(carriedKey), let target = forward[current] else { return error }
        let targetCode: JSONValue = if case .string = code { .string(String(target)) } else { .int(target) }
        var out = JSONObject(minimumCapacity: error.count + 1)
        for m in error {
            if m.key == "code" {
                out.append("code", targetCode)
                out.append(carriedKey, code)
            } else {
                out.append(m.key, m.value)
            }
        }
        return out
    }

    /// Codes arrive as JSON numbers, and as digit strings from some relays.
    private static func codeText(_ code: JSONValue) -> String? {
        switch code {
        case .number(let n): n
        case .string(let s): s
        default: nil
        }
    }
}
