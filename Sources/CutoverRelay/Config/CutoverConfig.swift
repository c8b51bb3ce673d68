import CutoverSockets
import Foundation
import Yams

/// How a destination wants its events: in the shape of one of the two APIs, as CloudEvents,
/// or as the exact bytes Cutover received.
public enum DeliveryFormat: String, Sendable, Codable, CaseIterable {
    case onprem, cloud, canonical, raw
}

/// The whole configuration, as read from one YAML file. Every field has a default, so an empty
/// file (or none at all) is the embedded default of DESIGN.md.
public struct CutoverConfig: Sendable, Decodable {
    public var listen: String = "127.0.0.1:8080"
    public var spool: String = "./.cutover"
    public var limits = Limits()
    public var cloud = CloudSource()
    public var onprem = OnPremSource()
    public var destinations: [Destination] = []
    public var delivery = Delivery()
    /// Where canonical events go when no destination is configured (JSON lines).
    public var sink: String?

    public struct Limits: Sendable, Decodable {
        public var maxBodyBytes = 4 * 1024 * 1024
        public var maxHeaderBytes = 64 * 1024
        public var maxHeaderCount = 100
        public var maxRequestLineBytes = 8 * 1024
        public var maxConnections = 10_000
        public var idleTimeoutSeconds = 60.0
        public var readTimeoutSeconds = 30.0

        enum CodingKeys: String, CodingKey {
            case maxBodyBytes = "max_body_bytes", maxHeaderBytes = "max_header_bytes", maxHeaderCount = "max_header_count"
            case maxRequestLineBytes = "max_request_line_bytes", maxConnections = "max_connections"
            case idleTimeoutSeconds = "idle_timeout_seconds", readTimeoutSeconds = "read_timeout_seconds"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
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

    public struct CloudSource: Sendable, Decodable {
        public var verifyToken: Secret?
        public var appSecrets: [Secret] = []

        enum CodingKeys: String, CodingKey {
            case verifyToken = "verify_token", appSecrets = "app_secrets"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            verifyToken = try values.decodeIfPresent(Secret.self, forKey: .verifyToken)
            appSecrets = try values.value(.appSecrets, or: appSecrets)
        }
    }

    public struct OnPremSource: Sendable, Decodable {
        public var routes: [OnPremRoute] = [OnPremRoute(name: "default")]

        enum CodingKeys: String, CodingKey { case routes }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            routes = try values.value(.routes, or: routes)
        }
    }

    public struct OnPremRoute: Sendable, Decodable, Equatable {
        public var name: String
        /// Optional credential: `?token=`, `Authorization: Bearer`, or the password of Basic auth.
        public var token: Secret?
        public var phoneNumberID: String?
        public var displayPhoneNumber: String?
        public var wabaID: String?

        public init(name: String, token: Secret? = nil, phoneNumberID: String? = nil, displayPhoneNumber: String? = nil, wabaID: String? = nil) {
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

    public struct Destination: Sendable, Decodable, Equatable {
        public var name: String
        public var url: String
        public var format: DeliveryFormat
        /// Re-signs `X-Hub-Signature-256` for `cloud` deliveries, so an existing Cloud endpoint's check passes.
        public var appSecret: Secret?
        public var headers: [String: String] = [:]

        public init(name: String, url: String, format: DeliveryFormat, appSecret: Secret? = nil, headers: [String: String] = [:]) {
            self.name = name
            self.url = url
            self.format = format
            self.appSecret = appSecret
            self.headers = headers
        }

        enum CodingKeys: String, CodingKey {
            case name, url, format, headers
            case appSecret = "app_secret"
        }

        public init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            name = try values.decode(String.self, forKey: .name)
            url = try values.decode(String.self, forKey: .url)
            format = try values.value(.format, or: .canonical)
            appSecret = try values.decodeIfPresent(Secret.self, forKey: .appSecret)
            headers = try values.value(.headers, or: [:])
        }
    }

    public struct Delivery: Sendable, Decodable {
        /// Deliveries in flight at once per destination.
        public var concurrency = 16
        public var timeoutSeconds = 30.0
        public var retryInitialSeconds = 1.0
        public var retryMaxSeconds = 3600.0
        /// After this long since an event arrived, a failing delivery is dead-lettered (Meta's own 7 days).
        public var retryHorizonSeconds = 7 * 24 * 3600.0

        enum CodingKeys: String, CodingKey {
            case concurrency
            case timeoutSeconds = "timeout_seconds", retryInitialSeconds = "retry_initial_seconds"
            case retryMaxSeconds = "retry_max_seconds", retryHorizonSeconds = "retry_horizon_seconds"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            concurrency = try values.value(.concurrency, or: concurrency)
            timeoutSeconds = try values.value(.timeoutSeconds, or: timeoutSeconds)
            retryInitialSeconds = try values.value(.retryInitialSeconds, or: retryInitialSeconds)
            retryMaxSeconds = try values.value(.retryMaxSeconds, or: retryMaxSeconds)
            retryHorizonSeconds = try values.value(.retryHorizonSeconds, or: retryHorizonSeconds)
        }
    }

    enum CodingKeys: String, CodingKey {
        case listen, spool, limits, cloud, onprem, destinations, delivery, sink
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        listen = try values.value(.listen, or: listen)
        spool = try values.value(.spool, or: spool)
        limits = try values.value(.limits, or: limits)
        cloud = try values.value(.cloud, or: cloud)
        onprem = try values.value(.onprem, or: onprem)
        destinations = try values.value(.destinations, or: destinations)
        delivery = try values.value(.delivery, or: delivery)
        sink = try values.decodeIfPresent(String.self, forKey: .sink)
    }

    /// Reads a YAML file; an empty file is the embedded default.
    public static func load(path: String) throws -> CutoverConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read config file \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return CutoverConfig() }
        do {
            return try YAMLDecoder().decode(CutoverConfig.self, from: text)
        } catch let error as DecodingError {
            throw ConfigError("\(path): \(error.readableDescription)")
        } catch {
            throw ConfigError("\(path): \(error)")
        }
    }

    /// Checks what decoding cannot: addresses, URLs, names, and that referenced secrets resolve.
    public func validate(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) {
        guard HostAndPort(parsing: listen) != nil else { throw ConfigError("listen: expected HOST:PORT, got \(listen)") }
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
        }
        for secret in cloud.appSecrets { _ = try secret.resolve(environment: environment) }
        _ = try cloud.verifyToken?.resolve(environment: environment)
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

extension DecodingError {
    /// "key.path: what went wrong", instead of Foundation's debug dump.
    var readableDescription: String {
        let (context, what): (Context, String) =
            switch self {
            case .typeMismatch(let type, let context): (context, "expected \(type)")
            case .valueNotFound(let type, let context): (context, "missing \(type) value")
            case .keyNotFound(let key, let context): (context, "missing key \(key.stringValue)")
            case .dataCorrupted(let context): (context, "invalid value")
            @unknown default: (Context(codingPath: [], debugDescription: ""), "invalid")
            }
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        let detail = context.debugDescription.isEmpty ? "" : " (\(context.debugDescription))"
        return "\(path.isEmpty ? "document" : path): \(what)\(detail)"
    }
}
