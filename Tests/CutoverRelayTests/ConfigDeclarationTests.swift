@testable import CutoverConfiguration
import CutoverTestSupport
import Foundation
import Testing

/// The declarations (`CutoverConfig.fields`) against the example, the docs and the values they accept.
struct ConfigDeclarationTests {
    static let root = Repo.root

    /// A key the example shows: its declared-style path (`destinations[].url`), its value text, its comment.
    struct ExampleKey {
        var path: String
        var value: String
        var comment: String
        var line: Int
    }

    /// Reads `deploy/cutover.example.yml` as key lines. A commented-out key (`# key:` or `#   key:`,
    /// one `#` followed by one space, then the key at its uncommented indentation) counts: optional
    /// blocks are documented that way. Prose lines never start with a lowercase `key:`.
    static func exampleKeys() throws -> [ExampleKey] {
        let text = try String(contentsOf: root.appendingPathComponent("deploy/cutover.example.yml"), encoding: .utf8)
        let pattern = try Regex(#"^( *)(- )?([a-z_]+):(?: +([^#]*?))?\s*(?:#\s?(.*))?$"#)
        var stack: [(indent: Int, path: String, list: Bool)] = []
        var keys: [ExampleKey] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if let hash = line.firstIndex(of: "#"), line[..<hash].allSatisfy({ $0 == " " }) {
                let after = line.index(after: hash)
                line = String(line[..<hash]) + String(line[after...].hasPrefix(" ") ? line[line.index(after: after)...] : line[after...])
            }
            guard let match = line.wholeMatch(of: pattern) else { continue }
            let indent = match.output[1].substring?.count ?? 0
            let dash = match.output[2].substring != nil
            let name = String(match.output[3].substring ?? "")
            let keyIndent = indent + (dash ? 2 : 0)
            while let last = stack.last, last.indent >= keyIndent { stack.removeLast() }
            if dash, var parent = stack.popLast() {
                parent.list = true
                stack.append(parent)
            }
            guard let parent = stack.last else {
                stack.append((keyIndent, name, false))
                keys.append(ExampleKey(path: name, value: String(match.output[4].substring ?? ""), comment: String(match.output[5].substring ?? ""), line: number + 1))
                continue
            }
            let declared = CutoverConfig.declarations.first { $0.path == parent.path }
            if declared?.kind == .freeMapping { continue }  // user-chosen names, not keys
            let path = parent.path + (parent.list ? "[]" : "") + "." + name
            stack.append((keyIndent, path, false))
            keys.append(ExampleKey(path: path, value: String(match.output[4].substring ?? ""), comment: String(match.output[5].substring ?? ""), line: number + 1))
        }
        return keys
    }

    @Test func everyDeclaredKeyIsInTheExample() throws {
        let shown = Set(try Self.exampleKeys().map(\.path))
        let missing = CutoverConfig.declarations.map(\.path).filter { !shown.contains($0) }
        #expect(missing.isEmpty, "declared but not in deploy/cutover.example.yml: \(missing)")
    }

    @Test func everyKeyInTheExampleIsDeclared() throws {
        let declared = Set(CutoverConfig.declarations.map(\.path))
        let unknown = try Self.exampleKeys().filter { !declared.contains($0.path) }.map { "line \($0.line): \($0.path)" }
        #expect(unknown.isEmpty, "in the example but not declared: \(unknown)")
    }

