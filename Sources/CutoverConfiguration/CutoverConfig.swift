import CutoverSockets
import Foundation
import Yams

/// How a destination wants its events: in the shape of one of the two APIs, as CloudEvents,
/// or as the exact bytes Cutover received.
package enum DeliveryFormat: String, Sendable, Codable, CaseIterable {
    case onprem, cloud, canonical, raw
}

/// The whole configuration, as read from one YAML file. Every field has a default, so an empty
/// file (or none at all) is the embedded default of DESIGN.md.
package struct CutoverConfig: Sendable, Decodable {
    /// `HOST:PORT`, or `off` for no plain listener (then `tls` must be set).
    package var listen: String = "127.0.0.1:8080"
    package static let listenOff = "off"
    package var spool: String = "./.cutover"
    /// Requests written per spool transaction (group commit); 1 commits each request on its own.
    package var spoolMaxBatch = 64
    package var limits = Limits()
    package var cloud = CloudSource()
    package var onprem = OnPremSource()
    package var destinations: [Destination] = []
    package var delivery = Delivery()
    /// Where canonical events go when no destination is configured (JSON lines).
    package var sink: String?
    /// An HTTPS listener (Meta only calls HTTPS callback URLs), beside or instead of `listen`.
    package var tls: TLSListener?
    package var spoolRetention = Retention()
    /// Records every authenticated request to a JSON-lines file `cutover replay` reads.
    package var capture: Capture?

    /// `capture:`: where received requests are recorded, and how the file is rotated.
    package struct Capture: Sendable, Decodable, Equatable {
        package var path: String
        package var maxBytes = 100 * 1024 * 1024
        /// Rotated files kept besides the current one.
        package var keep = 5
        /// Only these routes (`cloud`, `onprem/<name>`); empty or absent: every route.
        package var routes: [String] = []

        package init(path: String) { self.path = path }

        enum CodingKeys: String, CodingKey {
            case path, keep, routes, maxBytes = "max_bytes"
        }

        package init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            path = try values.decode(String.self, forKey: .path)
            maxBytes = try values.value(.maxBytes, or: maxBytes)
            keep = try values.value(.keep, or: keep)
            routes = try values.value(.routes, or: routes)
        }
    }

    /// The admin API (spool tools over HTTP) on a listener of its own; off unless configured.
    package var admin: Admin?

    /// `admin: {listen: HOST:PORT, token: {env: NAME}}`: every request needs `Authorization: Bearer <token>`.
    package struct Admin: Sendable, Decodable, Equatable {
        package var listen: String
        package var token: Secret?

        package init(listen: String, token: Secret?) {
            self.listen = listen
            self.token = token
        }
    }

    /// How long finished work is kept. Pending deliveries and dead letters are never pruned.
    package struct Retention: Sendable, Decodable, Equatable {
        /// Delivered events are kept (and redeliveries of them deduplicated) this long.
        package var dedupDays = 7.0
        /// Raw requests are kept for replay this long (and at least as long as their events).
        package var rawDays = 7.0
        /// How often the janitor prunes.
        package var intervalSeconds = 3600.0

        package init() {}

        enum CodingKeys: String, CodingKey {
            case dedupDays = "dedup_days", rawDays = "raw_days", intervalSeconds = "interval_seconds"
        }

        package init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            dedupDays = try values.value(.dedupDays, or: dedupDays)
            rawDays = try values.value(.rawDays, or: rawDays)
            intervalSeconds = try values.value(.intervalSeconds, or: intervalSeconds)
        }
    }

    package struct TLSListener: Sendable, Decodable, Equatable {
        package var listen: String
        package var certificate: String
        package var privateKey: String
        /// Require client certificates signed by this CA (Meta's mutual TLS).
        package var clientCA: String?
        /// The name the client certificate must carry (`client.webhooks.fbclientcerts.com` for Meta).
        package var clientSubject: String?

        package init(listen: String, certificate: String, privateKey: String, clientCA: String? = nil, clientSubject: String? = nil) {
            self.listen = listen
            self.certificate = certificate
            self.privateKey = privateKey
            self.clientCA = clientCA
            self.clientSubject = clientSubject
        }

        enum CodingKeys: String, CodingKey {
            case listen, certificate, privateKey = "private_key", clientCA = "client_ca", clientSubject = "client_subject"
        }
    }

    package struct Limits: Sendable, Decodable {
        package var maxBodyBytes = 4 * 1024 * 1024
        package var maxHeaderBytes = 64 * 1024
        package var maxHeaderCount = 100
        package var maxRequestLineBytes = 8 * 1024
        package var maxConnections = 10_000
        package var idleTimeoutSeconds = 60.0
        package var readTimeoutSeconds = 30.0

        enum CodingKeys: String, CodingKey {
            case maxBodyBytes = "max_body_bytes", maxHeaderBytes = "max_header_bytes", maxHeaderCount = "max_header_count"
            case maxRequestLineBytes = "max_request_line_bytes", maxConnections = "max_connections"
            case idleTimeoutSeconds = "idle_timeout_seconds", readTimeoutSeconds = "read_timeout_seconds"
        }

        package init() {}

        package init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            maxBodyBytes = try values.value(.maxBodyBytes, or: maxBodyBytes)
            maxHeaderBytes = try values.value(.maxHeaderBytes, or: maxHeaderBytes)
            maxHeaderCount = try values.value(.maxHeaderCount, or: maxHeaderCount)
            maxRequestLineBytes = try values.value(.maxRequestLineBytes, or: maxRequestLineBytes)
            maxConnections = try values.value(.maxConnections, or: maxConnections)
            idleTimeoutSeconds = try values.value(.idleTimeoutSeconds, or: idleTimeoutSeconds)
            readTimeoutSeconds = try values.value(.readTimeoutSeconds, or: readTimeoutSeconds)
        }
    }

    package struct CloudSource: Sendable, Decodable {
        package var verifyToken: Secret?
        package var appSecrets: [Secret] = []

        enum CodingKeys: String, CodingKey {
            case verifyToken = "verify_token", appSecrets = "app_secrets"
        }

        package init() {}

        package init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            verifyToken = try values.decodeIfPresent(Secret.self, forKey: .verifyToken)
            appSecrets = try values.value(.appSecrets, or: appSecrets)
        }
    }

    package struct OnPremSource: Sendable, Decodable {
        package var routes: [OnPremRoute] = [OnPremRoute(name: "default")]

        enum CodingKeys: String, CodingKey { case routes }

        package init() {}

        package init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            routes = try values.value(.routes, or: routes)
        }
    }

    package struct OnPremRoute: Sendable, Decodable, Equatable {
        package var name: String
        /// Optional credential: `?token=`, `Authorization: Bearer`, or the password of Basic auth.
        package var token: Secret?
        package var phoneNumberID: String?
        package var displayPhoneNumber: String?
        package var wabaID: String?

        package init(name: String, token: Secret? = nil, phoneNumberID: String? = nil, displayPhoneNumber: String? = nil, wabaID: String? = nil) {
            self.name = name
            self.token = token
            self.phoneNumberID = phoneNumberID
            self.displayPhoneNumber = displayPhoneNumber
            self.wabaID = wabaID
        }

        enum CodingKeys: String, CodingKey {
            case name, token
            case phoneNumberID = "phone_number_id", displayPhoneNumber = "display_phone_number", wabaID = "waba_id"
        }
    }

    /// Whether a destination's deliveries count: a `shadow` gets copies (for an endpoint being
    /// built), never slows the primary, and its failures are only counted.
    package enum Role: String, Sendable, Codable, Equatable {
        case primary, shadow
    }

    /// Which events a destination receives; an empty list matches everything.
    package struct Match: Sendable, Decodable, Equatable {
        /// Business phone number ids (Cloud `metadata.phone_number_id`, On-Prem route identity).
        package var phoneNumberIDs: [String] = []
        /// Canonical event types; a trailing `*` matches a prefix (`com.whatsapp.message.*`).
        package var eventTypes: [String] = []

        package init(phoneNumberIDs: [String] = [], eventTypes: [String] = []) {
            self.phoneNumberIDs = phoneNumberIDs
            self.eventTypes = eventTypes
        }

        enum CodingKeys: String, CodingKey {
            case phoneNumberIDs = "phone_number_ids", eventTypes = "event_types"
        }

        package init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            phoneNumberIDs = try values.value(.phoneNumberIDs, or: [])
            eventTypes = try values.value(.eventTypes, or: [])
        }
    }

    package struct Destination: Sendable, Decodable, Equatable {
        package var name: String
        package var url: String
        package var format: DeliveryFormat
        package var role: Role = .primary
        package var match = Match()
        /// Re-signs `X-Hub-Signature-256` for `cloud` deliveries, so an existing Cloud endpoint's check passes.
        package var appSecret: Secret?
        /// Standard Webhooks secret (`whsec_...`) signing `canonical` deliveries.
        package var signingSecret: Secret?
        package var headers: [String: String] = [:]
        /// Deliveries in flight at once; defaults to `delivery.concurrency`.
        package var concurrency: Int?
        /// Responses that dead-letter at once instead of retrying (the endpoint says: never again).
        package var deadLetterStatuses: [Int] = [410]
        /// Notifications this destination's API has no concept of: unknownMessage, drop or passThrough.
        package var unsupported: String = "unknownMessage"
        /// For https URLs: trust this CA file instead of the system store; present this client certificate.
        package var caFile: String?
        package var clientCertificate: String?
        package var clientKey: String?

        package init(name: String, url: String, format: DeliveryFormat, appSecret: Secret? = nil, headers: [String: String] = [:]) {
            self.name = name
            self.url = url
            self.format = format
            self.appSecret = appSecret
            self.headers = headers
        }

        enum CodingKeys: String, CodingKey {
            case name, url, format, role, match, headers, concurrency, unsupported
            case appSecret = "app_secret", signingSecret = "signing_secret", deadLetterStatuses = "dead_letter_statuses"
            case caFile = "ca_file", clientCertificate = "client_certificate", clientKey = "client_key"
        }

        package init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            name = try values.decode(String.self, forKey: .name)
            url = try values.decode(String.self, forKey: .url)
            format = try values.value(.format, or: .canonical)
            role = try values.value(.role, or: .primary)
            match = try values.value(.match, or: Match())
            appSecret = try values.decodeIfPresent(Secret.self, forKey: .appSecret)
            signingSecret = try values.decodeIfPresent(Secret.self, forKey: .signingSecret)
            headers = try values.value(.headers, or: [:])
            concurrency = try values.decodeIfPresent(Int.self, forKey: .concurrency)
            deadLetterStatuses = try values.value(.deadLetterStatuses, or: [410])
            unsupported = try values.value(.unsupported, or: "unknownMessage")
            caFile = try values.decodeIfPresent(String.self, forKey: .caFile)
            clientCertificate = try values.decodeIfPresent(String.self, forKey: .clientCertificate)
            clientKey = try values.decodeIfPresent(String.self, forKey: .clientKey)
        }
    }

    package struct Delivery: Sendable, Decodable, Equatable {
        /// Deliveries in flight at once per destination.
        package var concurrency = 16
        package var timeoutSeconds = 30.0
        package var retryInitialSeconds = 1.0
        package var retryMaxSeconds = 3600.0
        /// After this long since an event arrived, a failing delivery is dead-lettered (Meta's own 7 days).
        package var retryHorizonSeconds = 7 * 24 * 3600.0
        /// `per_contact`: one contact's events reach a destination in arrival order; `none`: all in parallel.
        package var ordering = Ordering.perContact
        /// Consecutive failures after which a destination is paused and probed instead of hammered.
        package var breakerFailureThreshold = 5
        /// First pause of an open circuit; doubles per failed probe up to `breaker_max_open_seconds`.
        package var breakerOpenSeconds = 5.0
        package var breakerMaxOpenSeconds = 300.0

        package enum Ordering: String, Sendable, Decodable, Equatable {
            case perContact = "per_contact"
            case none
        }

        enum CodingKeys: String, CodingKey {
            case concurrency
            case timeoutSeconds = "timeout_seconds", retryInitialSeconds = "retry_initial_seconds"
            case retryMaxSeconds = "retry_max_seconds", retryHorizonSeconds = "retry_horizon_seconds"
            case ordering
            case breakerFailureThreshold = "breaker_failure_threshold", breakerOpenSeconds = "breaker_open_seconds"
            case breakerMaxOpenSeconds = "breaker_max_open_seconds"
        }

        package init() {}

        package init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            concurrency = try values.value(.concurrency, or: concurrency)
            timeoutSeconds = try values.value(.timeoutSeconds, or: timeoutSeconds)
            retryInitialSeconds = try values.value(.retryInitialSeconds, or: retryInitialSeconds)
            retryMaxSeconds = try values.value(.retryMaxSeconds, or: retryMaxSeconds)
            retryHorizonSeconds = try values.value(.retryHorizonSeconds, or: retryHorizonSeconds)
            ordering = try values.value(.ordering, or: ordering)
            breakerFailureThreshold = try values.value(.breakerFailureThreshold, or: breakerFailureThreshold)
            breakerOpenSeconds = try values.value(.breakerOpenSeconds, or: breakerOpenSeconds)
            breakerMaxOpenSeconds = try values.value(.breakerMaxOpenSeconds, or: breakerMaxOpenSeconds)
        }
    }

    enum CodingKeys: String, CodingKey {
        case listen, spool, limits, cloud, onprem, destinations, delivery, sink, tls, capture, admin
        case spoolMaxBatch = "spool_max_batch", spoolRetention = "spool_retention"
    }

    package init() {}

    package init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        listen = try values.value(.listen, or: listen)
        spool = try values.value(.spool, or: spool)
        spoolMaxBatch = try values.value(.spoolMaxBatch, or: spoolMaxBatch)
        spoolRetention = try values.value(.spoolRetention, or: spoolRetention)
        limits = try values.value(.limits, or: limits)
        cloud = try values.value(.cloud, or: cloud)
        onprem = try values.value(.onprem, or: onprem)
        destinations = try values.value(.destinations, or: destinations)
        delivery = try values.value(.delivery, or: delivery)
        sink = try values.decodeIfPresent(String.self, forKey: .sink)
        tls = try values.decodeIfPresent(TLSListener.self, forKey: .tls)
        capture = try values.decodeIfPresent(Capture.self, forKey: .capture)
        admin = try values.decodeIfPresent(Admin.self, forKey: .admin)
    }

    /// Reads a YAML file (unknown keys rejected, `CUTOVER_*` environment overrides applied);
    /// an empty file is the embedded default.
    package static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CutoverConfig {
        try ConfigFile.load(path: path, environment: environment)
    }

    /// Checks what decoding cannot: addresses, URLs, names, and that referenced secrets resolve.
    package func validate(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) {
        if listen == Self.listenOff {
            guard tls != nil else { throw ConfigError("listen: off needs a tls listener, or nothing would listen") }
        } else if HostAndPort(parsing: listen) == nil {
            throw ConfigError("listen: expected HOST:PORT or off, got \(listen)")
        }
        if let tls, HostAndPort(parsing: tls.listen) == nil {
            throw ConfigError("tls.listen: expected HOST:PORT, got \(tls.listen)")
        }
        var routeNames = Set<String>()
        for route in onprem.routes {
            guard !route.name.isEmpty, route.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ConfigError("onprem.routes: route name '\(route.name)' must be letters, digits, - or _")
            }
            guard routeNames.insert(route.name).inserted else { throw ConfigError("onprem.routes: duplicate route \(route.name)") }
            _ = try route.token?.resolve(environment: environment)
        }
        var destinationNames = Set<String>()
        for destination in destinations {
            guard destinationNames.insert(destination.name).inserted else {
                throw ConfigError("destinations: duplicate name \(destination.name)")
            }
            guard destination.url.lowercased().hasPrefix("http://") || destination.url.lowercased().hasPrefix("https://") else {
                throw ConfigError("destinations.\(destination.name).url: expected an http:// or https:// URL")
            }
            _ = try destination.appSecret?.resolve(environment: environment)
            _ = try destination.signingSecret?.resolve(environment: environment)
            guard (destination.concurrency ?? 1) > 0 else {
                throw ConfigError("destinations.\(destination.name).concurrency must be at least 1")
            }
            guard ["unknownMessage", "drop", "passThrough"].contains(destination.unsupported) else {
                throw ConfigError("destinations.\(destination.name).unsupported: expected unknownMessage, drop or passThrough")
            }
        }
        guard destinations.isEmpty || destinations.contains(where: { $0.role == .primary }) else {
            throw ConfigError("destinations: at least one destination must have role primary")
        }
        for secret in cloud.appSecrets { _ = try secret.resolve(environment: environment) }
        _ = try cloud.verifyToken?.resolve(environment: environment)
        if let admin {
            guard let address = HostAndPort(parsing: admin.listen) else {
                throw ConfigError("admin.listen: expected HOST:PORT, got \(admin.listen)")
            }
            if address.port != 0, address == HostAndPort(parsing: listen) || address == tls.flatMap({ HostAndPort(parsing: $0.listen) }) {
                throw ConfigError("admin.listen: must differ from listen and tls.listen (the admin API has a listener of its own)")
            }
            guard let token = admin.token else {
                throw ConfigError("admin.token: required (the admin API can retry and delete deliveries)")
            }
            guard try token.resolve(environment: environment).utf8.count >= 16 else {
                throw ConfigError("admin.token: use at least 16 characters")
            }
        }
        guard spoolMaxBatch > 0 else { throw ConfigError("spool_max_batch must be at least 1") }
        guard spoolRetention.dedupDays > 0, spoolRetention.rawDays > 0, spoolRetention.intervalSeconds > 0 else {
            throw ConfigError("spool_retention: dedup_days, raw_days and interval_seconds must be positive")
        }
        if let capture {
            guard !capture.path.isEmpty, capture.maxBytes > 0, capture.keep >= 0 else {
                throw ConfigError("capture: path must be set, max_bytes positive and keep at least 0")
            }
        }
        guard delivery.concurrency > 0 else { throw ConfigError("delivery.concurrency must be at least 1") }
        guard limits.maxBodyBytes > 0, limits.maxHeaderBytes > 0, limits.maxHeaderCount > 0 else {
            throw ConfigError("limits must be positive")
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the key is absent: every config key is optional.
    func value<Value: Decodable>(_ key: Key, or fallback: Value) throws -> Value {
        try decodeIfPresent(Value.self, forKey: key) ?? fallback
    }
}
