import CutoverHTTP
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverSockets
import CutoverTLS
import CutoverWebhooks
import Foundation

/// The configuration with every secret resolved and every URL parsed: what the running relay uses.
/// Built once at start (and again on reload), so a bad value fails before anything listens.
package struct RelaySettings: Sendable {
    /// The plain HTTP listener; nil when `listen: off` leaves only the TLS listener.
    package var listen: HostAndPort?
    package var spool: SpoolSettings
    package var spoolMaxBatch: Int
    package var spoolCommitLinger: Duration
    package var spoolDeliveryTurnSync: CutoverConfig.SpoolDeliveryTurnSync
    package var spoolRetention: CutoverConfig.Retention
    package var spoolCommitTimeout: Duration
    package var spoolCheck: CutoverConfig.SpoolCheck
    package var spoolCheckTimeout: Duration
    package var readyzTimeout: Duration
    /// What drives the sockets' event loops (`event_loop`).
    package var eventLoop: EventLoopKind
    package var server: HTTPServerConfiguration
    package var verifyToken: String?
    package var appSecrets: [String]
    package var onpremRoutes: [String: OnPremRouteSettings]
    package var destinations: [DestinationSettings]
    package var delivery: CutoverConfig.Delivery
    package var tls: TLSListenerSettings?
    /// Requests recorded for replay (`capture:`); changing it needs a restart.
    package var capture: CaptureSettings?
    /// The admin API's listener and bearer token; nil: no admin API.
    package var admin: AdminSettings?
    /// What these settings were resolved from: the reload diff and check-config read it.
    package var config: CutoverConfig

    package struct AdminSettings: Sendable, Equatable {
        package var listen: HostAndPort
        package var token: String
        /// HTTPS on the admin listener; nil: plain HTTP.
        package var tls: TLSServerConfiguration?
    }

    package struct TLSListenerSettings: Sendable {
        package var listen: HostAndPort
        package var configuration: TLSServerConfiguration
    }

    package struct OnPremRouteSettings: Sendable {
        package var name: String
        package var token: String?
        package var business: BusinessIdentity
    }

    package struct DestinationSettings: Sendable {
        package enum Target: Sendable {
            case http(DestinationURL)
            /// Appends canonical events as JSON lines to a local file: the embedded default.
            case jsonLinesFile(String)
        }

        package var name: String
        package var target: Target
        package var format: DeliveryFormat
        package var role: CutoverConfig.Role
        package var match: CutoverConfig.Match
        package var appSecret: String?
        /// The Standard Webhooks key: the bytes behind `whsec_`.
        package var signingKey: StandardWebhooksKey?
        package var headers: [(name: String, value: String)]
        package var concurrency: Int
        package var deadLetterStatuses: Set<Int>
        package var unsupported: UnsupportedPolicy
        package var phoneless: PhonelessPolicy
        /// Client TLS for https destinations (nil: system CAs, no client certificate).
        package var tls: TLSClientConfiguration?

        /// Whether an event of `type` for business number `phoneNumberID` goes to this destination.
        package func accepts(type: String, phoneNumberID: String?) -> Bool {
            if !match.phoneNumberIDs.isEmpty {
                guard let phoneNumberID, match.phoneNumberIDs.contains(phoneNumberID) else { return false }
            }
            if !match.eventTypes.isEmpty {
                return match.eventTypes.contains { pattern in
                    pattern.hasSuffix("*") ? type.hasPrefix(pattern.dropLast()) : type == pattern
                }
            }
            return true
        }
    }

    package init(config: CutoverConfig, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) {
        try config.validate(environment: environment)
        self.config = config
        listen = config.listen.address
        spool = try SpoolSettings(config.spool, environment: environment)
        spoolMaxBatch = config.spoolMaxBatch
        spoolCommitLinger = .microseconds(Int((config.spoolCommitLingerSeconds * 1_000_000).rounded()))
        spoolDeliveryTurnSync = config.spoolDeliveryTurnSync
        spoolRetention = config.spoolRetention
        spoolCommitTimeout = .milliseconds(Int(config.spoolCommitTimeoutSeconds * 1000))
        spoolCheck = config.spoolCheck
        spoolCheckTimeout = .milliseconds(Int(config.spoolCheckTimeoutSeconds * 1000))
        readyzTimeout = .milliseconds(Int(config.readyzTimeoutSeconds * 1000))
        eventLoop = config.eventLoop
        var limits = HTTP1Limits()
        limits.maxBodyBytes = config.limits.maxBodyBytes
        limits.maxHeaderBytes = config.limits.maxHeaderBytes
        limits.maxHeaderCount = config.limits.maxHeaderCount
        limits.maxRequestLineLength = config.limits.maxRequestLineBytes
        server = HTTPServerConfiguration(
            limits: limits,
            maxConnections: config.limits.maxConnections,
            idleTimeout: .milliseconds(Int(config.limits.idleTimeoutSeconds * 1000)),
            readTimeout: .milliseconds(Int(config.limits.readTimeoutSeconds * 1000)),
            maxInflightBodyBytes: config.limits.maxInflightBodyBytes,
            maxConnectionBodyBytes: config.limits.maxConnectionBodyBytes,
            writeTimeout: .milliseconds(Int(config.limits.writeTimeoutSeconds * 1000)),
            maxHeaderRejections: config.limits.maxHeaderRejections
        )
        verifyToken = try config.cloud.verifyToken?.resolve(environment: environment)
        appSecrets = try config.cloud.appSecrets.map { secret throws(ConfigError) in try secret.resolve(environment: environment) }
        var routes: [String: OnPremRouteSettings] = [:]
        for route in config.onprem.routes {
            routes[route.name] = OnPremRouteSettings(
                name: route.name,
                token: try route.token?.resolve(environment: environment),
                business: BusinessIdentity(
                    phoneNumberID: route.phoneNumberID, displayPhoneNumber: route.displayPhoneNumber, wabaID: route.wabaID
                )
            )
        }
        onpremRoutes = routes
        var destinations: [DestinationSettings] = []
        for destination in config.destinations {
            var signingKey: StandardWebhooksKey?
            if let secret = try destination.signingSecret?.resolve(environment: environment) {
                guard let key = StandardWebhooksKey(secret: secret) else {
                    throw ConfigError("destinations.\(destination.name).signing_secret: expected whsec_ followed by base64")
                }
                signingKey = key
            }
            destinations.append(
                DestinationSettings(
                    name: destination.name, target: .http(destination.url), format: destination.format, role: destination.role,
                    match: destination.match, appSecret: try destination.appSecret?.resolve(environment: environment),
                    signingKey: signingKey,
                    headers: destination.headers.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) },
                    concurrency: destination.concurrency ?? config.delivery.concurrency,
                    deadLetterStatuses: Set(destination.deadLetterStatuses),
                    unsupported: destination.unsupported, phoneless: destination.phoneless,
                    tls: Self.clientTLS(for: destination)
                )
            )
        }
        if destinations.isEmpty {
            // validate() asked for a sink when there is no spool directory to put it in.
            let path = config.sink ?? ((config.spool.directory ?? ".") as NSString).appendingPathComponent("events.jsonl")
            destinations.append(
                DestinationSettings(
                    name: "local-sink", target: .jsonLinesFile(path), format: .canonical, role: .primary,
                    match: CutoverConfig.Match(), appSecret: nil, signingKey: nil, headers: [],
                    // A file takes a whole batch per fsync: claim many at once.
                    concurrency: max(config.delivery.concurrency, Self.sinkBatch), deadLetterStatuses: [],
                    unsupported: .defaultPolicy, phoneless: .defaultPolicy, tls: nil
                )
            )
        }
        self.destinations = destinations
        delivery = config.delivery
        capture = config.capture.map { CaptureSettings(path: $0.path, maxBytes: $0.maxBytes, keep: $0.keep, routes: $0.routes) }
        if let configured = config.admin {
            admin = AdminSettings(
                listen: configured.listen, token: try configured.token.resolve(environment: environment),
                tls: configured.tls.map(Self.adminTLS)
            )
        }
        if let listener = config.tls {
            var server = TLSServerConfiguration(certificateChainFile: listener.certificate, privateKeyFile: listener.privateKey)
            // ALPN: HTTP/2 preferred, HTTP/1.1 for everyone else (Meta, curl, load balancers).
            server.applicationProtocols = ["h2", "http/1.1"]
            if let ca = listener.clientCA {
                server.clientAuthentication = .init(trustedCAFile: ca, expectedSubjectName: listener.clientSubject)
            }
            tls = TLSListenerSettings(listen: listener.listen, configuration: server)
        }
    }

    /// HTTP/1.1 only: the admin API's clients are curl and scripts.
    private static func adminTLS(_ tls: CutoverConfig.AdminTLS) -> TLSServerConfiguration {
        var server = TLSServerConfiguration(certificateChainFile: tls.certificate, privateKeyFile: tls.privateKey)
        server.applicationProtocols = ["http/1.1"]
        if let ca = tls.clientCA { server.clientAuthentication = .init(trustedCAFile: ca, expectedSubjectName: nil) }
        return server
    }

    private static func clientTLS(for destination: CutoverConfig.Destination) -> TLSClientConfiguration? {
        guard destination.caFile != nil || destination.clientCertificate != nil else { return nil }
        var configuration = TLSClientConfiguration()
        if let caFile = destination.caFile { configuration.trustRoots = .file(caFile) }
        configuration.certificateChainFile = destination.clientCertificate
        configuration.privateKeyFile = destination.clientKey
        return configuration
    }

    /// Deliveries the local sink writes per fsync.
    static let sinkBatch = 256

    /// The changed keys (`listen`, `tls.listen`) that `previous` running with these
    /// settings cannot apply without a restart: the declarations say which keys those are.
    package func needsRestart(comparedTo previous: RelaySettings) -> [String] {
        config.restartOnlyChanges(since: previous.config)
    }

    /// Builds every TLS context once, as serve would at start, so a missing, unreadable or
    /// mismatched certificate or key fails here, naming its key and file.
    package func checkTLSFiles() throws(ConfigError) {
        if let listener = config.tls, let tls {
            let files = [("tls.certificate", listener.certificate), ("tls.private_key", listener.privateKey)]
                + (listener.clientCA.map { [("tls.client_ca", $0)] } ?? [])
            try Self.checkReadable(files, in: config)
            do {
                _ = try TLSContext(server: tls.configuration)
            } catch {
                throw ConfigError("\(config.located("tls")): cannot load \(listener.certificate) with \(listener.privateKey): \(error)")
            }
        }
        if let listener = config.admin?.tls, let configuration = admin?.tls {
            let files = [("admin.tls.certificate", listener.certificate), ("admin.tls.private_key", listener.privateKey)]
                + (listener.clientCA.map { [("admin.tls.client_ca", $0)] } ?? [])
            try Self.checkReadable(files, in: config)
            do {
                _ = try TLSContext(server: configuration)
            } catch {
                throw ConfigError("\(config.located("admin.tls")): cannot load \(listener.certificate) with \(listener.privateKey): \(error)")
            }
        }
        for (index, destination) in config.destinations.enumerated() {
            guard let configuration = destinations.first(where: { $0.name == destination.name })?.tls else { continue }
            let key = "destinations[\(index)]"
            let files = [("ca_file", destination.caFile), ("client_certificate", destination.clientCertificate), ("client_key", destination.clientKey)]
                .compactMap { name, path in path.map { ("\(key).\(name)", $0) } }
            try Self.checkReadable(files, in: config)
            do {
                _ = try TLSContext(client: configuration)
            } catch {
                throw ConfigError("\(config.located(files.first?.0 ?? key)): cannot load the client TLS files of \(destination.name): \(error)")
            }
        }
    }

    private static func checkReadable(_ files: [(key: String, path: String)], in config: CutoverConfig) throws(ConfigError) {
        for (key, path) in files where !FileManager.default.isReadableFile(atPath: path) {
            let reason = FileManager.default.fileExists(atPath: path) ? "is not readable" : "does not exist"
            throw ConfigError("\(config.located(key)): \(path) \(reason)")
        }
    }

    /// True when POST /cloud accepts unsigned bodies because no app secret is configured.
    package var signaturesDisabled: Bool { appSecrets.isEmpty }
}
