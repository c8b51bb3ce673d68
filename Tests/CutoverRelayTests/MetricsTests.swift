@testable import CutoverConfiguration
@testable import CutoverDelivery
@testable import CutoverIngress
@testable import CutoverOperations
import CutoverLocking
import CutoverSockets
import CutoverSpool
import CutoverTestSupport
import Dispatch
import Foundation
import Logging
import Testing

struct MetricsTests {
    final class Handle: Sendable {}

    private func text(_ metrics: RelayMetrics) -> String { String(decoding: metrics.exposition(), as: UTF8.self) }

    @Test func countersAppearInTheExpositionWithEscapedLabels() {
        let metrics = RelayMetrics()
        metrics.countRequest(route: "/cloud", status: 200)
        metrics.countRequest(route: "/cloud", status: 200)
        metrics.countRequest(route: "a\"b\\c\nd", status: 401)
        metrics.countDedupHits(3)
        let exposition = text(metrics)
        #expect(exposition.contains("# TYPE cutover_requests_total counter\n"))
        #expect(exposition.contains("cutover_requests_total{route=\"/cloud\",status=\"200\"} 2\n"))
        #expect(exposition.contains("cutover_requests_total{route=\"a\\\"b\\\\c\\nd\",status=\"401\"} 1\n"))
        #expect(exposition.contains("cutover_dedup_hits_total 3\n"))
    }

    @Test func everyRelayMetricsHasItsOwnRegistry() {
        let first = RelayMetrics()
        let second = RelayMetrics()
        first.countRejected(status: 413)
        #expect(text(first).contains("cutover_requests_rejected_total{status=\"413\"} 1"))
        #expect(!text(second).contains("cutover_requests_rejected_total{"))
    }

    @Test func familiesCacheHandlesAndCapTheirSeries() {
        let made = Locked(0)
        let family = MetricFamily<Handle>("x", labels: ["a", "b"], maxSeries: 3) { _, _ in
            made.withLock { $0 += 1 }
            return Handle()
        }
        #expect(family("1", "x") === family("1", "x"), "one handle per label set")
        _ = family("2", "x")
        _ = family("3", "x")
        let overflow = family("4", "x")
        #expect(overflow === family("5", "y"), "past the cap, new label sets share the `other` series")
        #expect(family.labelSets.contains(LabelValues("other", "other")))
        #expect(made.withLock { $0 } == 4)
    }

    @Test func aRouteCountsItsAnswersInTheSeriesItsLabelsName() {
        let metrics = RelayMetrics()
        let route = RouteMetrics(metrics: metrics, label: "/onprem/a", takesWebhooks: true)
        // Made with the route: a scrape shows them at zero before the first request.
        #expect(text(metrics).contains(#"cutover_requests_total{route="/onprem/a",status="200"} 0"#))
        #expect(text(metrics).contains(#"cutover_duplicate_requests_total{route="/onprem/a"} 0"#))
        route.countRequest(status: 200)
        route.countRequest(status: 200)
        route.countRequest(status: 503)
        route.countDuplicateRequest()
        // A second handle for the same labels counts into the same series.
        RouteMetrics(metrics: metrics, label: "/onprem/a", takesWebhooks: true).countRequest(status: 200)
        metrics.countRequest(route: "/onprem/a", status: 200)
        let exposition = text(metrics)
        #expect(exposition.contains(#"cutover_requests_total{route="/onprem/a",status="200"} 4"#))
        #expect(exposition.contains(#"cutover_requests_total{route="/onprem/a",status="503"} 1"#))
        #expect(exposition.contains(#"cutover_duplicate_requests_total{route="/onprem/a"} 1"#))

        let healthz = RouteMetrics(metrics: metrics, label: "/healthz", takesWebhooks: false)
        #expect(text(metrics).contains(#"cutover_requests_total{route="/healthz",status="200"} 0"#))
        #expect(!text(metrics).contains(#"cutover_body_bytes_total{route="/healthz"}"#), "no webhook series for an operations path")
        healthz.recordBody(bytes: 5)
        #expect(text(metrics).contains(#"cutover_body_bytes_total{route="/healthz"} 5"#), "made when first needed")
    }

