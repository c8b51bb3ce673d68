import CutoverTestSupport
import Foundation
import Testing

/// Operations on a running `cutover serve`: /metrics read by prometheus_client's parser, /readyz,
/// JSON log lines with request ids, and the admin API.
@Suite struct OperationsTests {
    // MARK: /metrics

    @Test func countersMoveAsRequestsFlow() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(
            spool: spool.path, arguments: ["--forward", downstream.url, "--format", "canonical", "--app-secret", "metrics-test-secret"])
        defer { cutover.kill() }

        let before = try scrape(cutover.base)
        for index in 0..<3 {
            let response = try curl(["-X", "POST", cutover.base + "/onprem/default", "--data-binary", onPremMessage(id: "wamid.metrics-\(index)")])
            #expect(response.status == 200)
        }
        let unsigned = try curl(["-X", "POST", cutover.base + "/cloud", "--data-binary", "{}"])
        #expect(unsigned.status == 401)
        let unknown = try curl([cutover.base + "/wp-login.php"])
        #expect(unknown.status == 404)
        #expect(downstream.waitForRequests(3) != nil)
        // The outcome is recorded after the downstream answered: wait for the counter, not for time.
        let after = try waitForScrape(cutover.base) {
            $0.value("cutover_deliveries_total", ["destination": "forward", "outcome": "delivered"]) >= 3
        }

