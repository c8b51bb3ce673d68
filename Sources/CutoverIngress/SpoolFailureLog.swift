import CutoverOperations
import CutoverSpool
import Logging
import Synchronization

/// Logs the spool failures ingest meets without letting a sick disk flood the log: a fault (spool
/// lost or corrupt) is logged once by the relay's fault observer, which also counts each; a commit
/// timeout is logged once per stall (until a commit succeeds again) and counted each time; any
/// other failure is rare and logged every time.
final class SpoolFailureLog: Sendable {
    private let metrics: RelayMetrics
    private let logger: Logger
    private let stalled = Atomic<Bool>(false)

    init(metrics: RelayMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    func recordSuccess() {
        if stalled.load(ordering: .relaxed) { stalled.store(false, ordering: .relaxed) }
    }

    func report(_ error: SpoolError, route: String, requestID: String) {
        if error.isFault { return }
        if error.kind == .timeout {
            metrics.countSpoolCommitTimeout()
            guard !stalled.exchange(true, ordering: .relaxed) else { return }
            logger.error(
                "spool commit timed out; answering 503 until commits finish in time again",
                metadata: ["route": "\(route)", "error": "\(error)", "request_id": "\(requestID)"])
            return
        }
        logger.error("spool write failed", metadata: ["route": "\(route)", "error": "\(error)", "request_id": "\(requestID)"])
    }
}
