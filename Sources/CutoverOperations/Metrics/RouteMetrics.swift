import CoreMetrics

/// One route's request metrics, made when a configuration snapshot is (at start and on reload), so a
/// request never looks a series up by its labels: each of those lookups hashed two or three strings
/// under a lock, four or five times per request, about 3 % of a retry's CPU.
///
/// Only the series almost every request of the route records are made ahead: a 200, and for a
/// webhook route its body and a retry answered from memory (an operations path gets no body series,
/// which would only sit at zero on the page). Anything else goes through `RelayMetrics`' families.
package struct RouteMetrics: Sendable {
    /// The `route` label: /cloud, /onprem/<name>, /healthz, ... or `other`.
    package let label: String
    private let metrics: RelayMetrics
    private let answeredOK: CoreMetrics.Counter
    /// nil for a route that takes no webhooks.
    private let webhook: (bodyBytesTotal: CoreMetrics.Counter, bodyBytes: Recorder, duplicateRequests: CoreMetrics.Counter)?

    package init(metrics: RelayMetrics, label: String, takesWebhooks: Bool) {
        self.label = label
        self.metrics = metrics
        answeredOK = metrics.requests(label, RelayMetrics.statusText(200))
        webhook = takesWebhooks ? (metrics.bodyBytesTotal(label), metrics.bodyBytes(label), metrics.duplicateRequests(label)) : nil
    }

    package func countRequest(status: Int) {
        if status == 200 { answeredOK.increment() } else { metrics.countRequest(route: label, status: status) }
    }

    package func recordBody(bytes: Int) {
        (webhook?.bodyBytesTotal ?? metrics.bodyBytesTotal(label)).increment(by: bytes)
        (webhook?.bodyBytes ?? metrics.bodyBytes(label)).record(bytes)
    }

    /// A request whose every event was already stored, answered without a spool write.
    package func countDuplicateRequest() { (webhook?.duplicateRequests ?? metrics.duplicateRequests(label)).increment() }
}