    /// A value the example shows is the declared default, unless its comment says `default: <the declared default>`.
    @Test func theExampleStatesTheDeclaredDefaults() throws {
        for key in try Self.exampleKeys() where !key.value.isEmpty {
            guard let declared = CutoverConfig.declarations.first(where: { $0.path == key.path }), let defaultText = declared.defaultText,
                declared.kind == .value || declared.kind == .list
            else { continue }
            let shown = key.value.trimmingCharacters(in: .whitespaces)
            #expect(
                shown == defaultText || key.comment.contains("default: \(defaultText)"),
                "line \(key.line): \(key.path) shows \(shown), declared default \(defaultText)"
            )
        }
    }

    @Test func theDocsMentionOnlyDeclaredOverrides() throws {
        let files = ["README.md"] + (try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("docs").path))
            .filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        let variable = try Regex(#"CUTOVER_[A-Z0-9_]*[A-Z0-9]"#)
        for file in files + ["deploy/cutover.example.yml"] {
            let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
            for match in text.matches(of: variable) {
                let name = String(text[match.range])
                guard ConfigFile.overrideSection(of: name) != nil else { continue }  // not in an override namespace
                #expect(ConfigFile.isDeclaredOverride(name), "\(file) mentions \(name), which overrides no declared key")
            }
        }
    }

    @Test func declarationsAreWellFormed() {
        let paths = CutoverConfig.declarations.map(\.path)
        #expect(Set(paths).count == paths.count, "a key declared twice")
        for key in CutoverConfig.declarations {
            #expect(!key.doc.isEmpty, "\(key.path) has no doc")
            if key.isSecret { #expect(key.environmentName == nil, "\(key.path) is a secret with an override") }
            if key.required { #expect(key.defaultText == nil, "\(key.path) is required and has a default") }
        }
        #expect(CutoverConfig.declarations.first { $0.path == "limits.max_body_bytes" }?.environmentName == "CUTOVER_LIMITS_MAX_BODY_BYTES")
        #expect(CutoverConfig.declarations.first { $0.path == "destinations[].url" }?.environmentName == "CUTOVER_DESTINATIONS_<NAME>_URL")
    }
}

/// Out-of-range values, misspelled overrides, colliding secret names: each an error with its place and key.
struct ConfigErrorTests {
    private func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-\(UUID().uuidString).yml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func error(_ yaml: String, environment: [String: String] = [:]) throws -> String? {
        let path = try write(yaml)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let config = try ConfigFile.load(path: path, environment: environment)
            _ = try RelaySettings(config: config, environment: environment)
            return nil
        } catch {
            return "\(error)".replacingOccurrences(of: path, with: "FILE")
        }
    }

    /// Every declared number with a lower bound, at 0 and -5, in a file of its own: derived from the
    /// declarations, so a new key gets the same check.
    @Test func everyOutOfRangeNumberNamesItsLineAndKey() throws {
        let bounded = CutoverConfig.declarations.filter {
            ($0.type.hasSuffix("at least 1") || $0.type.hasSuffix("greater than 0")) && !$0.path.contains("[]")
        }
        #expect(bounded.count >= 15)
        for key in bounded {
            let parts = key.path.split(separator: ".")
            for value in ["0", "-5"] {
                let yaml = parts.enumerated().map { depth, part in
                    String(repeating: "  ", count: depth) + "\(part):" + (depth == parts.count - 1 ? " \(value)" : "") + "\n"
                }.joined()
                let extra =
                    key.path.hasPrefix("capture.") ? "  path: /tmp/c.jsonl\n"
                    : key.path.hasPrefix("spool.postgres.") ? "    url: postgresql://cutover@127.0.0.1:5432/cutover\n" : ""
                let line = parts.count
                let message = try #require(try error(yaml + extra), "\(key.path): \(value) was accepted")
                #expect(message.hasPrefix("FILE:\(line):"), "\(message)")
                #expect(message.contains(": \(key.path): must be"), "\(message)")
            }
        }
        let listItem = try #require(try error("destinations:\n  - name: a\n    url: http://x/\n    concurrency: 0\n"))
        #expect(listItem == "FILE:4:18: destinations[0].concurrency: must be at least 1, got 0")
    }

    @Test func aMisspelledOverrideNamesTheClosestKey() throws {
        let message = try #require(try error("", environment: ["CUTOVER_LIMITS_MAX_BODYY_BYTES": "5"]))
        #expect(message.contains("CUTOVER_LIMITS_MAX_BODYY_BYTES"))
        #expect(message.contains("did you mean CUTOVER_LIMITS_MAX_BODY_BYTES (limits.max_body_bytes)"))
        let item = try #require(
            try error("destinations:\n  - name: legacy\n    url: http://x/\n", environment: ["CUTOVER_DESTINATIONS_LEGACY_URI": "http://y/"]))
        #expect(item.contains("did you mean CUTOVER_DESTINATIONS_LEGACY_URL (destinations[].url)"))
    }

    @Test func variablesThatAreNotOverridesPass() throws {
        let yaml = "cloud:\n  verify_token: {env: CUTOVER_VERIFY_TOKEN}\n  app_secrets: [{env: CUTOVER_SECRET_APP}]\n"
        let environment = [
            "CUTOVER_APP_SECRET": "s", "CUTOVER_VERIFY_TOKEN": "v", "CUTOVER_BINARY": "/bin/true", "CUTOVER_SECRET_APP": "a",
            "CUTOVER_LIMITS_MAX_BODY_BYTES": "10", "CUTOVER_SPOOL_MAX_BATCH": "3",
        ]
        #expect(try error(yaml, environment: environment) == nil)
    }

    @Test func secretVariablesCannotBeOverrideNames() throws {
        let reference = try #require(try error("admin:\n  listen: 127.0.0.1:9091\n  token: {env: CUTOVER_ADMIN_TOKEN}\n"))
        #expect(reference.hasPrefix("FILE:3:16: admin.token: {env: CUTOVER_ADMIN_TOKEN} is in the override namespace"))
        #expect(reference.contains("CUTOVER_SECRET_ADMIN_TOKEN"))
        // With admin: commented out, the old example's variable no longer half-configures the admin API.
        let variable = try #require(try error("", environment: ["CUTOVER_ADMIN_TOKEN": "0123456789abcdef0"]))
        #expect(variable.contains("admin.token is a secret, and secrets have no environment override"))
        let list = try #require(try error("", environment: ["CUTOVER_CLOUD_APP_SECRETS": "one"]))
        #expect(list.contains("cloud.app_secrets is a secret"))
    }

    @Test func anEmptySecretVariableIsNotReportedAsUnset() throws {
        let yaml = "cloud:\n  verify_token: {env: MY_TOKEN}\n"
        #expect(try error(yaml, environment: ["MY_TOKEN": ""]) == "FILE:2:17: cloud.verify_token: secret environment variable MY_TOKEN is empty")
        #expect(try error(yaml) == "FILE:2:17: cloud.verify_token: secret environment variable MY_TOKEN is not set")
    }

    @Test func enumerationsAndAddressesAreReadAsTypes() throws {
        let format = try #require(try error("destinations:\n  - name: a\n    url: http://x/\n    unsupported: ignore\n"))
        #expect(format == "FILE:4:18: destinations[0].unsupported: expected one of: unknownMessage, drop, passThrough")
        #expect(try error("admin:\n  listen: nowhere\n  token: 0123456789abcdef0\n") == "FILE:2:11: admin.listen: expected HOST:PORT")
        #expect(try error("listen: nowhere\n") == "FILE:1:9: listen: expected HOST:PORT or off")
    }

    @Test func missingCertificatesNameTheirKeyAndFile() throws {
        let path = try write("tls:\n  listen: 127.0.0.1:8443\n  certificate: /nonexistent/cert.pem\n  private_key: /nonexistent/key.pem\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let settings = try RelaySettings(config: ConfigFile.load(path: path, environment: [:]), environment: [:])
        #expect(throws: ConfigError.self) { try settings.checkTLSFiles() }
        do {
            try settings.checkTLSFiles()
        } catch {
            #expect(error.message == "\(path):3:16: tls.certificate: /nonexistent/cert.pem does not exist")
        }
    }

    @Test func theRestartOnlyChangesComeFromTheDeclarations() throws {
        let before = try ConfigFile.load(path: nil, environment: [:])
        let after = try ConfigFile.load(
            path: nil,
            environment: ["CUTOVER_LIMITS_MAX_BODY_BYTES": "10", "CUTOVER_DELIVERY_CONCURRENCY": "3", "CUTOVER_LISTEN": "127.0.0.1:9"]
        )
        #expect(after.restartOnlyChanges(since: before) == ["limits.max_body_bytes", "listen"])
        let settings = try RelaySettings(config: after, environment: [:])
        #expect(settings.needsRestart(comparedTo: try RelaySettings(config: before, environment: [:])) == ["limits.max_body_bytes", "listen"])
    }
}
