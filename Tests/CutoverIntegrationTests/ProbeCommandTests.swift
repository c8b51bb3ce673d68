import CutoverTestSupport
import CutoverWebhooks
import Foundation
import Testing

/// `cutover probe`, the real binary, against the Python downstream: signed in each format, the
/// downstream verifying the signatures, once accepting everything and once refusing voice notes;
/// then an unreachable endpoint, a usage error, a type filter, a config's destination and a dry run.
@Suite(.serialized)
struct ProbeCommandTests {
    private static let appSecret = "probe-app-secret"
    private static let signingSecret = "whsec_" + Data("probe-standard-webhooks-key".utf8).base64EncodedString()

    /// The probe's options and the downstream's for signing in `format` (onprem has no signature:
    /// a header the endpoint would check stands in for it).
    private static func signing(_ format: String) -> (probe: [String], downstream: [String]) {
        switch format {
        case "cloud": (["--sign", "--app-secret", appSecret], ["--app-secret", appSecret])
        case "canonical": (["--sign", "--signing-secret", signingSecret], ["--signing-secret", signingSecret])
        default: (["--header", "Authorization: Bearer probe"], [])
        }
    }

    private func probe(_ arguments: [String]) throws -> CommandResult {
        try runCommand(cutoverBinary, ["probe"] + arguments)
    }

    private func results(_ result: CommandResult) throws -> [[String: Any]] {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
        return try #require(document["results"] as? [[String: Any]])
    }

    private var catalogNames: [String] {
        get throws { try ProbeCatalog.cases(runID: "names", time: 0).map(\.name) }
    }

