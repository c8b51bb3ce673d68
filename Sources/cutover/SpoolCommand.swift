import ArgumentParser
import CutoverConfiguration
import CutoverRelay
import CutoverSpool
import Foundation

/// `cutover spool`: operator tools over the spool of a (possibly running) `cutover serve`.
///
/// Every subcommand opens the spool without recovering inflight deliveries (those belong to the
/// server that claimed them), prints a table on a terminal and one JSON document with `--json`.
struct SpoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Inspect and maintain the spool: queue depth, dead letters, stored requests.",
        discussion: """
            Works on the spool of a running server too: reads never block it, and changes are \
            made in short transactions. The spool (a directory, or a PostgreSQL URL) comes from \
            --spool, else from the config file's `spool` key (--config), else ./.cutover.
            """,
        subcommands: [Stats.self, List.self, Show.self, Retry.self, Purge.self]
    )
}

// MARK: Shared options

struct SpoolArguments: ParsableArguments {
    @Option(help: "Spool directory (holds spool.sqlite3), or a postgresql://USER@HOST:PORT/DATABASE URL.")
    var spool: String?

    @Option(help: "YAML config file whose `spool` key names the spool (a directory or spool.postgres).")
    var config: String?

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    /// `--spool`, else the config file's `spool`, else ./.cutover.
    func location() throws -> SpoolSettings {
        let loaded = try config.map { try CutoverConfig.load(path: $0) }
        return try Self.location(argument: spool, config: loaded)
    }

    static func location(argument: String?, config: CutoverConfig?) throws -> SpoolSettings {
        if let argument { return try SpoolSettings(argument: argument, config: config) }
        return try SpoolSettings(config?.spool ?? CutoverConfig().spool)
    }

    /// Opens an existing spool, leaving inflight deliveries to the server that claimed them.
    func open() throws -> any SpoolBackend {
        try Self.openExisting(try location()) { SpoolCommandError("no spool at \($0) (pass --spool DIR or --config FILE)") }
    }

    /// Opens `location` without recovering inflight deliveries; a directory with no spool in it
    /// is an error (`missing` words it) rather than a new, empty spool.
    static func openExisting(_ location: SpoolSettings, missing: (String) -> any Error) throws -> any SpoolBackend {
        if let directory = location.directory {
            let file = (directory as NSString).appendingPathComponent("spool.sqlite3")
            guard FileManager.default.fileExists(atPath: file) else { throw missing(file) }
        }
        return try SpoolOpening.open(location, options: SpoolOptions(recoverInflight: false))
    }
}

struct SpoolCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A duration on the command line: `90s`, `15m`, `12h`, `7d`, `1w`, or combinations such as `1d12h`.
/// The unit is required: a bare `7` deleting everything older than seven seconds would be a nasty surprise.
struct DurationArgument: ExpressibleByArgument, Sendable {
    let seconds: Double