    @Test func histogramsAndTimersExposeBucketsSumAndCount() {
        let metrics = RelayMetrics()
        RouteMetrics(metrics: metrics, label: "/cloud", takesWebhooks: true).recordBody(bytes: 2000)
        metrics.recordSpoolCommit(startedAt: .now(), succeeded: false)
        let destination = metrics.destination("d", role: "primary")
        destination.recordResponse(status: 503, nanoseconds: 20_000_000)
        destination.recordResponse(status: nil, nanoseconds: 1_000)
        destination.recordDead(attempts: 4)
        let exposition = text(metrics)
        #expect(exposition.contains("cutover_request_body_bytes_bucket{route=\"/cloud\",le=\"4096.0\"} 1"))
        #expect(exposition.contains("cutover_request_body_bytes_bucket{route=\"/cloud\",le=\"1024.0\"} 0"))
        #expect(exposition.contains("cutover_body_bytes_total{route=\"/cloud\"} 2000"))
        #expect(exposition.contains("cutover_spool_commit_seconds_count 1"))
        #expect(exposition.contains("cutover_spool_commit_failures_total 1"))
        #expect(exposition.contains("cutover_delivery_responses_total{destination=\"d\",class=\"5xx\"} 1"))
        #expect(exposition.contains("cutover_delivery_responses_total{destination=\"d\",class=\"error\"} 1"))
        #expect(exposition.contains("cutover_delivery_responses_total{destination=\"d\",class=\"2xx\"} 0"), "pre-made at zero")
        #expect(exposition.contains("cutover_delivery_seconds_count{destination=\"d\"} 2"))
        #expect(exposition.contains("cutover_deliveries_total{destination=\"d\",role=\"primary\",outcome=\"dead\"} 1"))
        #expect(exposition.contains("cutover_delivery_attempts_bucket{destination=\"d\",le=\"5.0\"} 1"))
    }

    @Test func connectionGaugeFollowsOpensAndCloses() {
        let metrics = RelayMetrics()
        metrics.connectionOpened()
        metrics.connectionOpened()
        metrics.connectionClosed()
        let exposition = text(metrics)
        #expect(exposition.contains("cutover_connections_open 1.0"))
        #expect(exposition.contains("cutover_connections_opened_total 2"))
        #expect(exposition.contains("cutover_connections_closed_total 1"))
    }

    @Test func spoolGaugesReadQueueDepthDeadLettersAndOldestAge() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-gauges-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let spool = try Spool.open(directory: directory.path)
        defer { spool.close() }
        _ = try spool.ingest([
            IncomingRequest(
                receivedAt: 1_000, route: "cloud", headers: [], body: Array("{}".utf8),
                events: [
                    IncomingEvent(id: "e1", type: "t", contactKey: "c1", payload: Array("{}".utf8), destinations: ["d"]),
                    IncomingEvent(id: "e2", type: "t", contactKey: "c2", payload: Array("{}".utf8), destinations: ["d"]),
                ]
            )
        ])
        let claimed = try spool.claim(destination: "d", now: 1_000, limit: 1)
        try spool.record([DeliveryResult(deliveryID: claimed[0].id, result: .dead(error: "gone", status: 410))], now: 1_001)
        let metrics = RelayMetrics()
        // Not run as a service: no timer refresh (on the real clock) besides the one below.
        let gauges = SpoolGauges(spool: spool, metrics: metrics, destinations: ["d", "idle"], logger: Logger(label: "test"))
        gauges.refresh(now: 1_060)
        let exposition = text(metrics)
        #expect(exposition.contains("cutover_queue_depth{destination=\"d\",state=\"pending\"} 1.0"))
        #expect(exposition.contains("cutover_queue_depth{destination=\"d\",state=\"inflight\"} 0.0"))
        #expect(exposition.contains("cutover_dead_letters{destination=\"d\"} 1.0"))
        #expect(exposition.contains("cutover_oldest_pending_age_seconds{destination=\"d\"} 60.0"))
        #expect(exposition.contains("cutover_queue_depth{destination=\"idle\",state=\"pending\"} 0.0"), "configured, empty: zero")
    }
}

