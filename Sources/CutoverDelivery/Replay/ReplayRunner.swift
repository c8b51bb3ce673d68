import CutoverConfiguration
import CutoverHTTP
import CutoverHTTPClient
import CutoverLocking
import CutoverSockets
import CutoverTLS
import CutoverWebhooks
import Dispatch
import Foundation
import HTTPTypes

/// The time a replay paces itself by; tests give it a fake one.
package protocol ReplayClock: Sendable {
    /// Unix seconds.
    func now() -> Double
    /// Returns at `deadline` or later.
    func sleep(until deadline: Double) async
}

package struct SystemReplayClock: ReplayClock {
    package init() {}

    package func now() -> Double { Date().timeIntervalSince1970 }

    package func sleep(until deadline: Double) async {
        let delay = deadline - now()
        guard delay > 0 else { return }
        try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
    }
}

/// What became of one request.
package enum ReplayResponse: Sendable, Equatable {
    case status(Int, excerpt: String)
    case error(String)

    package var succeeded: Bool {
        if case .status(let status, _) = self { return (200..<300).contains(status) }
        return false
    }
}

/// Where replayed requests go; tests give it an in-process one.
package protocol ReplayTransport: Sendable {
    func send(_ request: ReplayRequest) async -> ReplayResponse
}

/// POSTs to one URL over Cutover's HTTP client (keep-alive, HTTP/2 over TLS when offered).
package final class HTTPReplayTransport: ReplayTransport {
    package let url: String
    private let destination: DestinationURL
    private let client: HTTPClient

    package init(url: String, timeoutSeconds: Double = 30) throws {
        guard let destination = DestinationURL(url) else {
            throw ReplaySourceError("--to: expected an http:// or https:// URL, got \(url)")
        }
        self.url = url
        self.destination = destination
        client = HTTPClient(
            configuration: HTTPClientConfiguration(requestTimeout: .milliseconds(Int(timeoutSeconds * 1000))),
            loops: DispatchEventLoop.makeGroup(count: 1, label: "cutover.replay")
        )
    }

    /// Answers at once with an error when the task is cancelled (a second Ctrl-C): the request may
    /// still reach the endpoint, but the replay stops waiting for it.
    package func send(_ request: ReplayRequest) async -> ReplayResponse {
        let clientRequest = ClientRequest(url: destination, method: .post, headerFields: request.fields, body: request.body)
        let answer = Answer()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard answer.wait(continuation) else { return }
                // The client resolves names off the calling thread and never blocks it.
                client.execute(clientRequest) { result in
                    switch result {
                    case .success(let response):
                        let excerpt = String(decoding: response.body.prefix(200), as: UTF8.self)
                        answer.resume(.status(response.head.status.code, excerpt: excerpt))
                    case .failure(let error):
                        answer.resume(.error(error.description))
                    }
                }
            }
        } onCancel: {
            answer.resume(.error("interrupted before an answer arrived"))
        }
    }

    /// One response, resumed once: by the client or by cancellation, whichever comes first.
    private final class Answer: Sendable {
        private enum State {
            case idle
            case waiting(CheckedContinuation<ReplayResponse, Never>)
            case done
        }

        private let state = Locked(State.idle)

        /// False when cancellation came first (the continuation is resumed at once).
        func wait(_ continuation: CheckedContinuation<ReplayResponse, Never>) -> Bool {
            let cancelled = state.withLock { state -> Bool in
                guard case .idle = state else { return true }
                state = .waiting(continuation)
                return false
            }
            if cancelled { continuation.resume(returning: .error("interrupted before an answer arrived")) }
            return !cancelled
        }

        func resume(_ response: ReplayResponse) {
            let continuation = state.withLock { state -> CheckedContinuation<ReplayResponse, Never>? in
                defer { state = .done }
                if case .waiting(let continuation) = state { return continuation }
                return nil
            }
            continuation?.resume(returning: response)
        }
    }

    package func shutdown() { client.shutdown() }
}

/// Counts so far; what the progress display and the summary show.
package struct ReplayProgress: Sendable, Equatable {
    /// Records in the source, when known.
    package var total: Int?
    /// Records read from the source.
    package var read = 0
    /// Records that passed the filters.
    package var matched = 0
    /// Requests sent (or, in a dry run, rendered).
    package var sent = 0
    /// Requests answered 2xx.
    package var succeeded = 0
    /// Requests answered otherwise or not at all, plus records and events that could not be replayed.
    package var failed = 0
    /// Events the target format has no place for.
    package var skipped = 0
    package var elapsed = 0.0
    /// Failures that were never sent (cannot decode, cannot sign).
    package var unsendable = 0

    package init(total: Int? = nil) { self.total = total }

    /// Requests per second so far.
    package var rate: Double { elapsed > 0 ? Double(sent) / elapsed : 0 }

    /// Seconds left at the pace so far, when the total is known.
    package var eta: Double? {
        guard let total, read > 0, elapsed > 0 else { return nil }
        return Double(max(0, total - read)) * elapsed / Double(read)
    }
}