    init?(argument: String) {
        guard let seconds = DurationText.seconds(argument) else { return nil }
        self.seconds = seconds
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

// MARK: Formatting

enum SpoolFormat {
    /// `42s`, `3m12s`, `2h05m`, `4d03h`.
    static func age(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        let total = Int(max(0, seconds).rounded(.down))
        if total < 60 { return "\(total)s" }
        if total < 3_600 { return "\(total / 60)m\(pad(total % 60))s" }
        if total < 86_400 { return "\(total / 3_600)h\(pad(total % 3_600 / 60))m" }
        return "\(total / 86_400)d\(pad(total % 86_400 / 3_600))h"
    }

    /// A duration as given on the command line: `14d`, `1d12h`, `1m30s`.
    static func duration(_ seconds: Double) -> String {
        var rest = Int(max(0, seconds).rounded())
        var parts = ""
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size {
            parts += "\(rest / size)\(unit)"
            rest %= size
        }
        return parts.isEmpty ? "0s" : parts
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    static func time(_ unixSeconds: Double) -> String {
        Date(timeIntervalSince1970: unixSeconds).formatted(.iso8601)
    }

    /// One line, at most `limit` characters.
    static func oneLine(_ text: String?, limit: Int = 60) -> String {
        guard let text, !text.isEmpty else { return "-" }
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }

    /// Left-aligned columns, numbers right-aligned, two spaces apart.
    static func table(_ header: [String], _ rows: [[String]], right: Set<Int> = []) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var out = ""
            for (index, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
                if index > 0 { out += "  " }
                out += right.contains(index) ? padding + cell : (index == cells.count - 1 ? cell : cell + padding)
            }
            return out
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func printJSON(_ value: Any) throws {
        let data = try JSONSerialization.data(
            withJSONObject: value, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes, .fragmentsAllowed])
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// A JSON-ready value for bytes: the text when it is UTF-8, else base64 under `<key>_base64`.
    static func bytes(_ bytes: [UInt8], key: String, into object: inout [String: Any]) {
        if let text = String(validating: bytes, as: UTF8.self) {
            object[key] = text
        } else {
            object[key + "_base64"] = Data(bytes).base64EncodedString()
        }
    }

    /// Headers that can carry credentials are shown redacted (the ingress does not store them, but
    /// an older spool or another writer might have).
    static func redacted(_ header: (name: String, value: String)) -> (name: String, value: String) {
        let sensitive: Set<String> = ["authorization", "proxy-authorization", "cookie", "set-cookie"]
        return sensitive.contains(header.name.lowercased()) ? (header.name, "<redacted>") : header
    }

    static func nullable(_ value: (any Sendable)?) -> Any { value ?? NSNull() }
}

extension DeliveryRecord {
    func jsonObject(now: Double) -> [String: Any] {
        [
            "id": id, "event_id": eventID, "type": eventType, "destination": destination, "state": state.rawValue,
            "attempts": attempts, "last_status": SpoolFormat.nullable(lastStatus),
            "last_error": SpoolFormat.nullable(lastError.map { DeliveryAttempt.excerpt($0) }),
            "age_seconds": max(0, now - createdAt), "created_at": createdAt, "updated_at": updatedAt,
            "next_attempt_at": nextAttemptAt, "request_id": requestID, "contact_key": contactKey,
        ]
    }
}

// MARK: stats

extension SpoolCommand {
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue depth per destination, oldest pending age, dead letters, quarantined requests, dedup hits."
        )

        @OptionGroup var location: SpoolArguments

        func run() throws {
            let spool = try location.open()
            defer { spool.close() }
            let now = Spool.currentTime()
            let stats = try spool.stats(now: now)
            let dead = stats.deliveries.values.reduce(0) { $0 + $1.dead }
            let names = stats.deliveries.keys.sorted()
            if location.json {
                var destinations: [String: Any] = [:]
                for name in names {
                    let counts = stats.deliveries[name] ?? SpoolStats.DeliveryCounts()
                    destinations[name] = [
                        "pending": counts.pending, "inflight": counts.inflight, "delivered": counts.delivered,
                        "dead": counts.dead,
                        "oldest_pending_age_seconds": SpoolFormat.nullable(
                            stats.oldestPendingCreatedAtByDestination[name].map { max(0, now - $0) }),
                    ]
                }
                try SpoolFormat.printJSON([
                    "spool": spool.location, "requests": stats.requests, "events": stats.events,
                    "quarantined": stats.quarantined, "dead_letters": dead, "dedup_hits": stats.totals.duplicateEvents,
                    "oldest_pending_age_seconds": SpoolFormat.nullable(stats.oldestPendingAge),
                    "destinations": destinations,
                    "totals": [
                        "duplicate_events": stats.totals.duplicateEvents, "pruned_events": stats.totals.prunedEvents,
                        "pruned_requests": stats.totals.prunedRequests,
                        "purged_dead_letters": stats.totals.purgedDeadLetters,
                        "purged_quarantined": stats.totals.purgedQuarantined,
                    ],
                ])
                return
            }
            print("spool           \(spool.location)")
            print("requests        \(stats.requests) (\(stats.quarantined) quarantined)")
            print("events          \(stats.events) (\(stats.totals.duplicateEvents) dedup hits)")
            print("dead letters    \(dead)")
            print("oldest pending  \(SpoolFormat.age(stats.oldestPendingAge))")
            let totals = stats.totals
            if totals.prunedEvents + totals.prunedRequests + totals.purgedDeadLetters + totals.purgedQuarantined > 0 {
                print(
                    "removed         \(totals.prunedEvents) events and \(totals.prunedRequests) requests by retention, "
                        + "\(totals.purgedDeadLetters) dead letters and \(totals.purgedQuarantined) quarantined by purge")
            }
            guard !names.isEmpty else {
                print("\nno deliveries")
                return
            }
            let rows = names.map { name -> [String] in
                let counts = stats.deliveries[name] ?? SpoolStats.DeliveryCounts()
                return [
                    name, "\(counts.pending)", "\(counts.inflight)", "\(counts.delivered)", "\(counts.dead)",
                    SpoolFormat.age(stats.oldestPendingCreatedAtByDestination[name].map { now - $0 }),
                ]
            }
            print("")
            print(
                SpoolFormat.table(
                    ["DESTINATION", "PENDING", "INFLIGHT", "DELIVERED", "DEAD", "OLDEST PENDING"], rows, right: [1, 2, 3, 4]))
        }
    }
}

// MARK: list

extension SpoolCommand {
    enum ListSelection: String, EnumerableFlag {
        case dead, pending, inflight, delivered, quarantined

