import CutoverHTTPClient
import CutoverSockets
import CutoverWebhooks
import Foundation

/// The whole configuration, as read from one YAML file. Every key is declared once, in its
/// section's `fields`: name, type, range, flag, reload behaviour and doc, with the property's
/// initial value as its default. An empty file (or none at all) is the embedded default of DESIGN.md.
package struct CutoverConfig: ConfigSection {
    package var listen = ListenAddress.address(HostAndPort(host: "127.0.0.1", port: 8080))
    package var spool = SpoolLocation.defaults
    package var spoolMaxBatch = 64
    package var spoolCommitLingerSeconds = 0.0005
    package var spoolDeliveryTurnSync = SpoolDeliveryTurnSync.deferred
    package var spoolRetention = Retention()
    package var spoolCommitTimeoutSeconds = 5.0
    package var spoolCheck = SpoolCheck.quick
    package var spoolCheckTimeoutSeconds = 60.0
    package var readyzTimeoutSeconds = 1.0
    package var eventLoop = EventLoopKind.platformDefault
    package var sink: String?
    package var tls: TLSListener?
    package var capture: Capture?
    package var admin: Admin?
    package var limits = Limits()
    package var cloud = CloudSource()
    package var onprem = OnPremSource()
    package var destinations: [Destination] = []
    package var delivery = Delivery()
    /// Where each given value came from, by key path (`file:line:column`, `environment NAME`,
    /// `--flag`): errors found after reading still point at the line.
    package var origins: [String: String] = [:]

    package init() {}
    package static var defaults: Self { Self() }

    package static let fields: [Field<Self>] = [
        .value("listen", \.listen, flag: "--listen", reload: .restart, doc: "plain HTTP/1.1 and h2c listener; off when only tls listens"),
        .valueOrSection("spool", \.spool, flag: "--spool", reload: .restart, doc: "SQLite spool directory (raw requests, events, deliveries), or a PostgreSQL spool: a postgresql:// URL or {postgres: {...}}"),
        .value("spool_max_batch", \.spoolMaxBatch, .atLeast(1), reload: .restart, doc: "requests per spool transaction (group commit); 1 = one fsync each"),
        .value(
            "spool_commit_linger_seconds", \.spoolCommitLingerSeconds, .between(0, 0.1), reload: .restart,
            doc: "while commits are frequent (the last ended within 4 lingers), a request arriving at an idle writer waits this long for others to share its fsync; after a quiet spell it is written at once; 0: never waits"),
        .value("spool_delivery_turn_sync", \.spoolDeliveryTurnSync, reload: .restart, doc: "deferred: a delivery turn (outcomes recorded, deliveries claimed) is durable with the next ingest commit, so a power loss may repeat the last moments' deliveries (at least once) | full: each turn fsyncs; every 200 is fsynced either way"),
        .section("spool_retention", \.spoolRetention, reload: .restart, doc: "how long finished work is kept; pending deliveries and dead letters never pruned"),
        .value("spool_commit_timeout_seconds", \.spoolCommitTimeoutSeconds, .positive, reload: .restart, doc: "a request not committed by then gets 503 (the sender retries; dedup absorbs a late commit)"),
        .value("spool_check", \.spoolCheck, flag: "--spool-check", reload: .restart, doc: "quick: PRAGMA quick_check at start, refusing a damaged spool | off"),
        .value("spool_check_timeout_seconds", \.spoolCheckTimeoutSeconds, .positive, reload: .restart, doc: "a longer start-up check is interrupted and the spool opens unverified (logged)"),
        .value("readyz_timeout_seconds", \.readyzTimeoutSeconds, .positive, reload: .restart, doc: "/readyz answers 503 \"spool not answering\" if its checks take longer"),
        .value("event_loop", \.eventLoop, reload: .restart, doc: "epoll: one edge-triggered epoll set per loop under one Dispatch source (Linux) | dispatch: a Dispatch source per socket"),
        .optional("sink", \.sink, .nonEmpty, defaultText: "<spool>/events.jsonl", reload: .sighup, doc: "canonical events as JSON lines, used only with no destinations"),
        .optionalSection("tls", \.tls, reload: .restart, doc: "an HTTPS listener (Meta only calls HTTPS callback URLs); SIGHUP re-reads its files"),
        .optionalSection("capture", \.capture, reload: .restart, doc: "record every authenticated request as JSON lines for `cutover replay`"),
        .optionalSection("admin", \.admin, reload: .restart, doc: "the admin API on a listener of its own; off if absent"),
        .section("limits", \.limits, reload: .restart, doc: "what one connection or request may use"),
        .section("cloud", \.cloud, reload: .sighup, doc: "POST /cloud (Cloud API) and GET /cloud (verification handshake)"),
        .section("onprem", \.onprem, reload: .sighup, doc: "POST /onprem/<name>"),
        .namedList("destinations", \.destinations, reload: .sighup, doc: "each event goes to every destination whose match accepts it"),
        .section("delivery", \.delivery, reload: .sighup, doc: "how deliveries are sent, retried and paused"),
    ]

    /// Every declared key, in declaration order.
    package static let declarations = declarations(in: DeclarationScope(path: "", environmentName: ConfigFile.prefix, reload: .sighup))

    /// Every value, flattened (`delivery.concurrency`, `destinations[0].url`); secrets as their descriptions.
    package var entries: [ConfigEntry] { entries("", .sighup) }

    /// The keys whose change between `previous` and `self` only a restart applies.
    package func restartOnlyChanges(since previous: CutoverConfig) -> [String] {
        let before = Dictionary(previous.entries.filter { $0.reload == .restart }.map { ($0.path, $0.text) }) { first, _ in first }
        let after = Dictionary(entries.filter { $0.reload == .restart }.map { ($0.path, $0.text) }) { first, _ in first }
        return Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
    }

    /// `spool_check`: what the spool verifies before it opens an existing database.
    package enum SpoolCheck: String, Sendable, Equatable, ConfigEnumeration {
        case quick
        case off
    }

    /// `spool_delivery_turn_sync`: whether a delivery turn waits for its own fsync.
    package enum SpoolDeliveryTurnSync: String, Sendable, Equatable, ConfigEnumeration {
        case deferred
        case full
    }

    /// `capture:`: where received requests are recorded, and how the file is rotated.
    package struct Capture: ConfigSection, Equatable {
        package var path = ""
        package var maxBytes = 100 * 1024 * 1024
        package var keep = 5
        package var routes: [String] = []

        package init(path: String) { self.path = path }
        package static var defaults: Self { Self(path: "") }

        package static let fields: [Field<Self>] = [
            .required("path", \.path, .nonEmpty, flag: "--capture", doc: "the JSON-lines file `cutover replay` reads; never Authorization"),
            .value("max_bytes", \.maxBytes, .atLeast(1), doc: "rotate before a line would take the file past this size"),
            .value("keep", \.keep, .atLeast(0), doc: "rotated files kept besides the current one (path.1 ... path.<keep>)"),
            .value("routes", \.routes, doc: "only these routes (cloud, onprem/<name>); empty: all"),
        ]
    }

    /// `admin: {listen: HOST:PORT, token: {env: NAME}, tls: {...}}`: every request needs
    /// `Authorization: Bearer <token>`; with `tls`, over HTTPS only.
    package struct Admin: ConfigSection, Equatable {
        package var listen: HostAndPort
        package var token: Secret
        package var tls: AdminTLS?

        package init(listen: HostAndPort, token: Secret) {
            self.listen = listen
            self.token = token
        }

        package static var defaults: Self { Self(listen: HostAndPort(host: "", port: 0), token: Secret(.literal(""))) }

        package static let fields: [Field<Self>] = [
            .required("listen", \.listen, doc: "plain HTTP unless tls is set: then keep it on loopback or a private network"),
            .requiredSecret("token", \.token, reload: .sighup, doc: "16+ characters; every request sends Authorization: Bearer <token>"),
            .optionalSection("tls", \.tls, doc: "HTTPS on the admin listener, as tls: is for ingress; SIGHUP re-reads its files"),
        ]
    }

    /// `admin.tls`: the certificate the admin listener presents, and optionally the CA its
    /// clients' certificates must come from. The shape of `tls:` without its listener.
    package struct AdminTLS: ConfigSection, Equatable {
        package var certificate: String
        package var privateKey: String
        package var clientCA: String?

        package init(certificate: String, privateKey: String, clientCA: String? = nil) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.clientCA = clientCA
        }

        package static var defaults: Self { Self(certificate: "", privateKey: "") }

        package static let fields: [Field<Self>] = [
            .required("certificate", \.certificate, .nonEmpty, doc: "PEM certificate chain, leaf first"),
            .required("private_key", \.privateKey, .nonEmpty, doc: "PEM private key of the leaf certificate"),
            .optional("client_ca", \.clientCA, .nonEmpty, doc: "require client certificates from this CA as well as the token"),
        ]
    }

    /// How long finished work is kept. Pending deliveries and dead letters are never pruned.
    package struct Retention: ConfigSection, Equatable {
        package var dedupDays = 7.0
        package var rawDays = 7.0
        package var intervalSeconds = 3600.0

        package init() {}
        package static var defaults: Self { Self() }

        package static let fields: [Field<Self>] = [
            .value("dedup_days", \.dedupDays, .positive, doc: "delivered events kept (and their redeliveries deduplicated) this long"),
            .value("raw_days", \.rawDays, .positive, doc: "raw requests kept for replay this long (at least as long as their events)"),
            .value("interval_seconds", \.intervalSeconds, .positive, doc: "how often the janitor prunes"),
        ]
    }

    package struct TLSListener: ConfigSection, Equatable {
        package var listen: HostAndPort
        package var certificate: String
        package var privateKey: String
        package var clientCA: String?
        package var clientSubject: String?

        package init(listen: HostAndPort, certificate: String, privateKey: String, clientCA: String? = nil, clientSubject: String? = nil) {
            self.listen = listen
            self.certificate = certificate
            self.privateKey = privateKey
            self.clientCA = clientCA
            self.clientSubject = clientSubject
        }

        package static var defaults: Self { Self(listen: HostAndPort(host: "", port: 0), certificate: "", privateKey: "") }

        package static let fields: [Field<Self>] = [
            .required("listen", \.listen, flag: "--listen-tls", doc: "HTTPS listener (HTTP/2 preferred by ALPN, HTTP/1.1 too)"),
            .required("certificate", \.certificate, .nonEmpty, flag: "--tls-cert", doc: "PEM certificate chain, leaf first"),
            .required("private_key", \.privateKey, .nonEmpty, flag: "--tls-key", doc: "PEM private key of the leaf certificate"),
            .optional("client_ca", \.clientCA, .nonEmpty, flag: "--client-ca", doc: "require client certificates from this CA (Meta's mutual TLS)"),
            .optional("client_subject", \.clientSubject, .nonEmpty, doc: "the name the client certificate must carry"),
        ]
    }

    package struct Limits: ConfigSection, Equatable {
        package var maxBodyBytes = 4 * 1024 * 1024
        package var maxHeaderBytes = 64 * 1024
        package var maxHeaderCount = 100
        package var maxRequestLineBytes = 8 * 1024
        package var maxConnections = 10_000
        package var idleTimeoutSeconds = 60.0
        package var readTimeoutSeconds = 30.0
        package var writeTimeoutSeconds = 30.0
        package var maxInflightBodyBytes = 256 * 1024 * 1024
        package var maxConnectionBodyBytes = 16 * 1024 * 1024
        package var maxHeaderRejections = 8
        package var maxEventsPerRequest = WebhookDecoder.defaultMaxEvents
        package var maxPendingDecodes = 256
        package var decodeWorkers = 0
        package var loopDedupMaxBytes = 16 * 1024
        package var signedBodiesKept = 65_536

        package init() {}
        package static var defaults: Self { Self() }

        package static let fields: [Field<Self>] = [
            .value("max_body_bytes", \.maxBodyBytes, .atLeast(1), doc: "larger bodies get 413; Meta sends up to 3 MB"),
            .value("max_header_bytes", \.maxHeaderBytes, .atLeast(1), doc: "whole header section; larger gets 431"),
            .value("max_header_count", \.maxHeaderCount, .atLeast(1), doc: "more header fields get 431"),
            .value("max_request_line_bytes", \.maxRequestLineBytes, .atLeast(1), doc: "longer request lines get 414"),
            .value("max_connections", \.maxConnections, .atLeast(1), doc: "one more connection gets 503 and is closed"),
            .value("idle_timeout_seconds", \.idleTimeoutSeconds, .positive, doc: "a keep-alive connection with no request is closed"),
            .value("read_timeout_seconds", \.readTimeoutSeconds, .positive, doc: "a started request must arrive in full within this (else 408)"),
            .value("write_timeout_seconds", \.writeTimeoutSeconds, .positive, doc: "a response left unread this long (zero HTTP/2 window, peer not reading) closes the connection"),
            .value("max_inflight_body_bytes", \.maxInflightBodyBytes, .atLeast(1), doc: "request bodies held at once by all connections; one that does not fit gets 503 before it is read"),
            .value("max_connection_body_bytes", \.maxConnectionBodyBytes, .atLeast(1), doc: "request bodies one HTTP/2 connection holds at once over its streams; past it a stream gets 503"),
            .value("max_header_rejections", \.maxHeaderRejections, .atLeast(0), doc: "HTTP/2 header blocks over the limits (431) per connection; the next gets GOAWAY ENHANCE_YOUR_CALM"),
            .value("max_events_per_request", \.maxEventsPerRequest, .atLeast(1), doc: "a body that would make more events is quarantined (Meta's batches are far smaller)"),
            .value("max_pending_decodes", \.maxPendingDecodes, .atLeast(1), doc: "bodies waiting for a decode worker; one more gets 503"),
            .value("decode_workers", \.decodeWorkers, .atLeast(0), doc: "threads that normalize bodies off the I/O loops; 0: one per core of the CPU affinity, as the loops"),
            .value("loop_dedup_max_bytes", \.loopDedupMaxBytes, .atLeast(0), doc: "bodies up to this size are parsed on the I/O loop, and a retry of ids in the dedup index is answered there; 0: every body goes to a decode worker"),
            .value("signed_bodies_kept", \.signedBodiesKept, .atLeast(0), doc: "verified X-Hub-Signature-256 values of recent /cloud bodies, kept with their event ids, so a retry of the same bytes is recognized without parsing; 0: off"),
        ]
    }

    package struct CloudSource: ConfigSection, Equatable {
        package var verifyToken: Secret?
        package var appSecrets: [Secret] = []

        package init() {}
        package static var defaults: Self { Self() }

        package static let fields: [Field<Self>] = [
            .secret("verify_token", \.verifyToken, flag: "--verify-token", doc: "the token Meta's GET /cloud verification must present"),
            .secrets("app_secrets", \.appSecrets, flag: "--app-secret", doc: "X-Hub-Signature-256 is accepted if it matches any of them"),
        ]
    }

    package struct OnPremSource: ConfigSection, Equatable {
        package var routes: [OnPremRoute] = [OnPremRoute(name: "default")]

        package init() {}
        package static var defaults: Self { Self() }

        package static let fields: [Field<Self>] = [
            .namedList("routes", \.routes, doc: "one per business number (On-Prem bodies carry no business identity); default: one route named default"),
        ]
    }

    package struct OnPremRoute: NamedConfigSection, Equatable {
        package var name: String
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

        package static var defaults: Self { Self(name: "") }

        package static let fields: [Field<Self>] = [
            .required("name", \.name, .name, overridable: false, doc: "the route is POST /onprem/<name>"),
            .secret("token", \.token, doc: "optional credential: ?token=, Authorization: Bearer, or the Basic password"),
            .optional("phone_number_id", \.phoneNumberID, doc: "the business number's Cloud id, for translated events"),
            .optional("display_phone_number", \.displayPhoneNumber, doc: "the business number as displayed"),
            .optional("waba_id", \.wabaID, doc: "the WhatsApp Business Account id"),
        ]
    }

    /// Whether a destination's deliveries count: a `shadow` gets copies (for an endpoint being
    /// built), never slows the primary, and its failures are only counted.
    package enum Role: String, Sendable, Codable, Equatable, ConfigEnumeration {
        case primary, shadow
    }

    /// Which events a destination receives; an empty list matches everything.
    package struct Match: ConfigSection, Equatable {
        package var phoneNumberIDs: [String] = []
        package var eventTypes: [String] = []

        package init(phoneNumberIDs: [String] = [], eventTypes: [String] = []) {
            self.phoneNumberIDs = phoneNumberIDs
            self.eventTypes = eventTypes
        }

        package static var defaults: Self { Self() }

        package static let fields: [Field<Self>] = [
            .value("phone_number_ids", \.phoneNumberIDs, doc: "business phone number ids (Cloud metadata.phone_number_id, On-Prem route identity)"),
            .value("event_types", \.eventTypes, doc: "canonical event types; a trailing * matches a prefix"),
        ]
    }

    package struct Destination: NamedConfigSection, Equatable {
        package var name: String
        package var url: DestinationURL
        package var format = DeliveryFormat.canonical
        package var role = Role.primary
        package var match = Match()
        package var appSecret: Secret?
        package var signingSecret: Secret?
        package var headers: [String: String] = [:]
        package var concurrency: Int?
        package var deadLetterStatuses = [410]
        package var unsupported = UnsupportedPolicy.defaultPolicy
        package var phoneless = PhonelessPolicy.defaultPolicy
        package var caFile: String?
        package var clientCertificate: String?
        package var clientKey: String?

        package init(name: String, url: DestinationURL, format: DeliveryFormat, appSecret: Secret? = nil, headers: [String: String] = [:]) {
            self.name = name
            self.url = url
            self.format = format
            self.appSecret = appSecret
            self.headers = headers
        }

        /// `serve --forward URL`: every event to this one destination.
        package init(forwardingTo text: String, format: DeliveryFormat, appSecret: Secret?) throws(ConfigError) {
            guard let url = DestinationURL(text) else { throw ConfigError("--forward: expected \(DestinationURL.expectation), got \(text)") }
            self.init(name: "forward", url: url, format: format, appSecret: appSecret)
        }

        // A placeholder reading always replaces: url is required.
        package static var defaults: Self { Self(name: "", url: placeholderURL, format: .canonical) }
        private static let placeholderURL = DestinationURL("http://placeholder.invalid/")!

        package static let fields: [Field<Self>] = [
            .required("name", \.name, .nonEmpty, overridable: false, doc: "names the destination in logs, metrics and overrides"),
            .required("url", \.url, doc: "where deliveries are POSTed"),
            .value("format", \.format, doc: "onprem | cloud | canonical | raw (the exact bytes received)"),
            .value("role", \.role, doc: "primary | shadow (copies only; never slows the primary; failures counted)"),
            .section("match", \.match, doc: "which events; empty lists match everything"),
            .secret("app_secret", \.appSecret, doc: "cloud: re-sign X-Hub-Signature-256 for the endpoint's check"),
            .secret("signing_secret", \.signingSecret, doc: "canonical: Standard Webhooks secret (whsec_...)"),
            .freeMapping("headers", \.headers, doc: "added to every delivery"),
            .optional("concurrency", \.concurrency, .atLeast(1), defaultText: "delivery.concurrency", doc: "deliveries in flight at once"),
            .value("dead_letter_statuses", \.deadLetterStatuses, .statuses, doc: "responses that dead-letter at once instead of retrying"),
            .value("unsupported", \.unsupported, doc: "what this API cannot express: unknownMessage | drop | passThrough"),
            .value("phoneless", \.phoneless, doc: "onprem: a user with no phone number (BSUID only): dead_letter | user_id (BSUID as wa_id)"),
            .optional("ca_file", \.caFile, .nonEmpty, doc: "https: trust this CA instead of the system store"),
            .optional("client_certificate", \.clientCertificate, .nonEmpty, doc: "https: present this client certificate"),
            .optional("client_key", \.clientKey, .nonEmpty, doc: "https: the client certificate's key"),
        ]
    }

    package struct Delivery: ConfigSection, Equatable {
        package var concurrency = 16
        package var timeoutSeconds = 30.0
        package var retryInitialSeconds = 1.0
        package var retryMaxSeconds = 3600.0
        package var retryHorizonSeconds = 7 * 24 * 3600.0
        package var ordering = Ordering.perContact
        package var breakerFailureThreshold = 5
        package var breakerOpenSeconds = 5.0
        package var breakerMaxOpenSeconds = 300.0
        package var dnsTimeoutSeconds = 5.0
        package var dnsCacheSeconds = 60.0
        package var dnsMaxLookups = 8
        package var responseBodyKeepBytes = 512
        package var decodedEventsKept = 8_192
        /// nil: `defaultTurnSpacingSeconds` on SQLite, 0 on PostgreSQL, where two instances sharing a
        /// database drained 20,000 events at 1,761/s spaced against 3,305/s not (why is not
        /// measured; likeliest: their claims skip each other's locked rows, held longer when spaced).
        package var turnSpacingSeconds: Double?
        package static let defaultTurnSpacingSeconds = 0.005

        package enum Ordering: String, Sendable, Equatable, ConfigEnumeration {
            case perContact = "per_contact"
            case none
        }

        package init() {}
        package static var defaults: Self { Self() }

        package static let fields: [Field<Self>] = [
            .value("concurrency", \.concurrency, .atLeast(1), doc: "default deliveries in flight per destination"),
            .value("timeout_seconds", \.timeoutSeconds, .positive, doc: "per attempt, from request written to response received"),
            .value("retry_initial_seconds", \.retryInitialSeconds, .positive, doc: "exponential backoff with full jitter starts here"),
            .value("retry_max_seconds", \.retryMaxSeconds, .positive, doc: "... and is capped here; Retry-After on 429/503 is honoured"),
            .value("retry_horizon_seconds", \.retryHorizonSeconds, .positive, doc: "after this long since arrival a failing delivery is dead-lettered"),
            .value("ordering", \.ordering, doc: "per_contact: one contact's events arrive in order | none"),
            .value("breaker_failure_threshold", \.breakerFailureThreshold, .atLeast(1), doc: "consecutive failures that pause a destination"),
            .value("breaker_open_seconds", \.breakerOpenSeconds, .positive, doc: "first pause, then one probe; doubles per failed probe"),
            .value("breaker_max_open_seconds", \.breakerMaxOpenSeconds, .positive, doc: "the longest pause"),
            .value("dns_timeout_seconds", \.dnsTimeoutSeconds, .positive, reload: .restart, doc: "a name lookup taking longer fails the attempt (retried as usual)"),
            .value("dns_cache_seconds", \.dnsCacheSeconds, .nonNegative, reload: .restart, doc: "an answer is reused this long, in place of its TTL (getaddrinfo gives none); 0: never"),
            .value("dns_max_lookups", \.dnsMaxLookups, .atLeast(1), reload: .restart, doc: "name lookups running at once (one per host however many wait)"),
            .value(
                "response_body_keep_bytes", \.responseBodyKeepBytes, .between(0, 4096), reload: .restart,
                doc: "first bytes of each response body kept with the attempt (primary vs shadow comparison); 0: none"),
            .value(
                "decoded_events_kept", \.decodedEventsKept, .atLeast(0), reload: .restart,
                doc: "most events kept decoded in memory after their commit (a few KB each), each until its cloud and onprem deliveries rendered it, so they render without parsing the stored payload again; 0: none"),
            .optional(
                "turn_spacing_seconds", \.turnSpacingSeconds, .between(0, 1), defaultText: "0.005 on SQLite, 0 on PostgreSQL", reload: .restart,
                doc: "a destination's spool turns (record outcomes, claim the next) start at least this far apart, so one transaction covers what came meanwhile; not while a backlog fills the claim window; 0: a turn per outcome when idle"),
        ]
    }

    /// Reads a YAML file (unknown keys rejected, `CUTOVER_*` environment overrides applied);
    /// an empty file is the embedded default.
    package static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CutoverConfig {
        try ConfigFile.load(path: path, environment: environment)
    }

    /// `file:line:column: key` for errors about a value already read; just the key for values set in code.
    package func located(_ path: String) -> String {
        origins[path].map { "\($0): \(path)" } ?? path
    }

    /// Checks what spans keys (a single value's type and range are checked as it is read), and that
    /// referenced secrets resolve.
    package func validate(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) {
        if listen == .off, tls == nil {
            throw ConfigError("\(located("listen")): off needs a tls listener, or nothing would listen")
        }
        var routeNames = Set<String>()
        for (index, route) in onprem.routes.enumerated() {
            guard Constraint<String>.name.holds(route.name) else {
                throw ConfigError("\(located("onprem.routes[\(index)].name")): must be \(Constraint<String>.name.text), got \(route.name)")
            }
            guard routeNames.insert(route.name).inserted else {
                throw ConfigError("\(located("onprem.routes[\(index)].name")): duplicate route \(route.name)")
            }
            try resolve(route.token, "onprem.routes[\(index)].token", environment)
        }
        var destinationNames = Set<String>()
        for (index, destination) in destinations.enumerated() {
            guard destinationNames.insert(destination.name).inserted else {
                throw ConfigError("\(located("destinations[\(index)].name")): duplicate destination \(destination.name)")
            }
            try resolve(destination.appSecret, "destinations[\(index)].app_secret", environment)
            try resolve(destination.signingSecret, "destinations[\(index)].signing_secret", environment)
        }
        guard destinations.isEmpty || destinations.contains(where: { $0.role == .primary }) else {
            throw ConfigError("destinations: at least one destination must have role primary")
        }
        for (index, secret) in cloud.appSecrets.enumerated() { try resolve(secret, "cloud.app_secrets[\(index)]", environment) }
        if let postgres = spool.postgres {
            try resolve(postgres.password, "spool.postgres.password", environment)
            if destinations.isEmpty, sink == nil {
                throw ConfigError("\(located("spool.postgres.url")): with no destinations, set sink: (a PostgreSQL spool has no directory for events.jsonl)")
            }
        }
        try resolve(cloud.verifyToken, "cloud.verify_token", environment)
        if let admin {
            if admin.listen.port != 0, admin.listen == listen.address || admin.listen == tls?.listen {
                throw ConfigError("\(located("admin.listen")): must differ from listen and tls.listen (the admin API has a listener of its own)")
            }
            guard try resolve(admin.token, "admin.token", environment).utf8.count >= 16 else {
                throw ConfigError("\(located("admin.token")): use at least 16 characters")
            }
        }
    }

    @discardableResult
    private func resolve(_ secret: Secret?, _ path: String, _ environment: [String: String]) throws(ConfigError) -> String {
        guard let secret else { return "" }
        do {
            return try secret.resolve(environment: environment)
        } catch {
            throw ConfigError("\(located(path)): \(error.message)")
        }
    }
}
