import CutoverHTTP
import CutoverHTTPClient
import CutoverSpool
import CutoverWebhooks
import Dispatch
import Foundation
import HTTPTypes
import Logging
import Synchronization

/// Sends one destination's due deliveries, up to its concurrency, and records each outcome in
/// the spool: delivered, retry later, or dead letter. A failing destination only slows itself.
final class DeliveryWorker: @unchecked Sendable {
    // Invariant: `inFlight`, `timer`, `stopped`, `sink` and `onDrained` are touched only on `queue`.
    let destination: RelaySettings.DestinationSettings
    private let spool: Spool
    private let client: HTTPClient
    private let policy: RetryPolicy
    private let concurrency: Int
    private let counters: Counters
    private let logger: Logger
    private let queue: DispatchQueue
    private var inFlight = 0
    private var timer: (any DispatchSourceTimer)?
    private var stopped = false
    private var sink: JSONLinesSink?
    private var onDrained: (@Sendable () -> Void)?
    /// Set while a pump is queued, so a burst of accepted requests costs one spool query, not one each.
    private let pumpQueued = Atomic<Bool>(false)

    init(
        destination: RelaySettings.DestinationSettings, spool: Spool, client: HTTPClient, policy: RetryPolicy,
        concurrency: Int, counters: Counters, logger: Logger
    ) {
        self.destination = destination
        self.spool = spool
        self.client = client
        self.policy = policy
        self.concurrency = concurrency
        self.counters = counters
        self.logger = logger
        queue = DispatchQueue(label: "cutover.delivery.\(destination.name)")
    }

    /// New deliveries may be due: look now.
    func poke() {
        guard !pumpQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.async { [self] in
            pumpQueued.store(false, ordering: .releasing)
            pump()
        }
    }

