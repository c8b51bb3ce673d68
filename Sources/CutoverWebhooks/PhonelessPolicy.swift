/// What an On-Prem destination gets for a message or status from a user Meta identifies only by a
/// business-scoped user id (a username user whose phone number is withheld). On-Prem identifies
/// users by phone (`wa_id`, `from`, `recipient_id`), so such an item has no faithful rendering.
/// Config `phoneless:` and `--phoneless` spell the raw values.
package enum PhonelessPolicy: String, Sendable, Equatable, CaseIterable {
    /// The default: the delivery becomes a dead letter at once with `PhonelessPolicy.reason`:
    /// listed, counted and retryable after the policy changes; never a silent drop.
    case deadLetter = "dead_letter"
    /// The BSUID (`CC.…`, which no MSISDN looks like) stands in for the phone in `from`,
    /// `contacts[].wa_id` and `recipient_id`; the other user-id fields ride along as extra keys.
    /// For endpoints that reply through the Cloud API, which accepts a BSUID as recipient.
    case userID = "user_id"

    package static let defaultPolicy: PhonelessPolicy = .deadLetter

    /// The dead-letter reason under `.deadLetter`.
    package static let reason = "no phone number (business-scoped user id only)"
}