struct ReadinessTests {
    private func withSpool(_ body: (Spool, URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-ready-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let spool = try Spool.open(directory: directory.path)
        defer { spool.close() }
        try body(spool, directory)
    }

    @Test func readyOnlyOnceListening() throws {
        try withSpool { spool, _ in
            let readiness = Readiness(spool: spool)
            #expect(readiness.checkNow() == Readiness.Verdict(ready: false, reason: "listeners not up"))
            readiness.listenersUp()
            #expect(readiness.checkNow().ready)
            readiness.shutdownStarted()
            #expect(readiness.checkNow() == Readiness.Verdict(ready: false, reason: "shutting down"))
        }
    }

    @Test func aFailedCommitMakesItUnreadyUntilOneSucceedsOrTheWindowPasses() throws {
        try withSpool { spool, _ in
            let readiness = Readiness(spool: spool, commitFailureWindow: .seconds(30))
            readiness.listenersUp()
            let start = DispatchTime.now()
            readiness.recordCommit(succeeded: false, at: start)
            #expect(!readiness.checkNow(now: start + .seconds(1)).ready)
            #expect(readiness.checkNow(now: start + .seconds(31)).ready, "after the window traffic is let back in")
            readiness.recordCommit(succeeded: true, at: start + .seconds(2))
            #expect(readiness.checkNow(now: start + .seconds(3)).ready)
        }
    }

    @Test func aRemovedSpoolDirectoryOrDatabaseIsNotReady() throws {
        try withSpool { spool, directory in
            let readiness = Readiness(spool: spool)
            readiness.listenersUp()
            #expect(readiness.checkNow().ready)
            try FileManager.default.removeItem(at: directory)
            let verdict = readiness.checkNow()
            #expect(!verdict.ready)
            #expect(verdict.reason.contains("removed or replaced"), "\(verdict.reason)")
        }
    }

    @Test func aClosedSpoolIsNotReady() throws {
        try withSpool { spool, _ in
            let readiness = Readiness(spool: spool)
            readiness.listenersUp()
            spool.close()
            #expect(readiness.checkNow().reason.hasPrefix("spool unavailable"))
        }
    }

    @Test func theWriteProbeReportsAnUnwritableDirectory() {
        #expect(Readiness.probeWrite(directory: "/nonexistent-\(UUID().uuidString)") != nil)
        #expect(Readiness.probeWrite(directory: FileManager.default.temporaryDirectory.path) == nil)
    }
}

struct AdminConfigTests {
    private func load(_ yaml: String, environment: [String: String] = [:]) throws -> RelaySettings {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-admin-\(UUID().uuidString).yml")
        defer { try? FileManager.default.removeItem(at: file) }
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return try RelaySettings(config: try CutoverConfig.load(path: file.path, environment: environment), environment: environment)
    }

    @Test func adminListenerAndTokenFromTheEnvironment() throws {
        let settings = try load(
            "admin:\n  listen: 127.0.0.1:9090\n  token: {env: ADMIN_TOKEN}\n", environment: ["ADMIN_TOKEN": "0123456789abcdef0123"])
        #expect(settings.admin?.listen.port == 9090)
        #expect(settings.admin?.token == "0123456789abcdef0123")
        #expect(try load("").admin == nil, "no admin API unless configured")
    }

    @Test func adminNeedsALongEnoughTokenAndItsOwnPort() throws {
        #expect(throws: ConfigError.self) { try load("admin:\n  listen: 127.0.0.1:9090\n") }
        #expect(throws: ConfigError.self) { try load("admin:\n  listen: 127.0.0.1:9090\n  token: short\n") }
        #expect(throws: ConfigError.self) {
            try load("listen: 127.0.0.1:9090\nadmin:\n  listen: 127.0.0.1:9090\n  token: 0123456789abcdef0123\n")
        }
        #expect(throws: (any Error).self) { try load("admin:\n  listen: 127.0.0.1:9090\n  tokn: x\n") }
    }

    @Test func theExampleConfigsAdminBlockIsValidUncommented() throws {
        let example = try String(contentsOf: Repo.url("deploy/cutover.example.yml"), encoding: .utf8)
        let lines = example.split(separator: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("# admin:") })
        let block = lines[start..<start + 3]
        #expect(block.last?.hasPrefix("#   token:") == true)
        let yaml = block.map { String($0.dropFirst(2)) }.joined(separator: "\n") + "\n"
        let settings = try load(yaml, environment: ["CUTOVER_SECRET_ADMIN_TOKEN": "0123456789abcdef-admin"])
        #expect(settings.admin?.listen.description == "127.0.0.1:9091")
    }

    @Test func durationsNeedUnits() {
        #expect(DurationText.seconds("1d12h") == 129_600)
        #expect(DurationText.seconds("90s") == 90)
        #expect(DurationText.seconds("7") == nil)
        #expect(DurationText.seconds("") == nil)
    }
}
