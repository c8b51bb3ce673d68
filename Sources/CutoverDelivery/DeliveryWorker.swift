import CutoverConfiguration
import CutoverHTTP
import CutoverHTTPClient
import CutoverOperations
import CutoverSpool
import CutoverTLS
import CutoverWebhooks
import Dispatch
import Foundation
import HTTPTypes
import Logging
import Synchronization

/// The time and randomness a worker uses, injectable so schedules can be tested without sleeping.
package struct DeliveryEnvironment: Sendable {
    var now: @Sendable () -> Double = { Date().timeIntervalSince1970 }
    var unitRandom: @Sendable () -> Double = { Double.random(in: 0...1) }
}

/// Sends one destination's due deliveries, up to its concurrency, and records each outcome in
/// the spool: delivered, retry later, or dead letter. A failing destination only slows itself:
/// its circuit opens and its backlog waits in the spool.
///
/// The spool is written in turns: one transaction records every outcome decided since the last
/// turn and claims the next deliveries (`Spool.recordAndClaim`). A worker claims up to
/// `claimWindow` ahead of what it sends, so sending goes on from the claimed ones while outcomes
/// pile up for the next turn: under load a turn covers many deliveries. Turns start at least
/// `turnSpacing` apart, so at a moderate rate, where each outcome and each commit's poke would
/// otherwise cost a transaction of its own, one turn covers what arrived meanwhile (at 1000
/// events/s, 5 ms took the bookkeeping from 144 to 68 µs of CPU per event). Not while a claim
/// filled the window: draining a backlog, the spacing only idled the sends (20,000 events drained
/// 1.7 times slower).
package final class DeliveryWorker: @unchecked Sendable {
    // Invariant: every `var` is touched only on `queue` (`onBatchRecorded` is set before the first poke).
    package let destination: RelaySettings.DestinationSettings
    private let spool: any SpoolBackend
    private let client: HTTPClient
    /// Client TLS for an https destination with its own CA or client certificate.
    private let tls: TLSContext?
    private let policy: RetryPolicy
    /// Keyed once: every delivery of this destination renders and signs through it.
    private let outbound: OutboundRequestBuilder
    private let metrics: DestinationMetrics
    private let logger: Logger
    private let environment: DeliveryEnvironment
    private let queue: DispatchQueue
    /// Claimed and not yet sent, the earliest last (sent from the end).
    private var ready: [ClaimedDelivery] = []
    /// Handed to the client or the sink, outcome not yet decided.
    private var sending = 0
    private var timer: (any DispatchSourceTimer)?
    /// When `timer` fires (the environment's clock), while it is armed.
    private var timerFiresAt: Double?
    private var stopped = false
    private var sink: JSONLinesSink?
    private var breaker: CircuitBreaker
    /// The circuit state the cockpit was last told about.
    private var publishedCircuit = DestinationActivity.Circuit.closed
    private var onDrained: (@Sendable () -> Void)?
    /// Outcomes decided but not yet written to the spool, and whether a turn is queued.
    private var unrecorded: [DeliveryResult] = []
    private var turnQueued = false
    /// Uptime nanoseconds at which the last turn started, and the least time between two starts.
    private var lastTurnStartedAt: UInt64 = 0
    private let turnSpacingNanoseconds: UInt64
    /// The last claim took all the window allowed, so more is likely due in the spool: the next
    /// turn does not wait for the spacing, which would only idle the sends of a backlog.
    private var backlogInSpool = false
    /// Claimed but unrecorded deliveries at most: ready + sending + unrecorded.
    private let claimWindow: Int
    /// Test hook: called on the worker's queue after each batch of outcomes is written.
    var onBatchRecorded: (@Sendable ([DeliveryResult]) -> Void)?
    /// Test hook: called on the worker's queue as each turn starts, with its uptime nanoseconds.
    var onTurnStarted: (@Sendable (UInt64) -> Void)?
    /// Set while a pump is queued, so a burst of accepted requests costs one spool query, not one each.
    private let pumpQueued = Atomic<Bool>(false)
    /// The first bytes of each response body stored with its attempt (`delivery.response_body_keep_bytes`).
    private let responseBodyKeepBytes: Int
    /// The other side of each primary/shadow pair this destination is in, with the pair's metrics.
    private var comparedWith: [String: ComparisonMetrics] = [:]
    private let relayMetrics: RelayMetrics
    /// Events still decoded since their commit, so a fresh delivery renders without a parse.
    private let decodedEvents: DecodedEventCache?

    package init(
        destination: RelaySettings.DestinationSettings, spool: any SpoolBackend, client: HTTPClient, tls: TLSContext? = nil,
        policy: RetryPolicy,
        breaker: CircuitBreaker, metrics: RelayMetrics, logger: Logger, environment: DeliveryEnvironment = DeliveryEnvironment(),
        responseBodyKeepBytes: Int = 0, decodedEvents: DecodedEventCache? = nil, turnSpacing: Duration = .zero
    ) {
        turnSpacingNanoseconds = UInt64(max(0, turnSpacing / .nanoseconds(1)))
        self.responseBodyKeepBytes = max(0, responseBodyKeepBytes)
        // Only the rendered formats parse the stored payload.
        self.decodedEvents = destination.format.rendersDecodedEvent ? decodedEvents : nil
        self.destination = destination
        self.spool = spool
        self.client = client
        self.tls = tls
        self.policy = policy
        outbound = destination.outboundBuilder
        self.breaker = breaker
        self.metrics = metrics.destination(destination.name, role: destination.role.rawValue)
        relayMetrics = metrics
        self.logger = logger
        self.environment = environment
        queue = DispatchQueue(label: "cutover.delivery.\(destination.name)")
        claimWindow = destination.concurrency * Self.claimAhead
    }

    /// How many concurrencies' worth a worker claims: enough that a turn finds many outcomes
    /// waiting (with the window at the concurrency itself, a turn can record at most what one
    /// round trip returned), few enough that a claimed payload waits little for its send.
    static let claimAhead = 4

    /// The part of a refusal's body quoted in its error text.
    package static let errorExcerptBytes = 256

    /// The destinations on the other side of this one's primary/shadow pairs (every shadow for a
    /// primary, every primary for a shadow): their comparisons are counted as they settle.
    package func compare(with others: [String]) {
        let pairs = Dictionary(
            uniqueKeysWithValues: others.map { other in
                (other, destination.role == .shadow
                    ? relayMetrics.comparison(primary: other, shadow: destination.name)
                    : relayMetrics.comparison(primary: destination.name, shadow: other))
            })
        queue.async { [self] in comparedWith = pairs }
    }

    /// New deliveries may be due: look now.
    package func poke() {
        guard !pumpQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.async { [self] in
            pumpQueued.store(false, ordering: .releasing)
            pump()
        }
    }

    /// Stops claiming; deliveries in flight finish and are recorded. `completion` runs when they have.
    package func stop(completion: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            stopped = true
            timer?.cancel()
            timer = nil
            timerFiresAt = nil
            onDrained = completion
            // Claimed but unsent deliveries go back to pending; outcomes are recorded.
            if !ready.isEmpty || !unrecorded.isEmpty { queueTurn() }
            closeIfDrained()
        }
    }

    private func closeIfDrained() {
        guard stopped, sending == 0, ready.isEmpty, unrecorded.isEmpty, !turnQueued, let onDrained else { return }
        self.onDrained = nil
        sink?.close()
        onDrained()
    }

    /// New work may be due (a poke, a timer): a turn, unless the claimed ones already fill the window.
    private func pump() {
        guard !stopped else { return }
        if ready.count < destination.concurrency || !unrecorded.isEmpty { queueTurn() }
    }

    /// Queues a turn behind the completions already queued, so their outcomes join it; within
    /// `turnSpacing` of the last turn's start, at the end of that spacing (stopping, or working
    /// through a backlog: at once).
    private func queueTurn() {
        guard !turnQueued else { return }
        turnQueued = true
        let earliest = lastTurnStartedAt + turnSpacingNanoseconds
        if stopped || backlogInSpool || earliest <= DispatchTime.now().uptimeNanoseconds {
            queue.async { [self] in turn() }
        } else {
            queue.asyncAfter(deadline: DispatchTime(uptimeNanoseconds: earliest)) { [self] in turn() }
        }
    }

    /// One spool transaction: record what was decided, give back what will not be sent (stopping,
    /// or the circuit opened), claim what fits the window.
    private func turn() {
        turnQueued = false
        lastTurnStartedAt = DispatchTime.now().uptimeNanoseconds
        onTurnStarted?(lastTurnStartedAt)
        let now = environment.now()
        var outcomes = unrecorded
        unrecorded.removeAll(keepingCapacity: true)
        if !comparedWith.isEmpty {
            let others = Array(comparedWith.keys)
            for index in outcomes.indices { outcomes[index].comparedWith = others }
        }
        var limit = 0
        var releasing: [ClaimedDelivery] = []
        if stopped {
            releasing = ready
        } else {
            switch breaker.allowance(now: now) {
            case .any:
                limit = claimWindow - ready.count - sending
            case .probe:
                // One probe at a time while the circuit is half-open.
                limit = ready.isEmpty && sending == 0 ? 1 : 0
            case .none(let until):
                // The backlog waits in the spool, not claimed here, while the circuit is open.
                releasing = ready
                wake(at: until)
            }
        }
        publishCircuit(now: now)
        if !releasing.isEmpty { ready.removeAll() }
        let claimed: [ClaimedDelivery]
        let nextDue: DeliveryTurn.NextDue
        do {
            // Sink lines are durable before the deliveries they complete are recorded as done.
            if !outcomes.isEmpty { try sink?.synchronize() }
            let recorded = try spool.recordAndClaim(
                outcomes, releasing: releasing.map(\.id), destination: destination.name, now: now, limit: limit,
                withRequestBody: destination.format == .raw
            )
            claimed = recorded.claimed
            nextDue = recorded.nextDue
            countComparisons(recorded.settled, outcomes)
        } catch {
            // The claims stay in flight; a restart returns them to the queue (at least once).
            logger.error("recording outcomes and claiming deliveries failed", metadata: ["destination": "\(destination.name)", "error": "\(error)"])
            if !outcomes.isEmpty { onBatchRecorded?(outcomes) }
            if !stopped { wake(at: now + 1) }
            closeIfDrained()
            return
        }
        if !outcomes.isEmpty { onBatchRecorded?(outcomes) }
        if limit > 0 { backlogInSpool = claimed.count == limit }
        ready.insert(contentsOf: claimed.reversed(), at: 0)
        startSends()
        if !stopped && limit > 0 && claimed.count < limit { scheduleNextDue(now: now, known: nextDue) }
        closeIfDrained()
    }

    /// Counted here, from the transaction that settled them: each pair's event exactly once, by
    /// the side that ended second.
    private func countComparisons(_ settled: [SettledComparison], _ outcomes: [DeliveryResult]) {
        guard !settled.isEmpty else { return }
        let accepted = Dictionary(outcomes.map { ($0.deliveryID, $0.accepted) }, uniquingKeysWith: { $1 })
        for comparison in settled {
            guard let mine = accepted[comparison.deliveryID], let metrics = comparedWith[comparison.otherDestination] else { continue }
            metrics.record(agreed: mine == comparison.otherAccepted)
        }
    }

    /// Hands claimed deliveries to the client (or sink) up to the concurrency the circuit allows.
    private func startSends() {
        guard !stopped else { return }
        while !ready.isEmpty {
            let allowed: Int
            switch breaker.allowance(now: environment.now()) {
            case .any: allowed = destination.concurrency
            case .probe: allowed = 1
            case .none:
                // Opened by an outcome of this batch: the next turn gives the rest back.
                queueTurn()
                return
            }
            guard sending < allowed else { return }
            sending += 1
            deliver(ready.removeLast())
        }
    }

    /// With nothing due, look again after this long anyway: an operator may revive dead letters
    /// (`cutover spool retry`) from another process, which cannot poke this one.
    private static let idleRecheckSeconds = 5.0

    /// `known`: what the turn's transaction found, when the spool looked there.
    private func scheduleNextDue(now: Double, known: DeliveryTurn.NextDue) {
        let next: Double?
        switch known {
        case .at(let time): next = time
        case .nothing: next = nil
        case .notLooked: next = try? spool.nextDueTime(destination: destination.name)
        }
        guard let due = next else {
            if sending == 0 && ready.isEmpty { wake(at: now + Self.idleRecheckSeconds) }
            return
        }
        if due > now {
            wake(at: min(due, now + Self.idleRecheckSeconds))
        } else if sending == 0 && ready.isEmpty {
            // Due but not claimable with nothing in flight should not happen; look again shortly
            // rather than spin.
            wake(at: now + 1)
        }
        // Otherwise what is due waits behind an in-flight delivery, whose completion pumps again.
    }

    /// A turn at `time` at the latest. A timer armed for then or earlier stays: waking early costs
    /// one turn that finds nothing, where making a timer per turn (most turns end here, with the
    /// idle recheck) cost a Dispatch source and its registration each.
    private func wake(at time: Double) {
        if timer != nil, let firesAt = timerFiresAt, firesAt <= time { return }
        timer?.cancel()
        let delay = max(0, time - environment.now())
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(Int(min(delay, 86_400) * 1000) + 1), leeway: .milliseconds(5))
        timer.setEventHandler { [self] in
            self.timer?.cancel()
            self.timer = nil
            timerFiresAt = nil
            pump()
        }
        self.timer = timer
        timerFiresAt = time
        timer.activate()
    }

    // MARK: One delivery

    private func deliver(_ delivery: ClaimedDelivery) {
        let rendered: OutboundRequest
        do throws(OutboundError) {
            switch try outbound.request(
                storedEvent: delivery.payload, eventID: delivery.eventID, rawBody: delivery.requestBody,
                decoded: decodedEvents?.take(requestID: delivery.requestID, eventID: delivery.eventID), now: environment.now()
            ) {
            case .send(let request):
                rendered = request
                if request.headers[.cutoverPhoneless] != nil { metrics.recordPhoneless(.userID) }
            case .filtered(let reason):
                finish(delivery, outcome: .filtered(reason))
                return
            case .deadLetter(let reason):
                if reason == PhonelessPolicy.reason { metrics.recordPhoneless(.deadLetter) }
                finish(delivery, outcome: .permanentFailure(reason, status: nil))
                return
            }
        } catch .signing(let error) {
            // OpenSSL's failure, not the event's: another attempt may well succeed.
            finish(delivery, outcome: .failed("\(OutboundError.signing(error))", status: nil, retryAfter: nil))
            return
        } catch {
            // A stored event that cannot be rendered will never render: retrying cannot help.
            finish(delivery, outcome: .permanentFailure("\(error)", status: nil))
            return
        }
        switch destination.target {
        case .jsonLinesFile(let path):
            do {
                if sink == nil { sink = try JSONLinesSink(path: path) }
                try sink!.append(rendered.body)  // synced once per batch, before the batch is recorded
                finish(delivery, outcome: .delivered(status: 200))
            } catch {
                finish(delivery, outcome: .failed("\(error)", status: nil, retryAfter: nil))
            }
        case .http(let url):
            var request = ClientRequest(url: url, method: .post, headerFields: rendered.headers, body: rendered.body)
            request.tls = tls
            let started = DispatchTime.now()
            let deadLetterStatuses = destination.deadLetterStatuses
            let keep = responseBodyKeepBytes
            client.execute(request) { [self] result in
                let nanoseconds = DispatchTime.now().uptimeNanoseconds &- started.uptimeNanoseconds
                // Latency: from handing the request to the client to the complete response (a new
                // connection's connect and handshake included), as the latency histogram counts it.
                let response = AttemptResponse(
                    latencyMilliseconds: Double(nanoseconds) / 1_000_000,
                    bodyPrefix: (try? result.get()).map { Array($0.body.prefix(keep)) } ?? [])
                queue.async { [self] in
                    recordResponse(result, nanoseconds: nanoseconds)
                    finish(delivery, outcome: DeliveryOutcome(result, deadLetterStatuses: deadLetterStatuses), response: response)
                    startSends()
                }
            }
        }
    }

    /// Per destination: responses by class and total latency, for side-by-side comparison.
    private func recordResponse(_ result: Result<HTTP1Response, HTTPClientError>, nanoseconds: UInt64) {
        switch result {
        case .success(let response): metrics.recordResponse(status: response.head.status.code, nanoseconds: nanoseconds)
        case .failure: metrics.recordResponse(status: nil, nanoseconds: nanoseconds)
        }
    }

    private func publishCircuit(now: Double) {
        let circuit = breaker.circuit
        guard circuit != publishedCircuit else { return }
        publishedCircuit = circuit
        metrics.recordCircuit(circuit, at: now)
    }

    /// Decides what an attempt means (retry when, or dead letter) and queues the result for the
    /// next turn, so a busy destination costs one transaction per batch instead of two per delivery.
    private func finish(_ delivery: ClaimedDelivery, outcome: DeliveryOutcome, response: AttemptResponse? = nil) {
        let now = environment.now()
        let name = destination.name
        // A shadow's trouble is the shadow's: counted, logged quietly.
        let failureLevel: Logger.Level = destination.role == .shadow ? .info : .warning
        let result: DeliveryResult.Result
        switch outcome {
        case .delivered(let status):
            breaker.recordSuccess()
            result = .delivered(status: status)
            metrics.recordDelivered(attempts: delivery.attempts + 1)
        case .filtered(let reason):
            // Deliberately not sent (the destination's API has no such notification): counted, not lost.
            result = .delivered(status: 0)
            metrics.recordFiltered()
            logger.info("event filtered for destination", metadata: ["destination": "\(name)", "event": "\(delivery.eventID)", "reason": "\(reason)"])
        case .permanentFailure(let reason, let status):
            result = .dead(error: reason, status: status)
            metrics.recordDead(attempts: delivery.attempts + 1)
            logger.log(level: failureLevel, "delivery dead-lettered", metadata: ["destination": "\(name)", "event": "\(delivery.eventID)", "reason": "\(reason)"])
        case .failed(let reason, let status, let retryAfter):
            if breaker.recordFailure(now: now) {
                metrics.recordCircuitOpened()
                logger.log(level: failureLevel, "destination failing: pausing deliveries", metadata: ["destination": "\(name)", "error": "\(reason)"])
            }
            let attempts = delivery.attempts + 1
            switch policy.decide(attempts: attempts, arrivedAt: delivery.createdAt, now: now, retryAfter: retryAfter, unitRandom: environment.unitRandom()) {
            case .retry(let at):
                result = .retry(at: at, error: reason, status: status)
                metrics.recordRetry()
                logger.debug("delivery failed, will retry", metadata: ["destination": "\(name)", "event": "\(delivery.eventID)", "attempt": "\(attempts)", "error": "\(reason)"])
            case .deadLetter(let why):
                result = .dead(error: "\(reason); \(why)", status: status)
                metrics.recordDead(attempts: attempts)
                logger.log(level: failureLevel, "delivery dead-lettered", metadata: ["destination": "\(name)", "event": "\(delivery.eventID)", "reason": "\(why)"])
            }
        }
        publishCircuit(now: now)
        unrecorded.append(DeliveryResult(for: delivery, result: result, response: response))
        sending -= 1
        // Now when little is left to send or nothing else will come back (an idle destination's
        // outcome is recorded at once); otherwise after more outcomes joined.
        if ready.count < destination.concurrency || unrecorded.count >= destination.concurrency || sending == 0 || stopped {
            queueTurn()
        }
    }
}

