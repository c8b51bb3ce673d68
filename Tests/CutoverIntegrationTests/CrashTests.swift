import CutoverTestSupport
import Foundation
import Testing

/// Under continuous load, Cutover is killed with SIGKILL several times while the downstream
/// flaps. Every event the sender saw acknowledged must reach the downstream (or the dead-letter
/// queue); a repeat is allowed only for a delivery in flight at a kill, and carries the same id.
@Suite(.serialized)
struct CrashTests {
    @Test func everyAcknowledgedEventArrivesDespiteKillsAndAFlappingDownstream() throws {
        let total = 600
        let kills = 3
        let concurrency = 8
        let cutoverPort = Int(try freePort())
        var downstream: Downstream? = try Downstream()
        let downstreamPort = downstream!.port
        var received: [ReceivedRequest] = []
        var downstreamStops = 0
        let spool = try TemporaryDirectory()
        let config = spool.url.appendingPathComponent("cutover.yml")
        try """
        delivery:
          concurrency: \(concurrency)
          retry_initial_seconds: 0.05
          retry_max_seconds: 0.3
          breaker_open_seconds: 0.2
          breaker_max_open_seconds: 0.5
        destinations:
          - name: endpoint
            url: http://127.0.0.1:\(downstreamPort)/hook
            format: canonical
        """.write(to: config, atomically: true, encoding: .utf8)
        let arguments = ["--config", config.path, "--onprem-route", "default"]
        var cutover = try CutoverServer(spool: spool.path, arguments: arguments, port: cutoverPort)

        let client = try PeerProcess("/usr/bin/env", [
            "python3", Repo.path("scripts/test-load-client.py"),
            "127.0.0.1", String(cutoverPort), "/onprem/default", String(total), "crash",
        ])
        defer { client.kill() }

        for round in 1...kills {
            // Let the sender get a share of the load acknowledged, then crash mid-stream.
            let target = total * round / (kills + 1)
            #expect(client.stdout.wait(timeout: 60) { $0.filter { $0.hasPrefix("ack ") }.count >= target } != nil)
            cutover.kill()
            // The downstream flaps: down across the restart on odd rounds.
            if round % 2 == 1, let running = downstream {
                received += running.requests
                running.stop()
                downstreamStops += 1
                downstream = nil
            }
            cutover = try CutoverServer(spool: spool.path, arguments: arguments, port: cutoverPort)
            if downstream == nil, round % 2 == 0 || round == kills {
                downstream = try Downstream(port: downstreamPort)
            }
        }
        if downstream == nil { downstream = try Downstream(port: downstreamPort) }
        defer { cutover.kill() }
        let final = try #require(downstream)
        defer { final.stop() }

        let clientLines = try #require(client.stdout.wait(timeout: 90) { $0.contains("done") || $0.contains("timeout") })
        #expect(clientLines.contains("done"), "the sender got every body acknowledged")
        let acknowledged = Set(clientLines.filter { $0.hasPrefix("ack ") }.map { String($0.dropFirst(4)) })
        #expect(acknowledged.count == total)

        // Wait until every acknowledged message has arrived once.
        let deliveredIDs = { (requests: [ReceivedRequest]) -> [String] in
            requests.filter { $0.status == 200 }.compactMap { request in
                ((request.json?["data"] as? [String: Any])?["message"] as? [String: Any])?["id"] as? String
            }
        }
        let arrived = final.process.stdout.wait(timeout: 90) { lines in
            Set(deliveredIDs(received + Downstream.parse(lines))).isSuperset(of: acknowledged)
        }
        #expect(arrived != nil, "every acknowledged event reached the downstream")
        let everything = received + final.requests
        let ids = deliveredIDs(everything)
        let repeats = ids.count - Set(ids).count
        // An in-flight delivery is repeated when Cutover dies before recording its 200, or when the
        // downstream dies after recording a request but before answering it: at most one per
        // delivery in flight (the concurrency) at each kill or stop.
        let allowedRepeats = (kills + downstreamStops) * concurrency
        let eventIDsByMessage = Dictionary(grouping: everything.filter { $0.status == 200 }) { request in
            ((request.json?["data"] as? [String: Any])?["message"] as? [String: Any])?["id"] as? String ?? ""
        }.mapValues { Set($0.compactMap(\.eventID)) }

        // With a 7-day horizon nothing is dead-lettered here: delivered alone must cover acknowledged.
        print(
            "crash test: acknowledged \(acknowledged.count), delivered \(Set(ids).count) distinct, dead-lettered 0, "
                + "repeats \(repeats) (allowed \(allowedRepeats)), kills \(kills), downstream stops \(downstreamStops), "
                + "attempts seen \(everything.count)"
        )
        #expect(Set(ids).isSuperset(of: acknowledged))
        #expect(repeats <= allowedRepeats, "a repeat only for a delivery in flight at a kill or a downstream stop")
        #expect(eventIDsByMessage.values.allSatisfy { $0.count == 1 }, "a repeat carries the same event id")
    }
}