        func delta(_ name: String, _ labels: [String: String] = [:]) -> Double {
            after.value(name, labels) - before.value(name, labels)
        }
        #expect(delta("cutover_requests_total", ["route": "/onprem/default", "status": "200"]) == 3)
        #expect(delta("cutover_requests_total", ["route": "/cloud", "status": "401"]) == 1)
        #expect(delta("cutover_requests_total", ["route": "other", "status": "404"]) == 1, "unknown paths share one label")
        #expect(delta("cutover_signature_failures_total", ["reason": "missing"]) == 1)
        #expect(delta("cutover_events_total", ["type": "com.whatsapp.message.received", "api": "onprem"]) == 3)
        #expect(delta("cutover_deliveries_total", ["destination": "forward", "role": "primary", "outcome": "delivered"]) == 3)
        #expect(delta("cutover_delivery_responses_total", ["destination": "forward", "class": "2xx"]) == 3)
        #expect(delta("cutover_delivery_seconds_count", ["destination": "forward"]) == 3)
        #expect(delta("cutover_spool_commit_seconds_count") == 3)
        #expect(delta("cutover_request_body_bytes_count", ["route": "/onprem/default"]) == 3)
        #expect(delta("cutover_connections_opened_total") >= 5)
        #expect(after.value("cutover_connections_open") >= 1, "the scrape's own connection is open")
        #expect(after.families["cutover_spool_commit_seconds"] == "histogram")
        #expect(after.families["cutover_queue_depth"] == "gauge")
        #expect(after.families["cutover_requests"] == "counter")
        #expect(after.samples.contains { $0.name == "cutover_oldest_pending_age_seconds" && $0.labels["destination"] == "forward" })
    }

    // MARK: /healthz and /readyz

    @Test func readinessFollowsTheSpool() throws {
        let root = try TemporaryDirectory()
        let spoolPath = root.url.appendingPathComponent("spool").path
        let cutover = try CutoverServer(spool: spoolPath, arguments: [])
        defer { cutover.kill() }
        #expect(try curl([cutover.base + "/healthz"]).status == 200)
        let ready = try curl([cutover.base + "/readyz"])
        #expect(ready.status == 200)
        #expect(ready.body.hasPrefix("ready"))

        // The spool directory disappears (a wrong cleanup job, an unmounted volume): not ready,
        // whatever the process's privileges. Alive all the same.
        try FileManager.default.removeItem(atPath: spoolPath)
        let gone = try curl([cutover.base + "/readyz"])
        #expect(gone.status == 503)
        #expect(gone.body.contains("spool"), "the reason names the spool: \(gone.body)")
        #expect(try curl([cutover.base + "/healthz"]).status == 200)
    }

    // MARK: Logs

    @Test func logLinesAreJSONWithRequestIDs() throws {
        let spool = try TemporaryDirectory()
        let secret = "log-test-secret-value"
        let cutover = try CutoverServer(
            spool: spool.path, arguments: ["--log-format", "json", "--log-level", "debug", "--app-secret", secret])
        defer { cutover.kill() }

        let given = try exchange(["-X", "POST", cutover.base + "/cloud", "-H", "X-Request-Id: test-req-42", "--data-binary", "{}"])
        #expect(given.status == 401)
        #expect(given.headers["x-request-id"] == "test-req-42", "a sane incoming id is kept")
        let generated = try exchange([cutover.base + "/healthz"])
        let generatedID = try #require(generated.headers["x-request-id"])
        #expect(!generatedID.isEmpty && generatedID != "test-req-42")
        let insane = try exchange([cutover.base + "/healthz", "-H", "X-Request-Id: has spaces {and} \"quotes\""])
        #expect(insane.headers["x-request-id"].map { !$0.contains(" ") } == true, "an unsafe id is replaced")
        let overH2 = try exchange(["--http2-prior-knowledge", cutover.base + "/healthz", "-H", "X-Request-Id: h2-req-7"])
        #expect(overH2.status == 200)
        #expect(overH2.headers["x-request-id"] == "h2-req-7", "HTTP/2 answers carry the id too")

        let lines = try #require(
            cutover.process.stderr.wait { lines in
                lines.contains { $0.contains("X-Hub-Signature-256") && $0.contains("test-req-42") }
                    && lines.contains { $0.contains(generatedID) }
            })
        var objects: [[String: Any]] = []
        for line in lines where !line.isEmpty {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let parsed = try #require(object, "not a JSON object: \(line)")
            #expect(parsed["timestamp"] is String && parsed["level"] is String && parsed["message"] is String)
            #expect(parsed["label"] as? String == "cutover")
            objects.append(parsed)
        }
        let rejection = try #require(objects.first { ($0["message"] as? String)?.contains("X-Hub-Signature-256") == true })
        #expect(rejection["level"] as? String == "warning")
        #expect((rejection["metadata"] as? [String: Any])?["request_id"] as? String == "test-req-42")
        let access = objects.filter { ($0["metadata"] as? [String: Any])?["request_id"] as? String == generatedID }
        #expect(access.contains { $0["message"] as? String == "request" && $0["level"] as? String == "debug" })
        #expect(!lines.contains { $0.contains(secret) }, "the app secret never reaches the log")
    }

    // MARK: Threads

    /// The loops and the decode workers are both sized from the CPU affinity mask: pinned to one
    /// core (as `make bench` runs it, or a cpuset), one of each, on a machine of any size.
    @Test func threadsAreSizedFromTheCoresTheProcessMayRunOn() throws {
        let spool = try TemporaryDirectory()
        let pinned = try PeerProcess("/usr/bin/taskset", ["-c", "0", cutoverBinary, "serve", "--listen", "127.0.0.1:0", "--spool", spool.path("pinned")])
        defer { pinned.kill() }
        #expect(try pinned.waitForLine(.stderr) { $0.contains("threads:") }.contains("threads: 1 I/O loops, 1 decode workers"))

        let allowed = try coresAllowedByTheKernel()
        let free = try PeerProcess(cutoverBinary, ["serve", "--listen", "127.0.0.1:0", "--spool", spool.path("free")])
        defer { free.kill() }
        #expect(try free.waitForLine(.stderr) { $0.contains("threads:") }.contains("threads: \(allowed) I/O loops, \(allowed) decode workers"))
    }

    // MARK: Admin API

    @Test func adminAPIListsRetriesAndPurgesDeadLetters() throws {
        let downstream = try Downstream(arguments: ["--status", "410"])
        defer { downstream.stop() }
        let directory = try TemporaryDirectory()
        let token = "admin-token-for-the-test-0123456789"
        let config = directory.url.appendingPathComponent("cutover.yml")
        try """
        admin:
          listen: 127.0.0.1:0
          token: {env: CUTOVER_TEST_ADMIN_TOKEN}
        destinations:
          - name: gone
            url: \(downstream.url)
            format: canonical
        """.write(to: config, atomically: true, encoding: .utf8)
        let cutover = try CutoverServer(
            spool: directory.url.appendingPathComponent("spool").path, arguments: ["--config", config.path],
            environment: ["CUTOVER_TEST_ADMIN_TOKEN": token])
        defer { cutover.kill() }
        let admin = try cutover.adminURL()
        let auth = ["-H", "Authorization: Bearer \(token)"]

        #expect(try curl([admin + "/stats"]).status == 401)
        #expect(try curl([admin + "/stats", "-H", "Authorization: Bearer wrong-token-of-the-same-size-012345"]).status == 401)
        #expect(try curl([cutover.base + "/admin/stats"] + auth).status == 404, "the admin API is not on the webhook listener")

        for index in 0..<2 {
            #expect(try curl(["-X", "POST", cutover.base + "/onprem/default", "--data-binary", onPremMessage(id: "wamid.gone-\(index)")]).status == 200)
        }
        // 410 dead-letters at once; wait until both are recorded.
        let dead = try waitForJSON(admin + "/deliveries?state=dead&destination=gone", auth) {
            ($0["deliveries"] as? [[String: Any]])?.count == 2
        }
        let deliveries = try #require(dead["deliveries"] as? [[String: Any]])
        #expect(deliveries.allSatisfy { $0["state"] as? String == "dead" && $0["last_status"] as? Int == 410 })

        let stats = try json(admin + "/stats", auth)
        #expect(stats["dead_letters"] as? Int == 2)
        #expect(((stats["destinations"] as? [String: Any])?["gone"] as? [String: Any])?["dead"] as? Int == 2)

        let firstID = try #require(deliveries.first?["id"] as? Int)
        let shown = try json(admin + "/deliveries/\(firstID)", auth)
        let attempts = try #require(shown["attempts"] as? [[String: Any]])
        #expect(attempts.count == 1)
        #expect(attempts.first?["status"] as? Int == 410 && attempts.first?["outcome"] as? String == "dead")
        #expect((shown["event"] as? [String: Any])?["type"] as? String == "com.whatsapp.message.received")
        #expect(try curl([admin + "/deliveries/999999"] + auth).status == 404)

        // Retry one: the workers are poked and the revived letter goes out again (and, still 410, dies again).
        #expect(try curl(["-X", "POST", admin + "/retry"] + auth).status == 400, "retry needs a selection")
        let retried = try exchange(["-X", "POST", admin + "/retry", "-d", "id=\(firstID)"] + auth)
        #expect(retried.status == 200)
        #expect(try JSONSerialization.jsonObject(with: Data(retried.body.utf8)) as? [String: Int] == ["revived": 1])
        #expect(downstream.waitForRequests(3) != nil)
        let again = try waitForJSON(admin + "/deliveries/\(firstID)", auth) {
            ($0["attempts"] as? [[String: Any]])?.count == 2 && ($0["delivery"] as? [String: Any])?["state"] as? String == "dead"
        }
        #expect((again["attempts"] as? [[String: Any]])?.last?["attempt"] as? Int == 2, "attempt numbering goes on after a revive")

        // Purge needs confirm=true; without it nothing is deleted and the count is shown.
        let unconfirmed = try exchange(["-X", "POST", admin + "/purge?target=dead&destination=gone"] + auth)
        #expect(unconfirmed.status == 400)
        #expect((try JSONSerialization.jsonObject(with: Data(unconfirmed.body.utf8)) as? [String: Any])?["would_delete"] as? Int == 2)
        #expect((try json(admin + "/stats", auth))["dead_letters"] as? Int == 2)
        let purged = try exchange(["-X", "POST", admin + "/purge?target=dead&confirm=true"] + auth)
        #expect(purged.status == 200)
        #expect((try JSONSerialization.jsonObject(with: Data(purged.body.utf8)) as? [String: Any])?["deleted"] as? Int == 2)
        #expect(((try json(admin + "/deliveries?state=dead", auth))["deliveries"] as? [Any])?.isEmpty == true)
    }
}

