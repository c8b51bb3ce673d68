import Foundation
import Yams

/// Reads the YAML configuration against the declarations (`CutoverConfig.fields`): rejects unknown
/// keys (a typo must not silently fall back to a default), applies flags and `CUTOVER_*` environment
/// overrides, and reports errors with file, line and key.
package enum ConfigFile {
    /// Loads `path` (nil: the embedded default) with flags (`--listen` → its values) and the
    /// environment's overrides applied; flags win over the environment, the environment over the file.
    package static func load(
        path: String?, environment: [String: String] = ProcessInfo.processInfo.environment, flags: [String: [String]] = [:]
    ) throws -> CutoverConfig {
        guard let path else { return try load(root: nil, file: nil, environment: environment, flags: flags) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read config file \(path)")
        }
        return try load(yaml: String(decoding: data, as: UTF8.self), file: path, environment: environment, flags: flags)
    }

    /// Loads YAML text as if read from `file` (the name errors carry), e.g. a fuzzer's input.
    package static func load(
        yaml: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment, flags: [String: [String]] = [:]
    ) throws -> CutoverConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError("\(file): \(error)")
        }
        if let root, root.null == nil, root.mapping == nil {
            throw ConfigError("\(file): the top level must be a mapping of keys")
        }
        return try load(root: root, file: file, environment: environment, flags: flags)
    }

    private static func load(root: Node?, file: String?, environment: [String: String], flags: [String: [String]]) throws -> CutoverConfig {
        let reader = ConfigReader(file: file ?? "environment", environment: environment, flags: flags)
        try checkEnvironment(environment, root: root, reader: reader)
        var config = try CutoverConfig.read(root, Scope(path: "", environmentName: prefix, location: reader.file), reader)
        config.origins = reader.origins
        return config
    }

    static let prefix = "CUTOVER"

    package static func environmentName(_ key: String) -> String {
        String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    // MARK: Environment

    /// The top-level key whose override namespace (`CUTOVER_LIMITS`, `CUTOVER_LIMITS_...`) `name` is in.
    /// Secret variables must stay outside every namespace, so the two can never collide.
    package static func overrideSection(of name: String) -> String? {
        CutoverConfig.fields.map(\.name).filter { key in
            let section = prefix + "_" + environmentName(key)
            return name == section || name.hasPrefix(section + "_")
        }.max { $0.count < $1.count }
    }

    /// Every override variable the declarations allow, with list items' `<NAME>` filled in from `itemNames`
    /// (list path → the names in the file).
    package static func overrideNames(itemNames: [String: [String]]) -> [String: KeyDeclaration] {
        var names: [String: KeyDeclaration] = [:]
        for key in CutoverConfig.declarations {
            guard let variable = key.environmentName else { continue }
            guard let listPath = key.path.components(separatedBy: "[]").first, key.path.contains("[]") else {
                names[variable] = key
                continue
            }
            for item in itemNames[listPath] ?? [] {
                names[variable.replacingOccurrences(of: "<NAME>", with: environmentName(item))] = key
            }
        }
        return names
    }

    /// Whether `name` is an override the declarations allow for some list item names (for the docs,
    /// which name items the reader's file may not have).
    package static func isDeclaredOverride(_ name: String) -> Bool {
        CutoverConfig.declarations.contains { $0.overridable && $0.variableMatches(name) }
    }

    /// A `CUTOVER_*` variable in an override namespace that matches no key is a misspelling: an
    /// error naming the closest key, never silently ignored. Secrets' variables are outside every
    /// namespace (a secret naming one is an error of its own), and so are serve's and the tests'.
    private static func checkEnvironment(_ environment: [String: String], root: Node?, reader: ConfigReader) throws {
        var itemNames: [String: [String]] = [:]
        for key in CutoverConfig.declarations where key.kind == .namedList {
            var node = root
            for part in key.path.split(separator: ".") { node = node?[String(part)] }
            itemNames[key.path] = node?.sequence?.compactMap { $0["name"]?.string } ?? []
        }
        let known = overrideNames(itemNames: itemNames)
        for name in environment.keys.sorted() where known[name] == nil {
            guard let section = overrideSection(of: name) else { continue }
            if let secret = CutoverConfig.declarations.first(where: { $0.isSecret && $0.variableMatches(name) }) {
                throw ConfigError(
                    "environment \(name): \(secret.path) is a secret, and secrets have no environment override; "
                        + "give it as {env: NAME} with a NAME outside CUTOVER_\(environmentName(section))_*")
            }
            let closest = known.min { distance(name, $0.key) < distance(name, $1.key) }
            let hint = closest.map { "; did you mean \($0.key) (\($0.value.path))?" } ?? ""
            throw ConfigError("environment \(name): no config key \(section).* has this override name\(hint)")
        }
    }

    /// Levenshtein distance: how far a misspelled variable is from a declared one.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// The state of one load: where values come from, and where each one came from.
final class ConfigReader {
    let file: String
    let environment: [String: String]
    let flags: [String: [String]]
    /// Key path → `file:line:column`, `environment NAME` or `--flag`.
    var origins: [String: String] = [:]

    init(file: String, environment: [String: String], flags: [String: [String]]) {
        self.file = file
        self.environment = environment
        self.flags = flags
    }

    func location(of node: Node) -> String {
        node.mark.map { "\(file):\($0.line):\($0.column)" } ?? file
    }

    func error(at location: String, _ path: String, _ message: String) -> ConfigError {
        ConfigError("\(location): \(path): \(message)")
    }

    /// The value from the flag, the environment or the file, in that order; nil when none gives one.
    func value<Value: ConfigValue>(
        _ type: Value.Type, _ node: Node?, _ scope: Scope, flag: String?, overridable: Bool, _ constraint: Constraint<Value>?
    ) throws -> Value? {
        let origin: String
        let parsed: Value?
        if let flag, let text = flags[flag]?.last {
            origin = flag
            parsed = Value(configText: text)
        } else if overridable, let variable = scope.environmentName, let text = environment[variable] {
            origin = "environment \(variable)"
            parsed = Value(configText: text)
        } else if let node, node.null == nil {
            origin = location(of: node)
            parsed = Value(configNode: node)
        } else {
            return nil
        }
        guard let parsed else { throw error(at: origin, scope.path, "expected \(Value.expectation)") }
        if let constraint, !constraint.holds(parsed) {
            throw error(at: origin, scope.path, "must be \(constraint.text), got \(parsed.configText)")
        }
        origins[scope.path] = origin
        return parsed
    }

    func secret(_ node: Node?, _ scope: Scope, flag: String?) throws -> Secret? {
        if let flag, let text = flags[flag]?.last {
            origins[scope.path] = flag
            return Secret(.literal(text))
        }
        guard let node, node.null == nil else { return nil }
        let secret = try secret(node, path: scope.path)
        origins[scope.path] = location(of: node)
        return secret
    }

    func secrets(_ node: Node?, _ scope: Scope, flag: String?) throws -> [Secret]? {
        if let flag, let texts = flags[flag], !texts.isEmpty {
            origins[scope.path] = flag
            return texts.map { Secret(.literal($0)) }
        }
        guard let node, node.null == nil else { return nil }
        guard let sequence = node.sequence else { throw error(at: location(of: node), scope.path, "expected a list of secrets") }
        origins[scope.path] = location(of: node)
        return try sequence.enumerated().map { index, item in try secret(item, path: "\(scope.path)[\(index)]") }
    }

    private func secret(_ node: Node, path: String) throws -> Secret {
        if let literal = node.scalar?.string { return Secret(.literal(literal)) }
        guard let mapping = node.mapping, mapping.count == 1, let (key, value) = mapping.first, let text = value.string else {
            throw error(at: location(of: node), path, "expected \(Secret.expectation)")
        }
        switch key.string {
        case "env":
            if let section = ConfigFile.overrideSection(of: text) {
                let suggestion = "CUTOVER_SECRET_" + text.dropFirst(ConfigFile.prefix.count + 1)
                throw error(
                    at: location(of: value), path,
                    "{env: \(text)} is in the override namespace of \(section) (CUTOVER_\(ConfigFile.environmentName(section))_*), "
                        + "so setting it would also override config keys; name the variable outside it, e.g. \(suggestion)")
            }
            return Secret(.environment(text))
        case "file":
            return Secret(.file(text))
        default:
            throw error(at: location(of: key), path, "expected \(Secret.expectation)")
        }
    }

    func freeMapping(_ node: Node?, _ scope: Scope) throws -> [String: String]? {
        guard let node, node.null == nil else { return nil }
        guard let mapping = node.mapping else { throw error(at: location(of: node), scope.path, "expected a mapping of strings") }
        var result: [String: String] = [:]
        for (key, value) in mapping {
            guard let name = key.string, let text = value.scalar?.string else {
                throw error(at: location(of: value), scope.path, "expected a mapping of strings")
            }
            result[name] = text
        }
        origins[scope.path] = location(of: node)
        return result
    }
}
