import CutoverTestSupport
import Foundation
import Testing

/// The Cutover configs deploy/ ships (compose's and the Kubernetes ConfigMap's) through the real
/// binary's `check-config`, and in the shape the shared PostgreSQL spool takes.
struct DeployConfigTests {
    /// Each multi-instance config: where it lives and its text.
    static func configs() throws -> [(name: String, text: String)] {
        let compose = try String(contentsOfFile: Deploy.path("compose/cutover.yml"), encoding: .utf8)
        let configMap = try #require(
            try Deploy.documents(Deploy.path("kubernetes/configmap.yaml")).first { $0["kind"] as? String == "ConfigMap" })
        let embedded = try #require((configMap["data"] as? [String: Any])?["cutover.yml"] as? String)
        return [("deploy/compose/cutover.yml", compose), ("deploy/kubernetes/configmap.yaml cutover.yml", embedded)]
    }

    @Test func everyConfigPassesCheckConfigWithItsSecretsSet() throws {
        for (name, text) in try Self.configs() {
            let result = try Deploy.checkConfig(text, environment: Deploy.placeholderSecrets(for: text))
            #expect(result.status == 0, "\(name): \(result.error)")
            #expect(result.output.contains("config OK: listening on http://0.0.0.0:8080"), "\(name): \(result.output)")
            #expect(result.output.contains("1 destination(s)"), "\(name): \(result.output)")
            #expect(result.output.contains("spool.postgres.url: postgresql://cutover@postgres:5432/cutover"), "\(name): \(result.output)")
        }
    }

    @Test func aMissingSecretFailsTheCheck() throws {
        for (name, text) in try Self.configs() {
            var secrets = Deploy.placeholderSecrets(for: text)
            #expect(secrets.removeValue(forKey: "CUTOVER_SECRET_APP_SECRET") != nil, "\(name) names no app secret")
            let result = try Deploy.checkConfig(text, environment: secrets)
            #expect(result.status != 0, "\(name)")
            #expect(result.error.contains("CUTOVER_SECRET_APP_SECRET is not set"), "\(name): \(result.error)")
        }
    }

    /// Both instances of each deployment share one PostgreSQL spool, in the shape check-config reads.
    @Test func everyConfigSharesOnePostgresSpool() throws {
        for (name, text) in try Self.configs() {
            let config = try #require(try Deploy.documents(text: text).first)
            #expect(sameJSON(config["spool"], Deploy.postgresSpool), "\(name): spool is \(String(describing: config["spool"]))")
        }
    }
}
