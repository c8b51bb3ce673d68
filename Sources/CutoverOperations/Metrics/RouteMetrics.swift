import CoreMetrics

/// One route's request metrics, made when a configuration snapshot is (at start and on reload), so a
/// request never looks a series up by its labels: each of those lookups hashed two or three strings
/// under a lock, four or five times per request, about 3 % of a retry's CPU.
///
/// Only the series almost every request of the route records are made ahead (a 200, its body, a
/// retry answered from memory); any other status still goes through `RelayMetrics.countRequest`.
package struct RouteMetrics: Sendable {
    /// The `route` label: /cloud, /onprem/<name>, /healthz, ... or `other`.
    package let label: String
    private let metrics: RelayMetrics
    private let answeredOK: CoreMetrics.Counter
    private let bodyBytesTotal: CoreMetrics.Counter
    private let bodyBytes: Recorder
    private let duplicateRequests: CoreMetrics.Counter

    package init(metrics: RelayMetrics, label: String) {
        self.label = label
        self.metrics = metrics
        answeredOK = metrics.requests(label, RelayMetrics.statusText(200))
        bodyBytesTotal = metrics.bodyBytesTotal(label)
        bodyBytes = metrics.bodyBytes(label)
        duplicateRequests = metrics.duplicateRequests(label)
    }

    package func countRequest(status: Int) {
        if status == 200 { answeredOK.increment() } else { metrics.countRequest(route: label, status: status) }
    }

    package func recordBody(bytes: Int) {
        bodyBytesTotal.increment(by: bytes)
        bodyBytes.record(bytes)
    }

    /// A request whose every event was already stored, answered without a spool write.
    package func countDuplicateRequest() { duplicateRequests.increment() }
}
