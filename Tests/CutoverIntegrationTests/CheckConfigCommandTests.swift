import CutoverConfiguration
import CutoverTestSupport
import Foundation
import Testing

/// `cutover check-config`, run as a new user would, on bad configs: a non-zero exit, and stderr
/// naming the file, line and key.
struct CheckConfigCommandTests {
    private func check(_ yaml: String, environment: [String] = []) throws -> (status: Int32, output: String, error: String, path: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-check-\(UUID().uuidString).yml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // env(1) sets the variables: runCommand passes this process's environment through.
        let result = try runCommand("/usr/bin/env", environment + [cutoverBinary, "check-config", "--config", path])
        return (result.status, result.output, result.error, path)
    }

    @Test(arguments: [
        ("limits:\n  max_connections: 0\n", "2:20: limits.max_connections: must be at least 1, got 0"),
        ("delivery:\n  timeout_seconds: 0\n", "2:20: delivery.timeout_seconds: must be greater than 0, got 0"),
        ("limits:\n  max_body_bytes: -5\n", "2:19: limits.max_body_bytes: must be at least 1, got -5"),
        ("admin:\n  listen: 127.0.0.1:9091\n  token: {env: CUTOVER_ADMIN_TOKEN}\n", "3:16: admin.token: {env: CUTOVER_ADMIN_TOKEN} is in the override namespace"),
        ("cloud:\n  verify_token: {env: CUTOVER_TEST_UNSET_TOKEN}\n", "2:17: cloud.verify_token: secret environment variable CUTOVER_TEST_UNSET_TOKEN is not set"),
        ("tls:\n  listen: 127.0.0.1:8443\n  certificate: /nonexistent/cert.pem\n  private_key: /nonexistent/key.pem\n", "3:16: tls.certificate: /nonexistent/cert.pem does not exist"),
        ("destinations:\n  - name: a\n    url: https://x.example/\n    ca_file: /nonexistent/ca.pem\n", "4:14: destinations[0].ca_file: /nonexistent/ca.pem does not exist"),
        ("admin:\n  listen: 127.0.0.1:9091\n  token: literal-admin-token-0123456789\n  tls:\n    certificate: /nonexistent/admin.pem\n    private_key: /nonexistent/admin.key\n", "5:18: admin.tls.certificate: /nonexistent/admin.pem does not exist"),
        ("spool:\n  postgres:\n    url: mysql://db/cutover\n", "3:10: spool.postgres.url: expected a postgresql://USER@HOST:PORT/DATABASE URL"),
        ("spool:\n  postgres:\n    url: postgresql://cutover@db/cutover\n    password: {env: CUTOVER_TEST_UNSET_PASSWORD}\n", "4:15: spool.postgres.password: secret environment variable CUTOVER_TEST_UNSET_PASSWORD is not set"),
    ])
    func aBadValueFailsNamingFileLineAndKey(yaml: String, expected: String) throws {
        let result = try check(yaml)
        #expect(result.status != 0)
        #expect(result.error.contains("\(result.path):\(expected)"), "stderr: \(result.error)")
    }

    @Test func anEmptySecretVariableIsCalledEmpty() throws {
        let result = try check("cloud:\n  verify_token: {env: CUTOVER_TEST_EMPTY_TOKEN}\n", environment: ["CUTOVER_TEST_EMPTY_TOKEN="])
        #expect(result.status != 0)
        #expect(result.error.contains("\(result.path):2:17: cloud.verify_token: secret environment variable CUTOVER_TEST_EMPTY_TOKEN is empty"))
    }

    @Test func aMisspelledOverrideFailsNamingTheClosestKey() throws {
        let result = try check("limits:\n  max_body_bytes: 100\n", environment: ["CUTOVER_LIMITS_MAX_BODYY_BYTES=5"])
        #expect(result.status != 0)
        #expect(result.error.contains("environment CUTOVER_LIMITS_MAX_BODYY_BYTES"))
        #expect(result.error.contains("did you mean CUTOVER_LIMITS_MAX_BODY_BYTES (limits.max_body_bytes)"), "stderr: \(result.error)")
    }

    @Test func theOldAdminTokenVariableNoLongerHalfConfiguresAdmin() throws {
        let result = try check("listen: 127.0.0.1:8080\n", environment: ["CUTOVER_ADMIN_TOKEN=0123456789abcdef0"])
        #expect(result.status != 0)
        #expect(!result.error.contains("admin.listen: missing required key"))
        #expect(result.error.contains("admin.token is a secret, and secrets have no environment override"), "stderr: \(result.error)")
    }

    @Test func variablesThatAreNotOverridesPassAndOverridesAreReported() throws {
        let result = try check(
            "cloud:\n  verify_token: {env: CUTOVER_SECRET_VERIFY}\n",
            environment: [
                "CUTOVER_APP_SECRET=s", "CUTOVER_VERIFY_TOKEN=v", "CUTOVER_BINARY=\(cutoverBinary)", "CUTOVER_SECRET_VERIFY=t",
                "CUTOVER_LIMITS_MAX_BODY_BYTES=2048",
            ]
        )
        #expect(result.status == 0, "stderr: \(result.error)")
        #expect(result.output.contains("limits.max_body_bytes: 2048  (environment CUTOVER_LIMITS_MAX_BODY_BYTES; a change needs a restart)"))
        #expect(result.output.contains("cloud.verify_token: <secret from $CUTOVER_SECRET_VERIFY>"))
    }

    @Test func serveHasEveryDeclaredFlag() throws {
        let help = try runCommand(cutoverBinary, ["serve", "--help"])
        for flag in CutoverConfig.declarations.compactMap(\.flag) {
            #expect(help.output.contains(flag), "serve --help lacks \(flag)")
        }
    }
}
