import CutoverConfiguration
import CutoverHTTP
import CutoverHTTPServer
import CutoverLocking
import CutoverOperations
import CutoverSpool
import CutoverWebhooks
import Foundation
import HTTPTypes
import Logging

/// Routes, authenticates and normalizes every inbound request, and answers 200 only once the raw
/// request and its events are durable in the spool.
package final class IngressHandler: HTTPServerHandler {
    /// What a reload (SIGHUP) replaces as one unit; each request reads one consistent snapshot.
    /// A class: every request takes the snapshot under the lock, and a reference is one retain
    /// where the struct's copy retained each of its fields.
    final class Snapshot: Sendable {
        let settings: RelaySettings
        let verifier: WebhookSignatureVerifier?
        let decoder: WebhookDecoder
        /// The ids of recent signed bodies, under this snapshot's secrets and decoder; nil when off
        /// or when no signature is checked.
        let signedBodies: SignedBodyIDs?
        /// Each route's request metrics, made once per snapshot (`RouteMetrics`).
        let cloudRoute: RouteMetrics
        private let onpremRoutes: [String: RouteMetrics]
        private let fixedRoutes: [RouteMetrics]  // /healthz, /readyz, /metrics, /onprem/unknown, other

        init(_ settings: RelaySettings, metrics: RelayMetrics) {
            self.settings = settings
            verifier = settings.appSecrets.isEmpty ? nil : WebhookSignatureVerifier(secrets: settings.appSecrets)
            decoder = WebhookDecoder(maxEvents: settings.config.limits.maxEventsPerRequest)
            let kept = settings.config.limits.signedBodiesKept
            signedBodies = verifier != nil && kept > 0 ? SignedBodyIDs(capacity: kept) : nil
            cloudRoute = RouteMetrics(metrics: metrics, label: "/cloud", takesWebhooks: true)
            onpremRoutes = Dictionary(
                uniqueKeysWithValues: settings.onpremRoutes.keys.map { ($0, RouteMetrics(metrics: metrics, label: "/onprem/\($0)", takesWebhooks: true)) })
            fixedRoutes = ["/healthz", "/readyz", "/metrics", "/onprem/unknown", "other"].map {
                RouteMetrics(metrics: metrics, label: $0, takesWebhooks: false)
            }
        }

        /// The metrics of the configured On-Prem route `name`, nil for an unknown one.
        func onpremRoute(_ name: some StringProtocol) -> RouteMetrics? { onpremRoutes[String(name)] }

        /// The metrics of the route `path` names: a configured route, an operations path, or
        /// `other` (so scanners probing random paths cannot grow the metrics without bound).
        func routeMetrics(_ path: Substring) -> RouteMetrics {
            switch path {
            case "/cloud": return cloudRoute
            case "/healthz": return fixedRoutes[0]
            case "/readyz": return fixedRoutes[1]
            case "/metrics": return fixedRoutes[2]
            default:
                guard path.hasPrefix("/onprem/") else { return fixedRoutes[4] }
                return onpremRoute(path.dropFirst("/onprem/".count)) ?? fixedRoutes[3]
            }
        }
    }

    private let snapshot: Locked<Snapshot>
    private let spool: any SpoolBackend
    private let metrics: RelayMetrics
    private let readiness: Readiness
    private let logger: Logger
    private let spoolFailures: SpoolFailureLog
    /// Where `received_at` comes from.
    private let wallClock: WallClock
    /// Called after each commit that created deliveries, so idle delivery workers wake up.
    private let onAccepted: @Sendable () -> Void
    /// Where bodies are normalized: never on the loop that read them.
    private let decodePool: DecodePool
    /// Shapes of unrecognized notifications already logged: each is logged once, counted always.
    private let loggedShapes = Locked<Set<String>>([])
    private static let maxLoggedShapes = 1_000
    /// Records authenticated requests for `cutover replay` (`capture:`); never blocks or fails one.
    package let capture: CaptureWriter?
    /// Filled after each commit with the events it stored, for the delivery workers.
    private let decodedEvents: DecodedEventCache?

    package init(
        settings: RelaySettings, spool: any SpoolBackend, metrics: RelayMetrics, readiness: Readiness, logger: Logger,
        wallClock: WallClock = .system, decodePool: DecodePool? = nil, decodedEvents: DecodedEventCache? = nil,
        onAccepted: @escaping @Sendable () -> Void
    ) {
        self.decodedEvents = decodedEvents
        snapshot = Locked(Snapshot(settings, metrics: metrics))
        self.decodePool =
            decodePool
            ?? DecodePool(workers: settings.config.limits.decodeWorkers, maxPending: settings.config.limits.maxPendingDecodes)
        self.spool = spool
        self.metrics = metrics
        self.readiness = readiness
        self.logger = logger
        spoolFailures = SpoolFailureLog(metrics: metrics, logger: logger)
        self.wallClock = wallClock
        self.onAccepted = onAccepted
        capture = settings.capture.map { CaptureWriter(settings: $0, metrics: metrics, logger: logger) }
    }

    /// Swaps in reloaded secrets, routes and destinations; requests in flight finish with the old ones.
    package func reload(_ settings: RelaySettings) {
        let fresh = Snapshot(settings, metrics: metrics)
        snapshot.withLock { $0 = fresh }
    }

    /// The decode pool's worker threads.
    package var decodeWorkers: Int { decodePool.workers }
    /// Signed bodies whose ids the current snapshot remembers (`SignedBodyIDs`).
    package var signedBodiesRemembered: Int { snapshot.withLock { $0 }.signedBodies?.count ?? 0 }

    static let requestIDField = HTTPField.Name("X-Request-Id")!

    /// The id a request is answered and logged under: the sender's `X-Request-Id` when sane, else a new one.
    private static func requestID(of head: HTTPRequest) -> String {
        RequestID.resolve(incoming: head.headerFields.value(of: requestIDField))
    }
    /// `/healthz`'s answer and every accepted webhook's, built once: it never changes.
    private static let ok = ServerResponse.text(.ok, "ok")

    /// Gives the request an id (the sender's `X-Request-Id` when sane), binds it for log lines and
    /// echoes it in the response.
    package func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        let requestID = Self.requestID(of: request.head)
        let logger = logger
        let respondWithID: @Sendable (ServerResponse) -> Void = { response in
            var response = response
            // Beside the fields, not in them: most answers are shared (`ok`), and no answer of
            // ours carries the field yet.
            response.extraField = HTTPField(name: Self.requestIDField, value: requestID)
            logger.debug(
                "request",
                metadata: [
                    "request_id": "\(requestID)", "method": "\(request.head.method)",
                    "path": "\(QueryString.split(request.head.path ?? "/").path)", "status": "\(response.status.code)",
                    "bytes": "\(request.body.count)", "remote": "\(request.remoteAddress)",
                ])
            respond(response)
        }
        RequestContext.withRequestID(requestID) { route(request, respond: respondWithID) }
    }

    private func route(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        let current = snapshot.withLock { $0 }
        let (path, query) = QueryString.split(request.head.path ?? "/")
        let method = request.head.method
        let response: ServerResponse?
        switch path {
        case "/healthz":
            response = method == .get || method == .head ? Self.ok : methodNotAllowed(allow: "GET")
        case "/readyz":
            guard method == .get || method == .head else {
                response = methodNotAllowed(allow: "GET")
                break
            }
            readiness.check { verdict in
                let answer = ServerResponse.text(verdict.ready ? .ok : .serviceUnavailable, verdict.reason)
                current.routeMetrics("/readyz").countRequest(status: answer.status.code)
                respond(answer)
            }
            response = nil
        case "/metrics":
            response =
                method == .get
                ? ServerResponse(status: .ok, headerFields: [.contentType: RelayMetrics.contentType], body: metrics.exposition())
                : methodNotAllowed(allow: "GET")
        case "/cloud":
            switch method {
            case .get: response = verifyHandshake(query, settings: current.settings)
            case .post: response = acceptCloud(request, snapshot: current, respond: respond)
            default: response = methodNotAllowed(allow: "GET, POST")
            }
        default:
            if path.hasPrefix("/onprem/") {
                let routeName = String(path.dropFirst("/onprem/".count))
                response =
                    method == .post
                    ? acceptOnPrem(request, route: routeName, query: query, snapshot: current, respond: respond)
                    : methodNotAllowed(allow: "POST")
            } else {
                response = .text(.notFound, "no route for \(path)")
            }
        }
        if let response {
            current.routeMetrics(path).countRequest(status: response.status.code)
            respond(response)
        }
    }

    // MARK: Admission

    /// Before a body is read (and before `100 Continue`): an unknown route, or a webhook route
    /// whose signature or credential is absent or wrong where the head alone can tell, is
    /// answered now, so an unauthenticated sender cannot make us receive and buffer its body.
    package func admit(_ head: HTTPRequest, remoteAddress: String) -> ServerResponse? {
        let current = snapshot.withLock { $0 }
        let (path, query) = QueryString.split(head.path ?? "/")
        let refusal: ServerResponse
        if path == "/cloud" || path.hasPrefix("/onprem/"), head.method != .post {
            return nil  // answered 405 by `route`
        } else if path == "/cloud" {
            guard current.verifier != nil, head.headerFields.value(of: .xHubSignature256) == nil else { return nil }
            metrics.countSignatureFailure(reason: "missing")
            logger.warning("POST /cloud refused before its body: missing X-Hub-Signature-256", metadata: ["remote": "\(remoteAddress)"])
            refusal = .text(.unauthorized, "missing X-Hub-Signature-256")
        } else if path.hasPrefix("/onprem/") {
            let name = String(path.dropFirst("/onprem/".count))
            guard let route = current.settings.onpremRoutes[name] else {
                refusal = .text(.notFound, "no On-Prem route named \(name)")
                return refused(refusal, head, path: path, snapshot: current)
            }
            guard let token = route.token else { return nil }
            if let offered = Self.offeredCredential(head.headerFields, query: query), ConstantTime.equals(offered, token) { return nil }
            metrics.countAuthFailure(route: "/onprem/\(name)")
            logger.warning("POST /onprem/\(name) refused before its body: missing or wrong credential", metadata: ["remote": "\(remoteAddress)"])
            refusal = .text(.unauthorized, "missing or wrong credential")
        } else {
            guard !Self.servedPaths.contains(path) else { return nil }
            refusal = .text(.notFound, "no route for \(path)")
        }
        return refused(refusal, head, path: path, snapshot: current)
    }

    private static let servedPaths: Set<Substring> = ["/healthz", "/readyz", "/metrics"]

    private func refused(_ response: ServerResponse, _ head: HTTPRequest, path: Substring, snapshot: Snapshot) -> ServerResponse {
        snapshot.routeMetrics(path).countRequest(status: response.status.code)
        var response = response
        response.headerFields[Self.requestIDField] = Self.requestID(of: head)
        return response
    }

    // MARK: Cloud

    /// Meta's subscription handshake: echo `hub.challenge` when `hub.verify_token` matches.
    private func verifyHandshake(_ query: [String: String], settings: RelaySettings) -> ServerResponse {
        guard query["hub.mode"] == "subscribe", let challenge = query["hub.challenge"], let offered = query["hub.verify_token"] else {
            logger.warning("cloud verification rejected: missing hub.mode=subscribe, hub.challenge or hub.verify_token")
            return .text(.forbidden, "verification failed")
        }
        guard let expected = settings.verifyToken, ConstantTime.equals(offered, expected) else {
            logger.warning("cloud verification rejected: verify token does not match")
            return .text(.forbidden, "verification failed")
        }
        logger.info("cloud verification handshake answered")
        return ServerResponse(status: .ok, headerFields: [.contentType: "text/plain"], body: Array(challenge.utf8))
    }

    private func acceptCloud(
        _ request: ServerRequest, snapshot: Snapshot, respond: @escaping @Sendable (ServerResponse) -> Void
    ) -> ServerResponse? {
        var signedBody: SignedBodyIDs.Key?
        if let verifier = snapshot.verifier {
            guard let signature = request.head.headerFields.value(of: .xHubSignature256) else {
                metrics.countSignatureFailure(reason: "missing")
                logger.warning("POST /cloud rejected: missing X-Hub-Signature-256", metadata: ["remote": "\(request.remoteAddress)"])
                return .text(.unauthorized, "missing X-Hub-Signature-256")
            }
            guard let mac = verifier.verifiedMAC(header: signature, body: request.body) else {
                metrics.countSignatureFailure(reason: "mismatch")
                logger.warning("POST /cloud rejected: signature does not match", metadata: ["remote": "\(request.remoteAddress)"])
                return .text(.unauthorized, "invalid X-Hub-Signature-256")
            }
            signedBody = SignedBodyIDs.Key(mac: mac)
        }
        spoolRequest(
            request, route: "cloud", routeMetrics: snapshot.cloudRoute, api: .cloud, business: nil, signedBody: signedBody,
            snapshot: snapshot, respond: respond)
        return nil
    }

    // MARK: On-Prem

    private func acceptOnPrem(
        _ request: ServerRequest, route name: String, query: [String: String], snapshot: Snapshot,
        respond: @escaping @Sendable (ServerResponse) -> Void
    ) -> ServerResponse? {
        guard let route = snapshot.settings.onpremRoutes[name] else {
            return .text(.notFound, "no On-Prem route named \(name)")
        }
        if let token = route.token {
            guard let offered = Self.offeredCredential(request.head.headerFields, query: query), ConstantTime.equals(offered, token) else {
                metrics.countAuthFailure(route: "/onprem/\(name)")
                logger.warning("POST /onprem/\(name) rejected: missing or wrong credential", metadata: ["remote": "\(request.remoteAddress)"])
                return .text(.unauthorized, "missing or wrong credential")
            }
        }
        spoolRequest(
            request, route: "onprem/\(name)", routeMetrics: snapshot.onpremRoute(name) ?? snapshot.routeMetrics("/onprem/unknown"),
            api: .onprem, business: route.business, signedBody: nil, snapshot: snapshot, respond: respond)
        return nil
    }

    /// The route credential: `?token=`, `Authorization: Bearer`, or the password of Basic auth.
    private static func offeredCredential(_ fields: HTTPFields, query: [String: String]) -> String? {
        if let token = query["token"] { return token }
        guard let authorization = fields[.authorization] else { return nil }
        if authorization.lowercased().hasPrefix("bearer ") { return String(authorization.dropFirst(7)) }
        if authorization.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))),
            let text = String(data: decoded, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        {
            return String(text[text.index(after: colon)...])
        }
        return nil
    }

    // MARK: Spooling

    /// Hands the request to the decode pool; on the loop, only a full backlog and a small body's
    /// retry of ids the dedup index knows are answered.
    private func spoolRequest(
        _ request: ServerRequest, route: String, routeMetrics: RouteMetrics, api: WebhookAPI, business: BusinessIdentity?,
        signedBody: SignedBodyIDs.Key?, snapshot: Snapshot, respond: @escaping @Sendable (ServerResponse) -> Void
    ) {
        let receivedAt = wallClock.now()
        capture?.record(receivedAt: receivedAt, route: route, headers: request.head.headerFields, body: request.body)
        let parsed: ParsedBody?
        switch request.body.count <= snapshot.settings.config.limits.loopDedupMaxBytes
            ? answerKnownRetry(
                request, route: route, routeMetrics: routeMetrics, api: api, business: business, signedBody: signedBody,
                snapshot: snapshot, respond: respond)
            : .unparsed
        {
        case .answered: return
        case .parsed(let body): parsed = body
        case .unparsed: parsed = nil
        }
        let requestID = RequestContext.requestID
        // The commit timeout runs from here: the wait for a worker and the dedup lookup count too.
        let ticket = spool.admit { [self] error in
            answerSpoolFailure(error, request, route: route, routeMetrics: routeMetrics, requestID: requestID ?? "", respond: respond)
        }
        // The request (and its body's storage) moves to the worker as is: no copy.
        let queued = decodePool.submit { [self] in
            // Answered by the timeout while it waited: neither decoded nor written.
            guard !ticket.isAnswered else { return }
            RequestContext.withRequestID(requestID) {
                normalizeAndSpool(
                    request, route: route, routeMetrics: routeMetrics, api: api, business: business, receivedAt: receivedAt,
                    parsed: parsed, snapshot: snapshot, ticket: ticket, respond: respond)
            }
        }
        guard !queued, ticket.answerWithoutCommit() else { return }
        metrics.countDecodeRejected(route: routeMetrics.label)
        logger.warning(
            "decode backlog full: answered 503",
            metadata: ["route": "\(route)", "bytes": "\(request.body.count)", "max_pending_decodes": "\(decodePool.maxPending)"])
        routeMetrics.countRequest(status: HTTPResponse.Status.serviceUnavailable.code)
        var busy = ServerResponse.text(.serviceUnavailable, "too many bodies waiting to be normalized")
        busy.headerFields[.retryAfter] = "1"
        respond(busy)
    }

    /// The route name the decoder takes: it names On-Prem sources after it (`cutover:onprem/<name>`).
    private static func decoderRoute(_ route: String, _ api: WebhookAPI) -> String? {
        api == .onprem ? String(route.dropFirst("onprem/".count)) : nil
    }

    /// A body parsed on the loop, with the event ids the loop read from it (nil: the decoder could
    /// not tell them), so the decode worker walks the tree for them only once.
    private struct ParsedBody: Sendable {
        var root: JSONValue
        var eventIDs: [String]?
    }

    private enum LoopCheck {
        case answered
        /// Not known to be a retry: the body, parsed, for the decode worker.
        case parsed(ParsedBody)
        /// Not JSON the decoder takes: the decode worker parses again and says why.
        case unparsed
    }

    /// On the loop, for a body no larger than `limits.loop_dedup_max_bytes`: Meta's retries are the
    /// commonest request of all, and one whose every id is in the dedup index is answered here,
    /// without a hop to a decode worker and back. Only memory is asked (`committedInMemory`), so the
    /// loop never waits for the database; anything else goes on to a decode worker, parsed. A signed
    /// body seen before is not even parsed: its signature gives its ids (`SignedBodyIDs`).
    private func answerKnownRetry(
        _ request: ServerRequest, route: String, routeMetrics: RouteMetrics, api: WebhookAPI, business: BusinessIdentity?, signedBody: SignedBodyIDs.Key?,
        snapshot: Snapshot, respond: @escaping @Sendable (ServerResponse) -> Void
    ) -> LoopCheck {
        let started = DispatchTime.now()
        let signedBodies = signedBody.flatMap { key in snapshot.signedBodies.map { (key, $0) } }
        if let (key, known) = signedBodies, let ids = known.ids(of: key), spool.committedInMemory(ids) {
            answerDuplicate(request, routeMetrics: routeMetrics, events: ids.count, startedAt: started, respond: respond)
            return .answered
        }
        let root: JSONValue
        do throws(WebhookDecodeError) { root = try snapshot.decoder.parse(request.body) } catch { return .unparsed }
        guard let ids = snapshot.decoder.eventIDs(json: root, api: WebhookInputFormat(api), business: business, route: Self.decoderRoute(route, api))
        else { return .parsed(ParsedBody(root: root, eventIDs: nil)) }
        if let (key, known) = signedBodies { known.remember(ids, of: key) }
        guard spool.committedInMemory(ids) else { return .parsed(ParsedBody(root: root, eventIDs: ids)) }
        answerDuplicate(request, routeMetrics: routeMetrics, events: ids.count, startedAt: started, respond: respond)
        return .answered
    }

    /// On a decode worker: parse, answer a retry whose every event is already stored, else normalize
    /// (rendering only events not known stored) and submit to the spool; the spool's completion answers.
    private func normalizeAndSpool(
        _ request: ServerRequest, route: String, routeMetrics: RouteMetrics, api: WebhookAPI, business: BusinessIdentity?,
        receivedAt: Double, parsed: ParsedBody?, snapshot: Snapshot, ticket: IngestTicket,
        respond: @escaping @Sendable (ServerResponse) -> Void
    ) {
        let settings = snapshot.settings
        let started = DispatchTime.now()
        var incoming = IncomingRequest(
            receivedAt: receivedAt, route: route, headers: [], body: request.body, events: [], quarantineReason: nil
        )
        // What the cockpit's per-number view counts once the commit succeeded.
        var observed: [TrafficActivity.Observation] = []
        // The events written, still decoded, for their deliveries once the commit succeeded.
        var fresh: [DecodedEventCache.Stored] = []
        do throws(WebhookDecodeError) {
            let routeName = Self.decoderRoute(route, api)
            let format = WebhookInputFormat(api)
            let root: JSONValue
            let eventIDs: [String]?
            if let parsed {
                root = parsed.root
                eventIDs = parsed.eventIDs
            } else {
                root = try snapshot.decoder.parse(request.body)
                eventIDs = snapshot.decoder.eventIDs(json: root, api: format, business: business, route: routeName)
            }
            // Dedup before normalizing: a retry of stored ids costs a parse and an index lookup.
            var committed: Set<String> = []
            if let ids = eventIDs, let known = spool.committedEvents(ids)
            {
                if !known.contains(false) {
                    // Unless the timeout answered while the lookup waited for the disk.
                    guard ticket.answerWithoutCommit() else { return }
                    answerDuplicate(request, routeMetrics: routeMetrics, events: ids.count, startedAt: started, respond: respond)
                    return
                }
                for (id, isCommitted) in zip(ids, known) where isCommitted { committed.insert(id) }
            }
            let events = try snapshot.decoder.decode(json: root, api: format, business: business, route: routeName)
            incoming.events.reserveCapacity(events.count - committed.count)
            for event in events {
                metrics.countEvent(type: event.type, api: api.rawValue)
                if event.isUnrecognized { noteUnrecognized(event, route: route) }
                if !committed.isEmpty, committed.contains(event.id) {
                    // Stored already: the writer would ignore it, so it is neither rendered nor sent.
                    incoming.committedDuplicates += 1
                    continue
                }
                // One pass, one array: the destinations' names, and how many render the event.
                var destinations: [String] = []
                var renders = 0
                for destination in settings.destinations
                where destination.accepts(type: event.type, phoneNumberID: event.business.phoneNumberID) {
                    destinations.append(destination.name)
                    if destination.format.rendersDecodedEvent { renders += 1 }
                }
                if destinations.isEmpty {
                    // Kept in the spool (replayable), just not sent anywhere: counted, never silent.
                    metrics.countUnroutable(type: event.type)
                }
                // Without ordering every event is its own queue, so nothing waits behind a failure.
                let orderingKey = settings.delivery.ordering == .perContact ? event.contactKey : event.id
                observed.append(
                    TrafficActivity.Observation(
                        phoneNumberID: event.business.phoneNumberID, displayPhoneNumber: event.business.displayPhoneNumber,
                        api: api.rawValue, route: routeMetrics.label, type: event.type, eventID: event.id))
                incoming.events.append(
                    IncomingEvent(
                        id: event.id, type: event.type, contactKey: orderingKey, payload: event.serialized(),
                        destinations: destinations
                    ))
                if decodedEvents != nil, renders > 0 { fresh.append(DecodedEventCache.Stored(event, renders: renders)) }
            }
        } catch .digestFailed(let error) {
            // The body is fine, this process cannot hash it: not acknowledged, so the sender retries
            // (quarantining it, or giving its events other ids, would break deduplication).
            guard ticket.answerWithoutCommit() else { return }
            logger.error("event ids unavailable", metadata: ["route": "\(route)", "error": "\(error)"])
            routeMetrics.countRequest(status: HTTPResponse.Status.serviceUnavailable.code)
            respond(.text(.serviceUnavailable, "cannot compute event ids"))
            return
        } catch {
            // Authenticated but unparseable or ambiguous: keep it (replayable after a fix) and
            // acknowledge, so the sender does not retry a body that will never be accepted.
            incoming.events = []
            incoming.committedDuplicates = 0
            observed = []
            fresh = []
            incoming.quarantineReason = "\(error)"
            metrics.countQuarantined(route: routeMetrics.label, reason: error.reasonLabel)
            logger.warning(
                "body quarantined",
                metadata: ["route": "\(route)", "reason": "\(error)", "reason_code": "\(error.reasonLabel)", "bytes": "\(request.body.count)"])
        }
        incoming.headers = Self.storedHeaders(request.head.headerFields)
        metrics.recordDecode(startedAt: started)
        routeMetrics.recordBody(bytes: request.body.count)
        let requestID = RequestContext.requestID ?? ""
        let submitted = DispatchTime.now()
        let accepted = observed
        let stored = fresh
        spool.submit(incoming, ticket: ticket) { [self] result in
            metrics.recordSpoolCommit(startedAt: submitted, succeeded: (try? result.get()) != nil)
            switch result {
            case .success(let receipt):
                readiness.recordCommit(succeeded: true)
                spoolFailures.recordSuccess()
                // Before the workers are poked: a delivery claimed from this commit finds its event.
                decodedEvents?.insert(requestID: receipt.requestID, events: stored)
                metrics.traffic.record(accepted, at: receivedAt)
                // Includes `committedDuplicates`, which the store counts without writing them.
                if receipt.duplicateEvents > 0 { metrics.countDedupHits(receipt.duplicateEvents) }
                if receipt.deliveriesCreated > 0 { onAccepted() }
                routeMetrics.countRequest(status: 200)
                respond(Self.ok)
            case .failure(let error):
                answerSpoolFailure(error, request, route: route, routeMetrics: routeMetrics, requestID: requestID, respond: respond)
            }
        }
    }

    /// Not durable (or not known to be), so not acknowledged: the sender retries and nothing is
    /// lost; a commit that lands after a timeout makes the retry a dedup hit.
    private func answerSpoolFailure(
        _ error: SpoolError, _ request: ServerRequest, route: String, routeMetrics: RouteMetrics, requestID: String,
        respond: @Sendable (ServerResponse) -> Void
    ) {
        readiness.recordCommit(succeeded: false)
        spoolFailures.report(error, route: route, requestID: requestID)
        routeMetrics.countRequest(status: HTTPResponse.Status.serviceUnavailable.code)
        respond(.text(.serviceUnavailable, error.kind == .timeout ? "spool commit timed out" : "spool unavailable"))
    }

    /// Every event of the body is stored by a committed transaction: nothing is written (not even
    /// the raw request), the sender gets its 200 now.
    private func answerDuplicate(
        _ request: ServerRequest, routeMetrics: RouteMetrics, events: Int, startedAt started: DispatchTime,
        respond: @escaping @Sendable (ServerResponse) -> Void
    ) {
        metrics.recordDecode(startedAt: started)
        routeMetrics.recordBody(bytes: request.body.count)
        routeMetrics.countDuplicateRequest()
        metrics.countDedupHits(events)
        spool.recordCommittedDuplicates(events)
        routeMetrics.countRequest(status: 200)
        respond(Self.ok)
    }

    /// Unrecognized notifications are carried through intact and counted; each new shape is logged once.
    private func noteUnrecognized(_ event: CanonicalEvent, route: String) {
        metrics.countUnrecognized(type: event.type)
        let shape = WebhookShape.signature(of: event)
        // Bounded: senders choose the shapes, so past the cap new shapes are counted but not logged.
        let isNew = loggedShapes.withLock { shapes in
            shapes.count < Self.maxLoggedShapes && shapes.insert(shape).inserted
        }
        guard isNew else { return }
        logger.notice(
            "unrecognized notification carried through",
            metadata: ["route": "\(route)", "shape": "\(shape)", "reason": "\(event.unrecognized ?? "")"]
        )
    }

    /// Headers kept with the raw body for replay; credentials are never stored.
    private static func storedHeaders(_ fields: HTTPFields) -> [(name: String, value: String)] {
        // Sized once: `compactMap` grew its result by doubling, an allocation per step.
        var stored: [(name: String, value: String)] = []
        stored.reserveCapacity(fields.count)
        for field in fields where field.name != .authorization && field.name != .cookie {
            stored.append((name: field.name.canonicalName, value: field.value))
        }
        return stored
    }

    private func methodNotAllowed(allow: String) -> ServerResponse {
        var response = ServerResponse.text(.methodNotAllowed, "method not allowed")
        response.headerFields[.allow] = allow
        return response
    }
}
