import CutoverConfiguration
import CutoverHTTP
import CutoverHTTPServer
import CutoverLocking
import CutoverSpool
import CutoverWebhooks
import Dispatch
import Foundation
import HTTPTypes
import Logging

/// The admin API: `cutover spool` over HTTP, on a listener of its own, behind a bearer token.
///
/// ```
/// GET  /admin/stats
/// GET  /admin/deliveries?state=dead&destination=D&after=ID&limit=N
/// GET  /admin/deliveries/{id}                      the delivery, its attempts, its event
/// GET  /admin/comparison?primary=P&shadow=S&after=SEQ&limit=N   primary vs shadow (AdminComparison)
/// POST /admin/retry?id=1&id=2 | destination=D | all=true
/// POST /admin/purge?target=dead|delivered|quarantined&destination=D&older_than=7d&confirm=true
/// GET  /admin/numbers | /admin/destinations | /admin/events/{event_id}   the cockpit's views
/// GET  /admin/cockpit                              the cockpit page (POST /admin/session logs a browser in)
/// ```
/// Parameters come from the query string or an `application/x-www-form-urlencoded` body. Every
/// answer is JSON; errors are `{"error": "..."}`. Spool work runs on the admin queue, never on the
/// event loops that serve webhooks.
package final class AdminHandler: HTTPServerHandler {
    let spool: any SpoolBackend
    let token: Locked<[UInt8]>
    let metrics: RelayMetrics
    let logger: Logger
    /// The settings in force (routes and destinations change on SIGHUP).
    let settings: @Sendable () -> RelaySettings
    let session: AdminSession
    /// Wakes the delivery workers (revived dead letters go out at once).
    private let onRetried: @Sendable () -> Void
    private let queue = DispatchQueue(label: "cutover.admin", qos: .utility)

    package init(
        spool: any SpoolBackend, token: String, metrics: RelayMetrics, logger: Logger, secureCookie: Bool = false,
        settings: @escaping @Sendable () -> RelaySettings,
        onRetried: @escaping @Sendable () -> Void
    ) {
        self.spool = spool
        self.settings = settings
        session = AdminSession(secure: secureCookie)
        self.token = Locked(Array(token.utf8))
        self.metrics = metrics
        self.logger = logger
        self.onRetried = onRetried
    }

    /// A reloaded token applies to the next request.
    package func reload(token fresh: String) {
        token.withLock { $0 = Array(fresh.utf8) }
    }

    package func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        let path = QueryString.split(request.head.path ?? "/").path
        let endpoint = Self.endpointLabel(path)
        if path == "/admin/session" {
            let response = logIn(request)
            metrics.countAdminRequest(endpoint: endpoint, status: response.status.code)
            respond(response)
            return
        }
        let asking = caller(request.head.headerFields)
        if asking == .nobody {
            logger.warning("admin request rejected: missing or wrong bearer token", metadata: ["remote": "\(request.remoteAddress)", "path": "\(path)"])
            var response =
                path == "/admin/cockpit"
                ? CockpitPage.login(status: .unauthorized, message: nil)
                : Self.json(.unauthorized, ["error": "missing or wrong bearer token"])
            response.headerFields[.wwwAuthenticate] = "Bearer realm=\"cutover-admin\""
            metrics.countAdminRequest(endpoint: endpoint, status: 401)
            respond(response)
            return
        }
        if asking == .session, request.head.method != .get, request.head.method != .head,
            request.head.headerFields[AdminSession.csrfHeader] != "1"
        {
            logger.warning("admin request rejected: a session's change without X-Cutover-Cockpit", metadata: ["remote": "\(request.remoteAddress)", "path": "\(path)"])
            metrics.countAdminRequest(endpoint: endpoint, status: 403)
            respond(Self.json(.forbidden, ["error": "a change made with the session cookie needs the header X-Cutover-Cockpit: 1"]))
            return
        }
        queue.async { [self] in
            let response: ServerResponse
            do {
                response = try route(request, path: path)
            } catch let error as AdminError {
                response = Self.json(error.status, ["error": error.message])
            } catch {
                logger.error("admin request failed", metadata: ["path": "\(path)", "error": "\(error)"])
                response = Self.json(.internalServerError, ["error": "\(error)"])
            }
            metrics.countAdminRequest(endpoint: endpoint, status: response.status.code)
            respond(response)
        }
    }

    /// Who is asking: a script with `Authorization: Bearer <token>`, a browser with the session
    /// cookie, or nobody known. Both are compared in constant time.
    enum Caller { case bearer, session, nobody }

    func caller(_ fields: HTTPFields) -> Caller {
        let current = token.withLock { $0 }
        if let header = fields[.authorization], header.utf8.count > 7, header.prefix(7).lowercased() == "bearer ",
            ConstantTime.equals(header.utf8.dropFirst(7), current)
        {
            return .bearer
        }
        if let presented = AdminSession.presented(fields), session.isOpen(presented, token: current) {
            return .session
        }
        return .nobody
    }

    private static func endpointLabel(_ path: Substring) -> String {
        switch path {
        case "/admin/stats", "/admin/deliveries", "/admin/retry", "/admin/purge", "/admin/comparison", "/admin/numbers", "/admin/destinations",
            "/admin/session", "/admin/logout", "/admin/cockpit", "/admin/cockpit.js", "/admin/cockpit.css":
            String(path)
        default:
            if path.hasPrefix("/admin/deliveries/") { "/admin/deliveries/{id}" } else if path.hasPrefix("/admin/events/") { "/admin/events/{id}" } else { "other" }
        }
    }

    // MARK: Routing

    private func route(_ request: ServerRequest, path: Substring) throws -> ServerResponse {
        let method = request.head.method
        let parameters = try Parameters(target: request.head.path ?? "/", request: request)
        switch path {
        case "/admin/stats":
            try require(method, .get)
            return Self.json(.ok, try stats())
        case "/admin/deliveries":
            try require(method, .get)
            return Self.json(.ok, try list(parameters))
        case "/admin/retry":
            try require(method, .post)
            return try retry(parameters)
        case "/admin/purge":
            try require(method, .post)
            return try purge(parameters)
        case "/admin/comparison":
            try require(method, .get)
            return Self.json(.ok, try AdminComparison(spool: spool, configured: AdminComparison.pairs(of: settings().destinations)).answer(parameters))
        case "/admin/numbers":
            try require(method, .get)
            return Self.json(.ok, try numbers())
        case "/admin/destinations":
            try require(method, .get)
            return Self.json(.ok, try destinationsView())
        case "/admin/logout":
            try require(method, .post)
            return logOut(request)
        case "/admin/cockpit", "/admin/cockpit.js", "/admin/cockpit.css":
            try require(method, .get)
            return CockpitPage.asset(path)
        default:
            if path.hasPrefix("/admin/events/") {
                try require(method, .get)
                guard let id = QueryString.percentDecoded(path.dropFirst("/admin/events/".count)), !id.isEmpty else {
                    throw AdminError(.badRequest, "an event id, percent-encoded")
                }
                return Self.json(.ok, try eventSideBySide(id))
            }
            if path.hasPrefix("/admin/deliveries/") {
                try require(method, .get)
                guard let id = Int64(path.dropFirst("/admin/deliveries/".count)) else {
                    throw AdminError(.badRequest, "delivery ids are numbers")
                }
                return Self.json(.ok, try show(id))
            }
            throw AdminError(.notFound, "no admin endpoint \(path)")
        }
    }

    private func require(_ method: HTTPRequest.Method, _ expected: HTTPRequest.Method) throws {
        guard method == expected || (expected == .get && method == .head) else {
            throw AdminError(.methodNotAllowed, "use \(expected.rawValue)")
        }
    }

    // MARK: Endpoints

    private func stats() throws -> [String: Any] {
        let now = Spool.currentTime()
        let stats = try spool.stats(now: now)
        var destinations: [String: Any] = [:]
        for (name, counts) in stats.deliveries {
            destinations[name] = [
                "pending": counts.pending, "inflight": counts.inflight, "delivered": counts.delivered, "dead": counts.dead,
                "oldest_pending_age_seconds": Self.nullable(stats.oldestPendingCreatedAtByDestination[name].map { max(0, now - $0) }),
            ]
        }
        return [
            "spool": spool.location, "requests": stats.requests, "events": stats.events, "quarantined": stats.quarantined,
            "dead_letters": stats.deliveries.values.reduce(0) { $0 + $1.dead },
            "dedup_hits": stats.totals.duplicateEvents,
            "oldest_pending_age_seconds": Self.nullable(stats.oldestPendingAge),
            "destinations": destinations,
            "totals": [
                "duplicate_events": stats.totals.duplicateEvents, "pruned_events": stats.totals.prunedEvents,
                "pruned_requests": stats.totals.prunedRequests, "purged_dead_letters": stats.totals.purgedDeadLetters,
                "purged_quarantined": stats.totals.purgedQuarantined,
            ],
        ]
    }

    private func list(_ parameters: Parameters) throws -> [String: Any] {
        var state: DeliveryState?
        if let text = parameters.first("state") {
            guard let parsed = DeliveryState(rawValue: text) else {
                throw AdminError(.badRequest, "state: expected one of \(DeliveryState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = parsed
        }
        let limit = try parameters.integer("limit") ?? 100
        guard (1...1000).contains(limit) else { throw AdminError(.badRequest, "limit: 1 to 1000") }
        let after = try parameters.integer("after") ?? 0
        let now = Spool.currentTime()
        var records = try spool.deliveries(state: state, destination: parameters.first("destination"), afterID: Int64(after), limit: limit + 1)
        let more = records.count > limit
        if more { records.removeLast() }
        return [
            "deliveries": records.map { Self.delivery($0, now: now) },
            "next_after": more ? records.last.map { $0.id as Any } ?? NSNull() : NSNull(),
        ]
    }

    private func show(_ id: Int64) throws -> [String: Any] {
        guard let delivery = try spool.delivery(id: id) else { throw AdminError(.notFound, "no delivery \(id)") }
        let now = Spool.currentTime()
        var result: [String: Any] = ["delivery": Self.delivery(delivery, now: now)]
        result["attempts"] = try spool.attempts(deliveryID: id).map { attempt -> [String: Any] in
            var object: [String: Any] = [
                "attempt": attempt.attempt, "at": attempt.at, "outcome": attempt.outcome.rawValue,
                "status": Self.nullable(attempt.status), "error": Self.nullable(attempt.error),
                "latency_ms": Self.nullable(attempt.latencyMilliseconds),
            ]
            AdminComparison.addBodyPrefix(attempt.bodyPrefix, to: &object)
            return object
        }
        if let event = try spool.event(id: delivery.eventID) {
            var object: [String: Any] = [
                "id": event.id, "type": event.type, "contact_key": event.contactKey, "created_at": event.createdAt,
                "request_id": event.requestID,
            ]
            object["payload"] =
                (try? JSONSerialization.jsonObject(with: Data(event.payload), options: [.fragmentsAllowed]))
                ?? String(decoding: event.payload, as: UTF8.self)
            result["event"] = object
        } else {
            result["event"] = NSNull()
        }
        // The raw request without its body (`cutover spool show` prints bodies; an API answer stays small).
        if let summary = try spool.requestSummaries(afterID: delivery.requestID - 1, limit: 1).first, summary.id == delivery.requestID {
            result["request"] = [
                "id": summary.id, "route": summary.route, "received_at": summary.receivedAt, "status": summary.status.rawValue,
                "body_bytes": summary.bodyBytes, "quarantine_reason": Self.nullable(summary.quarantineReason),
            ]
        } else {
            result["request"] = NSNull()
        }
        return result
    }

    private func retry(_ parameters: Parameters) throws -> ServerResponse {
        let ids = try parameters.all("id").flatMap { $0.split(separator: ",") }.map { text -> Int64 in
            guard let id = Int64(text.trimmingCharacters(in: .whitespaces)) else { throw AdminError(.badRequest, "id: expected numbers") }
            return id
        }
        let destination = parameters.first("destination")
        let all = try parameters.flag("all")
        if all, !ids.isEmpty || destination != nil {
            throw AdminError(.badRequest, "all=true cannot be combined with id or destination")
        }
        if !all, ids.isEmpty, destination == nil {
            throw AdminError(.badRequest, "say which dead letters: id=N (repeatable), destination=D or all=true")
        }
        let revived = try spool.retryDead(ids: ids.isEmpty ? nil : ids, destination: destination)
        if revived > 0 { onRetried() }
        logger.notice(
            "dead letters revived through the admin API",
            metadata: ["revived": "\(revived)", "ids": "\(ids.map(String.init).joined(separator: ","))", "destination": "\(destination ?? "")"])
        if !ids.isEmpty, revived < ids.count {
            return Self.json(
                .conflict,
                ["revived": revived, "error": "\(ids.count - revived) of the given ids are not dead letters\(destination.map { " of \($0)" } ?? "")"])
        }
        return Self.json(.ok, ["revived": revived])
    }

    private func purge(_ parameters: Parameters) throws -> ServerResponse {
        guard let targetText = parameters.first("target"), let target = PurgeTarget(rawValue: targetText) else {
            throw AdminError(.badRequest, "target: expected dead, delivered or quarantined")
        }
        let destination = parameters.first("destination")
        if destination != nil, target != .dead { throw AdminError(.badRequest, "destination only applies to target=dead") }
        let olderThan = try parameters.first("older_than").map { text -> Double in
            guard let seconds = DurationText.seconds(text) else {
                throw AdminError(.badRequest, "older_than: a duration with units, such as 90s, 15m, 12h, 7d, 1w or 1d12h")
            }
            return seconds
        }
        if target == .delivered, olderThan == nil { throw AdminError(.badRequest, "target=delivered needs older_than (for example 7d)") }
        let confirmed = try parameters.flag("confirm")
        let now = Spool.currentTime()
        let cutoff = olderThan.map { now - $0 }
        switch target {
        case .dead, .quarantined:
            let selection: PurgeSelection =
                target == .dead ? .deadLetters(destination: destination, createdBefore: cutoff) : .quarantined(receivedBefore: cutoff)
            guard confirmed else {
                return Self.json(
                    .badRequest,
                    ["would_delete": try spool.purgeCount(selection, asOf: now), "error": "nothing deleted: add confirm=true"])
            }
            let deleted = try spool.purge(selection, asOf: now)
            logger.notice("purged through the admin API", metadata: ["target": "\(target.rawValue)", "deleted": "\(deleted)"])
            return Self.json(.ok, ["deleted": deleted])
        case .delivered:
            let window = olderThan ?? RetentionPolicy.defaultDedupWindow
            let policy = RetentionPolicy(dedupWindow: window, rawRetention: window)
            guard confirmed else {
                let preview = try spool.prunable(now: now, policy: policy)
                return Self.json(
                    .badRequest,
                    [
                        "would_delete": preview.events + preview.requests, "events": preview.events, "deliveries": preview.deliveries,
                        "requests": preview.requests, "error": "nothing deleted: add confirm=true",
                    ])
            }
            let removed = try spool.prune(now: now, policy: policy)
            logger.notice(
                "purged through the admin API", metadata: ["target": "delivered", "events": "\(removed.events)", "requests": "\(removed.requests)"])
            return Self.json(
                .ok,
                [
                    "deleted": removed.events + removed.requests, "events": removed.events, "deliveries": removed.deliveries,
                    "attempts": removed.attempts, "requests": removed.requests,
                ])
        }
    }

    private enum PurgeTarget: String {
        case dead, delivered, quarantined
    }

    // MARK: JSON

    static func delivery(_ record: DeliveryRecord, now: Double) -> [String: Any] {
        [
            "id": record.id, "event_id": record.eventID, "type": record.eventType, "destination": record.destination,
            "state": record.state.rawValue, "attempts": record.attempts, "last_status": nullable(record.lastStatus),
            "last_error": nullable(record.lastError.map { DeliveryAttempt.excerpt($0) }),
            "age_seconds": max(0, now - record.createdAt), "created_at": record.createdAt, "updated_at": record.updatedAt,
            "next_attempt_at": record.nextAttemptAt, "request_id": record.requestID, "contact_key": record.contactKey,
        ]
    }

    static func nullable(_ value: (any Sendable)?) -> Any { value ?? NSNull() }

    static func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> ServerResponse {
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data(#"{"error":"response not encodable"}"#.utf8)
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return ServerResponse(status: status, headerFields: fields, body: Array(data) + [0x0a])
    }
}

/// An answer other than 200, with its JSON body.
struct AdminError: Error {
    var status: HTTPResponse.Status
    var message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Query-string and form-body parameters; a name may repeat.
struct Parameters {
    private var values: [String: [String]] = [:]

    init(target: String, request: ServerRequest) throws {
        if let mark = target.firstIndex(of: "?") { try add(target[target.index(after: mark)...]) }
        guard !request.body.isEmpty else { return }
        let type = request.head.headerFields[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw AdminError(.unsupportedMediaType, "send parameters in the query string or as application/x-www-form-urlencoded")
        }
        try add(Substring(String(decoding: request.body, as: UTF8.self)))
    }

    private mutating func add(_ text: Substring) throws {
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = QueryString.percentDecoded(parts[0]), let value = parts.count > 1 ? QueryString.percentDecoded(parts[1]) : ""
            else { throw AdminError(.badRequest, "malformed parameter encoding") }
            values[name, default: []].append(value)
        }
    }

    func first(_ name: String) -> String? { values[name]?.first.flatMap { $0.isEmpty ? nil : $0 } }

    func all(_ name: String) -> [String] { values[name] ?? [] }

    func integer(_ name: String) throws -> Int? {
        guard let text = first(name) else { return nil }
        guard let value = Int(text), value >= 0 else { throw AdminError(.badRequest, "\(name): expected a non-negative integer") }
        return value
    }

    /// `true`/`1`/`yes` or absent (false); anything else is an error, so a typo never confirms.
    func flag(_ name: String) throws -> Bool {
        guard let text = first(name) else { return false }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw AdminError(.badRequest, "\(name): expected true or false")
        }
    }
}
