import CoreMetrics
import CutoverLocking
import CutoverSpool
import Dispatch
import Logging
import ServiceLifecycle

/// Queue depth, dead letters and oldest pending age per destination, read from `Spool.stats()` (the
/// counts the spool keeps, on its read-only connection) every `interval`: the reads never run on the
/// ingest or delivery path, never wait behind a commit, and a scrape never waits for them.
package final class SpoolGauges: Service {
    private let interval: Duration
    private let clock: any Clock<Duration>
    private let wallClock: WallClock
    /// Reads block a thread for a moment; they do it here, not on the cooperative pool.
    private let queue = DispatchQueue(label: "cutover.metrics.spool-gauges", qos: .utility)
    private let spool: any SpoolBackend
    private let metrics: RelayMetrics
    private let logger: Logger
    /// Destinations configured now (set on start and reload) plus any seen in the spool.
    private let configured: Locked<Set<String>>

    package init(
        spool: any SpoolBackend, metrics: RelayMetrics, destinations: [String], interval: Duration = .seconds(10),
        clock: any Clock<Duration> = ContinuousClock(), wallClock: WallClock = .system, logger: Logger
    ) {
        self.spool = spool
        self.metrics = metrics
        self.logger = logger
        configured = Locked(Set(destinations))
        self.interval = interval
        self.clock = clock
        self.wallClock = wallClock
    }

    package func setDestinations(_ names: [String]) {
        configured.withLock { $0 = Set(names) }
    }

    /// Refreshes now, then every `interval`, until graceful shutdown; a refresh in progress finishes
    /// first, so the spool can close once this returns.
    package func run() async throws {
        try? await cancelWhenGracefulShutdown { [self] in
            while true {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    queue.async { [self] in
                        refresh()
                        continuation.resume()
                    }
                }
                try await clock.sleep(for: interval)
            }
        }
    }

    /// Reads the spool and sets every gauge; also callable directly (tests).
    func refresh(now: Double? = nil) {
        let now = now ?? wallClock.now()
        let stats: SpoolStats
        do {
            stats = try spool.stats(now: now)
        } catch {
            metrics.spoolStatsFailures.increment()
            logger.debug("spool stats for metrics failed", metadata: ["error": "\(error)"])
            return
        }
        let names = configured.withLock { $0 }.union(stats.deliveries.keys)
        for name in names {
            let counts = stats.deliveries[name] ?? SpoolStats.DeliveryCounts()
            metrics.queueDepth(name, "pending").record(counts.pending)
            metrics.queueDepth(name, "inflight").record(counts.inflight)
            metrics.deadLetters(name).record(counts.dead)
            let age = stats.oldestPendingCreatedAtByDestination[name].map { max(0, now - $0) } ?? 0
            metrics.oldestPendingAge(name).record(age)
        }
        metrics.quarantinedRequests.record(stats.quarantined)
    }
}
