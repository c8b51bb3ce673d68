import ArgumentParser
import CutoverConfiguration
import CutoverDelivery
import CutoverRelay
import CutoverSpool
import CutoverWebhooks
import Foundation

/// `cutover replay`: re-sends stored or captured webhooks, translated, to an endpoint.
struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-send stored or captured webhooks, translated, to an endpoint.",
        discussion: """
            SOURCE is one of:
              spool:DIR   the spool in DIR (requests by receive time; --status, --destination)
              spool       the spool named by --spool DIR or --config FILE, else ./.cutover
              DIR         every .json and .jsonl file in DIR, in name order
              FILE        one webhook body, or JSON lines: bodies or capture records
                          ({"received_at","route","headers","body"}, what `capture:` writes)
              -           standard input, read as FILE
            Several sources are read in order (rotated captures: capture.jsonl.2 capture.jsonl.1 \
            capture.jsonl). With no SOURCE, --spool or --config means the spool.

            From the spool, accepted requests replay the canonical events stored for them (each \
            notification once); quarantined requests are decoded again. Files are decoded by route \
            (cloud, onprem/NAME), else by shape. onprem, cloud and canonical send one request per \
            event, as delivery does; raw sends each body as received, once.

            Every request carries X-Cutover-Replay: 1 and X-Cutover-Event-Id. --sign re-signs: cloud \
            and raw with X-Hub-Signature-256 (--app-secret or CUTOVER_APP_SECRET), canonical per \
            Standard Webhooks (--signing-secret or CUTOVER_SIGNING_SECRET). Unsigned raw replay \
            forwards the captured X-Hub-Signature-256, which holds for the exact bytes.

            Progress goes to standard error: a bar on a terminal, plain lines otherwise. The summary \
            goes to standard output; a dry run prints the rendered requests there instead, and its \
            summary to standard error. Exits 1 when anything failed.

            Files are read a line at a time: a capture of any size replays in about the memory of its \
            longest line. A line longer than --max-record-bytes is a failed record, not read.

            Ctrl-C (SIGINT) or SIGTERM stops sending, waits for the requests in flight (each at most \
            --timeout; a second Ctrl-C stops waiting), prints the summary with what was not sent, and \
            exits 130 (SIGINT) or 143 (SIGTERM).
            """
    )

    @Argument(help: "spool:DIR, spool, a directory, a file, or - (see below).")
    var sources: [String] = []

    @Option(help: "Spool directory or postgresql:// URL, for the spool source.")
    var spool: String?

    @Option(help: "YAML config: its spool, and its On-Prem routes' business identities for bodies captured on them.")
    var config: String?

    @Option(help: "Endpoint URL to POST to (not needed with --dry-run).")
    var to: String?

    @Option(help: "Shape to send: onprem, cloud, canonical or raw.")
    var format: DeliveryFormat

    @Option(help: "Only requests received at or after this time: RFC 3339, or how long ago (90s, 15m, 2h, 7d, 1d12h).")
    var since: String?

    @Option(help: "Only requests received before this time (same forms as --since).")
    var until: String?

    @Option(name: .customLong("phone"), help: "Only events of this business number: phone number id or display number (repeatable).")
    var phoneNumbers: [String] = []

    @Option(name: .customLong("type"), help: "Only events of this canonical type; a trailing * matches a prefix (repeatable).")
    var eventTypes: [String] = []

    @Option(name: .customLong("contact"), help: "Only events of this contact, by wa_id or business-scoped user id (repeatable).")
    var contacts: [String] = []

    @Option(help: "Spool only: delivered or dead (events with such a delivery) or quarantined (requests).")
    var status: SpoolSource.Status?

    @Option(help: "Spool only, with --status delivered or dead: deliveries to this destination.")
    var destination: String?

    @Option(help: "At most this many requests per second.")
    var rate: Double?

    @Option(help: "Requests in flight at once.")
    var concurrency = 4

    @Option(help: "Seconds to wait for each response.")
    var timeout = 30.0

    @Option(
        name: .customLong("max-record-bytes"),
        help: "Longest capture line or body file read, in bytes (default: twice limits.max_body_bytes of --config, else \(JSONLinesSource.defaultMaxRecordBytes)).")
    var maxRecordBytes: Int?

    @Flag(name: .customLong("dry-run"), help: "Print the rendered requests; send nothing.")
    var dryRun = false

    @Flag(help: "Re-sign as the format requires (cloud, raw: --app-secret; canonical: --signing-secret).")
    var sign = false

    @Option(name: .customLong("app-secret"), help: "App secret for X-Hub-Signature-256 (default: CUTOVER_APP_SECRET).")
    var appSecret: String?

    @Option(name: .customLong("signing-secret"), help: "Standard Webhooks secret, whsec_... (default: CUTOVER_SIGNING_SECRET).")
    var signingSecret: String?

    @Option(name: .customLong("phone-number-id"), help: "Business phone number id (On-Prem bodies carry none; overrides Cloud output).")
    var phoneNumberID: String?

    @Option(name: .customLong("display-phone-number"), help: "Business display phone number.")
    var displayPhoneNumber: String?

    @Option(name: .customLong("waba-id"), help: "WhatsApp Business Account id.")
    var wabaID: String?

    @Option(help: "Notifications the target API has no concept for: unknownMessage, drop or passThrough.")
    var unsupported: UnsupportedPolicy = .defaultPolicy

    @Option(help: "onprem: a user with no phone number (business-scoped user id only): dead_letter (counted as failed) or user_id (BSUID as wa_id).")
    var phoneless: PhonelessPolicy = .defaultPolicy

    @Option(name: .customLong("header"), help: "Extra header, 'Name: value' (repeatable).")
    var headers: [String] = []

    func validate() throws {
        if !dryRun, to == nil { throw ValidationError("--to URL is required (or --dry-run)") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if let maxRecordBytes, maxRecordBytes < 1 { throw ValidationError("--max-record-bytes must be at least 1") }
        if sources.isEmpty, spool == nil, config == nil {
            throw ValidationError("name a SOURCE (spool:DIR, a directory, a file or -), or --spool DIR / --config FILE")
        }
        let usesSpool = sources.isEmpty || sources.contains { $0 == "spool" || $0.hasPrefix("spool:") }
        if status != nil || destination != nil, !usesSpool {
            throw ValidationError("--status and --destination apply to the spool source only")
        }
        if destination != nil, status != .delivered && status != .dead {
            throw ValidationError("--destination needs --status delivered or --status dead")
        }
        for header in headers where Self.parseHeader(header) == nil {
            throw ValidationError("--header: expected 'Name: value', got \(header)")
        }
        if sign { try secrets.validateSigning(format) }
    }

    private var secrets: SigningSecrets { SigningSecrets(appSecret: appSecret, signingSecret: signingSecret) }

    static func parseHeader(_ text: String) -> (name: String, value: String)? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let name = text[..<colon].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !name.contains(" ") else { return nil }
        return (name, text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }

    func run() async throws {
        let now = Date().timeIntervalSince1970
        var filter = ReplayFilter(phoneNumbers: phoneNumbers, eventTypes: eventTypes, contacts: contacts)
        if let since {
            guard let time = ReplayTime.parse(since, now: now) else { throw ValidationError("--since: expected RFC 3339 or a duration like 2h, got \(since)") }
            filter.since = time
        }
        if let until {
            guard let time = ReplayTime.parse(until, now: now) else { throw ValidationError("--until: expected RFC 3339 or a duration like 2h, got \(until)") }
            filter.until = time
        }
        let loadedConfig = try config.map { try CutoverConfig.load(path: $0) }

        var plan = ReplayPlan(format: format)
        plan.filter = filter
        plan.unsupported = unsupported
        plan.phoneless = phoneless
        let business = BusinessIdentity(phoneNumberID: phoneNumberID, displayPhoneNumber: displayPhoneNumber, wabaID: wabaID)
        plan.business = business.isEmpty ? nil : business
        for route in loadedConfig?.onprem.routes ?? [] {
            plan.routeIdentities[route.name] = BusinessIdentity(
                phoneNumberID: route.phoneNumberID, displayPhoneNumber: route.displayPhoneNumber, wabaID: route.wabaID
            )
        }
        plan.headers = headers.compactMap(Self.parseHeader)
        if sign {
            if format == .canonical {
                plan.signingKey = secrets.signingKey
            } else {
                plan.appSecret = secrets.appSecret
            }
        }

        var spools: [any SpoolBackend] = []
        defer { for opened in spools { opened.close() } }
        func openSpool(_ location: SpoolSettings) throws -> any ReplaySource {
            let opened = try SpoolArguments.openExisting(location) { ValidationError("no spool at \($0) (spool:DIR, --spool DIR or --config FILE)") }
            spools.append(opened)
            return try SpoolSource(spool: opened, since: filter.since, until: filter.until, status: status, destination: destination)
        }
        let defaultSpool = try SpoolArguments.location(argument: spool, config: loadedConfig)
        let recordLimit = maxRecordBytes ?? loadedConfig.map { 2 * $0.limits.maxBodyBytes } ?? JSONLinesSource.defaultMaxRecordBytes
        var parts: [any ReplaySource] = []
        for name in sources.isEmpty ? ["spool"] : sources {
            var isDirectory: ObjCBool = false
            if name == "spool" {
                parts.append(try openSpool(defaultSpool))
            } else if name.hasPrefix("spool:") {
                parts.append(try openSpool(SpoolArguments.location(argument: String(name.dropFirst("spool:".count)), config: loadedConfig)))
            } else if name != "-", FileManager.default.fileExists(atPath: name, isDirectory: &isDirectory), isDirectory.boolValue {
                parts.append(try ChainedSource.directory(name, maxRecordBytes: recordLimit))
            } else {
                parts.append(try JSONLinesSource(path: name, maxRecordBytes: recordLimit))
            }
        }
        let source: any ReplaySource = parts.count == 1 ? parts[0] : ChainedSource(parts)
        let runner = ReplayRunner(plan: plan, rate: rate, concurrency: concurrency)

        let interruption = ReplayInterruption()
        let signals = ReplaySignals(interruption: interruption)
        defer { signals.cancel() }

        if dryRun {
            let target = to ?? "(no --to)"
            let output = FileHandle.standardOutput
            let summary = try runner.dryRun(source: source, interruption: interruption) { request in
                var text = "# \(request.label)\(request.eventIDs.isEmpty ? "" : "  " + request.eventIDs.joined(separator: ","))\n"
                text += "POST \(target)\n"
                for header in request.headers { text += "\(header.name): \(header.value)\n" }
                output.write(Data((text + "\n").utf8) + Data(request.body) + Data("\n\n".utf8))
            }
            report(summary, dryRun: true)
            try exit(for: summary, signals: signals)
            return
        }

        let transport = try HTTPReplayTransport(url: to!, timeoutSeconds: timeout)
        defer { transport.shutdown() }
        let progress = ProgressPrinter(terminal: isatty(STDERR_FILENO) == 1)
        let summary = try await runner.run(source: source, transport: transport, interruption: interruption) { progress.update($0) }
        progress.finish(summary.progress)
        report(summary, dryRun: false)
        try exit(for: summary, signals: signals)
    }

    /// 128 + the signal when interrupted (as a shell reports a signalled command), else 1 when
    /// anything failed.
    private func exit(for summary: ReplaySummary, signals: ReplaySignals) throws {
        if summary.interrupted != nil, let signal = signals.received { throw ExitCode(128 + signal) }
        if summary.anyFailed { throw ExitCode(1) }
    }

    private func report(_ summary: ReplaySummary, dryRun: Bool) {
        let standardError = FileHandle.standardError
        for failure in summary.failures { standardError.write(Data("failed: \(failure)\n".utf8)) }
        let unlisted = summary.progress.failed - summary.failures.count
        if unlisted > 0 { standardError.write(Data("… and \(unlisted) more failures\n".utf8)) }
        for skipped in summary.skipped { standardError.write(Data("skipped: \(skipped)\n".utf8)) }
        if dryRun {
            let p = summary.progress
            standardError.write(
                Data(("dry run: \(p.sent) request\(p.sent == 1 ? "" : "s") rendered, nothing sent; failed \(p.failed), skipped \(p.skipped) (\(p.read) read, \(p.matched) matched)"
                    + (summary.interrupted.map { "; interrupted by \($0)" + (summary.unread.map { ", \($0) records unread" } ?? "") } ?? "")
                    + "\n").utf8))
        } else {
            print("replay to \(to ?? ""): " + ReplayDisplay.summary(summary))
        }
    }
}

