import CutoverWebhooks

/// What became of one notification type.
package struct ProbeResult: Sendable, Equatable {
    package enum Outcome: String, Sendable, Equatable {
        /// Answered 2xx.
        case accepted
        /// Answered otherwise.
        case refused
        /// Sent, and no response came (a timeout, a reset).
        case noAnswer = "no_answer"
        /// Not sent: the format has no place for it, and delivery leaves it out too.
        case skipped
        /// Not sent: delivery would make it a dead letter (the destination's `phoneless` policy).
        case deadLetter = "dead_letter"
        /// Not sent: no request could be built, or the endpoint was unreachable before it.
        case notSent = "not_sent"

        /// Whether it fails the probe: the endpoint did not take a type it will be sent.
        package var fails: Bool { self == .refused || self == .noAnswer || self == .notSent }
    }

    package var name: String
    package var api: WebhookAPI
    package var eventID: String
    package var outcome: Outcome
    package var status: Int?
    package var milliseconds: Double?
    /// A refusal's first body line, why there was no answer, or why it was not sent.
    package var detail: String?

    package init(
        name: String, api: WebhookAPI, eventID: String, outcome: Outcome, status: Int? = nil, milliseconds: Double? = nil,
        detail: String? = nil
    ) {
        self.name = name
        self.api = api
        self.eventID = eventID
        self.outcome = outcome
        self.status = status
        self.milliseconds = milliseconds
        self.detail = detail
    }

    /// The longest refusal line kept: enough for an error message, short enough for a table.
    package static let detailLimit = 160

    /// The first non-empty line of a response body, trimmed and bounded.
    package static func firstLine(of body: [UInt8]) -> String? {
        let text = String(decoding: body, as: UTF8.self)
        guard let line = text.split(whereSeparator: \.isNewline).lazy
            .map({ $0.trimmingPrefix(while: \.isWhitespace) }).first(where: { !$0.isEmpty })
        else { return nil }
        let trimmed = String(line.reversed().drop(while: \.isWhitespace).reversed())
        return trimmed.count > detailLimit ? String(trimmed.prefix(detailLimit - 1)) + "…" : trimmed
    }
}
