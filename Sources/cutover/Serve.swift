import ArgumentParser
import CutoverConfiguration
import CutoverOperations
import CutoverRelay
import CutoverSockets
import CutoverWebhooks
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accept Cloud and On-Prem webhooks, spool them durably, deliver them translated.",
        discussion: """
            With no config file and no flags, listens on 127.0.0.1:8080 with a SQLite spool in \
            ./.cutover/, routes /cloud and /onprem/default, and appends canonical events to \
            ./.cutover/events.jsonl. Flags override the config file. Secrets can also come from \
            CUTOVER_APP_SECRET and CUTOVER_VERIFY_TOKEN. SIGHUP re-reads the config file and applies \
            secrets, routes, destinations and certificates without dropping connections; SIGTERM and \
            SIGINT finish in-flight requests and deliveries, then exit.
            """
    )

    @Option(help: "YAML config file (see deploy/cutover.example.yml).")
    var config: String?

    @Option(help: "Address to listen on, HOST:PORT, or off (HTTPS only, with --listen-tls).")
    var listen: String?

    @Option(name: .customLong("listen-tls"), help: "HTTPS address, HOST:PORT (needs --tls-cert and --tls-key).")
    var listenTLS: String?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain for the HTTPS listener.")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for the HTTPS listener.")
    var tlsKey: String?

    @Option(name: .customLong("client-ca"), help: "Require client certificates from this CA (mutual TLS, as Meta offers).")
    var clientCA: String?

    @Option(help: "Spool directory (SQLite database and default sink), or a postgresql://USER@HOST:PORT/DATABASE URL (password, lease and instance id from the config's spool.postgres of that URL, else PGPASSWORD or ~/.pgpass).")
    var spool: String?

    @Option(
        name: .customLong("spool-check"),
        help: "quick (default): PRAGMA quick_check at start, refusing a damaged spool; off: start on it anyway.")
    var spoolCheck: String?

    @Option(help: "Deliver every event to this URL (replaces configured destinations).")
    var forward: String?

    @Option(help: "Shape of forwarded events: onprem, cloud, canonical or raw.")
    var format: DeliveryFormat?

    @Option(help: "onprem destinations: a user with no phone number (BSUID only): dead_letter or user_id (overrides each destination's phoneless).")
    var phoneless: PhonelessPolicy?

    @Option(name: .customLong("app-secret"), help: "Cloud app secret checking X-Hub-Signature-256 (repeatable; the first also re-signs cloud deliveries).")
    var appSecrets: [String] = []

    @Option(name: .customLong("verify-token"), help: "Token Meta's GET /cloud verification must present.")
    var verifyToken: String?

    @Option(
        name: .customLong("onprem-route"),
        help: "On-Prem route NAME, or NAME,phone_number_id=ID,display_phone_number=N,waba_id=ID,token=T (repeatable)."
    )
    var onpremRoutes: [String] = []

    @Option(help: "Record every authenticated request to this JSON-lines file, for `cutover replay` (see capture: in the config).")
    var capture: String?
    @Option(name: .customLong("log-format"), help: "json (one object per line) or text; default: text on a terminal, else json.")
    var logFormat: LogFormat?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        // SIGHUP's default action ends the process. Trapping it before anything else (the sequence
        // buffers what arrives until the reload service reads it) makes a reload sent right after the
        // start (`systemctl reload` once "listening" is logged) a reload, neither fatal nor lost.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let logger = CutoverLogging.bootstrap(format: logFormat, level: logLevel)
        // Log lines are written by a queue of their own: let it finish before the process exits.
        defer { StandardErrorWriter.shared.flush() }
        let settings = try loadSettings()
        if config == nil {
            logger.notice("no --config given: running the embedded default (see `cutover serve --help`)")
        }
        if settings.signaturesDisabled {
            logger.warning(
                "NO APP SECRET CONFIGURED: POST /cloud accepts unsigned bodies. Set --app-secret, CUTOVER_APP_SECRET or cloud.app_secrets before exposing Cutover."
            )
        }
        for route in settings.onpremRoutes.values where route.token == nil {
            logger.warning("On-Prem route /onprem/\(route.name) has no credential: anyone who can reach it can post")
        }

        do {
            try HeapPolicy.returnLargeBuffersToTheSystem()
        } catch {
            logger.warning("large request buffers may stay in the heap after use", metadata: ["error": "\(error)"])
        }
        let relay = try Relay(settings: settings, logger: logger, metrics: .processWide)
        if let address = relay.boundAddress { logger.notice("listening on http://\(address)") }
        if let address = relay.boundTLSAddress { logger.notice("listening on https://\(address)") }
        logger.notice(
            "threads: \(relay.threads.ioLoops) I/O loops, \(relay.threads.decodeWorkers) decode workers",
            metadata: ["cores_allowed": "\(System.coreCount)"])
        for destination in settings.destinations {
            switch destination.target {
            case .http(let url): logger.notice("delivering to \(url.withoutQuery) as \(destination.format.rawValue) (\(destination.role.rawValue))")
            case .jsonLinesFile(let path): logger.notice("appending canonical events to \(path)")
            }
        }
        let command = self
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: relay.services(hangups: hangups) { try command.loadSettings() }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// The config file (re-read on every call, so SIGHUP sees edits) with environment and flags applied.
    func loadSettings() throws -> RelaySettings {
        var loaded = try ConfigFile.load(path: config, flags: declaredFlags)
        try apply(to: &loaded, environment: ProcessInfo.processInfo.environment)
        return try RelaySettings(config: loaded)
    }

    /// The flags the config declarations name (`flag:` in `CutoverConfig.fields`): read with the
    /// same types, ranges and error messages as the file.
    private var declaredFlags: [String: [String]] {
        let values: [String: [String]?] = [
            "--listen": listen.map { [$0] }, "--listen-tls": listenTLS.map { [$0] }, "--tls-cert": tlsCertificate.map { [$0] },
            "--tls-key": tlsKey.map { [$0] }, "--client-ca": clientCA.map { [$0] }, "--spool": spool.map { [$0] }, "--spool-check": spoolCheck.map { [$0] },
            "--capture": capture.map { [$0] }, "--app-secret": appSecrets.isEmpty ? nil : appSecrets,
            "--verify-token": verifyToken.map { [$0] },
        ]
        return values.compactMapValues { $0 }
    }

    /// Folds what the declarations cannot express into the loaded config: the legacy secret
    /// variables, whole routes and the forward destination. Flags win.
    private func apply(to config: inout CutoverConfig, environment: [String: String]) throws {
        if appSecrets.isEmpty, let fromEnvironment = environment["CUTOVER_APP_SECRET"], !fromEnvironment.isEmpty {
            config.cloud.appSecrets = [Secret(.literal(fromEnvironment))]
        }
        if verifyToken == nil, let token = environment["CUTOVER_VERIFY_TOKEN"], !token.isEmpty {
            config.cloud.verifyToken = Secret(.literal(token))
        }
        if !onpremRoutes.isEmpty {
            config.onprem.routes = try onpremRoutes.map(Self.parseRoute)
        }
        if let forward {
            let format = format ?? .canonical
            config.destinations = [
                try CutoverConfig.Destination(
                    forwardingTo: forward, format: format, appSecret: format == .cloud ? config.cloud.appSecrets.first : nil
                )
            ]
        } else if let format {
            for index in config.destinations.indices { config.destinations[index].format = format }
        }
        if let phoneless {
            for index in config.destinations.indices { config.destinations[index].phoneless = phoneless }
        }
    }

    static func parseRoute(_ text: String) throws -> CutoverConfig.OnPremRoute {
        var parts = text.split(separator: ",").map(String.init)
        guard !parts.isEmpty else { throw ValidationError("--onprem-route needs a name") }
        var route = CutoverConfig.OnPremRoute(name: parts.removeFirst())
        for part in parts {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { throw ValidationError("--onprem-route: expected key=value, got \(part)") }
            switch pair[0] {
            case "phone_number_id": route.phoneNumberID = pair[1]
            case "display_phone_number": route.displayPhoneNumber = pair[1]
            case "waba_id": route.wabaID = pair[1]
            case "token": route.token = Secret(.literal(pair[1]))
            default: throw ValidationError("--onprem-route: unknown key \(pair[0])")
            }
        }
        return route
    }
}

extension DeliveryFormat: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
