@testable import CutoverConfiguration
@testable import CutoverDelivery
import CutoverHTTPClient
@testable import CutoverIngress
@testable import CutoverOperations
@testable import CutoverRelay
import CutoverSockets
import CutoverSpool
import CutoverTestSupport
import CutoverWebhooks
import Foundation
import Logging
import CutoverLocking
import Testing

/// The retry schedule a real worker writes to the spool, with the clock and the jitter injected:
/// each attempt is triggered by moving the fake clock, never by waiting.
@Suite(.serialized)
struct RetryScheduleTests {
    final class FakeClock: Sendable {
        let now = Locked<Double>(1_000_000)
    }

    private func run(downstreamArguments: [String], attempts: Int) throws -> [DeliveryResult.Result] {
        // A Python downstream (scripts/test-downstream.py) answering every request with `--status`.
        let downstream = try Downstream(arguments: downstreamArguments)
        let directory = try TemporaryDirectory(prefix: "cutover-retry")
        defer { withExtendedLifetime((downstream, directory)) {} }
        let spool = try Spool.open(directory: directory.path)
        defer { spool.close() }
        let clock = FakeClock()
        _ = try spool.ingest([
            IncomingRequest(
                receivedAt: 1_000_000, route: "onprem/default", headers: [], body: Array("{}".utf8),
                events: [IncomingEvent(id: "e1", type: "com.whatsapp.message.received", contactKey: "c", payload: Array("{}".utf8), destinations: ["d"])]
            )
        ])

        var config = CutoverConfig()
        config.destinations = [.init(name: "d", url: try #require(DestinationURL("http://127.0.0.1:\(downstream.port)/hook")), format: .raw)]
        let destination = try #require(try RelaySettings(config: config, environment: [:]).destinations.first)
        let worker = DeliveryWorker(
            destination: destination, spool: spool, client: HTTPClient(loops: TestLoops.make(count: 1, label: "test.retry")),
            policy: RetryPolicy(initialDelay: 1, maxDelay: 60, horizon: 3600),
            breaker: CircuitBreaker(failureThreshold: 1000, openDuration: 1, maxOpenDuration: 1),
            metrics: RelayMetrics(), logger: Logger(label: "test"),
            environment: DeliveryEnvironment(now: { clock.now.withLock { $0 } }, unitRandom: { 1 })
        )
        let recorded = Locked<[DeliveryResult.Result]>([])
        let batchDone = DispatchSemaphore(value: 0)
        worker.onBatchRecorded = { batch in
            recorded.withLock { $0 += batch.map(\.result) }
            batchDone.signal()
        }
        for _ in 0..<attempts {
            worker.poke()
            #expect(batchDone.wait(timeout: .now() + 10) == .success)
            // Move the clock to when the retry is due; the next poke finds it claimable.
            if case .retry(let at, _, _)? = recorded.withLock({ $0.last }) { clock.now.withLock { $0 = at } }
        }
        let stopped = DispatchSemaphore(value: 0)
        worker.stop { stopped.signal() }
        try #require(stopped.wait(timeout: .now() + 30) == .success, "the worker stopped")
        return recorded.withLock { $0 }
    }

    @Test func exponentialBackoffWithTheJitterAtItsCeiling() throws {
        let results = try run(downstreamArguments: ["--status", "500"], attempts: 5)
        let times = results.compactMap { result -> Double? in
            guard case .retry(let at, _, let status) = result, status == 500 else { return nil }
            return at
        }
        // Each retry is due 1, 2, 4, 8, 16 s after the attempt that failed. (The worker may already
        // have made one more attempt when the clock moved under it: only the first five are checked.)
        #expect(Array(times.prefix(5)) == [1_000_001, 1_000_003, 1_000_007, 1_000_015, 1_000_031])
    }

    @Test func retryAfterOn503IsHonoured() throws {
        let results = try run(downstreamArguments: ["--status", "503", "--retry-after", "120"], attempts: 2)
        guard results.count >= 2, case .retry(let first, _, 503) = results[0], case .retry(let second, _, 503) = results[1] else {
            Issue.record("expected two retries, got \(results)")
            return
        }
        #expect(first == 1_000_120)
        #expect(second == 1_000_240)
    }

    @Test func aGoneEndpointIsDeadLetteredAtOnce() throws {
        let results = try run(downstreamArguments: ["--status", "410"], attempts: 1)
        guard case .dead(_, 410) = results.first else {
            Issue.record("expected a dead letter, got \(results)")
            return
        }
    }
}
