import CoreMetrics
import CutoverWebhooks
import Dispatch
import Foundation
import Metrics
import Prometheus

/// Every metric Cutover exposes on `/metrics`, as swift-metrics handles backed by one
/// `PrometheusCollectorRegistry`.
///
/// A relay gets its `RelayMetrics` injected (tests make one each, so nothing fights over the global
/// `MetricsSystem`); `cutover serve` uses `processWide`, which also bootstraps `MetricsSystem` with the
/// same registry so metrics of libraries land on the same page. Handles are made once per label set
/// and cached (`MetricFamily`): recording is a cached lookup and an atomic add.
///
/// Names (all `cutover_*`), types and labels are listed in docs/operations.md.
package final class RelayMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    // Ingress
    let requests: MetricFamily<CoreMetrics.Counter>
    let rejected: MetricFamily<CoreMetrics.Counter>
    let signatureFailures: MetricFamily<CoreMetrics.Counter>
    let authFailures: MetricFamily<CoreMetrics.Counter>
    let bodyBytesTotal: MetricFamily<CoreMetrics.Counter>
    let bodyBytes: MetricFamily<Recorder>
    let events: MetricFamily<CoreMetrics.Counter>
    let unroutable: MetricFamily<CoreMetrics.Counter>
    let unrecognized: MetricFamily<CoreMetrics.Counter>
    let quarantined: MetricFamily<CoreMetrics.Counter>
    let decodeRejected: MetricFamily<CoreMetrics.Counter>
    let decodeSeconds: CoreMetrics.Timer
    let dedupHits: CoreMetrics.Counter
    let duplicateRequests: MetricFamily<CoreMetrics.Counter>
    let spoolCommitSeconds: CoreMetrics.Timer
    let spoolCommitFailures: CoreMetrics.Counter
    let spoolCommitTimeouts: CoreMetrics.Counter
    let spoolFaultErrors: MetricFamily<CoreMetrics.Counter>
    // Connections
    let connectionsOpened: CoreMetrics.Counter
    let connectionsClosed: CoreMetrics.Counter
    let connectionsOpen: Meter
    let tlsHandshakeFailures: CoreMetrics.Counter
    let connectionsAborted: MetricFamily<CoreMetrics.Counter>
    let bodyBytesInFlight: CoreMetrics.Gauge
    // Delivery
    let deliveries: MetricFamily<CoreMetrics.Counter>
    let deliveryAttempts: MetricFamily<Recorder>
    let deliveryResponses: MetricFamily<CoreMetrics.Counter>
    let deliverySeconds: MetricFamily<CoreMetrics.Timer>
    let circuitOpened: MetricFamily<CoreMetrics.Counter>
    let shadowComparisons: MetricFamily<CoreMetrics.Counter>
    let phoneless: MetricFamily<CoreMetrics.Counter>
    let resolutions: MetricFamily<CoreMetrics.Counter>
    // Spool state (refreshed periodically by `SpoolGauges`)
    let queueDepth: MetricFamily<CoreMetrics.Gauge>
    let deadLetters: MetricFamily<CoreMetrics.Gauge>
    let oldestPendingAge: MetricFamily<CoreMetrics.Gauge>
    let quarantinedRequests: CoreMetrics.Gauge
    let spoolStatsFailures: CoreMetrics.Counter
    // Retention
    let prunedEvents: CoreMetrics.Counter
    let prunedRequests: CoreMetrics.Counter
    // Admin API
    let adminRequests: MetricFamily<CoreMetrics.Counter>
    let captureLines: CoreMetrics.Counter
    let captureBytes: CoreMetrics.Counter
    let captureRotations: CoreMetrics.Counter
    let captureErrors: CoreMetrics.Counter
    let captureDropped: MetricFamily<CoreMetrics.Counter>
    // The cockpit's live figures (`GET /admin/numbers`, `GET /admin/destinations`)
    package let traffic = TrafficActivity(startedAt: Date().timeIntervalSince1970)
    package let destinationActivity = DestinationActivity()

    /// A fresh registry (the default) or a given one.
    package init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var configured = PrometheusMetricsFactory(registry: registry)
        // A group commit is an fsync: sub-millisecond on good disks, tens of ms on slow ones.
        configured.durationHistogramBuckets["cutover_spool_commit_seconds"] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(5),
        ]
        // A Meta batch normalizes in well under a millisecond; 3 MB of tiny objects in tens of ms.
        configured.durationHistogramBuckets["cutover_decode_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        configured.durationHistogramBuckets["cutover_delivery_seconds"] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            .seconds(30),
        ]
        // Meta sends up to 3 MB; most webhooks are a few KiB.
        configured.valueHistogramBuckets["cutover_request_body_bytes"] = [
            256, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304, 16_777_216,
        ]
        configured.valueHistogramBuckets["cutover_delivery_attempts"] = [1, 2, 3, 5, 10, 20, 50, 100]
        let factory = configured
        self.factory = factory

        func counters(_ name: String, _ labels: [String]) -> MetricFamily<CoreMetrics.Counter> {
            MetricFamily(name, labels: labels) { name, dimensions in
                CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory)
            }
        }
        func gauges(_ name: String, _ labels: [String]) -> MetricFamily<CoreMetrics.Gauge> {
            MetricFamily(name, labels: labels) { name, dimensions in
                CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
            }
        }
        func histograms(_ name: String, _ labels: [String]) -> MetricFamily<Recorder> {
            MetricFamily(name, labels: labels) { name, dimensions in
                Recorder(label: name, dimensions: dimensions, aggregate: true, factory: factory)
            }
        }
        func counter(_ name: String) -> CoreMetrics.Counter { CoreMetrics.Counter(label: name, factory: factory) }

        requests = counters("cutover_requests_total", ["route", "status"])
        rejected = counters("cutover_requests_rejected_total", ["status"])
        signatureFailures = counters("cutover_signature_failures_total", ["reason"])
        authFailures = counters("cutover_auth_failures_total", ["route"])
        bodyBytesTotal = counters("cutover_body_bytes_total", ["route"])
        bodyBytes = histograms("cutover_request_body_bytes", ["route"])
        events = counters("cutover_events_total", ["type", "api"])
        unroutable = counters("cutover_unroutable_events_total", ["type"])
        unrecognized = counters("cutover_unrecognized_total", ["type"])
        quarantined = counters("cutover_quarantined_total", ["route", "reason"])
        decodeRejected = counters("cutover_decode_rejected_total", ["route"])
        decodeSeconds = CoreMetrics.Timer(label: "cutover_decode_seconds", factory: factory)
        dedupHits = counter("cutover_dedup_hits_total")
        duplicateRequests = counters("cutover_duplicate_requests_total", ["route"])
        spoolCommitSeconds = CoreMetrics.Timer(label: "cutover_spool_commit_seconds", factory: factory)
        spoolCommitFailures = counter("cutover_spool_commit_failures_total")
        spoolCommitTimeouts = counter("cutover_spool_commit_timeouts_total")
        spoolFaultErrors = counters("cutover_spool_fault_errors_total", ["kind"])
        connectionsOpened = counter("cutover_connections_opened_total")
        connectionsClosed = counter("cutover_connections_closed_total")
        connectionsOpen = Meter(label: "cutover_connections_open", factory: factory)
        tlsHandshakeFailures = counter("cutover_tls_handshake_failures_total")
        connectionsAborted = counters("cutover_connections_aborted_total", ["limit"])
        bodyBytesInFlight = CoreMetrics.Gauge(label: "cutover_body_bytes_in_flight", factory: factory)
        deliveries = counters("cutover_deliveries_total", ["destination", "role", "outcome"])
        deliveryAttempts = histograms("cutover_delivery_attempts", ["destination"])
        deliveryResponses = counters("cutover_delivery_responses_total", ["destination", "class"])
        deliverySeconds = MetricFamily("cutover_delivery_seconds", labels: ["destination"]) { name, dimensions in
            CoreMetrics.Timer(label: name, dimensions: dimensions, factory: factory)
        }
        circuitOpened = counters("cutover_circuit_opened_total", ["destination"])
        shadowComparisons = counters("cutover_shadow_comparisons_total", ["primary", "shadow", "result"])
        phoneless = counters("cutover_phoneless_deliveries_total", ["destination", "policy"])
        resolutions = counters("cutover_dns_resolutions_total", ["result"])
        queueDepth = gauges("cutover_queue_depth", ["destination", "state"])
        deadLetters = gauges("cutover_dead_letters", ["destination"])
        oldestPendingAge = gauges("cutover_oldest_pending_age_seconds", ["destination"])
        quarantinedRequests = CoreMetrics.Gauge(label: "cutover_quarantined_requests", factory: factory)
        spoolStatsFailures = counter("cutover_spool_stats_failures_total")
        prunedEvents = counter("cutover_pruned_events_total")
        prunedRequests = counter("cutover_pruned_requests_total")
        adminRequests = counters("cutover_admin_requests_total", ["endpoint", "status"])
        captureLines = counter("cutover_capture_lines_total")
        captureBytes = counter("cutover_capture_bytes_total")
        captureRotations = counter("cutover_capture_rotations_total")
        captureErrors = counter("cutover_capture_errors_total")
        captureDropped = counters("cutover_capture_dropped_total", ["reason"])
    }

    /// The metrics of `cutover serve`: made once per process, with `MetricsSystem` bootstrapped to
    /// the same registry (a second bootstrap would trap, so this is the only place that does it).
    package static let processWide: RelayMetrics = {
        let metrics = RelayMetrics()
        MetricsSystem.bootstrap(metrics.factory)
        return metrics
    }()

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    package func exposition() -> [UInt8] { registry.emitToBuffer() }

    package static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    // MARK: Recording (the names call sites use)

    package func countRequest(route: String, status: Int) {
        requests(route, Self.statusText(status)).increment()
    }

    func countRejected(status: Int) { rejected(Self.statusText(status)).increment() }

    package func countSignatureFailure(reason: String) { signatureFailures(reason).increment() }

    package func countAuthFailure(route: String) { authFailures(route).increment() }

    package func countEvent(type: String, api: String) { events(type, api).increment() }

    package func countUnroutable(type: String) { unroutable(type).increment() }

    package func countUnrecognized(type: String) { unrecognized(type).increment() }

    /// `reason` is one of a fixed set (`WebhookDecodeError.reasonLabel`), never text from the body.
    package func countQuarantined(route: String, reason: String) { quarantined(route, reason).increment() }

    package func countDecodeRejected(route: String) { decodeRejected(route).increment() }

    /// Normalizing one body on a decode worker (parse, split into events, serialize each).
    package func recordDecode(startedAt started: DispatchTime) {
        decodeSeconds.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- started.uptimeNanoseconds))
    }

    package func countDedupHits(_ count: Int) { dedupHits.increment(by: count) }

    /// How a delivery's host name was resolved: `cached`, `answered`, `failed` or `timed_out`.
    package func countResolution(result: String) { resolutions(result).increment() }

    /// From `started` (taken just before `Spool.submit`) to the completion: queueing plus group commit.
    package func recordSpoolCommit(startedAt started: DispatchTime, succeeded: Bool) {
        spoolCommitSeconds.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- started.uptimeNanoseconds))
        if !succeeded { spoolCommitFailures.increment() }
    }

    /// A request answered 503 because its commit outlasted `spool_commit_timeout_seconds`.
    package func countSpoolCommitTimeout() { spoolCommitTimeouts.increment() }

    /// An error showing a spool fault (`lost`: database removed or replaced; `corrupt`).
    package func countSpoolFault(kind: String) { spoolFaultErrors(kind).increment() }

    func connectionOpened() {
        connectionsOpened.increment()
        connectionsOpen.increment()
    }

    func connectionClosed() {
        connectionsClosed.increment()
        connectionsOpen.decrement()
    }

    func countTLSHandshakeFailure() { tlsHandshakeFailures.increment() }

    func countConnectionAborted(limit: String) { connectionsAborted(limit).increment() }

    func recordBodyBytesInFlight(_ bytes: Int) { bodyBytesInFlight.record(bytes) }

    func countPruned(events: Int, requests: Int) {
        prunedEvents.increment(by: events)
        prunedRequests.increment(by: requests)
    }

    package func countCaptureLine(bytes: Int, rotated: Bool) {
        if rotated { captureRotations.increment() }
        captureLines.increment()
        captureBytes.increment(by: bytes)
    }

    package func countCaptureError() { captureErrors.increment() }

    package func countCaptureDropped(reason: String) { captureDropped(reason).increment() }

    func countAdminRequest(endpoint: String, status: Int) { adminRequests(endpoint, Self.statusText(status)).increment() }

    /// The handles of one primary/shadow pair's comparisons, made once per worker (so the pair's
    /// series exist from the start, at zero).
    package func comparison(primary: String, shadow: String) -> ComparisonMetrics {
        ComparisonMetrics(agree: shadowComparisons(primary, shadow, "agree"), disagree: shadowComparisons(primary, shadow, "disagree"))
    }

    /// The handles one destination's worker records with, made once when the worker starts.
    package func destination(_ name: String, role: String) -> DestinationMetrics {
        DestinationMetrics(metrics: self, name: name, role: role)
    }

    /// Status codes as label values without formatting an integer per request.
    private static let statusTexts: [String] = (0..<600).map { String($0) }

    static func statusText(_ code: Int) -> String {
        code >= 0 && code < statusTexts.count ? statusTexts[code] : String(code)
    }
}