    @Test(arguments: ["onprem", "cloud", "canonical"])
    func anEndpointThatAcceptsEverythingPassesSigned(format: String) throws {
        let (probeSigning, downstreamSigning) = Self.signing(format)
        let downstream = try Downstream(arguments: downstreamSigning)
        defer { downstream.stop() }
        let result = try probe(["--to", downstream.url, "--format", format, "--json", "--phoneless", "user_id"] + probeSigning)
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
        let rows = try results(result)
        #expect(rows.compactMap { $0["type"] as? String } == (try catalogNames), "every type listed, in catalog order")
        let accepted = rows.filter { $0["outcome"] as? String == "accepted" }
        #expect(rows.allSatisfy { ["accepted", "skipped"].contains($0["outcome"] as? String) }, "\(rows.filter { $0["outcome"] as? String != "accepted" })")
        #expect(accepted.count >= 30, "every message type at least")
        if format == "canonical" { #expect(accepted.count == rows.count, "CloudEvents carry every type") }
        let received = try #require(downstream.waitForRequests(accepted.count))
        #expect(received.count == accepted.count, "one request per type sent, none for a skipped one")
        #expect(received.allSatisfy { $0.status == 200 }, "the downstream verified every signature")
        #expect(received.allSatisfy { $0.headers["x-cutover-probe"] == "1" })
        #expect(Set(received.compactMap(\.eventID)) == Set(accepted.compactMap { $0["event_id"] as? String }))
        if format == "onprem" { #expect(received.allSatisfy { $0.headers["authorization"] == "Bearer probe" }) }
        #expect(accepted.allSatisfy { ($0["latency_ms"] as? Double).map { $0 >= 0 } == true })
    }

    @Test(arguments: ["onprem", "cloud", "canonical"])
    func anEndpointThatRefusesVoiceNotesFailsOnTheVoiceRows(format: String) throws {
        let (probeSigning, downstreamSigning) = Self.signing(format)
        let downstream = try Downstream(arguments: ["--refuse-voice"] + downstreamSigning)
        defer { downstream.stop() }
        let result = try probe(["--to", downstream.url, "--format", format] + probeSigning)
        #expect(result.status == 1, "\(result.output)\n\(result.error)")
        let rows = result.output.split(separator: "\n").map(String.init)
        let refused = rows.filter { $0.contains(" refused ") }
        #expect(refused.count == 2, "the Cloud voice note and the On-Prem one: \(refused)")
        for name in ["message.audio.voice ", "message.voice "] {
            let row = try #require(refused.first { $0.hasPrefix(name) }, "\(name) row in \(result.output)")
            #expect(row.contains(" 422 "))
            #expect(row.hasSuffix("voice notes are not supported here"), "the first line of the refusal's body")
        }
        #expect(rows.contains { $0.hasPrefix("message.audio ") && $0.contains(" accepted") }, "an audio file is no voice note")
        #expect(rows.contains { $0.hasPrefix("message.text ") && $0.contains(" 200 ") && $0.contains(" accepted") })
        #expect(rows.last?.contains("2 refused") == true, "\(rows.last ?? "")")
    }

    @Test func aWrongSecretIsRefusedByTheVerifyingDownstream() throws {
        let downstream = try Downstream(arguments: ["--app-secret", "the-real-secret"])
        defer { downstream.stop() }
        let result = try probe(["--to", downstream.url, "--format", "cloud", "--sign", "--app-secret", "a-wrong-secret", "--type", "message.text"])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("401"))
        #expect(result.output.contains("bad X-Hub-Signature-256"))
    }

    @Test func anUnreachableEndpointIsSaidSoAndExitsThree() throws {
        let port = try freePort()
        let result = try probe(["--to", "http://127.0.0.1:\(port)/hook", "--format", "cloud", "--timeout", "5"])
        #expect(result.status == 3, "\(result.output)\n\(result.error)")
        #expect(result.error.contains("cannot reach http://127.0.0.1:\(port)/hook"), "\(result.error)")
        #expect(!result.output.contains(" accepted"))
    }

    @Test func usageErrorsExitTwo() throws {
        let missingFormat = try probe(["--to", "http://127.0.0.1:9/hook"])
        #expect(missingFormat.status == 2, "\(missingFormat.error)")
        #expect(missingFormat.error.contains("--format"))
        let raw = try probe(["--to", "http://127.0.0.1:9/hook", "--format", "raw"])
        #expect(raw.status == 2)
        let unknownType = try probe(["--to", "http://127.0.0.1:9/hook", "--format", "cloud", "--type", "message.hologram"])
        #expect(unknownType.status == 2)
        #expect(unknownType.error.contains("message.hologram matches no type"), "\(unknownType.error)")
        let unsigned = try probe(["--to", "http://127.0.0.1:9/hook", "--format", "cloud", "--sign"])
        #expect(unsigned.status == 2, "--sign without a secret")
        let missingConfig = try probe(["--config", "/nonexistent/cutover.yml"])
        #expect(missingConfig.status == 2, "\(missingConfig.error)")
        #expect(missingConfig.error.contains("cannot read config file /nonexistent/cutover.yml"))
    }

    @Test func typeFiltersSendOnlyTheTypesNamed() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let result = try probe(["--to", downstream.url, "--format", "onprem", "--type", "message.interactive", "--type", "status.read", "--json"])
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
        let names = try results(result).compactMap { $0["type"] as? String }
        #expect(names == [
            "message.interactive.button_reply", "message.interactive.list_reply", "message.interactive.nfm_reply",
            "message.interactive.call_permission_reply", "status.read",
        ])
        let rows = try results(result)
        // On-Prem knows two interactive replies; the others become its `unknown` message (`unsupported: unknownMessage`).
        #expect(rows.allSatisfy { $0["outcome"] as? String == "accepted" })
        let received = try #require(downstream.waitForRequests(5))
        let types = received.compactMap { (($0.json?["messages"] as? [[String: Any]])?.first?["type"]) as? String }
        #expect(types.sorted() == ["interactive", "interactive", "unknown", "unknown"])
    }

    @Test func aConfigsDestinationIsProbedWithItsSecretAndBusiness() throws {
        let downstream = try Downstream(arguments: ["--signing-secret", Self.signingSecret])
        defer { downstream.stop() }
        let directory = try TemporaryDirectory()
        let config = directory.path + "/cutover.yml"
        try """
        onprem:
          routes:
            - name: main
              phone_number_id: "555000111"
              display_phone_number: "15550001111"
              waba_id: "777"
        destinations:
          - name: staging
            url: \(downstream.url)
            format: canonical
            signing_secret: \(Self.signingSecret)
            headers:
              X-Staging: "yes"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try probe(["--config", config, "--type", "message.text", "--type", "status.sent"])
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
        #expect(result.output.hasPrefix("probe \(downstream.url) as canonical\n"))
        let received = try #require(downstream.waitForRequests(2))
        #expect(received.allSatisfy { $0.status == 200 && $0.headers["x-staging"] == "yes" && $0.headers["webhook-signature"] != nil })
        #expect(received.allSatisfy { ($0.json?["source"] as? String) == "whatsapp:555000111" })
    }

    @Test func aDryRunPrintsTheRequestsAndSendsNothing() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let result = try probe(["--to", downstream.url, "--format", "onprem", "--dry-run", "--type", "message.voice", "--type", "field.flows"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("# message.voice  msg:wamid.CUTOVERPROBE."))
        #expect(result.output.contains("POST \(downstream.url)\n"))
        #expect(result.output.contains("X-Cutover-Probe: 1\n"))
        #expect(result.output.contains(#""type":"voice""#))
        #expect(result.output.contains("# field.flows  skipped: "))
        #expect(downstream.requests.isEmpty)
    }
}