        static func help(for value: ListSelection) -> ArgumentHelp? {
            switch value {
            case .dead: "Dead letters."
            case .pending: "Deliveries waiting for an attempt."
            case .inflight: "Deliveries a server is attempting."
            case .delivered: "Delivered deliveries."
            case .quarantined: "Quarantined requests (authenticated bodies that could not be normalized)."
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List deliveries (all, or of one state) or quarantined requests, oldest first.",
            discussion: "Page with --after: pass the last id printed."
        )

        @OptionGroup var location: SpoolArguments

        @Flag(exclusivity: .exclusive)
        var selection: ListSelection?

        @Option(help: "Only deliveries to this destination.")
        var destination: String?

        @Option(help: "At most this many lines.")
        var limit = 50

        @Option(help: "Only ids greater than this one.")
        var after: Int64 = 0

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be positive") }
            if selection == .quarantined, destination != nil {
                throw ValidationError("--destination does not apply to --quarantined (requests have no destination)")
            }
        }

        func run() throws {
            let spool = try location.open()
            defer { spool.close() }
            let now = Spool.currentTime()
            if selection == .quarantined {
                try listQuarantined(spool, now: now)
                return
            }
            let state = selection.flatMap { DeliveryState(rawValue: $0.rawValue) }
            var records = try spool.deliveries(state: state, destination: destination, afterID: after, limit: limit + 1)
            let more = records.count > limit
            if more { records.removeLast() }
            if location.json {
                try SpoolFormat.printJSON(records.map { $0.jsonObject(now: now) })
                return
            }
            guard !records.isEmpty else {
                print("no \(selection.map { "\($0.rawValue) " } ?? "")deliveries")
                return
            }
            let rows = records.map { record -> [String] in
                [
                    "\(record.id)", record.eventID, record.eventType, record.destination, record.state.rawValue,
                    "\(record.attempts)", record.lastStatus.map { "\($0)" } ?? "-", SpoolFormat.age(now - record.createdAt),
                    SpoolFormat.oneLine(record.lastError),
                ]
            }
            print(
                SpoolFormat.table(
                    ["ID", "EVENT", "TYPE", "DESTINATION", "STATE", "ATTEMPTS", "STATUS", "AGE", "LAST ERROR"], rows,
                    right: [0, 5, 6]))
            if more, let last = records.last { print("… more: --after \(last.id)") }
        }

        private func listQuarantined(_ spool: any SpoolBackend, now: Double) throws {
            var requests = try spool.requestSummaries(afterID: after, limit: limit + 1, status: .quarantined)
            let more = requests.count > limit
            if more { requests.removeLast() }
            if location.json {
                try SpoolFormat.printJSON(
                    requests.map { request -> [String: Any] in
                        [
                            "id": request.id, "route": request.route, "received_at": request.receivedAt,
                            "age_seconds": max(0, now - request.receivedAt), "body_bytes": request.bodyBytes,
                            "reason": SpoolFormat.nullable(request.quarantineReason),
                        ]
                    })
                return
            }
            guard !requests.isEmpty else {
                print("no quarantined requests")
                return
            }
            let rows = requests.map { request -> [String] in
                [
                    "request:\(request.id)", request.route, "\(request.bodyBytes)", SpoolFormat.age(now - request.receivedAt),
                    SpoolFormat.oneLine(request.quarantineReason, limit: 80),
                ]
            }
            print(SpoolFormat.table(["ID", "ROUTE", "BYTES", "AGE", "REASON"], rows, right: [2]))
            if more, let last = requests.last { print("… more: --after \(last.id)") }
        }
    }
}

// MARK: show

extension SpoolCommand {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a stored request with its raw body and headers, its canonical events, and every delivery with its attempts.",
            discussion: """
                ID is a delivery id (`7` or `delivery:7`), a request id (`request:3`) or a canonical \
                event id (`msg:wamid.HBgL...`). For a delivery or an event, the event's request is \
                shown with that event; for a request, all its events.
                """
        )