/// One destination's delivery metrics, pre-made so a worker's hot path never looks a series up by
/// name (and so every series of a configured destination exists from the start, at zero).
package struct DestinationMetrics: Sendable {
    let name: String
    private let delivered: CoreMetrics.Counter
    private let filtered: CoreMetrics.Counter
    private let dead: CoreMetrics.Counter
    private let retry: CoreMetrics.Counter
    private let attempts: Recorder
    private let latency: CoreMetrics.Timer
    private let circuitOpened: CoreMetrics.Counter
    private let phonelessDeadLetters: CoreMetrics.Counter
    private let phonelessAsUserID: CoreMetrics.Counter
    private let responseClasses: [CoreMetrics.Counter]  // 1xx...5xx, then error
    private let responses: MetricFamily<CoreMetrics.Counter>
    private let activity: DestinationActivity.Recorder

    init(metrics: RelayMetrics, name: String, role: String) {
        self.name = name
        activity = metrics.destinationActivity.recorder(for: name, role: role)
        delivered = metrics.deliveries(name, role, "delivered")
        filtered = metrics.deliveries(name, role, "filtered")
        dead = metrics.deliveries(name, role, "dead")
        retry = metrics.deliveries(name, role, "retry")
        attempts = metrics.deliveryAttempts(name)
        latency = metrics.deliverySeconds(name)
        circuitOpened = metrics.circuitOpened(name)
        phonelessDeadLetters = metrics.phoneless(name, PhonelessPolicy.deadLetter.rawValue)
        phonelessAsUserID = metrics.phoneless(name, PhonelessPolicy.userID.rawValue)
        responses = metrics.deliveryResponses
        responseClasses = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"].map { metrics.deliveryResponses(name, $0) }
    }

    /// A response (status code) or a transport error (nil), and how long the attempt took.
    package func recordResponse(status: Int?, nanoseconds: UInt64) {
        latency.recordNanoseconds(Int64(clamping: nanoseconds))
        activity.recordResponse(class: status.map { "\($0 / 100)xx" } ?? "error", milliseconds: Double(nanoseconds) / 1e6)
        guard let status else { return responseClasses[5].increment() }
        let index = status / 100 - 1
        if (0..<5).contains(index) {
            responseClasses[index].increment()
        } else {
            responses(name, "\(status / 100)xx").increment()
        }
    }

    /// Delivered after `attempts` attempts in all.
    package func recordDelivered(attempts count: Int) {
        delivered.increment()
        attempts.record(count)
        activity.update { $0.delivered += 1 }
    }

    /// Dead-lettered after `attempts` attempts in all.
    package func recordDead(attempts count: Int) {
        dead.increment()
        attempts.record(count)
        activity.update { $0.dead += 1 }
    }

    /// Deliberately not sent: the destination's API has no such notification.
    package func recordFiltered() { filtered.increment() }

    /// Failed; another attempt is scheduled.
    package func recordRetry() {
        retry.increment()
        activity.update { $0.retries += 1 }
    }

    package func recordCircuitOpened() { circuitOpened.increment() }

    /// The circuit's state after a change, for the cockpit (the worker calls it only on a change).
    package func recordCircuit(_ circuit: DestinationActivity.Circuit, at time: Double) {
        activity.update {
            $0.circuit = circuit
            $0.circuitChangedAt = time
        }
    }

    /// A delivery of an item from a user with no phone number (On-Prem destinations): dead-lettered,
    /// or sent with the business-scoped user id in the phone's place.
    package func recordPhoneless(_ policy: PhonelessPolicy) {
        switch policy {
        case .deadLetter: phonelessDeadLetters.increment()
        case .userID: phonelessAsUserID.increment()
        }
    }
}

/// `cutover_shadow_comparisons_total` of one pair: counted when the second of its two deliveries
/// of an event ends (delivered or dead), by whether both sides accepted (2xx) or both did not.
package struct ComparisonMetrics: Sendable {
    let agree: CoreMetrics.Counter
    let disagree: CoreMetrics.Counter

    package func record(agreed: Bool) { (agreed ? agree : disagree).increment() }
}
