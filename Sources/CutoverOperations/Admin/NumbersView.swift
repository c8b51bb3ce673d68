import CutoverConfiguration
import CutoverSpool
import CutoverWebhooks
import Foundation

/// `GET /admin/numbers`: per business number (phone_number_id), where its traffic arrives (the
/// Cloud route, an On-Prem route), events per second by type over the last 10 and 60 seconds,
/// and its last event, since the process started; every On-Prem route's number is listed, with or
/// without traffic; the spool's totals beside them.
extension AdminHandler {
    static let shortWindowSeconds = 10
    static let longWindowSeconds = 60

    func numbers() throws -> [String: Any] {
        let now = Spool.currentTime()
        let traffic = metrics.traffic
        // Right after start a window has not filled yet: a rate over the seconds that passed.
        let elapsed = max(1, now - traffic.startedAt)
        func rate(_ count: Int, window: Int) -> Double { Double(count) / min(Double(window), elapsed) }

        var rows: [[String: Any]] = []
        var seen = Set<String>()
        for number in traffic.snapshot().sorted(by: { ($0.phoneNumberID ?? "~") < ($1.phoneNumberID ?? "~") }) {
            let short = number.recentTotals(lastSeconds: Self.shortWindowSeconds, at: now)
            let long = number.recentTotals(lastSeconds: Self.longWindowSeconds, at: now)
            if let id = number.phoneNumberID { seen.insert(id) }
            rows.append([
                "phone_number_id": Self.nullable(number.phoneNumberID),
                "display_phone_number": Self.nullable(number.displayPhoneNumber),
                "apis": number.apis.sorted(), "routes": number.routes.sorted(),
                "events_total": number.totalsByType.values.reduce(0, +),
                "events_per_second_10s": rate(short.values.reduce(0, +), window: Self.shortWindowSeconds),
                "events_per_second_60s": rate(long.values.reduce(0, +), window: Self.longWindowSeconds),
                "last_event_at": number.lastEventAt, "last_event_age_seconds": max(0, now - number.lastEventAt),
                "last_event_id": number.lastEventID, "last_event_type": number.lastEventType,
                "types": number.totalsByType.keys.sorted().map { type -> [String: Any] in
                    [
                        "type": type, "total": number.totalsByType[type] ?? 0,
                        "per_second_10s": rate(short[type] ?? 0, window: Self.shortWindowSeconds),
                        "per_second_60s": rate(long[type] ?? 0, window: Self.longWindowSeconds),
                    ]
                },
            ])
        }
        for route in settings().onpremRoutes.values.sorted(by: { $0.name < $1.name }) {
            guard let id = route.business.phoneNumberID, !seen.contains(id) else { continue }
            seen.insert(id)
            rows.append([
                "phone_number_id": id, "display_phone_number": Self.nullable(route.business.displayPhoneNumber),
                "apis": [String](), "routes": ["/onprem/\(route.name)"], "events_total": 0,
                "events_per_second_10s": 0.0, "events_per_second_60s": 0.0, "last_event_at": NSNull(),
                "last_event_age_seconds": NSNull(), "last_event_id": NSNull(), "last_event_type": NSNull(), "types": [[String: Any]](),
            ])
        }
        let stats = try spool.stats(now: now)
        return [
            "now": now, "since": traffic.startedAt, "numbers": rows,
            "spool": ["requests": stats.requests, "events": stats.events, "quarantined": stats.quarantined],
        ]
    }
}
