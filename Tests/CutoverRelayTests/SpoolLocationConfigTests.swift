@testable import CutoverConfiguration
import Foundation
import Testing

/// `spool:` as a directory, a URL or `{postgres: {...}}`: one declaration read from every form.
struct SpoolLocationConfigTests {
    private func load(_ yaml: String, environment: [String: String] = [:], flags: [String: [String]] = [:]) throws -> CutoverConfig {
        try ConfigFile.load(yaml: yaml, file: "FILE", environment: environment, flags: flags)
    }

    private func error(_ yaml: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try RelaySettings(config: try load(yaml, environment: environment), environment: environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aStringIsADirectory() throws {
        #expect(try load("spool: /var/lib/cutover\n").spool == .directory("/var/lib/cutover"))
        #expect(try load("").spool == .directory("./.cutover"))
    }

    /// The deploy helper's compose file writes exactly this.
    @Test func theMappingFormNamesAPostgreSQLSpool() throws {
        let yaml = """
            spool: {postgres: {url: postgresql://cutover@postgres:5432/cutover, password: {env: CUTOVER_SECRET_SPOOL_PASSWORD}}}
            destinations:
              - name: app
                url: http://127.0.0.1:9/
            """
        let config = try load(yaml)
        let postgres = try #require(config.spool.postgres)
        #expect(postgres.url.text == "postgresql://cutover@postgres:5432/cutover")
        #expect(postgres.password == Secret(.environment("CUTOVER_SECRET_SPOOL_PASSWORD")))
        #expect(postgres.leaseSeconds == PostgresSpoolSection.defaultLeaseSeconds)
        #expect(postgres.instanceID == nil)
        let settings = try RelaySettings(config: config, environment: ["CUTOVER_SECRET_SPOOL_PASSWORD": "hunter2"])
        #expect(
            settings.spool
                == .postgres(.init(url: "postgresql://cutover@postgres:5432/cutover", password: "hunter2", leaseSeconds: 30, instanceID: nil)))
        #expect(config.entries.contains { $0.path == "spool.postgres.password" && $0.text == "<secret from $CUTOVER_SECRET_SPOOL_PASSWORD>" })
        #expect(!config.entries.contains { $0.text.contains("hunter2") })
        #expect(
            error(yaml) == "FILE:1:79: spool.postgres.password: secret environment variable CUTOVER_SECRET_SPOOL_PASSWORD is not set")
    }

    @Test func flagsAndOverridesGiveTheURLForm() throws {
        let url = "postgresql://cutover@127.0.0.1:5432/cutover"
        #expect(try load("spool: ./here\n", flags: ["--spool": [url]]).spool.postgres?.url.text == url)
        #expect(try load("spool: ./here\n", environment: ["CUTOVER_SPOOL": url]).spool.postgres?.url.text == url)
        let keys = try load("", environment: ["CUTOVER_SPOOL_POSTGRES_URL": url, "CUTOVER_SPOOL_POSTGRES_LEASE_SECONDS": "12"]).spool.postgres
        #expect(keys?.url.text == url)
        #expect(keys?.leaseSeconds == 12)
        let overridden = try load(
            "spool:\n  postgres:\n    url: \(url)\n    instance_id: a\n", environment: ["CUTOVER_SPOOL_POSTGRES_INSTANCE_ID": "b"])
        #expect(overridden.spool.postgres?.instanceID == "b")
        #expect(try load("spool: ./here\n", flags: ["--spool": ["/elsewhere"]]).spool == .directory("/elsewhere"))
    }

    @Test func aBadURLIsReportedAtItsLine() throws {
        let expectation = "expected \(PostgresURL.expectation)"
        #expect(error("spool:\n  postgres:\n    url: mysql://db/cutover\n") == "FILE:3:10: spool.postgres.url: \(expectation)")
        // A password in the URL would be printed by check-config and logged.
        #expect(
            error("spool:\n  postgres:\n    url: postgresql://cutover:hunter2@db/cutover\n") == "FILE:3:10: spool.postgres.url: \(expectation)")
        #expect(error("spool:\n  postgres:\n    url: postgresql://db:99999/cutover\n") == "FILE:3:10: spool.postgres.url: \(expectation)")
        #expect(error("spool: postgresql://\n")?.hasPrefix("FILE:1:8: spool: expected a directory, ") == true)
        #expect(error("spool:\n  postgres:\n    lease_seconds: 5\n") == "FILE:3:5: spool.postgres.url: missing required key")
        #expect(error("spool:\n  postgress: {}\n")?.hasPrefix("FILE:2:3: unknown key spool.postgress") == true)
    }

    @Test func thePasswordIsASecretWithNoOverride() throws {
        let message = try #require(error("", environment: ["CUTOVER_SPOOL_POSTGRES_PASSWORD": "hunter2"]))
        #expect(message.contains("spool.postgres.password is a secret"))
    }

    @Test func aPostgreSQLSpoolWithNoDestinationsNeedsASink() throws {
        let message = try #require(error("spool: {postgres: {url: postgresql://cutover@db/cutover}}\n"))
        #expect(message.hasPrefix("FILE:1:25: spool.postgres.url: with no destinations, set sink:"))
        #expect(error("spool: {postgres: {url: postgresql://cutover@db/cutover}}\nsink: /tmp/events.jsonl\n") == nil)
    }

    @Test func changingTheSpoolNeedsARestart() throws {
        let before = try load("spool: ./here\n")
        let after = try load("spool:\n  postgres:\n    url: postgresql://cutover@db/cutover\n    lease_seconds: 20\n")
        #expect(after.restartOnlyChanges(since: before) == ["spool", "spool.postgres.lease_seconds", "spool.postgres.url"])
    }
}

/// `--spool URL` over a file whose `spool.postgres` names the same database keeps what the file says of it.
struct SpoolFlagOverMappingTests {
    @Test func theFlagNamingTheFilesDatabaseKeepsItsPasswordLeaseAndInstance() throws {
        let url = "postgresql://cutover@db:5432/cutover"
        let yaml = "spool:\n  postgres:\n    url: \(url)\n    password: {env: SPOOL_PASSWORD}\n    instance_id: cutover-0\n    lease_seconds: 12\n"
        let same = try ConfigFile.load(yaml: yaml, file: "FILE", environment: [:], flags: ["--spool": [url]]).spool.postgres
        #expect(same?.password == Secret(.environment("SPOOL_PASSWORD")) && same?.instanceID == "cutover-0" && same?.leaseSeconds == 12)
        let other = try ConfigFile.load(yaml: yaml, file: "FILE", environment: [:], flags: ["--spool": ["postgresql://cutover@elsewhere/x"]])
        #expect(other.spool.postgres?.password == nil && other.spool.postgres?.url.text == "postgresql://cutover@elsewhere/x")
        let settings = try SpoolSettings(argument: url, config: try ConfigFile.load(yaml: yaml, file: "FILE", environment: [:]), environment: ["SPOOL_PASSWORD": "pw"])
        #expect(settings == .postgres(.init(url: url, password: "pw", leaseSeconds: 12, instanceID: "cutover-0")))
    }
}
