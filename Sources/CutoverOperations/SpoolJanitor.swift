import CutoverConfiguration
import CutoverSpool
import Dispatch
import Foundation
import Logging

/// Prunes finished work from the spool on a timer, off the ingest path: delivered events past the
/// dedup window and raw requests past their retention. The spool deletes in bounded batches, so
/// ingest waits at most one batch.
package final class SpoolJanitor: @unchecked Sendable {
    // Invariant: `timer` is set once in init; DispatchSource is thread-safe to cancel.
    private let timer: any DispatchSourceTimer

    package init(spool: Spool, retention: CutoverConfig.Retention, metrics: RelayMetrics, logger: Logger) {
        let policy = RetentionPolicy(dedupDays: retention.dedupDays, rawDays: retention.rawDays)
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "cutover.janitor", qos: .utility))
        let interval = DispatchTimeInterval.milliseconds(Int(retention.intervalSeconds * 1000))
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .seconds(1))
        timer.setEventHandler {
            do {
                let report = try spool.prune(now: Date().timeIntervalSince1970, policy: policy)
                guard !report.isEmpty else { return }
                metrics.countPruned(events: report.events, requests: report.requests)
                logger.info("spool pruned", metadata: ["events": "\(report.events)", "requests": "\(report.requests)"])
            } catch {
                logger.error("spool pruning failed", metadata: ["error": "\(error)"])
            }
        }
        timer.activate()
    }

    package func stop() {
        timer.cancel()
    }
}