/// What one attempt came to.
enum DeliveryOutcome: Equatable {
    case delivered(status: Int)
    case failed(String, status: Int?, retryAfter: Double?)
    case permanentFailure(String, status: Int?)
    case filtered(String)

    init(_ result: Result<HTTP1Response, HTTPClientError>, deadLetterStatuses: Set<Int>) {
        switch result {
        case .success(let response):
            let status = response.head.status.code
            if (200..<300).contains(status) {
                self = .delivered(status: status)
                return
            }
            let excerpt = String(decoding: response.body.prefix(DeliveryWorker.errorExcerptBytes), as: UTF8.self)
            if deadLetterStatuses.contains(status) {
                self = .permanentFailure("HTTP \(status): \(excerpt)", status: status)
                return
            }
            let retryAfter = response.head.headerFields[.retryAfter].flatMap { RetryAfter.seconds($0) }
            self = .failed("HTTP \(status): \(excerpt)", status: status, retryAfter: retryAfter)
        case .failure(let error):
            self = .failed(error.description, status: nil, retryAfter: nil)
        }
    }
}

/// `Retry-After` is delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
enum RetryAfter {
    static func seconds(_ value: String, now: Date = Date()) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        // delay-seconds is 1*DIGIT: no sign, fraction, exponent or "inf".
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return Double(trimmed)
        }
        guard let date = HTTPDate.parse(trimmed) else { return nil }
        return max(0, Double(date) - now.timeIntervalSince1970)
    }
}
