import Foundation
import Yams

/// Reads the YAML configuration: rejects unknown keys (a typo must not silently fall back to a
/// default), applies `CUTOVER_*` environment overrides, and reports errors with file, line and key.
package enum ConfigFile {
    /// The keys the file may contain. `.secret` accepts a string or `{env: NAME}` / `{file: PATH}`;
    /// `.named` is a list of mappings whose `name` keys their environment overrides.
    indirect enum Shape {
        case scalar
        case list
        case secret
        case secrets
        case freeMapping
        case mapping([String: Shape])
        case named([String: Shape])
    }

    static let schema: Shape = .mapping([
        "listen": .scalar, "spool": .scalar, "spool_max_batch": .scalar, "sink": .scalar,
        "spool_retention": .mapping(["dedup_days": .scalar, "raw_days": .scalar, "interval_seconds": .scalar]),
        "limits": .mapping([
            "max_body_bytes": .scalar, "max_header_bytes": .scalar, "max_header_count": .scalar,
            "max_request_line_bytes": .scalar, "max_connections": .scalar, "idle_timeout_seconds": .scalar,
            "read_timeout_seconds": .scalar,
        ]),
        "cloud": .mapping(["verify_token": .secret, "app_secrets": .secrets]),
        "onprem": .mapping([
            "routes": .named([
                "name": .scalar, "token": .secret, "phone_number_id": .scalar, "display_phone_number": .scalar,
                "waba_id": .scalar,
            ])
        ]),
        "destinations": .named([
            "name": .scalar, "url": .scalar, "format": .scalar, "role": .scalar,
            "match": .mapping(["phone_number_ids": .list, "event_types": .list]),
            "app_secret": .secret, "signing_secret": .secret, "headers": .freeMapping, "concurrency": .scalar,
            "dead_letter_statuses": .list, "unsupported": .scalar, "ca_file": .scalar, "client_certificate": .scalar,
            "client_key": .scalar,
        ]),
        "delivery": .mapping([
            "concurrency": .scalar, "timeout_seconds": .scalar, "retry_initial_seconds": .scalar,
            "retry_max_seconds": .scalar, "retry_horizon_seconds": .scalar, "ordering": .scalar,
            "breaker_failure_threshold": .scalar, "breaker_open_seconds": .scalar, "breaker_max_open_seconds": .scalar,
        ]),
        "capture": .mapping(["path": .scalar, "max_bytes": .scalar, "keep": .scalar, "routes": .list]),
        "admin": .mapping(["listen": .scalar, "token": .secret]),
        "tls": .mapping([
            "listen": .scalar, "certificate": .scalar, "private_key": .scalar, "client_ca": .scalar,
            "client_subject": .scalar,
        ]),
    ])

    /// Loads `path` (nil: the embedded default) with the environment's overrides applied.
    package static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CutoverConfig {
        let label = path ?? "environment"
        var root: Node = .mapping(Node.Mapping([]))
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError("cannot read config file \(path)")
            }
            do {
                if let composed = try Yams.compose(yaml: String(decoding: data, as: UTF8.self)) { root = composed }
            } catch let error as YamlError {
                throw ConfigError("\(path): \(error)")
            }
            guard root.mapping != nil else { throw ConfigError("\(path): the top level must be a mapping of keys") }
            try checkKeys(root, shape: schema, path: [], file: path)
        }
        if let changed = overridden(root, shape: schema, prefix: "CUTOVER", environment: environment) { root = changed }
        do {
            return try YAMLDecoder().decode(CutoverConfig.self, from: root)
        } catch let error as DecodingError {
            let (codingPath, message) = error.parts
            let keyPath = codingPath.reduce(into: "") { path, key in
                if let index = key.intValue { path += "[\(index)]" } else { path += (path.isEmpty ? "" : ".") + key.stringValue }
            }
            let location = mark(of: codingPath, in: root).map { "\(label):\($0.line):\($0.column)" } ?? label
            throw ConfigError("\(location): \(keyPath.isEmpty ? "document" : keyPath): \(message)")
        }
    }

    // MARK: Unknown keys

    private static func checkKeys(_ node: Node, shape: Shape, path: [String], file: String) throws {
        switch shape {
        case .scalar, .freeMapping, .secret, .secrets, .list:
            return
        case .mapping(let keys):
            guard let mapping = node.mapping else { return }  // type errors are the decoder's to report
            for (key, value) in mapping {
                guard let name = key.string else { continue }
                guard let inner = keys[name] else {
                    let place = key.mark.map { "\(file):\($0.line):\($0.column)" } ?? file
                    let known = keys.keys.sorted().joined(separator: ", ")
                    throw ConfigError("\(place): unknown key \((path + [name]).joined(separator: ".")) (expected one of: \(known))")
                }
                try checkKeys(value, shape: inner, path: path + [name], file: file)
            }
        case .named(let keys):
            guard let sequence = node.sequence else { return }
            for (index, item) in sequence.enumerated() {
                var itemPath = path
                itemPath[itemPath.count - 1] += "[\(index)]"
                try checkKeys(item, shape: .mapping(keys), path: itemPath, file: file)
            }
        }
    }

    // MARK: Environment

    /// `CUTOVER_LIMITS_MAX_BODY_BYTES=1048576` overrides `limits.max_body_bytes`; list items are
    /// named: `CUTOVER_DESTINATIONS_LEGACY_ENDPOINT_URL` overrides the url of destination
    /// `legacy-endpoint`. Lists take comma-separated values. Returns nil when nothing changed.
    static func overridden(_ node: Node?, shape: Shape, prefix: String, environment: [String: String]) -> Node? {
        switch shape {
        case .mapping(let keys):
            var mapping = node?.mapping ?? Node.Mapping([])
            var changed = false
            for (key, inner) in keys {
                let name = prefix + "_" + environmentName(key)
                if let value = overridden(mapping[key], shape: inner, prefix: name, environment: environment) {
                    mapping[key] = value
                    changed = true
                }
            }
            return changed ? .mapping(mapping) : nil
        case .named(let keys):
            guard var items = node?.sequence else { return nil }
            var changed = false
            for index in items.indices {
                guard let itemName = items[index]["name"]?.string else { continue }
                let itemPrefix = prefix + "_" + environmentName(itemName)
                if let value = overridden(items[index], shape: .mapping(keys), prefix: itemPrefix, environment: environment) {
                    items[index] = value
                    changed = true
                }
            }
            return changed ? .sequence(items) : nil
        case .scalar, .secret:
            return environment[prefix].map { Node($0) }
        case .list, .secrets:
            return environment[prefix].map { value in
                .sequence(Node.Sequence(value.split(separator: ",").map { Node($0.trimmingCharacters(in: .whitespaces)) }))
            }
        case .freeMapping:
            return nil
        }
    }

    static func environmentName(_ key: String) -> String {
        String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    // MARK: Locations

    private static func mark(of codingPath: [any CodingKey], in root: Node) -> Mark? {
        var node = root
        var mark = root.mark
        for key in codingPath {
            if let index = key.intValue, let sequence = node.sequence, sequence.indices.contains(index) {
                node = sequence[index]
            } else if let child = node[key.stringValue] {
                node = child
            } else {
                break
            }
            mark = node.mark ?? mark
        }
        return mark
    }
}

extension DecodingError {
    var parts: (codingPath: [any CodingKey], message: String) {
        switch self {
        case .typeMismatch(let type, let context): (context.codingPath, "expected \(Self.describe(type))")
        case .valueNotFound(let type, let context): (context.codingPath, "missing \(Self.describe(type)) value")
        case .keyNotFound(let key, let context): (context.codingPath + [key], "missing required key")
        case .dataCorrupted(let context): (context.codingPath, context.debugDescription.isEmpty ? "invalid value" : context.debugDescription)
        @unknown default: ([], "invalid")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }
}
