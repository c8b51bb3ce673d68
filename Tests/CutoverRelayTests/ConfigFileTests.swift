@testable import CutoverConfiguration
@testable import CutoverOperations
import CutoverSockets
import CutoverTLS
import CutoverTestSupport
import CutoverWebhooks
import Foundation
import Testing

struct ConfigFileTests {
    private func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-\(UUID().uuidString).yml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func typeErrorsNameTheLineColumnAndKey() throws {
        let path = try write("listen: 127.0.0.1:8080\nlimits:\n  max_header_count: 100\n  max_body_bytes: lots\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            try ConfigFile.load(path: path, environment: [:])
        } throws: { error in
            "\(error)" == "\(path):4:19: limits.max_body_bytes: expected an integer"
        }
    }

    @Test func unknownKeysAreRejectedWithTheirLine() throws {
        let path = try write("destinations:\n  - name: a\n    url: http://x/\n    fromat: cloud\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            try ConfigFile.load(path: path, environment: [:])
        } throws: { error in
            "\(error)".hasPrefix("\(path):4:5: unknown key destinations[0].fromat (expected one of:")
        }
    }

    @Test func missingRequiredKeysAreNamed() throws {
        let path = try write("destinations:\n  - name: a\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            try ConfigFile.load(path: path, environment: [:])
        } throws: { error in
            "\(error)".contains("destinations[0].url: missing required key")
        }
    }

    @Test func environmentOverridesEveryKindOfValue() throws {
        let path = try write(
            """
            limits:
              max_body_bytes: 100
            destinations:
              - name: legacy-endpoint
                url: http://127.0.0.1:1/
                format: onprem
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try ConfigFile.load(
            path: path,
            environment: [
                "CUTOVER_LISTEN": "0.0.0.0:9999",
                "CUTOVER_LIMITS_MAX_BODY_BYTES": "2048",
                "CUTOVER_DELIVERY_CONCURRENCY": "3",
                "CUTOVER_DESTINATIONS_LEGACY_ENDPOINT_URL": "http://127.0.0.1:2/hook",
                "CUTOVER_DESTINATIONS_LEGACY_ENDPOINT_MATCH_PHONE_NUMBER_IDS": "111,222",
                "CUTOVER_TLS_LISTEN": "0.0.0.0:8443",
                "CUTOVER_TLS_CERTIFICATE": "/c.pem",
                "CUTOVER_TLS_PRIVATE_KEY": "/k.pem",
            ]
        )
        #expect(config.listen.configText == "0.0.0.0:9999")
        #expect(config.limits.maxBodyBytes == 2048)
        #expect(config.delivery.concurrency == 3)
        #expect(config.destinations.first?.url.configText == "http://127.0.0.1:2/hook")
        #expect(config.destinations.first?.match.phoneNumberIDs == ["111", "222"])
        #expect(config.destinations.first?.format == .onprem, "keys not overridden keep the file's value")
        #expect(config.tls == CutoverConfig.TLSListener(listen: HostAndPort(host: "0.0.0.0", port: 8443), certificate: "/c.pem", privateKey: "/k.pem"))
    }

    @Test func noFileIsTheEmbeddedDefaultPlusEnvironment() throws {
        let config = try ConfigFile.load(path: nil, environment: ["CUTOVER_SPOOL": "/tmp/elsewhere"])
        #expect(config.spool == .directory("/tmp/elsewhere"))
        #expect(config.listen.configText == "127.0.0.1:8080")
        #expect(config.onprem.routes.map(\.name) == ["default"])
    }

    @Test func theExampleConfigIsValid() throws {
        let config = try ConfigFile.load(
            path: Repo.path("deploy/cutover.example.yml"),
            environment: ["CUTOVER_VERIFY_TOKEN": "v", "CUTOVER_APP_SECRET": "s", "CUTOVER_SECRET_ONPREM_TOKEN": "t"]
        )
        _ = try RelaySettings(
            config: config, environment: ["CUTOVER_VERIFY_TOKEN": "v", "CUTOVER_APP_SECRET": "s", "CUTOVER_SECRET_ONPREM_TOKEN": "t"]
        )
    }
}

struct ListenOffTests {
    @Test func listenOffNeedsATLSListener() throws {
        var config = CutoverConfig()
        config.listen = .off
        #expect(throws: ConfigError.self) { try RelaySettings(config: config, environment: [:]) }
        config.tls = CutoverConfig.TLSListener(listen: HostAndPort(host: "127.0.0.1", port: 8443), certificate: "/c.pem", privateKey: "/k.pem")
        let settings = try RelaySettings(config: config, environment: [:])
        #expect(settings.listen == nil)
        #expect(settings.tls?.listen.port == 8443)
        #expect(settings.tls?.configuration.applicationProtocols == ["h2", "http/1.1"])
    }
}