    /// Stops claiming; deliveries in flight finish and are recorded. `completion` runs when they have.
    func stop(completion: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            stopped = true
            timer?.cancel()
            timer = nil
            onDrained = completion
            closeIfDrained()
        }
    }

    private func closeIfDrained() {
        guard stopped, inFlight == 0, let onDrained else { return }
        self.onDrained = nil
        sink?.close()
        onDrained()
    }

    private func pump() {
        guard !stopped else { return }
        let capacity = concurrency - inFlight
        guard capacity > 0 else { return }
        let claimed: [ClaimedDelivery]
        do {
            claimed = try spool.claim(destination: destination.name, now: Date().timeIntervalSince1970, limit: capacity)
        } catch {
            logger.error("claiming deliveries failed", metadata: ["destination": "\(destination.name)", "error": "\(error)"])
            wake(at: Date().timeIntervalSince1970 + 1)
            return
        }
        for delivery in claimed {
            inFlight += 1
            deliver(delivery)
        }
        if claimed.count < capacity { scheduleNextDue() }
    }

    private func scheduleNextDue() {
        guard let due = try? spool.nextDueTime(destination: destination.name) else { return }
        let now = Date().timeIntervalSince1970
        if due > now {
            wake(at: due)
        } else if inFlight == 0 {
            // Due but not claimable with nothing in flight should not happen; look again shortly
            // rather than spin.
            wake(at: now + 1)
        }
        // Otherwise what is due waits behind an in-flight delivery for the same contact, whose
        // completion pumps again.
    }

    private func wake(at time: Double) {
        timer?.cancel()
        let delay = max(0, time - Date().timeIntervalSince1970)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(Int(delay * 1000) + 1), leeway: .milliseconds(5))
        timer.setEventHandler { [self] in
            self.timer?.cancel()
            self.timer = nil
            pump()
        }
        self.timer = timer
        timer.activate()
    }

    // MARK: One delivery

    private func deliver(_ delivery: ClaimedDelivery) {
        let rendered: RenderedDelivery
        do {
            rendered = try render(delivery)
        } catch let filtered as FilteredOut {
            finish(delivery, outcome: .filtered(filtered.reason))
            return
        } catch {
            // A stored event that cannot be rendered will never render: retrying cannot help.
            finish(delivery, outcome: .permanentFailure("cannot render: \(error)", status: nil))
            return
        }
        switch destination.target {
        case .jsonLinesFile(let path):
            do {
                if sink == nil { sink = try JSONLinesSink(path: path) }
                try sink!.append(rendered.body)
                finish(delivery, outcome: .delivered(status: 200))
            } catch {
                finish(delivery, outcome: .failed("\(error)", status: nil, retryAfter: nil))
            }
        case .http(let url):
            let request = ClientRequest(url: url, method: .post, headerFields: rendered.headers, body: rendered.body)
            let started = DispatchTime.now()
            client.execute(request) { [self] result in
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
                queue.async { [self] in finish(delivery, outcome: DeliveryOutcome(result), seconds: elapsed) }
            }
        }
    }

    private struct RenderedDelivery {
        var body: [UInt8]
        var headers: HTTPFields
    }

    private struct MissingRawRequest: Error, CustomStringConvertible {
        var requestID: Int64
        var description: String { "raw request \(requestID) is no longer in the spool" }
    }

    /// The destination's API has no such notification and its policy said to leave it out.
    private struct FilteredOut: Error {
        var reason: String
    }

    private func render(_ delivery: ClaimedDelivery) throws -> RenderedDelivery {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.userAgent] = "Cutover"
        for header in destination.headers {
            if let name = HTTPField.Name(header.name) { headers[name] = header.value }
        }
        let body: [UInt8]
        switch destination.format {
        case .raw:
            guard let request = try spool.request(id: delivery.requestID) else {
                throw MissingRawRequest(requestID: delivery.requestID)
            }
            body = request.body
        case .canonical:
            body = try CanonicalEvent(bytes: delivery.payload).serialized()
        case .onprem, .cloud:
            let event = try CanonicalEvent(bytes: delivery.payload)
            let outcome = WebhookRenderer.render(events: [event], as: destination.format == .cloud ? .cloud : .onprem)
            guard let rendered = outcome.body else {
                throw FilteredOut(reason: outcome.dropped.first?.reason ?? "not representable in \(destination.format.rawValue)")
            }
            body = rendered
        }
        // The event id lets the endpoint drop a repeat after a crash mid-delivery (at least once).
        if destination.format == .canonical {
            headers[HTTPField.Name("webhook-id")!] = delivery.eventID
        }
        headers[HTTPField.Name("X-Cutover-Event-Id")!] = delivery.eventID
        if destination.format == .cloud, let secret = destination.appSecret {
            headers[HTTPField.Name("X-Hub-Signature-256")!] = try WebhookSignature.sign(body: body, secret: secret)
        }
        return RenderedDelivery(body: body, headers: headers)
    }

    private func finish(_ delivery: ClaimedDelivery, outcome: DeliveryOutcome, seconds: Double = 0) {
        inFlight -= 1
        let now = Date().timeIntervalSince1970
        let name = destination.name
        do {
            switch outcome {
            case .delivered(let status):
                try spool.markDelivered(id: delivery.id, status: status)
                counters.increment("cutover_deliveries_total", ["destination": name, "outcome": "delivered"])
            case .filtered(let reason):
                // Deliberately not sent (the destination's API has no such notification): counted, not lost.
                try spool.markDelivered(id: delivery.id, status: 0)
                counters.increment("cutover_deliveries_total", ["destination": name, "outcome": "filtered"])
                logger.info("event filtered for destination", metadata: ["destination": "\(name)", "event": "\(delivery.eventID)", "reason": "\(reason)"])
            case .permanentFailure(let reason, let status):
                try spool.deadLetter(id: delivery.id, error: reason, status: status)
                counters.increment("cutover_deliveries_total", ["destination": name, "outcome": "dead"])
                logger.error("delivery dead-lettered", metadata: ["destination": "\(name)", "event": "\(delivery.eventID)", "reason": "\(reason)"])
            case .failed(let reason, let status, let retryAfter):
                let attempts = delivery.attempts + 1
                switch policy.decide(attempts: attempts, arrivedAt: delivery.createdAt, now: now, retryAfter: retryAfter, unitRandom: Double.random(in: 0...1)) {
                case .retry(let at):
                    try spool.scheduleRetry(id: delivery.id, at: at, error: reason, status: status)
                    counters.increment("cutover_deliveries_total", ["destination": name, "outcome": "retry"])
                    logger.info("delivery failed, will retry", metadata: ["destination": "\(name)", "event": "\(delivery.eventID)", "attempt": "\(attempts)", "error": "\(reason)"])
                case .deadLetter(let why):
                    try spool.deadLetter(id: delivery.id, error: "\(reason); \(why)", status: status)
                    counters.increment("cutover_deliveries_total", ["destination": name, "outcome": "dead"])
                    logger.error("delivery dead-lettered", metadata: ["destination": "\(name)", "event": "\(delivery.eventID)", "reason": "\(why)"])
                }
            }
        } catch {
            // The claim stays in flight; a restart returns it to the queue (at least once).
            logger.error("recording a delivery outcome failed", metadata: ["destination": "\(name)", "error": "\(error)"])
        }
        closeIfDrained()
        pump()
    }
}

/// What one attempt came to.
enum DeliveryOutcome {
    case delivered(status: Int)
    case failed(String, status: Int?, retryAfter: Double?)
    case permanentFailure(String, status: Int?)
    case filtered(String)

    init(_ result: Result<HTTP1Response, HTTPClientError>) {
        switch result {
        case .success(let response):
            let status = response.head.status.code
            if (200..<300).contains(status) {
                self = .delivered(status: status)
            } else {
                let excerpt = String(decoding: response.body.prefix(256), as: UTF8.self)
                let retryAfter = response.head.headerFields[.retryAfter].flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                self = .failed("HTTP \(status): \(excerpt)", status: status, retryAfter: retryAfter)
            }
        case .failure(let error):
            self = .failed(error.description, status: nil, retryAfter: nil)
        }
    }
}
