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

/// Makes a Cloud message or status addressable for On-Prem, which knows users by phone only: the
/// first step of rendering one for an On-Prem destination, before any cross mapping.
enum PhonelessRendering {
    enum Outcome: Equatable {
        /// The item names a phone (its own, or its contact's `wa_id` copied in).
        case phone(item: JSONObject, contact: JSONObject?)
        /// `.userID`: the BSUID stands in for the phone (`from`/`recipient_id`, the contact's `wa_id`).
        case userIDStandsIn(item: JSONObject, contact: JSONObject?)
        /// `.deadLetter`: the delivery must become a dead letter.
        case deadLetter
        /// Neither a phone nor a BSUID: not a phone-less user but an item that names no one (a
        /// sample with its optional fields left out, a legacy payment status). Left out and counted,
        /// as before BSUIDs existed; no policy makes a body of it.
        case noUser(reason: String)
    }

    /// A message: `from`, else the contact's `wa_id`, else (under `.userID`) the BSUID.
    static func message(_ m: JSONObject, contact: JSONObject?, policy: PhonelessPolicy) -> Outcome {
        if m["from"] != nil { return .phone(item: m, contact: contact) }
        return address(m, key: "from", user: UserIdentity(message: m, contact: contact), contact: contact, policy: policy)
    }

    /// A status: `recipient_id`, else the contact's `wa_id`, else (under `.userID`) the BSUID.
    static func status(_ s: JSONObject, contact: JSONObject?, policy: PhonelessPolicy) -> Outcome {
        if s["recipient_id"] != nil { return .phone(item: s, contact: contact) }
        return address(s, key: "recipient_id", user: UserIdentity(status: s, contact: contact), contact: contact, policy: policy)
    }

    private static func address(
        _ item: JSONObject, key: String, user: UserIdentity, contact: JSONObject?, policy: PhonelessPolicy
    ) -> Outcome {
        if let phone = user.phone { return .phone(item: item.setting(key, .string(phone)), contact: contact) }
        guard let userID = user.userID else { return .noUser(reason: "no \(key) and no user id: the item names no user") }
        guard policy == .userID else { return .deadLetter }
        var standIn = contact
        if standIn != nil, standIn?["wa_id"] == nil { standIn?.append("wa_id", .string(userID)) }
        return .userIDStandsIn(item: item.setting(key, .string(userID)), contact: standIn)
    }
}
