@testable import CutoverConfiguration
@testable import CutoverDelivery
import CutoverHTTP
import CutoverHTTPServer
@testable import CutoverIngress
@testable import CutoverOperations
import CutoverSockets
import CutoverWebhooks
import Foundation
import Testing

struct RetryPolicyTests {
    let policy = RetryPolicy(initialDelay: 1, maxDelay: 60, horizon: 3600)

    @Test func backoffCeilingDoublesPerAttemptUpToTheMaximum() {
        // With the jitter at its top (1.0) the delay is the ceiling itself.
        let delays = (1...8).map { attempts in
            guard case .retry(let at) = policy.decide(attempts: attempts, arrivedAt: 0, now: 100, unitRandom: 1) else { return -1.0 }
            return at - 100
        }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60])
    }

    @Test func fullJitterSpansZeroToTheCeiling() {
        #expect(policy.decide(attempts: 4, arrivedAt: 0, now: 100, unitRandom: 0) == .retry(at: 100))
        #expect(policy.decide(attempts: 4, arrivedAt: 0, now: 100, unitRandom: 0.5) == .retry(at: 104))
    }

    @Test func retryAfterIsHonouredWhenLongerThanTheBackoff() {
        #expect(policy.decide(attempts: 1, arrivedAt: 0, now: 100, retryAfter: 30, unitRandom: 0.5) == .retry(at: 130))
        #expect(policy.decide(attempts: 6, arrivedAt: 0, now: 100, retryAfter: 3, unitRandom: 1) == .retry(at: 132))
    }

    @Test func pastTheHorizonTheDeliveryIsDeadLettered() {
        guard case .deadLetter(let reason) = policy.decide(attempts: 3, arrivedAt: 0, now: 3599, unitRandom: 1) else {
            Issue.record("expected a dead letter")
            return
        }
        #expect(reason.contains("3600"))
    }

    @Test func hugeAttemptCountsDoNotOverflow() {
        #expect(policy.decide(attempts: 10_000, arrivedAt: 0, now: 10, unitRandom: 1) == .retry(at: 70))
    }
}

struct QueryStringTests {
    @Test func splitsPathAndDecodesParameters() {
        let (path, parameters) = QueryString.split("/cloud?hub.mode=subscribe&hub.verify_token=a%20b+c&hub.challenge=12&hub.mode=other")
        #expect(path == "/cloud")
        #expect(parameters["hub.mode"] == "subscribe", "the first value wins")
        #expect(parameters["hub.verify_token"] == "a b c")
        #expect(parameters["hub.challenge"] == "12")
    }

    @Test func malformedEscapesAreDropped() {
        #expect(QueryString.split("/x?a=%zz&b=%e2%82%ac").parameters == ["b": "€"])
        #expect(QueryString.split("/x?a=%ff").parameters.isEmpty, "invalid UTF-8 is not a value")
    }

    @Test func constantTimeEqualityComparesWholeStrings() {
        #expect(ConstantTime.equals("secret", "secret"))
        #expect(!ConstantTime.equals("secret", "secreT"))
        #expect(!ConstantTime.equals("secret", "secret2"))
    }
}

struct ConfigTests {
    @Test func emptyConfigIsTheEmbeddedDefault() throws {
        let settings = try RelaySettings(config: CutoverConfig(), environment: [:])
        #expect(settings.listen?.description == "127.0.0.1:8080")
        #expect(settings.onpremRoutes.keys.sorted() == ["default"])
        #expect(settings.signaturesDisabled)
        guard case .jsonLinesFile(let path) = settings.destinations.first?.target else {
            Issue.record("the default destination is the JSON-lines sink")
            return
        }
        #expect(path == "./.cutover/events.jsonl")
    }

    @Test func yamlWithSecretsFromEnvironmentAndFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "from-file\n".write(to: directory.appendingPathComponent("secret"), atomically: true, encoding: .utf8)
        let file = directory.appendingPathComponent("cutover.yml")
        try """
        listen: 0.0.0.0:9000
        limits:
          max_body_bytes: 1024
        cloud:
          verify_token: {env: TOKEN}
          app_secrets: [literal-secret, {file: \(directory.path)/secret}]
        onprem:
          routes:
            - name: shop
              phone_number_id: "123"
        destinations:
          - name: endpoint
            url: http://127.0.0.1:9001/hook
            format: cloud
            app_secret: {env: TOKEN}
        """.write(to: file, atomically: true, encoding: .utf8)
        let config = try CutoverConfig.load(path: file.path)
        let settings = try RelaySettings(config: config, environment: ["TOKEN": "t0k3n"])
        #expect(settings.listen?.port == 9000)
        #expect(settings.server.limits.maxBodyBytes == 1024)
        #expect(settings.verifyToken == "t0k3n")
        #expect(settings.appSecrets == ["literal-secret", "from-file"])
        #expect(settings.onpremRoutes["shop"]?.business.phoneNumberID == "123")
        #expect(settings.destinations.first?.format == .cloud)
        #expect(settings.destinations.first?.appSecret == "t0k3n")
    }

    @Test func missingSecretEnvironmentVariableIsAnError() throws {
        var config = CutoverConfig()
        config.cloud.appSecrets = [Secret(.environment("NOT_SET_ANYWHERE"))]
        #expect(throws: ConfigError.self) { try RelaySettings(config: config, environment: [:]) }
    }

    @Test func wrongTypeNamesTheKeyPath() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-bad-\(UUID().uuidString).yml")
        defer { try? FileManager.default.removeItem(at: file) }
        try "limits:\n  max_body_bytes: lots\n".write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try CutoverConfig.load(path: file.path)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("limits.max_body_bytes"))
        }
    }

    @Test func secretsAreNeverPrinted() {
        #expect(Secret(.literal("hunter2")).description == "<secret>")
        #expect(!Secret(.environment("X")).description.contains("hunter2"))
    }
}
