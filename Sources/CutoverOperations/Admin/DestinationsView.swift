import CutoverConfiguration
import CutoverHTTPClient
import CutoverSpool
import CutoverWebhooks
import Foundation

/// `GET /admin/destinations`: per configured destination, what the spool counts (delivered,
/// pending, in flight, dead, oldest pending) beside what its worker saw since the process started
/// (response classes, latency p50/p99 and mean over the latest responses, retries, the circuit).
extension AdminHandler {
    func destinationsView() throws -> [String: Any] {
        let now = Spool.currentTime()
        let stats = try spool.stats(now: now)
        let live = metrics.destinationActivity.snapshot()
        let rows = settings().destinations.map { destination -> [String: Any] in
            let counts = stats.deliveries[destination.name] ?? SpoolStats.DeliveryCounts()
            let activity = live[destination.name]
            return [
                "name": destination.name, "role": destination.role.rawValue, "format": destination.format.rawValue,
                "url": Self.describe(destination.target),
                "delivered": counts.delivered, "pending": counts.pending, "inflight": counts.inflight,
                "queue_depth": counts.pending + counts.inflight, "dead": counts.dead,
                "oldest_pending_age_seconds": Self.nullable(stats.oldestPendingCreatedAtByDestination[destination.name].map { max(0, now - $0) }),
                "since_start": [
                    "delivered": activity?.delivered ?? 0, "retries": activity?.retries ?? 0, "dead": activity?.dead ?? 0,
                ],
                "responses": ["2xx", "4xx", "5xx", "error"].reduce(into: [String: Int]()) { $0[$1] = activity?.responseClasses[$1] ?? 0 }
                    .merging(activity?.responseClasses ?? [:]) { kept, _ in kept },
                "latency_ms": [
                    "samples": activity?.latencySamples ?? 0, "mean": Self.nullable(activity?.latencyMeanMilliseconds),
                    "p50": Self.nullable(activity?.latencyP50Milliseconds), "p99": Self.nullable(activity?.latencyP99Milliseconds),
                ],
                "circuit": activity?.circuit.rawValue ?? DestinationActivity.Circuit.closed.rawValue,
                "circuit_changed_at": Self.nullable(activity?.circuitChangedAt),
            ]
        }
        return ["now": now, "destinations": rows]
    }

    static func describe(_ target: RelaySettings.DestinationSettings.Target) -> String {
        switch target {
        case .http(let url): url.description
        case .jsonLinesFile(let path): "file:" + path
        }
    }
}