        @OptionGroup var location: SpoolArguments

        @Argument(help: "A delivery id, request:N, or an event id.")
        var id: String

        func run() throws {
            let spool = try location.open()
            defer { spool.close() }
            let (request, events) = try resolve(spool)
            let now = Spool.currentTime()
            let deliveries = try events.map { event in try spool.deliveries(eventID: event.id) }
            let attempts = try deliveries.map { list in try list.map { try spool.attempts(deliveryID: $0.id) } }
            if location.json {
                try SpoolFormat.printJSON(
                    json(request: request, events: events, deliveries: deliveries, attempts: attempts, now: now))
            } else {
                text(request: request, events: events, deliveries: deliveries, attempts: attempts, now: now)
            }
        }

        private func resolve(_ spool: any SpoolBackend) throws -> (request: StoredRequest?, events: [StoredEvent]) {
            if id.hasPrefix("request:") {
                guard let number = Int64(id.dropFirst("request:".count)) else {
                    throw ValidationError("request ids are numbers: request:N")
                }
                guard let request = try spool.request(id: number) else {
                    throw SpoolCommandError("no request \(number) in the spool")
                }
                return (request, try spool.events(requestID: number))
            }
            let deliveryNumber = id.hasPrefix("delivery:") ? Int64(id.dropFirst("delivery:".count)) : Int64(id)
            if let deliveryNumber, let delivery = try spool.delivery(id: deliveryNumber),
                let event = try spool.event(id: delivery.eventID)
            {
                return (try spool.request(id: event.requestID), [event])
            }
            if id.hasPrefix("delivery:") { throw SpoolCommandError("no delivery \(id.dropFirst("delivery:".count)) in the spool") }
            if let event = try spool.event(id: id) { return (try spool.request(id: event.requestID), [event]) }
            throw SpoolCommandError("no delivery, request or event \(id) in the spool")
        }

        private func json(
            request: StoredRequest?, events: [StoredEvent], deliveries: [[DeliveryRecord]], attempts: [[[DeliveryAttempt]]],
            now: Double
        ) -> [String: Any] {
            var result: [String: Any] = [:]
            if let request {
                var object: [String: Any] = [
                    "id": request.id, "received_at": request.receivedAt, "route": request.route,
                    "status": request.status.rawValue, "quarantine_reason": SpoolFormat.nullable(request.quarantineReason),
                    "headers": request.headers.map(SpoolFormat.redacted).map { ["name": $0.name, "value": $0.value] },
                    "body_bytes": request.body.count,
                ]
                SpoolFormat.bytes(request.body, key: "body", into: &object)
                result["request"] = object
            } else {
                result["request"] = NSNull()
            }
            result["events"] = events.enumerated().map { index, event -> [String: Any] in
                var object: [String: Any] = [
                    "id": event.id, "type": event.type, "contact_key": event.contactKey, "created_at": event.createdAt,
                    "request_id": event.requestID,
                ]
                if let payload = try? JSONSerialization.jsonObject(with: Data(event.payload), options: [.fragmentsAllowed]) {
                    object["payload"] = payload
                } else {
                    SpoolFormat.bytes(event.payload, key: "payload", into: &object)
                }
                object["deliveries"] = deliveries[index].enumerated().map { position, delivery -> [String: Any] in
                    var delivery = delivery.jsonObject(now: now)
                    delivery["history"] = attempts[index][position].map { attempt -> [String: Any] in
                        [
                            "attempt": attempt.attempt, "at": attempt.at, "outcome": attempt.outcome.rawValue,
                            "status": SpoolFormat.nullable(attempt.status), "error": SpoolFormat.nullable(attempt.error),
                        ]
                    }
                    return delivery
                }
                return object
            }
            return result
        }

