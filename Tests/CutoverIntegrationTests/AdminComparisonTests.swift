import CutoverTestSupport
import Foundation
import Testing

/// The real binary with a primary downstream answering 200 and a shadow answering 500 "shadow
/// broke": `GET /admin/comparison` lists each signed webhook's event as a disagreement with both
/// responses, answers the same after a restart (it is spool data), and 401 without the token.
@Suite(.serialized)
struct AdminComparisonTests {
    static let secret = "comparison-app-secret"
    static let token = "admin-token-for-the-comparison-0123"
    static let auth = ["-H", "Authorization: Bearer \(token)"]

    /// A signed Cloud body with one message per id, each from its own contact.
    static func body(messageIDs: [String]) -> Data {
        let messages = messageIDs.enumerated().map { index, id in
            #"{"from":"1650555\#(1000 + index)","id":"\#(id)","timestamp":"1700000000","type":"text","text":{"body":"hi"}}"#
        }
        let contacts = messageIDs.indices.map { #"{"profile":{"name":"Sheena"},"wa_id":"1650555\#(1000 + $0)"}"# }
        return Data(
            """
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":\
            {"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},\
            "contacts":[\(contacts.joined(separator: ","))],"messages":[\(messages.joined(separator: ","))]}}]}]}
            """.utf8)
    }

    private func start(spool: TemporaryDirectory, config: String) throws -> (CutoverServer, admin: String) {
        let cutover = try CutoverServer(
            spool: spool.path("spool"), arguments: ["--config", config, "--app-secret", Self.secret],
            environment: ["CUTOVER_TEST_ADMIN_TOKEN": Self.token])
        let marker = "admin API at http://127.0.0.1:"
        let line = try cutover.process.waitForLine(.stderr) { $0.contains(marker) }
        guard let port = Int(line[line.range(of: marker)!.upperBound...].prefix { $0.isNumber }) else {
            throw TestFailure("no admin port in \(line)")
        }
        return (cutover, "http://127.0.0.1:\(port)/admin")
    }

    private func json(_ url: String) throws -> [String: Any] {
        let response = try curl([url] + Self.auth)
        guard response.status == 200, let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any] else {
            throw TestFailure("GET \(url) answered \(response.status): \(response.body)")
        }
        return object
    }