/// The end of a replay.
package struct ReplaySummary: Sendable {
    package var progress: ReplayProgress
    /// The first failures, `label event: reason` (at most `ReplayRunner.keptFailures`).
    package var failures: [String] = []
    package var skipped: [String] = []
    /// Why the replay stopped before the end of its source (`SIGINT`); nil when it ran to the end.
    package var interrupted: String?
    /// Requests prepared but never sent because the replay was interrupted.
    package var notSent = 0

    package var anyFailed: Bool { progress.failed > 0 }

    /// Records the source still held when the replay stopped, when its size is known.
    package var unread: Int? { progress.total.map { max(0, $0 - progress.read) } }
}

/// Reads a source, prepares each record with a plan, and sends the requests at the rate and
/// concurrency given. Sends are paced by `ReplayPacer` against `clock`.
package struct ReplayRunner: Sendable {
    package var plan: ReplayPlan
    /// Requests per second; nil: as fast as `concurrency` allows.
    package var rate: Double?
    package var concurrency: Int
    package var clock: any ReplayClock
    package static let keptFailures = 20

    package init(plan: ReplayPlan, rate: Double? = nil, concurrency: Int = 4, clock: any ReplayClock = SystemReplayClock()) {
        precondition(concurrency > 0)
        self.plan = plan
        self.rate = rate
        self.concurrency = concurrency
        self.clock = clock
    }

    private struct Outcome: Sendable {
        var request: ReplayRequest
        var response: ReplayResponse
    }

    /// Sends everything `source` yields; `onProgress` is called after each record and each answer.
    /// Once `interruption` is set, nothing more is read or sent and the requests in flight are
    /// waited for (each bounded by the transport's timeout; cancelling the task makes the
    /// transport give up on them).
    package func run(
        source: any ReplaySource, transport: any ReplayTransport, interruption: ReplayInterruption? = nil,
        onProgress: (ReplayProgress) -> Void = { _ in }
    ) async throws -> ReplaySummary {
        let started = clock.now()
        var summary = ReplaySummary(progress: ReplayProgress(total: source.estimatedCount))
        var pacer = ReplayPacer(rate: rate)
        let clock = clock
        func handle(_ outcome: Outcome) {
            if outcome.response.succeeded {
                summary.progress.succeeded += 1
            } else {
                summary.progress.failed += 1
                let reason: String
                switch outcome.response {
                case .status(let status, let excerpt): reason = "HTTP \(status)" + (excerpt.isEmpty ? "" : ": \(excerpt)")
                case .error(let message): reason = message
                }
                note("\(outcome.request.label) \(outcome.request.eventIDs.joined(separator: ",")): \(reason)")
            }
            summary.progress.elapsed = clock.now() - started
            onProgress(summary.progress)
        }
        func note(_ failure: String) {
            if summary.failures.count < Self.keptFailures { summary.failures.append(failure) }
        }
        func pause(until slot: Double) async {
            guard let interruption, slot > clock.now() else { return await clock.sleep(until: slot) }
            await withTaskGroup(of: Void.self) { pacing in
                pacing.addTask { await clock.sleep(until: slot) }
                pacing.addTask { await interruption.wait() }
                await pacing.next()
                pacing.cancelAll()
            }
        }
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            var inFlight = 0
            while interruption?.reason == nil, let record = try source.next() {
                summary.progress.read += 1
                let prepared = plan.prepare(record, now: clock.now())
                account(prepared, in: &summary)
                for failure in prepared.failures { note(failure) }
                for request in prepared.requests {
                    if interruption?.reason == nil, inFlight >= concurrency, let outcome = try await group.next() {
                        inFlight -= 1
                        handle(outcome)
                    }
                    if interruption?.reason == nil {
                        await pause(until: pacer.reserve(now: clock.now()))
                    }
                    guard interruption?.reason == nil else {
                        summary.notSent += 1
                        continue
                    }
                    var request = request
                    request.releasedAt = clock.now()
                    summary.progress.sent += 1
                    inFlight += 1
                    group.addTask { Outcome(request: request, response: await Self.send(request, over: transport, until: interruption)) }
                }
                summary.progress.elapsed = clock.now() - started
                onProgress(summary.progress)
            }
            while let outcome = try await group.next() { handle(outcome) }
        }
        summary.interrupted = interruption?.reason
        summary.progress.elapsed = clock.now() - started
        return summary
    }

    /// The transport's answer, or an error once the replay is abandoned (the send is cancelled).
    private static func send(
        _ request: ReplayRequest, over transport: any ReplayTransport, until interruption: ReplayInterruption?
    ) async -> ReplayResponse {
        guard let interruption else { return await transport.send(request) }
        return await withTaskGroup(of: ReplayResponse?.self) { race in
            race.addTask { await transport.send(request) }
            race.addTask {
                await interruption.wait(abandonOnly: true)
                return nil
            }
            let first = await race.next() ?? nil
            race.cancelAll()
            return first ?? .error("interrupted before an answer arrived")
        }
    }

    /// Prepares everything and hands each request to `output` instead of sending it.
    package func dryRun(
        source: any ReplaySource, interruption: ReplayInterruption? = nil, output: (ReplayRequest) -> Void
    ) throws -> ReplaySummary {
        var summary = ReplaySummary(progress: ReplayProgress(total: source.estimatedCount))
        while interruption?.reason == nil, let record = try source.next() {
            summary.progress.read += 1
            let prepared = plan.prepare(record, now: clock.now())
            account(prepared, in: &summary)
            summary.failures += prepared.failures.prefix(Self.keptFailures - min(Self.keptFailures, summary.failures.count))
            for request in prepared.requests {
                summary.progress.sent += 1
                output(request)
            }
        }
        summary.interrupted = interruption?.reason
        return summary
    }

    private func account(_ prepared: ReplayPlan.Prepared, in summary: inout ReplaySummary) {
        if prepared.matched { summary.progress.matched += 1 }
        summary.progress.failed += prepared.failures.count
        summary.progress.unsendable += prepared.failures.count
        summary.progress.skipped += prepared.skipped.count
        summary.skipped += prepared.skipped.prefix(max(0, Self.keptFailures - summary.skipped.count))
    }
}

