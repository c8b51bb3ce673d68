import ArgumentParser
import CutoverConfiguration
import CutoverHTTPClient
import CutoverProbe
import CutoverTLS
import CutoverWebhooks
import Foundation

/// `cutover probe`: proves an endpoint before cutover with one request per notification type.
struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send an endpoint one request for every notification type Cutover knows, and report which it refused.",
        discussion: """
            The examples are compiled into the binary: every message type (voice notes, every \
            interactive reply, reactions, orders, system messages...), every status, errors and every \
            management field. Each is rendered and signed exactly as delivery would for a destination \
            of --format, and carries X-Cutover-Probe: 1 and X-Cutover-Event-Id. Requests go one at a \
            time; the table shows each type's HTTP status, latency, and for a refusal the first line \
            of the response body.

            Types the format has no place for are listed as skipped (delivery leaves them out too, per \
            --unsupported). Items from a username user with no phone number follow --phoneless: under \
            dead_letter (the default) an onprem destination would dead-letter them, so they are listed \
            as dead letter and not sent; user_id sends them with the user id standing in for the phone.

            --config FILE takes the URL, format, secrets, headers and policies of one of its destinations \
            (--destination NAME when it has several) and the business identity of an On-Prem route \
            (--route NAME, else the first with one); the other options override them.

            Exits 0 when every type sent was accepted (2xx), 1 when any was refused or got no answer, \
            2 on a usage error, 3 when the endpoint could not be reached at all.
            """
    )

    @Option(help: "Endpoint URL to POST to (not needed with --dry-run or --config).")
    var to: String?

    @Option(help: "Shape to send: onprem, cloud or canonical.")
    var format: DeliveryFormat?

    @Option(help: "YAML config: take a destination's URL, format, secrets and headers, and an On-Prem route's business identity.")
    var config: String?

    @Option(help: "With --config: the destination to probe (needed when the config has several).")
    var destination: String?

    @Option(help: "With --config: the On-Prem route whose business identity the examples carry.")
    var route: String?

    @Flag(help: "Sign as the format requires (cloud: --app-secret; canonical: --signing-secret).")
    var sign = false

    @Option(name: .customLong("app-secret"), help: "App secret for X-Hub-Signature-256 (default: CUTOVER_APP_SECRET).")
    var appSecret: String?

    @Option(name: .customLong("signing-secret"), help: "Standard Webhooks secret, whsec_... (default: CUTOVER_SIGNING_SECRET).")
    var signingSecret: String?

    @Option(name: .customLong("header"), help: "Extra header, 'Name: value' (repeatable).")
    var headers: [String] = []

    @Option(name: .customLong("phone-number-id"), help: "Business phone number id the examples carry.")
    var phoneNumberID: String?

    @Option(name: .customLong("display-phone-number"), help: "Business display phone number.")
    var displayPhoneNumber: String?

    @Option(name: .customLong("waba-id"), help: "WhatsApp Business Account id.")
    var wabaID: String?

    @Option(name: .customLong("type"), help: "Only this type, or the types under it (message.interactive, status); a trailing * matches a prefix (repeatable).")
    var types: [String] = []

    @Option(help: "Notifications the format has no concept for: unknownMessage, drop or passThrough (default: the destination's, else unknownMessage).")
    var unsupported: UnsupportedPolicy?

    @Option(help: "onprem: a user with no phone number: dead_letter (not sent) or user_id (BSUID as wa_id) (default: the destination's, else dead_letter).")
    var phoneless: PhonelessPolicy?

    @Flag(help: "Print one JSON document instead of the table.")
    var json = false

    @Flag(name: .customLong("dry-run"), help: "Print the requests; send nothing.")
    var dryRun = false

    @Option(help: "Seconds to wait for each response.")
    var timeout = 10.0

    /// What the command works from once the config and the options are merged.
    private struct Target {
        var url: DestinationURL?
        var plan: ProbePlan
        var tls: TLSClientConfiguration?
    }

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
        if config == nil {
            if destination != nil || route != nil { throw ValidationError("--destination and --route need --config FILE") }
            if format == nil { throw ValidationError("--format onprem, cloud or canonical is required (or --config FILE)") }
            if to == nil, !dryRun { throw ValidationError("--to URL is required (or --dry-run, or --config FILE)") }
        }
        if format == .raw { throw ValidationError("--format raw sends bodies as received; a probe has none: use onprem, cloud or canonical") }
        if let to, DestinationURL(to) == nil { throw ValidationError("--to: expected an http:// or https:// URL, got \(to)") }
        for header in headers where Replay.parseHeader(header) == nil {
            throw ValidationError("--header: expected 'Name: value', got \(header)")
        }
        if sign, config == nil, let format { try secrets.validateSigning(format) }
    }

    private var secrets: SigningSecrets { SigningSecrets(appSecret: appSecret, signingSecret: signingSecret) }

    func run() async throws {
        let target = try resolveTarget()
        let now = Date().timeIntervalSince1970
        let cases: [ProbeCase]
        do {
            cases = try ProbeCatalog.cases(business: target.plan.business, runID: String(Int(now), radix: 36), time: Int(now))
        } catch {
            throw ProbeFailure("\(error)")
        }
        let unmatched = target.plan.unmatchedTypes(in: cases)
        if !unmatched.isEmpty {
            throw ValidationError("--type \(unmatched.joined(separator: ", ")) matches no type; the types are:\n  " + cases.map(\.name).joined(separator: "\n  "))
        }
        let items = target.plan.items(cases, now: now)
        if dryRun {
            print(ProbeDryRun.text(items, url: target.url?.description ?? to ?? "(no --to)", json: json), terminator: "")
            return
        }
        guard let url = target.url else { throw ValidationError("--to URL is required (the destination has no http URL)") }
        let tls: TLSContext?
        do { tls = try target.tls.map { try TLSContext(client: $0) } } catch { throw ProbeFailure("cannot load the destination's TLS files: \(error)") }
        let sender = ProbeSender(url: url, timeoutSeconds: timeout, tls: tls)
        defer { sender.shutdown() }
        let report = await ProbeRunner.run(items, format: target.plan.format, sender: sender)
        if json {
            print(report.json.jsonString)
        } else {
            print(report.table, terminator: "")
        }
        if let unreachable = report.unreachable {
            FileHandle.standardError.write(Data("error: cannot reach \(url): \(unreachable)\n".utf8))
        }
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }

    /// The config's destination and route (when given), with the options over them.
    private func resolveTarget() throws -> Target {
        var url = to.flatMap { DestinationURL($0) }
        var plan = ProbePlan(format: format ?? .canonical)
        var tls: TLSClientConfiguration?
        var business = BusinessIdentity()
        var configHeaders: [(name: String, value: String)] = []
        if let config {
            let settings: RelaySettings
            // A config that does not load is a usage error like a bad option (exit 2), not the endpoint's refusal.
            do { settings = try RelaySettings(config: try ConfigFile.load(path: config)) } catch { throw ValidationError("\(error)") }
            let chosen: RelaySettings.DestinationSettings
            if let destination {
                guard let named = settings.destinations.first(where: { $0.name == destination }) else {
                    throw ValidationError("--destination \(destination): \(config) has " + settings.destinations.map(\.name).joined(separator: ", "))
                }
                chosen = named
            } else {
                guard settings.destinations.count == 1 else {
                    throw ValidationError("--destination NAME: \(config) has " + settings.destinations.map(\.name).joined(separator: ", "))
                }
                chosen = settings.destinations[0]
            }
            if url == nil, case .http(let configured) = chosen.target { url = configured }
            plan.format = format ?? chosen.format
            if plan.format == .raw { throw ValidationError("destination \(chosen.name) is raw (bodies as received); pass --format onprem, cloud or canonical") }
            plan.unsupported = chosen.unsupported
            plan.phoneless = chosen.phoneless
            // Delivery signs whenever the destination has the secret: so does its probe.
            plan.appSecret = chosen.appSecret
            plan.signingKey = chosen.signingKey
            configHeaders = chosen.headers
            tls = chosen.tls
            let routes = settings.onpremRoutes.values.sorted { $0.name < $1.name }
            if let route {
                guard let named = settings.onpremRoutes[route] else {
                    throw ValidationError("--route \(route): \(config) has " + routes.map(\.name).joined(separator: ", "))
                }
                business = named.business
            } else if let identified = routes.first(where: { !$0.business.isEmpty }) {
                business = identified.business
            }
        }
        let flags = BusinessIdentity(phoneNumberID: phoneNumberID, displayPhoneNumber: displayPhoneNumber, wabaID: wabaID)
        business = business.overridden(by: flags)
        plan.business = business.isEmpty ? nil : business
        plan.unsupported = unsupported ?? plan.unsupported
        plan.phoneless = phoneless ?? plan.phoneless
        plan.headers = configHeaders + headers.compactMap(Replay.parseHeader)
        plan.types = types
        if sign {
            // A config's destination may hold the secret already; the options' win over it.
            if !(plan.format == .cloud && plan.appSecret != nil) && !(plan.format == .canonical && plan.signingKey != nil) {
                try secrets.validateSigning(plan.format)
            }
            switch plan.format {
            case .cloud: plan.appSecret = secrets.appSecret ?? plan.appSecret
            case .canonical: plan.signingKey = secrets.signingKey ?? plan.signingKey
            case .onprem, .raw: break
            }
        }
        return Target(url: url, plan: plan, tls: tls)
    }
}

/// A failure of the probe itself (not of the endpoint): printed as `error: ...`, exit 1.
struct ProbeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