// MARK: Helpers

private func onPremMessage(id: String) -> String {
    """
    {"contacts":[{"profile":{"name":"Kerry"},"wa_id":"16315551234"}],\
    "messages":[{"from":"16315551234","id":"\(id)","timestamp":"1518694235","text":{"body":"Hello"},"type":"text"}]}
    """
}

/// A parsed scrape: what prometheus_client's parser made of GET /metrics.
struct Scrape {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var families: [String: String]
    var samples: [Sample]

    /// The sum of the samples named `name` whose labels include `labels` (0 when there are none).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }
}

private func scrape(_ base: String) throws -> Scrape {
    let response = try curl([base + "/metrics"])
    guard response.status == 200 else { throw TestFailure("GET /metrics answered \(response.status)") }
    let python = try Repo.consumersPython.get()
    let parsed = try runCommand(
        python, [Repo.path("scripts/consumers/parse_prometheus.py")], stdin: Data(response.body.utf8))
    guard parsed.status == 0, let object = try JSONSerialization.jsonObject(with: Data(parsed.output.utf8)) as? [String: Any] else {
        throw TestFailure("prometheus_client could not parse /metrics: \(parsed.error)\n\(response.body)")
    }
    let samples = (object["samples"] as? [[String: Any]] ?? []).map { sample in
        Scrape.Sample(
            name: sample["name"] as? String ?? "", labels: sample["labels"] as? [String: String] ?? [:],
            value: (sample["value"] as? NSNumber)?.doubleValue ?? .nan)
    }
    return Scrape(families: object["families"] as? [String: String] ?? [:], samples: samples)
}

/// Scrapes until `condition` holds (the thing counted happens after what the test can observe).
private func waitForScrape(_ base: String, timeout: TimeInterval = 20, until condition: (Scrape) -> Bool) throws -> Scrape {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let result = try scrape(base)
        if condition(result) { return result }
        guard Date() < deadline else { throw TestFailure("metrics never reached the expected state") }
        Thread.sleep(forTimeInterval: 0.1)
    }
}
