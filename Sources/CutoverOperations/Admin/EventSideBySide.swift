import CutoverConfiguration
import CutoverHTTPClient
import CutoverSpool
import CutoverWebhooks
import Foundation
import HTTPTypes

/// `GET /admin/events/{event_id}`: one event side by side. The raw request as received (its
/// headers, the signature headers among them, and its body), the canonical event the spool holds,
/// and for each configured destination the request rendered by its `outboundBuilder`, the builder
/// its delivery worker sends through, with that destination's delivery if it has one.
extension AdminHandler {
    /// The headers that prove where a body came from, shown apart in the page.
    static let signatureHeaders: Set<String> = ["x-hub-signature-256", "webhook-id", "webhook-timestamp", "webhook-signature"]

    func eventSideBySide(_ id: String) throws -> [String: Any] {
        guard let event = try spool.event(id: id) else { throw AdminError(.notFound, "no event \(id)") }
        let now = Spool.currentTime()
        let stored = try spool.request(id: event.requestID)
        let deliveries = Dictionary(try spool.deliveries(eventID: id).map { ($0.destination, $0) }) { first, _ in first }

        var request: Any = NSNull()
        if let stored {
            request = [
                "id": stored.id, "route": stored.route, "received_at": stored.receivedAt, "status": stored.status.rawValue,
                "headers": stored.headers.map { ["name": $0.name, "value": $0.value] },
                "signature_headers": stored.headers.filter { Self.signatureHeaders.contains($0.name.lowercased()) }
                    .map { ["name": $0.name, "value": $0.value] },
                "body": String(decoding: stored.body, as: UTF8.self), "body_bytes": stored.body.count,
            ] as [String: Any]
        }
        let destinations = settings().destinations.map { destination -> [String: Any] in
            var row: [String: Any] = [
                "name": destination.name, "role": destination.role.rawValue, "format": destination.format.rawValue,
                "url": Self.describe(destination.target), "rendered_at": now,
                "delivery": deliveries[destination.name].map { Self.delivery($0, now: now) } ?? NSNull(),
            ]
            do {
                switch try destination.outboundBuilder.request(storedEvent: event.payload, eventID: event.id, rawBody: stored?.body, now: now) {
                case .send(let outbound):
                    row["outcome"] = "send"
                    row["headers"] = outbound.headers.map { ["name": $0.name.rawName, "value": $0.value] }
                    row["signature_headers"] = outbound.headers.filter { Self.signatureHeaders.contains($0.name.canonicalName.lowercased()) }
                        .map { ["name": $0.name.rawName, "value": $0.value] }
                    row["body"] = String(decoding: outbound.body, as: UTF8.self)
                case .filtered(let reason):
                    row["outcome"] = "filtered"
                    row["reason"] = reason
                case .deadLetter(let reason):
                    row["outcome"] = "dead_letter"
                    row["reason"] = reason
                }
            } catch {
                row["outcome"] = "error"
                row["reason"] = "\(error)"
            }
            return row
        }
        var canonical: [String: Any] = [
            "id": event.id, "type": event.type, "contact_key": event.contactKey, "created_at": event.createdAt, "request_id": event.requestID,
        ]
        canonical["payload"] =
            (try? JSONSerialization.jsonObject(with: Data(event.payload), options: [.fragmentsAllowed]))
            ?? String(decoding: event.payload, as: UTF8.self)
        return ["event": canonical, "request": request, "destinations": destinations]
    }
}
