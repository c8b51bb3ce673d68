import CoreMetrics
import CutoverSpool
import Dispatch
import Logging
import Synchronization

/// Queue depth, dead letters and oldest pending age per destination, read from `Spool.stats()` on a
/// timer of its own: the counting queries never run on the ingest or delivery path, and a scrape
/// never waits for them.
package final class SpoolGauges: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let interval: Double
    private let queue = DispatchQueue(label: "cutover.metrics.spool-gauges", qos: .utility)
    private let spool: Spool
    private let metrics: RelayMetrics
    private let logger: Logger
    /// Destinations configured now (set on start and reload) plus any seen in the spool.
    private let configured: Mutex<Set<String>>

    /// Refreshes now (on its own queue), then every `interval` seconds.
    package init(spool: Spool, metrics: RelayMetrics, destinations: [String], interval: Double = 10, logger: Logger) {
        self.spool = spool
        self.metrics = metrics
        self.logger = logger
        configured = Mutex(Set(destinations))
        self.interval = interval
        queue.async { [weak self] in self?.tick() }
    }

    package func setDestinations(_ names: [String]) {
        configured.withLock { $0 = Set(names) }
    }

    private func tick() {
        guard !stopped.load(ordering: .acquiring) else { return }
        refresh()
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(interval * 1000))) { [weak self] in self?.tick() }
    }

    /// Reads the spool and sets every gauge; also callable directly (tests).
    func refresh(now: Double = Spool.currentTime()) {
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

    /// Stops the timer and waits for a refresh in progress (the spool closes next).
    package func stop() {
        stopped.store(true, ordering: .releasing)
        queue.sync {}
    }
}
