/// Who a message or status is about, in the names the Cloud API uses since 2026: the phone number
/// (`wa_id`, which Meta may withhold for a user who adopted a username), the business-scoped user
/// id (BSUID, `CC.<digits>`, regenerated only when the user changes number), its parent BSUID
/// (linked business portfolios) and the username. Cloud contacts carry all four side by side;
/// On-Prem contacts only the phone.
///
/// Under Meta's 30-day rule the same user arrives with and without a phone number, so everything
/// that keys on the user (`CanonicalEvent.subject`, the ordering key, contact matching) takes the
/// BSUID when there is one and falls back to the phone.
package struct UserIdentity: Sendable, Equatable {
    package var phone: String?
    package var userID: String?
    package var parentUserID: String?
    package var username: String?

    package init(phone: String? = nil, userID: String? = nil, parentUserID: String? = nil, username: String? = nil) {
        self.phone = phone
        self.userID = userID
        self.parentUserID = parentUserID
        self.username = username
    }

    /// From a `contacts[]` element (`wa_id`, `user_id`, `parent_user_id`, `profile.username`).
    package init(contact: JSONObject?) {
        self.init(
            phone: contact?["wa_id"]?.scalarText, userID: contact?["user_id"]?.scalarText,
            parentUserID: contact?["parent_user_id"]?.scalarText, username: contact?["profile"]?["username"]?.scalarText
        )
    }

    /// The user of a message: `from` / `from_user_id` / `from_parent_user_id`, completed from its
    /// contact; for a system message without a BSUID of its own, `system.user_id` (on
    /// `user_changed_user_id`, the new BSUID: the notice opens the stream the user continues in).
    package init(message m: JSONObject, contact: JSONObject?) {
        let c = UserIdentity(contact: contact)
        let systemUserID = m["type"]?.stringValue == "system" ? m["system"]?["user_id"]?.scalarText : nil
        self.init(
            phone: m["from"]?.scalarText ?? c.phone, userID: m["from_user_id"]?.scalarText ?? c.userID ?? systemUserID,
            parentUserID: m["from_parent_user_id"]?.scalarText ?? c.parentUserID, username: c.username
        )
    }

    /// The user of a status: `recipient_id` / `recipient_user_id` / `parent_recipient_user_id`,
    /// completed from its contact. A group status's `recipient_id` is the group, which stays the
    /// key (its participant ids are not the recipient).
    package init(status s: JSONObject, contact: JSONObject?) {
        let c = UserIdentity(contact: contact)
        self.init(
            phone: s["recipient_id"]?.scalarText ?? c.phone, userID: s["recipient_user_id"]?.scalarText ?? c.userID,
            parentUserID: s["parent_recipient_user_id"]?.scalarText ?? c.parentUserID, username: c.username
        )
    }

    /// The key one user keeps whether or not the phone is included: the BSUID, else the phone.
    package var key: String? { userID ?? phone }
}

extension CanonicalEvent {
    /// The user this event is about (`nil` for errors and management fields).
    package var user: UserIdentity? {
        switch kind {
        case .message: return message.map { UserIdentity(message: $0, contact: contact) }
        case .status: return status.map { UserIdentity(status: $0, contact: contact) }
        case .error, .field: return nil
        }
    }
}