/// Draws progress on standard error: a bar redrawn at most ten times a second on a terminal,
/// otherwise a plain line per tenth of the work (or every five seconds when the total is unknown).
final class ProgressPrinter {
    private let terminal: Bool
    private var lastDraw = 0.0
    private var lastTenth = 0
    private var drewBar = false

    init(terminal: Bool) { self.terminal = terminal }

    func update(_ progress: ReplayProgress) {
        let now = Date().timeIntervalSince1970
        if terminal {
            guard now - lastDraw >= 0.1 else { return }
            lastDraw = now
            drewBar = true
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + ReplayDisplay.bar(progress)).utf8))
            return
        }
        if let total = progress.total, total > 0 {
            let tenth = progress.read * 10 / total
            guard tenth > lastTenth, progress.read < total else { return }
            lastTenth = tenth
        } else {
            guard now - lastDraw >= 5 else { return }
            lastDraw = now
        }
        FileHandle.standardError.write(Data((ReplayDisplay.line(progress) + "\n").utf8))
    }

    func finish(_ progress: ReplayProgress) {
        let text = terminal ? "\r\u{1B}[K" + ReplayDisplay.bar(progress) + "\n" : ReplayDisplay.line(progress) + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}

extension SpoolSource.Status: ExpressibleByArgument {}
