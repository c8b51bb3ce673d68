import ArgumentParser
import CutoverRelay
import Dispatch
import Foundation
import Logging

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accept Cloud and On-Prem webhooks, spool them durably, deliver them translated.",
        discussion: """
            With no config file and no flags, listens on 127.0.0.1:8080 with a SQLite spool in \
            ./.cutover/, routes /cloud and /onprem/default, and appends canonical events to \
            ./.cutover/events.jsonl. Flags override the config file. Secrets can also come from \
            CUTOVER_APP_SECRET and CUTOVER_VERIFY_TOKEN.
            """
    )

    @Option(help: "YAML config file (see deploy/cutover.example.yml).")
    var config: String?

    @Option(help: "Address to listen on, HOST:PORT.")
    var listen: String?

    @Option(help: "Spool directory (SQLite database and default sink).")
    var spool: String?

    @Option(help: "Deliver every event to this URL (replaces configured destinations).")
    var forward: String?

    @Option(help: "Shape of forwarded events: onprem, cloud, canonical or raw.")
    var format: DeliveryFormat?

    @Option(name: .customLong("app-secret"), help: "Cloud app secret checking X-Hub-Signature-256 (repeatable; the first also re-signs cloud deliveries).")
    var appSecrets: [String] = []

    @Option(name: .customLong("verify-token"), help: "Token Meta's GET /cloud verification must present.")
    var verifyToken: String?

    @Option(
        name: .customLong("onprem-route"),
        help: "On-Prem route NAME, or NAME,phone_number_id=ID,display_phone_number=N,waba_id=ID,token=T (repeatable)."
    )
    var onpremRoutes: [String] = []

    func run() throws {
        var logger = Logger(label: "cutover")
        logger.logLevel = .info
        var config = try config.map { try CutoverConfig.load(path: $0) } ?? CutoverConfig()
        let usedEmbeddedDefault = self.config == nil
        try apply(to: &config, environment: ProcessInfo.processInfo.environment)
        let settings = try RelaySettings(config: config)

        if usedEmbeddedDefault {
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

        let relay = try Relay(settings: settings, logger: logger)
        logger.notice("listening on http://\(relay.boundAddress)")
        for destination in settings.destinations {
            switch destination.target {
            case .http(let url): logger.notice("delivering to \(url) as \(destination.format.rawValue)")
            case .jsonLinesFile(let path): logger.notice("appending canonical events to \(path)")
            }
        }
        waitForTerminationSignal()
        logger.notice("shutting down: finishing in-flight requests and deliveries")
        relay.shutdown()
    }

    /// Folds flags and environment into the loaded config; flags win.
    private func apply(to config: inout CutoverConfig, environment: [String: String]) throws {
        if let listen { config.listen = listen }
        if let spool { config.spool = spool }
        var secrets = appSecrets
        if secrets.isEmpty, let fromEnvironment = environment["CUTOVER_APP_SECRET"], !fromEnvironment.isEmpty {
            secrets = [fromEnvironment]
        }
        if !secrets.isEmpty { config.cloud.appSecrets = secrets.map { Secret(.literal($0)) } }
        if let token = verifyToken ?? environment["CUTOVER_VERIFY_TOKEN"].flatMap({ $0.isEmpty ? nil : $0 }) {
            config.cloud.verifyToken = Secret(.literal(token))
        }
        if !onpremRoutes.isEmpty {
            config.onprem.routes = try onpremRoutes.map(Self.parseRoute)
        }
        if let forward {
            let format = format ?? .canonical
            config.destinations = [
                CutoverConfig.Destination(
                    name: "forward", url: forward, format: format,
                    appSecret: format == .cloud ? config.cloud.appSecrets.first : nil
                )
            ]
        } else if let format {
            for index in config.destinations.indices { config.destinations[index].format = format }
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

    /// Blocks until SIGTERM or SIGINT; the signals are handled on a Dispatch source, not async-unsafe handlers.
    private func waitForTerminationSignal() {
        let done = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { done.signal() }
            source.activate()
            sources.append(source)
        }
        done.wait()
        for source in sources { source.cancel() }
    }
}

extension DeliveryFormat: ExpressibleByArgument {}