// MARK: Display

/// Progress and summary text: a bar redrawn in place on a terminal, plain lines elsewhere.
package enum ReplayDisplay {
    /// `[########............]  42%  420/1000  sent 431  2xx 430  failed 1  10.2/s  ETA 0:57`
    package static func bar(_ progress: ReplayProgress, width: Int = 24) -> String {
        var text: String
        if let total = progress.total, total > 0 {
            let fraction = min(1, Double(progress.read) / Double(total))
            let filled = Int((fraction * Double(width)).rounded(.down))
            text = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            text += pad("\(Int((fraction * 100).rounded(.down)))%", 4) + "  \(progress.read)/\(total)"
        } else {
            text = "\(progress.read) read"
        }
        text += "  sent \(progress.sent)  2xx \(progress.succeeded)  failed \(progress.failed)"
        // Rate and ETA need a second of history to mean anything.
        guard progress.elapsed >= 1 else { return text }
        text += "  " + String(format: "%.1f/s", progress.rate)
        if let eta = progress.eta { text += "  ETA " + clock(eta) }
        return text
    }

    /// `replay: 420/1000 read, 431 sent, 430 2xx, 1 failed, 10.2/s, ETA 57s`
    package static func line(_ progress: ReplayProgress) -> String {
        var text = "replay: \(progress.read)\(progress.total.map { "/\($0)" } ?? "") read, \(progress.sent) sent, "
        text += "\(progress.succeeded) 2xx, \(progress.failed) failed"
        guard progress.elapsed >= 1 else { return text }
        text += ", " + String(format: "%.1f/s", progress.rate)
        if let eta = progress.eta { text += ", ETA \(Int(eta.rounded()))s" }
        return text
    }

    /// `sent 12, 2xx 11, failed 1, skipped 0 (14 read, 12 matched, 3.1s, 3.9/s)`
    package static func summary(_ summary: ReplaySummary) -> String {
        let p = summary.progress
        var text = "sent \(p.sent), 2xx \(p.succeeded), failed \(p.failed), skipped \(p.skipped) "
            + "(\(p.read) read, \(p.matched) matched, " + String(format: "%.1fs, %.1f/s", p.elapsed, p.rate) + ")"
        if let reason = summary.interrupted {
            text += "; interrupted by \(reason): not sent \(summary.notSent) prepared"
            text += summary.unread.map { ", \($0) records unread" } ?? ", the rest of the source unread"
        }
        return text
    }

    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, total % 3600 / 60, total % 60)
        let two = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(two(minutes)):\(two(secs))" : "\(minutes):\(two(secs))"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