    /// Polls until `condition` holds: the outcomes are recorded after the downstreams answered.
    private func waitForJSON(_ url: String, timeout: TimeInterval = 30, until condition: ([String: Any]) -> Bool) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let object = try json(url)
            if condition(object) { return object }
            guard Date() < deadline else { throw TestFailure("\(url) never reached the expected state: \(object)") }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// The value of one series of /metrics (labels in the exposition's order), waiting up to
    /// `timeout` for it to reach `expected`; what it last was otherwise.
    private func waitForMetric(_ series: String, in cutover: CutoverServer, expected: Double? = nil, timeout: TimeInterval = 20) throws -> Double? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let exposition = try curl([cutover.base + "/metrics"]).body
            let value = exposition.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            if expected == nil || value == expected || Date() >= deadline { return value }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    @Test func aShadowAnswering500IsListedWithItsBodyAndSurvivesARestart() throws {
        let primary = try Downstream()
        defer { primary.stop() }
        let shadow = try Downstream(arguments: ["--status", "500", "--body", "shadow broke"])
        defer { shadow.stop() }
        let directory = try TemporaryDirectory()
        let config = directory.path("cutover.yml")
        try """
        admin:
          listen: 127.0.0.1:0
          token: {env: CUTOVER_TEST_ADMIN_TOKEN}
        destinations:
          - name: legacy
            url: \(primary.url)
            format: cloud
          - name: new
            url: \(shadow.url)
            format: cloud
            role: shadow
            dead_letter_statuses: [500]
        """.write(toFile: config, atomically: true, encoding: .utf8)

        var (cutover, admin) = try start(spool: directory, config: config)
        defer { cutover.kill() }
        #expect(try curl([admin + "/comparison"]).status == 401)
        #expect(try curl([admin + "/comparison", "-H", "Authorization: Bearer wrong-token-for-the-comparison-01"]).status == 401)

        let ids = ["wamid.CMP1", "wamid.CMP2", "wamid.CMP3"]
        let body = Self.body(messageIDs: ids)
        let file = directory.path("body.json")
        try body.write(to: URL(fileURLWithPath: file))
        let posted = try curl([
            "-X", "POST", "-H", "Content-Type: application/json",
            "-H", "X-Hub-Signature-256: \(try pythonSignature(body: body, secret: Self.secret))",
            "--data-binary", "@\(file)", "\(cutover.base)/cloud",
        ])
        #expect(posted.status == 200)

        let answer = try waitForJSON(admin + "/comparison") { object in
            ((object["pairs"] as? [[String: Any]])?.first?["disagree"] as? Int) == ids.count
        }
        let pair = try #require((answer["pairs"] as? [[String: Any]])?.first)
        #expect(pair["primary"] as? String == "legacy" && pair["shadow"] as? String == "new")
        #expect(pair["compared"] as? Int == 3 && pair["primary_accepted"] as? Int == 3 && pair["shadow_accepted"] as? Int == 0)
        #expect(pair["agree"] as? Int == 0 && pair["pending"] as? Int == 0)
        let disagreements = try #require(answer["disagreements"] as? [[String: Any]])
        #expect(disagreements.compactMap { $0["event_id"] as? String } == ids.map { "msg:" + $0 })
        #expect(answer["next_after"] is NSNull)
        for disagreement in disagreements {
            let primarySide = try #require(disagreement["primary"] as? [String: Any])
            let shadowSide = try #require(disagreement["shadow"] as? [String: Any])
            #expect(primarySide["status"] as? Int == 200 && primarySide["state"] as? String == "delivered")
            #expect(primarySide["body_prefix"] as? String == "ok")
            #expect(shadowSide["status"] as? Int == 500 && shadowSide["state"] as? String == "dead")
            #expect(shadowSide["body_prefix"] as? String == "shadow broke" && shadowSide["body_prefix_base64"] as? Bool == false)
            #expect((shadowSide["latency_ms"] as? Double).map { $0 > 0 } == true)
            #expect((shadowSide["error"] as? String)?.contains("HTTP 500") == true)
            #expect((disagreement["received_at"] as? String)?.hasSuffix("Z") == true)
        }

        // Counted once per event, by the side that ended second (the counter follows the commit).
        let series = #"cutover_shadow_comparisons_total{primary="legacy",shadow="new",result="disagree"}"#
        #expect(try waitForMetric(series, in: cutover, expected: 3) == 3)
        #expect(try waitForMetric(#"cutover_shadow_comparisons_total{primary="legacy",shadow="new",result="agree"}"#, in: cutover) == 0)

        // Paging: two, then the third after the second's seq.
        let first = try json(admin + "/comparison?limit=2")
        let next = try #require(first["next_after"] as? Int)
        #expect((first["disagreements"] as? [Any])?.count == 2)
        let rest = try json(admin + "/comparison?limit=2&after=\(next)")
        #expect((rest["disagreements"] as? [[String: Any]])?.compactMap { $0["event_id"] as? String } == ["msg:wamid.CMP3"])
        #expect(((try json(admin + "/comparison?primary=new&shadow=legacy"))["disagreements"] as? [Any])?.count == 3)
        #expect((try json(admin + "/comparison?shadow=other"))["pairs"] as? [Any] != nil)
        #expect(try curl([admin + "/comparison?limit=0"] + Self.auth).status == 400)

        // The shadow's attempt, as /admin/deliveries/{id} lists it.
        let shadowID = try #require((disagreements.first?["shadow"] as? [String: Any])?["delivery_id"] as? Int)
        let attempts = try #require((try json(admin + "/deliveries/\(shadowID)"))["attempts"] as? [[String: Any]])
        #expect(attempts.first?["body_prefix"] as? String == "shadow broke")
        #expect(attempts.first?["latency_ms"] is Double)

        cutover.process.terminate()
        (cutover, admin) = try start(spool: directory, config: config)
        let again = try json(admin + "/comparison")
        #expect(NSDictionary(dictionary: again) == NSDictionary(dictionary: answer), "the same answer after a restart")
    }
}
