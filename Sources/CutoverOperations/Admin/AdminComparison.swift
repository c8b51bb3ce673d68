import CutoverConfiguration
import CutoverSpool
import CutoverWebhooks
import Foundation
import HTTPTypes

/// `GET /admin/comparison?primary=P&shadow=S&after=SEQ&limit=N`: for the events sent to both a
/// primary and a shadow destination, how many each accepted, and the events where they disagree
/// (one side's final outcome 2xx, the other's not), with both responses. Read from the spool, so
/// it survives restarts.
///
/// Without `primary` and `shadow` every configured pair is answered (each primary with each
/// shadow); with one of them, the configured pairs it names; with both, that pair even when the
/// configuration no longer has it (its data stays in the spool). Disagreements come in event
/// order across the pairs; `next_after` is the event seq to pass as `after` for the next page.
package struct AdminComparison {
    let spool: any SpoolBackend
    /// Every (primary, shadow) of the configuration in force.
    let configured: [ComparisonPair]

    /// Each primary with each shadow: the pairs compared.
    package static func pairs(of destinations: [RelaySettings.DestinationSettings]) -> [ComparisonPair] {
        let primaries = destinations.filter { $0.role == .primary }.map(\.name)
        let shadows = destinations.filter { $0.role == .shadow }.map(\.name)
        return primaries.flatMap { primary in shadows.map { ComparisonPair(primary: primary, shadow: $0) } }
    }

    func answer(_ parameters: Parameters) throws -> [String: Any] {
        let limit = try parameters.integer("limit") ?? 100
        guard (1...1000).contains(limit) else { throw AdminError(.badRequest, "limit: 1 to 1000") }
        let after = Int64(try parameters.integer("after") ?? 0)
        let pairs = selected(primary: parameters.first("primary"), shadow: parameters.first("shadow"))
        var counts: [[String: Any]] = []
        var found: [Disagreement] = []
        for pair in pairs {
            counts.append(Self.json(try spool.comparison(pair)))
            found += try spool.disagreements(pair, afterSeq: after, limit: limit + 1)
        }
        found.sort { ($0.eventSeq, $0.primary.destination, $0.shadow.destination) < ($1.eventSeq, $1.primary.destination, $1.shadow.destination) }
        let (page, nextAfter) = Self.page(found, limit: limit)
        return [
            "pairs": counts,
            "disagreements": page.map(Self.json),
            "next_after": nextAfter.map { $0 as Any } ?? NSNull(),
        ]
    }

    private func selected(primary: String?, shadow: String?) -> [ComparisonPair] {
        if let primary, let shadow { return [ComparisonPair(primary: primary, shadow: shadow)] }
        return configured.filter { pair in
            (primary.map { $0 == pair.primary } ?? true) && (shadow.map { $0 == pair.shadow } ?? true)
        }
    }

    /// At most `limit` disagreements, never splitting one event's pairs across pages (unless a
    /// single event has more than `limit`), and the seq the next page starts after.
    static func page(_ sorted: [Disagreement], limit: Int) -> ([Disagreement], Int64?) {
        guard sorted.count > limit else { return (sorted, nil) }
        var page = Array(sorted.prefix(limit))
        let firstLeftOut = sorted[limit].eventSeq
        if page.first?.eventSeq != firstLeftOut { page.removeAll { $0.eventSeq == firstLeftOut } }
        return (page, page.last?.eventSeq)
    }

    // MARK: JSON

    static func json(_ comparison: PairComparison) -> [String: Any] {
        [
            "primary": comparison.pair.primary, "shadow": comparison.pair.shadow, "events": comparison.events,
            "compared": comparison.compared, "primary_accepted": comparison.primaryAccepted,
            "shadow_accepted": comparison.shadowAccepted, "agree": comparison.agree, "disagree": comparison.disagree,
            "pending": comparison.pending,
        ]
    }

    static func json(_ disagreement: Disagreement) -> [String: Any] {
        [
            "event_id": disagreement.eventID, "event_seq": disagreement.eventSeq, "type": disagreement.eventType,
            "received_at": RFC3339.format(disagreement.receivedAt),
            "primary": json(disagreement.primary), "shadow": json(disagreement.shadow),
        ]
    }

    static func json(_ side: ComparisonSide) -> [String: Any] {
        var object: [String: Any] = [
            "destination": side.destination, "delivery_id": side.deliveryID, "state": side.state.rawValue,
            "status": AdminHandler.nullable(side.lastStatus), "latency_ms": AdminHandler.nullable(side.latencyMilliseconds),
            "error": AdminHandler.nullable(side.lastError.map { DeliveryAttempt.excerpt($0) }),
        ]
        addBodyPrefix(side.bodyPrefix, to: &object)
        return object
    }

    /// `body_prefix` as text when the bytes are UTF-8, else base64 with `body_prefix_base64: true`;
    /// null when nothing was kept.
    static func addBodyPrefix(_ bytes: [UInt8]?, to object: inout [String: Any]) {
        guard let bytes else {
            object["body_prefix"] = NSNull()
            object["body_prefix_base64"] = false
            return
        }
        if let text = String(validating: bytes, as: UTF8.self) {
            object["body_prefix"] = text
            object["body_prefix_base64"] = false
        } else {
            object["body_prefix"] = Base64.encode(bytes)
            object["body_prefix_base64"] = true
        }
    }
}
