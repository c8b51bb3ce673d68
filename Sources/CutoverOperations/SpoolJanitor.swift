import CutoverConfiguration
import CutoverSpool
import Dispatch
import Logging
import ServiceLifecycle

/// Prunes finished work from the spool every `retention.intervalSeconds`, off the ingest path:
/// delivered events past the dedup window and raw requests past their retention. The spool deletes
/// in bounded batches, so ingest waits at most one batch.
package struct SpoolJanitor: Service {
    private let spool: any SpoolBackend
    private let policy: RetentionPolicy
    private let interval: Duration
    private let clock: any Clock<Duration>
    private let wallClock: WallClock
    private let metrics: RelayMetrics
    private let logger: Logger
    /// A prune blocks a thread for its batches; it does it here, not on the cooperative pool.
    private let queue = DispatchQueue(label: "cutover.janitor", qos: .utility)

    package init(
        spool: any SpoolBackend, retention: CutoverConfig.Retention, clock: any Clock<Duration> = ContinuousClock(),
        wallClock: WallClock = .system, metrics: RelayMetrics, logger: Logger
    ) {
        self.spool = spool
        policy = RetentionPolicy(dedupDays: retention.dedupDays, rawDays: retention.rawDays)
        interval = .milliseconds(Int(retention.intervalSeconds * 1000))
        self.clock = clock
        self.wallClock = wallClock
        self.metrics = metrics
        self.logger = logger
    }

    /// Prunes every `interval` until graceful shutdown; a prune in progress finishes first, so the
    /// spool can close once this returns.
    package func run() async throws {
        try? await cancelWhenGracefulShutdown { [self] in
            while true {
                try await clock.sleep(for: interval)
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    queue.async {
                        prune()
                        continuation.resume()
                    }
                }
            }
        }
    }

    func prune() {
        do {
            let report = try spool.prune(now: wallClock.now(), policy: policy)
            guard !report.isEmpty else { return }
            metrics.countPruned(events: report.events, requests: report.requests)
            logger.info("spool pruned", metadata: ["events": "\(report.events)", "requests": "\(report.requests)"])
        } catch {
            logger.error("spool pruning failed", metadata: ["error": "\(error)"])
        }
    }
}