        private func text(
            request: StoredRequest?, events: [StoredEvent], deliveries: [[DeliveryRecord]], attempts: [[[DeliveryAttempt]]],
            now: Double
        ) {
            if let request {
                var line = "request:\(request.id)  \(request.status.rawValue)  route \(request.route)  "
                line += "received \(SpoolFormat.time(request.receivedAt)) (\(SpoolFormat.age(now - request.receivedAt)) ago)"
                print(line)
                if let reason = request.quarantineReason { print("quarantined: \(reason)") }
                print("headers:")
                for header in request.headers.map(SpoolFormat.redacted) { print("  \(header.name): \(header.value)") }
                if let body = String(validating: request.body, as: UTF8.self) {
                    print("body (\(request.body.count) bytes):")
                    print(body)
                } else {
                    print("body (\(request.body.count) bytes, not UTF-8, base64):")
                    print(Data(request.body).base64EncodedString())
                }
            } else {
                print("(the request is no longer in the spool)")
            }
            if events.isEmpty, request?.status == .accepted {
                print("\nno events of this request are stored (redeliveries of known events, pruned, or sent nowhere)")
            }
            for (index, event) in events.enumerated() {
                print("\nevent \(event.id)  \(event.type)  contact \(event.contactKey)")
                if let object = try? JSONSerialization.jsonObject(with: Data(event.payload)),
                    let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                {
                    print(String(decoding: pretty, as: UTF8.self))
                } else {
                    print(String(decoding: event.payload, as: UTF8.self))
                }
                if deliveries[index].isEmpty { print("no deliveries (sent nowhere, or purged)") }
                for (position, delivery) in deliveries[index].enumerated() {
                    var line = "\ndelivery \(delivery.id) -> \(delivery.destination)  \(delivery.state.rawValue)"
                    line += "  attempts \(delivery.attempts)  last status \(delivery.lastStatus.map { "\($0)" } ?? "-")"
                    if delivery.state == .pending { line += "  next attempt \(SpoolFormat.time(delivery.nextAttemptAt))" }
                    print(line)
                    if let error = delivery.lastError { print("  last error: \(DeliveryAttempt.excerpt(error))") }
                    let history = attempts[index][position]
                    if history.isEmpty, delivery.attempts > 0 { print("  (no attempt history: attempted before schema v3)") }
                    if !history.isEmpty {
                        let rows = history.map { attempt -> [String] in
                            [
                                "#\(attempt.attempt)", SpoolFormat.time(attempt.at), attempt.outcome.rawValue,
                                attempt.status.map { "\($0)" } ?? "-", SpoolFormat.oneLine(attempt.error, limit: 100),
                            ]
                        }
                        let table = SpoolFormat.table(["ATTEMPT", "AT", "OUTCOME", "STATUS", "ERROR"], rows, right: [0, 3])
                        print(table.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
                    }
                }
            }
        }
    }
}

// MARK: retry

