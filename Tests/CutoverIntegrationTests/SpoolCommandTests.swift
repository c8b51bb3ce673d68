import CutoverSpool
import CutoverTestSupport
import Foundation
import Testing

/// `cutover spool`, the real binary, against the spool of a real `cutover serve` and against a
/// spool seeded through the spool API with explicit times.
@Suite(.serialized)
struct SpoolCommandTests {
    /// A dead letter from a 410 is listed and shown while the server runs, revived by `retry`,
    /// attempted again after a restart, and deleted by `purge` only with confirmation.
    @Test func deadLetterListShowRetryAndPurge() throws {
        let downstream = try Downstream(arguments: ["--status", "410"])
        defer { downstream.stop() }
        let directory = try TemporaryDirectory()
        let spoolDirectory = directory.path + "/spool"
        let config = directory.url.appendingPathComponent("cutover.yml")
        try """
        spool: \(spoolDirectory)
        destinations:
          - name: primary
            url: \(downstream.url)
            format: canonical
        """.write(to: config, atomically: true, encoding: .utf8)
        let bodyPath = Repo.path("fixtures/onprem/cutover-inbound-text-wamid-reply.json")
        let body = try Data(contentsOf: URL(fileURLWithPath: bodyPath))

        var server: CutoverServer? = try CutoverServer(spool: spoolDirectory, arguments: ["--config", config.path])
        defer { server?.kill() }
        let url = server!.base + "/onprem/default"
        let json = ["-X", "POST", "-H", "Content-Type: application/json"]
        #expect(try curl(json + ["--data-binary", "@" + bodyPath, url]).status == 200)
        // A redelivery: answered without a write (issue 12), its dedup hit counted by the next commit.
        #expect(try curl(json + ["--data-binary", "@" + bodyPath, url]).status == 200)
        #expect(try curl(json + ["--data-binary", "not json", url]).status == 200)  // quarantined

        // The downstream answered 410 (dead-letter status by default); the outcome is committed right after.
        let first = try #require(downstream.waitForRequests(1)).first
        let dead = try waitForDeadLetters(1, config: config.path, loggedBy: try #require(server))
        #expect(dead.count == 1)
        let letter = dead[0]
        #expect(letter["destination"] as? String == "primary")
        #expect(letter["state"] as? String == "dead")
        #expect(letter["last_status"] as? Int == 410)
        #expect(letter["attempts"] as? Int == 1)
        #expect(letter["event_id"] as? String == first?.eventID)
        let deliveryID = try #require(letter["id"] as? Int)

        // stats and show read the running server's spool (--config names it).
        let stats = try jsonObject(["stats", "--config", config.path, "--json"])
        #expect(stats["dead_letters"] as? Int == 1)
        #expect(stats["quarantined"] as? Int == 1)
        #expect(stats["dedup_hits"] as? Int == 1)
        #expect(stats["requests"] as? Int == 2, "the redelivery's raw request is not stored")
        #expect((stats["destinations"] as? [String: [String: Any]])?["primary"]?["dead"] as? Int == 1)
        #expect(try jsonArray(["list", "--quarantined", "--config", config.path, "--json"]).count == 1)

        let shown = try jsonObject(["show", String(deliveryID), "--config", config.path, "--json"])
        let request = try #require(shown["request"] as? [String: Any])
        #expect((request["body"] as? String).map { Data($0.utf8) } == body, "the raw bytes as received")
        let events = try #require(shown["events"] as? [[String: Any]])
        #expect(events.count == 1)
        #expect(events.first?["id"] as? String == first?.eventID)
        #expect((events.first?["payload"] as? [String: Any])?["specversion"] as? String == "1.0")
        let history = (events.first?["deliveries"] as? [[String: Any]])?.first?["history"] as? [[String: Any]]
        #expect(history?.count == 1)
        #expect(history?.first?["status"] as? Int == 410 && history?.first?["outcome"] as? String == "dead")
        let text = try runSpool(["show", String(deliveryID), "--spool", spoolDirectory])
        #expect(text.status == 0 && text.output.contains("delivery \(deliveryID) -> primary  dead"))

        // Stop the server, revive the dead letter, start again: the downstream gets it a second time.
        server?.process.terminate()
        server = nil
        let retried = try runSpool(["retry", "--all", "--spool", spoolDirectory])
        #expect(retried.status == 0 && retried.output == "revived 1 dead letter\n")
        let pending = try jsonArray(["list", "--pending", "--spool", spoolDirectory, "--json"])
        #expect(pending.count == 1 && pending.first?["attempts"] as? Int == 0)
        server = try CutoverServer(spool: spoolDirectory, arguments: ["--config", config.path])
        let again = try #require(downstream.waitForRequests(2))
        #expect(again.compactMap(\.eventID) == [first?.eventID, first?.eventID].compactMap { $0 })
        _ = try waitForDeadLetters(1, config: config.path, loggedBy: try #require(server))
        let shownAgain = try jsonObject(["show", "delivery:\(deliveryID)", "--spool", spoolDirectory, "--json"])
        let historyAgain =
            ((shownAgain["events"] as? [[String: Any]])?.first?["deliveries"] as? [[String: Any]])?.first?["history"]
            as? [[String: Any]]
        #expect(historyAgain?.compactMap { $0["attempt"] as? Int } == [1, 2], "attempts go on counting after a revive")

        // purge: refused without a terminal and without --yes, declined on a terminal, done with --yes.
        let refused = try runSpool(["purge", "--dead", "--spool", spoolDirectory])
        #expect(refused.status == 2)
        #expect(refused.error.contains("refusing to delete 1 dead letter"))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/script") {
            // `script` gives the command a terminal; it answers "n" at the prompt.
            let command = "\(cutoverBinary) spool purge --dead --spool \(spoolDirectory)"
            let declined = try runCommand("/usr/bin/script", ["-qec", command, "/dev/null"], stdin: Data("n\n".utf8))
            #expect(declined.status == 1)
            #expect(declined.output.contains("delete 1 dead letter? [y/N]"))
            #expect(declined.output.contains("nothing deleted"))
        }
        #expect(try jsonArray(["list", "--dead", "--spool", spoolDirectory, "--json"]).count == 1, "nothing was deleted")
        let purged = try jsonObject(["purge", "--dead", "--yes", "--spool", spoolDirectory, "--json"])
        #expect(purged["deleted"] as? Int == 1)
        #expect(try jsonArray(["list", "--dead", "--spool", spoolDirectory, "--json"]).isEmpty)
        let after = try jsonObject(["stats", "--spool", spoolDirectory, "--json"])
        #expect(after["dead_letters"] as? Int == 0)
        #expect((after["totals"] as? [String: Any])?["purged_dead_letters"] as? Int == 1)
    }

    /// Against a spool seeded with explicit times: paging, filters, purge of old delivered data and
    /// of quarantined requests, and the errors an operator sees.
    @Test func listPagingAndPurgeOfOldData() throws {
        let directory = try TemporaryDirectory()
        let now = Date().timeIntervalSince1970
        let old = now - 10 * 86_400
        let spool = try Spool.open(directory: directory.path)
        func request(_ id: String, at time: Double, destinations: [String] = ["primary"]) -> IncomingRequest {
            IncomingRequest(
                receivedAt: time, route: "onprem/default", headers: [(name: "content-type", value: "application/json")],
                body: Array("{\"id\":\"\(id)\"}".utf8),
                events: [
                    IncomingEvent(
                        id: id, type: "com.whatsapp.message.received", contactKey: id, payload: Array("{\"id\":\"\(id)\"}".utf8),
                        destinations: destinations)
                ])
        }
        _ = try spool.ingest([
            request("old-1", at: old), request("old-2", at: old), request("old-dead", at: old, destinations: ["shadow"]),
            request("new-1", at: now),
            IncomingRequest(receivedAt: old, route: "cloud", headers: [], body: [0xFF, 0xFE], events: [], quarantineReason: "not JSON"),
        ])
        for delivery in try spool.claim(destination: "primary", now: now, limit: 10) {
            try spool.markDelivered(id: delivery.id, status: 200, now: now)
        }
        for delivery in try spool.claim(destination: "shadow", now: now, limit: 10) {
            try spool.deadLetter(id: delivery.id, error: "HTTP 500\nsecond line", status: 500, now: now)
        }
        spool.close()
        let location = ["--spool", directory.path]

        // Paging: one per page, the hint names the next page.
        let page = try runSpool(["list", "--delivered", "--limit", "1"] + location)
        #expect(page.status == 0)
        #expect(page.output.contains("old-1") && !page.output.contains("old-2"))
        #expect(page.output.contains("more: --after 1"))
        let next = try jsonArray(["list", "--delivered", "--after", "1", "--json"] + location)
        #expect(next.compactMap { $0["event_id"] as? String } == ["old-2", "new-1"])
        #expect(try jsonArray(["list", "--destination", "shadow", "--json"] + location).count == 1)
        let dead = try runSpool(["list", "--dead"] + location)
        #expect(dead.output.contains("HTTP 500 second line"), "errors fit on one line")

        // A quarantined body that is not UTF-8 is shown as base64.
        let quarantined = try jsonArray(["list", "--quarantined", "--json"] + location)
        let quarantinedID = try #require(quarantined.first?["id"] as? Int)
        let shown = try jsonObject(["show", "request:\(quarantinedID)", "--json"] + location)
        #expect((shown["request"] as? [String: Any])?["body_base64"] as? String == "//4=")

        // Delivered data older than 7 days: the two old delivered events and their requests; the dead
        // letter, the recent event and the quarantined body stay.
        let refused = try runSpool(["purge", "--delivered", "--older-than", "7d"] + location)
        #expect(refused.status == 2 && refused.error.contains("2 delivered events"))
        let purged = try jsonObject(["purge", "--delivered", "--older-than", "7d", "--yes", "--json"] + location)
        #expect(purged["events"] as? Int == 2 && purged["requests"] as? Int == 2 && purged["deliveries"] as? Int == 2)
        var stats = try jsonObject(["stats", "--json"] + location)
        #expect(stats["events"] as? Int == 2 && stats["requests"] as? Int == 3 && stats["dead_letters"] as? Int == 1)

        let quarantinePurge = try runSpool(["purge", "--quarantined", "-y"] + location)
        #expect(quarantinePurge.status == 0 && quarantinePurge.output == "deleted 1 quarantined request\n")
        stats = try jsonObject(["stats", "--json"] + location)
        #expect(stats["quarantined"] as? Int == 0)

        // Operator errors.
        let missing = try runSpool(["stats", "--spool", directory.path + "/nowhere"])
        #expect(missing.status != 0 && missing.error.contains("no spool at"))
        #expect(try runSpool(["retry"] + location).status != 0, "retry needs --id, --destination or --all")
        #expect(try runSpool(["purge", "--delivered"] + location).status != 0, "--delivered needs --older-than")
        #expect(try runSpool(["purge", "--delivered", "--older-than", "7", "--yes"] + location).status != 0, "a unit is required")
        #expect(try runSpool(["purge", "--dead", "--destination", "shadow", "--older-than", "1w4d", "--yes"] + location).output
            == "no dead letters of shadow older than 11d to purge\n")
        let unknown = try runSpool(["retry", "--id", "999"] + location)
        #expect(unknown.status == 1 && unknown.output == "revived 0 dead letters\n")
        #expect(try runSpool(["show", "nothing-like-this"] + location).status != 0)
    }

