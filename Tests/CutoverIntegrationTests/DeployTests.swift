import CutoverConfiguration
import CutoverRelay
import CutoverTestSupport
import Foundation
import Testing

/// What the deploy/ suites share: the checkers' venv (scripts/deploy/setup-venv.sh), reading YAML
/// files, the drain a stop timeout must outlast, and `check-config` on a deployment's config.
enum Deploy {
    /// The venv's python (`Repo.deployPython`); hadolint and kubernetes-validate sit beside it.
    static var python: Result<String, TestFailure> { Repo.deployPython }

    /// A program the venv installed (`hadolint`, `kubernetes-validate`).
    static func tool(_ name: String) throws -> String {
        URL(fileURLWithPath: try python.get()).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// `deploy/<relative>`.
    static func path(_ relative: String) -> String { Repo.path("deploy/" + relative) }

    /// The YAML documents of a file (anchors and merge keys resolved by PyYAML), as Foundation values.
    static func documents(_ path: String) throws -> [[String: Any]] {
        let result = try runCommand(try python.get(), [Repo.path("scripts/deploy/yaml_to_json.py"), path])
        guard result.status == 0 else { throw TestFailure("\(path) is not YAML: \(result.error)") }
        guard let documents = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]] else {
            throw TestFailure("\(path): expected YAML mappings")
        }
        return documents
    }

    /// The YAML documents of `text`.
    static func documents(text: String) throws -> [[String: Any]] {
        let directory = try TemporaryDirectory(prefix: "cutover-deploy-yaml")
        let file = directory.path("document.yml")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return try documents(file)
    }

    /// Seconds `cutover serve` may take to exit after SIGTERM when running `config`. The services
    /// stop one after the other (Relay.services): the ingress listeners finish their requests (within
    /// Relay.listenerGracePeriod), then the admin listener (the same, when `admin` is configured or `withAdmin`),
    /// then the delivery workers finish their deliveries in flight (each bounded by
    /// delivery.timeout_seconds), then the spool's last group commit (bounded like any by
    /// spool_commit_timeout_seconds).
    static func drainSeconds(config: [String: Any], withAdmin: Bool = false) -> Int {
        let defaults = CutoverConfig()
        let listenerGrace = Int(Relay.listenerGracePeriod.components.seconds)
        let delivery = (config["delivery"] as? [String: Any])?["timeout_seconds"] as? Int ?? Int(defaults.delivery.timeoutSeconds)
        let commit = config["spool_commit_timeout_seconds"] as? Int ?? Int(defaults.spoolCommitTimeoutSeconds)
        let admin = (withAdmin || config["admin"] != nil) ? listenerGrace : 0
        return listenerGrace + admin + delivery + commit
    }

    /// Seconds in a duration text as compose and systemd write them: `90`, `90s`, `1m30s`, `2min`.
    static func seconds(_ text: String) throws -> Int {
        var total = 0
        var number = ""
        var unit = ""
        func flush() throws {
            guard let value = Int(number) else { throw TestFailure("not a duration: \(text)") }
            switch unit {
            case "", "s", "sec": total += value
            case "m", "min": total += value * 60
            case "h": total += value * 3600
            default: throw TestFailure("unknown unit \(unit) in \(text)")
            }
            number = ""
            unit = ""
        }
        for character in text.trimmingCharacters(in: .whitespaces) {
            if character.isNumber {
                if !unit.isEmpty { try flush() }
                number.append(character)
            } else {
                unit.append(character)
            }
        }
        try flush()
        return total
    }

    /// Runs `cutover check-config` on `text`, as written, with `environment` set.
    static func checkConfig(_ text: String, environment: [String: String]) throws -> CommandResult {
        let directory = try TemporaryDirectory(prefix: "cutover-deploy-check")
        let file = directory.path("cutover.yml")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return try runCommand("/usr/bin/env", assignments + [cutoverBinary, "check-config", "--config", file])
    }

    /// The shared spool both multi-instance deployments use, in the PostgreSQL spool's config shape.
    static var postgresSpool: [String: Any] {
        ["postgres": ["url": "postgresql://cutover@postgres:5432/cutover", "password": ["env": "CUTOVER_SECRET_SPOOL_PASSWORD"]]]
    }

    /// The secret variables a config names (`{env: NAME}`), each given a placeholder value.
    static func placeholderSecrets(for text: String) -> [String: String] {
        var secrets: [String: String] = [:]
        for match in text.matches(of: /\{env: ([A-Z0-9_]+)\}/) { secrets[String(match.output.1)] = "placeholder-\(match.output.1.lowercased())" }
        return secrets
    }
}


/// Whether two JSON-like values are equal.
func sameJSON(_ lhs: Any?, _ rhs: Any?) -> Bool {
    guard let lhs, let rhs else { return lhs == nil && rhs == nil }
    return (lhs as? NSObject)?.isEqual(rhs) ?? false
}
