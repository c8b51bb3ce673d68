import CutoverLocking

/// Each destination's recent responses since the process started: classes (2xx, 4xx, 5xx,
/// transport error), a window of the latest latencies for p50/p99, the worker's decisions
/// (delivered, retry, dead) and its circuit's state. Fed by the delivery workers through
/// `DestinationMetrics`; read by `GET /admin/destinations` beside what the spool counts.
package final class DestinationActivity: Sendable {
    /// The circuit as the worker last left it.
    package enum Circuit: String, Sendable {
        case closed, open
        case halfOpen = "half_open"
    }

    package struct Summary: Sendable {
        package var role: String
        package var responseClasses: [String: Int] = [:]
        package var delivered = 0
        package var retries = 0
        package var dead = 0
        package var circuit = Circuit.closed
        package var circuitChangedAt: Double?
        package var latencySamples = 0
        package var latencyMeanMilliseconds: Double?
        package var latencyP50Milliseconds: Double?
        package var latencyP99Milliseconds: Double?
    }

    /// How many latest latencies the percentiles are taken over.
    static let latencyWindow = 512

    /// One destination's figures behind a lock of its own, so workers never contend with each other.
    final class Recorder: Sendable {
        private struct State {
            var summary: Summary
            var latencies: [Double] = []
            var next = 0
        }

        private let state: Locked<State>

        init(role: String) { state = Locked(State(summary: Summary(role: role))) }

        func setRole(_ role: String) { state.withLock { $0.summary.role = role } }

        func recordResponse(class responseClass: String, milliseconds: Double) {
            state.withLock { state in
                state.summary.responseClasses[responseClass, default: 0] += 1
                if state.latencies.count < DestinationActivity.latencyWindow {
                    state.latencies.append(milliseconds)
                } else {
                    state.latencies[state.next] = milliseconds
                }
                state.next = (state.next + 1) % DestinationActivity.latencyWindow
            }
        }

        func update(_ change: (inout Summary) -> Void) { state.withLock { change(&$0.summary) } }

        /// The latency figures are computed from a copy of the window, outside the lock.
        func summary() -> Summary {
            let (summary, latencies) = state.withLock { ($0.summary, $0.latencies) }
            var result = summary
            let sorted = latencies.sorted()
            result.latencySamples = sorted.count
            if !sorted.isEmpty {
                result.latencyMeanMilliseconds = sorted.reduce(0, +) / Double(sorted.count)
                result.latencyP50Milliseconds = DestinationActivity.percentile(sorted, 0.50)
                result.latencyP99Milliseconds = DestinationActivity.percentile(sorted, 0.99)
            }
            return result
        }
    }

    private let recorders = Locked<[String: Recorder]>([:])

    package init() {}

    /// The recorder of `name`, made on first use; a reloaded destination keeps its figures.
    func recorder(for name: String, role: String) -> Recorder {
        let recorder = recorders.withLock { recorders in
            if let existing = recorders[name] { return existing }
            let made = Recorder(role: role)
            recorders[name] = made
            return made
        }
        recorder.setRole(role)
        return recorder
    }

    /// Every destination that had a worker since the process started.
    package func snapshot() -> [String: Summary] {
        recorders.withLock { $0 }.mapValues { $0.summary() }
    }

    /// Nearest rank.
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }
}