    // MARK: Helpers

    private func runSpool(_ arguments: [String]) throws -> CommandResult {
        try runCommand(cutoverBinary, ["spool"] + arguments)
    }

    private func json(_ arguments: [String]) throws -> Any {
        let result = try runSpool(arguments)
        guard result.status == 0 else {
            throw TestFailure("cutover spool \(arguments.joined(separator: " ")) exited \(result.status): \(result.error)")
        }
        return try JSONSerialization.jsonObject(with: Data(result.output.utf8))
    }

    private func jsonObject(_ arguments: [String]) throws -> [String: Any] {
        guard let object = try json(arguments) as? [String: Any] else { throw TestFailure("not a JSON object") }
        return object
    }

    private func jsonArray(_ arguments: [String]) throws -> [[String: Any]] {
        guard let array = try json(arguments) as? [[String: Any]] else { throw TestFailure("not a JSON array") }
        return array
    }

    /// Waits for `server` to log `count` dead letters, then for `spool list --dead --json` to list
    /// them (the outcome is committed in the batch after the log line): listed again every 0.1 s,
    /// within `timeout`.
    private func waitForDeadLetters(
        _ count: Int, config: String, loggedBy server: CutoverServer, timeout: TimeInterval = 30
    ) throws -> [[String: Any]] {
        let logged = server.process.stderr.wait(timeout: timeout) { $0.count { $0.contains("delivery dead-lettered") } >= count }
        guard logged != nil else { throw TestFailure("cutover did not log \(count) dead letter(s) within \(timeout)s") }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let dead = try jsonArray(["list", "--dead", "--config", config, "--json"])
            if dead.count >= count { return dead }
            if Date() > deadline { throw TestFailure("\(count) dead letter(s) were not listed within \(timeout)s") }
            Thread.sleep(forTimeInterval: 0.1)  // a pause between bounded polls, not a synchronization
        }
    }
}