extension SpoolCommand {
    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revive dead letters: back to pending, due now, attempt count reset.",
            discussion: """
                Revived deliveries go back in front of their contact's queue (per-contact order is \
                recomputed). A running server attempts them the next time its worker for that \
                destination looks for work: new traffic for it, a retry coming due, or a restart.
                """
        )

        @OptionGroup var location: SpoolArguments

        @Option(name: .customLong("id"), help: "A dead letter's delivery id (repeatable).")
        var ids: [Int64] = []

        @Option(help: "Every dead letter of this destination.")
        var destination: String?

        @Flag(help: "Every dead letter.")
        var all = false

        func validate() throws {
            if all, !ids.isEmpty || destination != nil {
                throw ValidationError("--all cannot be combined with --id or --destination")
            }
            if !all, ids.isEmpty, destination == nil {
                throw ValidationError("say which dead letters: --id N, --destination D or --all")
            }
        }

        func run() throws {
            let spool = try location.open()
            defer { spool.close() }
            let revived = try spool.retryDead(ids: ids.isEmpty ? nil : ids, destination: destination)
            if location.json {
                try SpoolFormat.printJSON(["revived": revived])
            } else {
                print("revived \(revived) dead letter\(revived == 1 ? "" : "s")")
            }
            if !ids.isEmpty, revived < ids.count {
                FileHandle.standardError.write(
                    Data("\(ids.count - revived) of the given ids are not dead letters\(destination.map { " of \($0)" } ?? "")\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

// MARK: purge

extension SpoolCommand {
    enum PurgeTarget: String, EnumerableFlag {
        case dead, delivered, quarantined

        static func help(for value: PurgeTarget) -> ArgumentHelp? {
            switch value {
            case .dead: "Dead letters (with their attempt history)."
            case .delivered:
                "Events older than --older-than whose deliveries are all delivered, with their deliveries, and raw requests older than that with no event left (their ids stop deduplicating redeliveries)."
            case .quarantined: "Quarantined requests."
            }
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete dead letters, delivered data or quarantined requests, after confirmation.",
            discussion: """
                Asks for confirmation on a terminal; elsewhere refuses (exit 2) unless --yes is given. \
                Only rows already in the spool when they were counted are deleted. Pending and \
                inflight deliveries are never deleted.
                """
        )

        @OptionGroup var location: SpoolArguments

        @Flag(exclusivity: .exclusive)
        var target: PurgeTarget

        @Option(help: "Only dead letters of this destination.")
        var destination: String?

        @Option(name: .customLong("older-than"), help: "Only what is older than this (90s, 15m, 12h, 7d, 1w, 1d12h). Required with --delivered.")
        var olderThan: DurationArgument?

        @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.")
        var yes = false

        func validate() throws {
            if destination != nil, target != .dead { throw ValidationError("--destination only applies to --dead") }
            if target == .delivered, olderThan == nil {
                throw ValidationError("--delivered needs --older-than (for example --older-than 7d)")
            }
        }

        func run() throws {
            let spool = try location.open()
            defer { spool.close() }
            let now = Spool.currentTime()
            let cutoff = olderThan.map { now - $0.seconds }
            let age = olderThan.map { " older than \(SpoolFormat.duration($0.seconds))" } ?? ""

            switch target {
            case .dead, .quarantined:
                let selection: PurgeSelection =
                    target == .dead
                    ? .deadLetters(destination: destination, createdBefore: cutoff) : .quarantined(receivedBefore: cutoff)
                let noun = target == .dead ? "dead letter" : "quarantined request"
                let scope = destination.map { " of \($0)" } ?? ""
                let count = try spool.purgeCount(selection, asOf: now)
                guard count > 0 else { return report(nothing: "no \(noun)s\(scope)\(age) to purge") }
                try confirm("delete \(count) \(noun)\(count == 1 ? "" : "s")\(scope)\(age)")
                let deleted = try spool.purge(selection, asOf: now)
                if location.json {
                    try SpoolFormat.printJSON(["deleted": deleted])
                } else {
                    print("deleted \(deleted) \(noun)\(deleted == 1 ? "" : "s")")
                }
            case .delivered:
                let window = olderThan?.seconds ?? RetentionPolicy.defaultDedupWindow
                let policy = RetentionPolicy(dedupWindow: window, rawRetention: window)
                let preview = try spool.prunable(now: now, policy: policy)
                guard !preview.isEmpty else { return report(nothing: "no delivered data\(age) to purge") }
                try confirm(
                    "delete \(preview.events) delivered events (\(preview.deliveries) deliveries) and \(preview.requests) raw requests\(age); "
                        + "their ids stop deduplicating redeliveries")
                let removed = try spool.prune(now: now, policy: policy)
                if location.json {
                    try SpoolFormat.printJSON([
                        "deleted": removed.events + removed.requests, "events": removed.events,
                        "deliveries": removed.deliveries, "attempts": removed.attempts, "requests": removed.requests,
                    ])
                } else {
                    print(
                        "deleted \(removed.events) events (\(removed.deliveries) deliveries, \(removed.attempts) attempts) and \(removed.requests) raw requests"
                    )
                }
            }
        }

        private func report(nothing message: String) {
            if location.json {
                try? SpoolFormat.printJSON(["deleted": 0])
            } else {
                print(message)
            }
        }

        /// Asks on a terminal; without one, refuses unless `--yes`.
        private func confirm(_ action: String) throws {
            if yes { return }
            guard isatty(STDIN_FILENO) == 1 else {
                FileHandle.standardError.write(
                    Data("refusing to \(action) without confirmation: standard input is not a terminal; pass --yes\n".utf8))
                throw ExitCode(2)
            }
            FileHandle.standardError.write(Data("\(action)? [y/N] ".utf8))
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased()
            guard answer == "y" || answer == "yes" else {
                FileHandle.standardError.write(Data("nothing deleted\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
