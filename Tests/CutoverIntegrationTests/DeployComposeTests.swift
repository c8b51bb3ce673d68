import CutoverTestSupport
import Foundation
import Testing

/// deploy/compose.yaml against the Compose Specification's JSON schema, and what the schema cannot
/// see: two Cutover instances on the PostgreSQL spool behind nginx, each with a healthcheck and
/// a stop grace longer than the drain.
struct DeployComposeTests {
    static func validate(_ path: String) throws -> CommandResult {
        try runCommand(try Deploy.python.get(), [Repo.path("scripts/deploy/validate_compose.py"), path])
    }

    static func services() throws -> [String: [String: Any]] {
        let compose = try #require(try Deploy.documents(Deploy.path("compose.yaml")).first)
        return try #require(compose["services"] as? [String: [String: Any]])
    }

    static let instances = ["cutover-a", "cutover-b"]

    @Test func theSchemaAcceptsIt() throws {
        let result = try Self.validate(Deploy.path("compose.yaml"))
        #expect(result.status == 0, "\(result.output)\(result.error)")
        #expect(result.output.contains("valid (Compose Specification"), "\(result.output)")
    }

    /// The check above could fail: a misspelt key is rejected, naming where it is.
    @Test func theSchemaRejectsAMisspeltKey() throws {
        let directory = try TemporaryDirectory(prefix: "cutover-compose")
        let file = directory.path("compose.yaml")
        let text = try String(contentsOfFile: Deploy.path("compose.yaml"), encoding: .utf8)
        try text.replacingOccurrences(of: "stop_grace_period: 60s", with: "stop_grace_priod: 60s").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try Self.validate(file)
        #expect(result.status == 1)
        #expect(result.output.contains("$.services['cutover-a']") && result.output.contains("'stop_grace_priod' was unexpected"), "\(result.output)")
    }

    @Test func twoInstancesShareTheConfigAndItsSecretsComeFromTheEnvironment() throws {
        let services = try Self.services()
        #expect(Set(services.keys) == Set(Self.instances + ["postgres", "nginx"]))
        let configText = try String(contentsOfFile: Deploy.path("compose/cutover.yml"), encoding: .utf8)
        let secrets = Set(Deploy.placeholderSecrets(for: configText).keys)
        for name in Self.instances {
            let service = try #require(services[name])
            #expect(service["command"] as? [String] == ["serve", "--config", "/etc/cutover/cutover.yml"], "\(name)")
            let volumes = service["volumes"] as? [String] ?? []
            #expect(volumes.contains("./compose/cutover.yml:/etc/cutover/cutover.yml:ro"), "\(name): \(volumes)")
            let environment = try #require(service["environment"] as? [String: String])
            #expect(secrets.isSubset(of: environment.keys), "\(name) passes \(environment.keys.sorted()), the config names \(secrets.sorted())")
            for (key, value) in environment {
                #expect(value.hasPrefix("${") && value.contains(":?"), "\(name): \(key) is not a required variable: \(value)")
            }
            let dependsOn = service["depends_on"] as? [String: [String: String]]
            #expect(dependsOn?["postgres"]?["condition"] == "service_healthy", "\(name)")
        }
        let build = try #require(services["cutover-a"]?["build"] as? [String: String])
        #expect(FileManager.default.fileExists(atPath: Deploy.path(build["context"]! + "/" + build["dockerfile"]!)))
    }

    @Test func everyServiceHasAHealthcheckAndTheInstancesOutlastTheirDrain() throws {
        let services = try Self.services()
        for (name, service) in services {
            let test = (service["healthcheck"] as? [String: Any])?["test"] as? [String]
            #expect(test?.first == "CMD", "\(name): \(String(describing: test))")
        }
        let config = try #require(try Deploy.documents(Deploy.path("compose/cutover.yml")).first)
        let drain = Deploy.drainSeconds(config: config)
        for name in Self.instances {
            let grace = try Deploy.seconds(try #require(services[name]?["stop_grace_period"] as? String))
            #expect(grace > drain, "\(name): stop_grace_period \(grace) s, drain up to \(drain) s")
        }
    }

    @Test func nginxBalancesExactlyTheInstancesOnTheirListenPort() throws {
        let services = try Self.services()
        let nginx = try #require(services["nginx"])
        #expect((nginx["volumes"] as? [String])?.contains("./nginx/nginx.conf:/etc/nginx/nginx.conf:ro") == true)
        let config = try #require(try Deploy.documents(Deploy.path("compose/cutover.yml")).first)
        let port = try #require((config["listen"] as? String)?.split(separator: ":").last.map(String.init))
        let upstream = try NginxConfig(path: Deploy.path("nginx/nginx.conf")).upstreamServers
        #expect(upstream == Self.instances.map { "\($0):\(port)" }, "upstream \(upstream)")
    }
}

/// The parts of deploy/nginx/nginx.conf the tests read.
struct NginxConfig {
    let text: String

    init(path: String) throws { text = try String(contentsOfFile: path, encoding: .utf8) }

    /// `server HOST:PORT ...;` lines of the `upstream` block, in order.
    var upstreamServers: [String] {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("server ") && !$0.hasPrefix("server {") }
            .compactMap { $0.split(separator: " ").dropFirst().first.map { String($0).trimmingCharacters(in: [";"]) } }
    }
}
