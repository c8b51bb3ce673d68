import CutoverTestSupport
import Foundation
import Testing

/// The spool directory removed or replaced under the running binary: no 200 is given for anything
/// the database on disk does not hold, and everything after the change gets 503.
@Suite(.serialized)
struct SpoolLossTests {
    private struct Outcome {
        var acknowledged: [String] = []
        var acknowledgedAfter: [String] = []
        var refusedAfter = 0
        var readyz: (status: Int, body: String) = (0, "")
    }

    /// Runs the sabotage sender against a fresh cutover and returns what it saw.
    private func sabotage(_ action: String, work: TemporaryDirectory) throws -> Outcome {
        let config = work.path("cutover.yml")
        // The sink lives outside the spool directory so removing it touches only the spool.
        try "sink: \(work.path("events.jsonl"))\n".write(toFile: config, atomically: true, encoding: .utf8)
        let cutover = try CutoverServer(spool: work.path("spool"), arguments: ["--config", config, "--onprem-route", "default"])
        defer { cutover.kill() }
        let result = try runCommand(
            "/usr/bin/env",
            [
                "python3", Repo.path("scripts/test-spool-sabotage.py"), "127.0.0.1", "\(cutover.port)", "/onprem/default",
                work.path("spool"), action, work.path("moved"), "4", "40", "15",
            ])
        var outcome = Outcome()
        for line in result.output.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if let readyz = object["readyz"] as? [Any] {
                outcome.readyz = ((readyz[0] as? Int) ?? 0, (readyz[1] as? String) ?? "")
                continue
            }
            let id = try #require(object["id"] as? String)
            let status = try #require(object["status"] as? Int)
            let after = try #require(object["after"] as? Bool)
            if status == 200 { outcome.acknowledged.append(id) }
            if after, status == 200 { outcome.acknowledgedAfter.append(id) }
            if after, status == 503 { outcome.refusedAfter += 1 }
        }
        #expect(outcome.readyz.status != 0, "the sender finished: \(result.error)")
        return outcome
    }

    /// Message ids in the requests of the database at `path`, read by Python's sqlite3 module.
    private func storedMessageIDs(_ path: String) throws -> Set<String> {
        let script = """
            import json, sqlite3, sys
            connection = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
            for (body,) in connection.execute("SELECT body FROM requests"):
                for message in json.loads(body).get("messages", []):
                    print(message["id"])
            """
        let result = try runCommand("/usr/bin/env", ["python3", "-c", script, path])
        return Set(result.output.split(separator: "\n").map(String.init))
    }

    @Test func aReplacedSpoolDirectoryGetsNo200AndKeepsEveryAcknowledgedRequest() throws {
        let work = try TemporaryDirectory()
        let outcome = try sabotage("replace", work: work)
        #expect(outcome.acknowledged.count >= 40)
        #expect(outcome.acknowledgedAfter.isEmpty, "200s after the replacement: \(outcome.acknowledgedAfter)")
        #expect(outcome.refusedAfter == 4 * 15, "every request after the replacement gets 503")
        #expect(outcome.readyz.status == 503)
        #expect(outcome.readyz.body.contains("removed or replaced"), "\(outcome.readyz.body)")

        // Restarted on the directory that holds the database that was acknowledged into.
        let restarted = try CutoverServer(spool: work.path("moved"), arguments: ["--config", work.path("cutover.yml"), "--onprem-route", "default"])
        restarted.kill()
        let stored = try storedMessageIDs(work.path("moved/spool.sqlite3"))
        let lost = outcome.acknowledged.filter { !stored.contains($0) }
        #expect(lost.isEmpty, "acknowledged but not stored: \(lost)")
    }

    @Test func aDeletedSpoolDirectoryGetsNo200() throws {
        let work = try TemporaryDirectory()
        let outcome = try sabotage("rm", work: work)
        #expect(outcome.acknowledged.count >= 40)
        #expect(outcome.acknowledgedAfter.isEmpty, "200s after the deletion: \(outcome.acknowledgedAfter)")
        #expect(outcome.refusedAfter == 4 * 15)
        #expect(outcome.readyz.status == 503)
        #expect(outcome.readyz.body.contains("was removed"), "\(outcome.readyz.body)")
    }
}
