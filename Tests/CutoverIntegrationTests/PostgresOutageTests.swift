import CutoverTestSupport
import Foundation
import Testing

/// PostgreSQL restarted under load: webhooks during the outage get 503, every 200 was committed
/// (each acknowledged message is in the database afterwards), `/readyz` says why, and everything
/// acknowledged is delivered once the server is back.
@Suite(.serialized)
struct PostgresOutageTests {
    @Test func aRestartOfPostgreSQLUnderLoadRefusesWhatItCannotCommitAndLosesNothing() throws {
        let total = 1_500
        let relays = try PostgresRelays()
        defer { relays.postgres.stop() }
        let downstream = try Downstream()
        defer { downstream.stop() }
        let cutover = try relays.start(instance: "solo", downstream: downstream)
        defer { cutover.kill() }
        let client = try PostgresRelays.loadClient(targets: [cutover], messages: total, contacts: 50, prefix: "outage", threads: 10)
        defer { client.kill() }

        #expect(client.stdout.wait(timeout: 60) { $0.count >= total / 4 } != nil, "a quarter acknowledged before the outage")
        relays.postgres.stop()
        let refusals = client.stdout.wait(timeout: 30) { $0.count { $0.hasPrefix("refused 503 ") } >= 10 }
        #expect(refusals != nil, "webhooks during the outage are answered 503")
        let unready = try curl([cutover.base + "/readyz"])
        #expect(unready.status == 503)
        #expect(unready.body.contains("spool unavailable"), "/readyz says why: \(unready.body)")
        try relays.postgres.start()

        let acknowledged = try PostgresRelays.acknowledged(by: client, timeout: 120)
        #expect(acknowledged.count == total)
        let lines = client.stdout.lines
        let refused = lines.filter { $0.hasPrefix("refused ") }
        #expect(refused.allSatisfy { $0.hasPrefix("refused 503 ") }, "only 503s: \(Set(refused.map { $0.prefix(12) }))")

        // Never a 200 without a commit: every acknowledged message is stored.
        let payloads = try relays.postgres.psql("SELECT convert_from(payload, 'UTF8') FROM events", database: relays.database)
        let stored = Set(payloads.matches(of: /wamid\.outage\.\d+\.\d+/).map { String($0.output) })
        #expect(acknowledged.subtracting(stored).isEmpty, "acknowledged but not stored: \(acknowledged.subtracting(stored).sorted().prefix(10))")

        let delivered = try PostgresRelays.deliveries(downstream, covering: acknowledged, timeout: 90)
        print(
            "PostgreSQL restart: acknowledged \(acknowledged.count), refused with 503 \(refused.count) webhooks, "
                + "delivered \(Set(delivered.map(\.eventID)).count) distinct events in \(delivered.count) deliveries")
        for (contact, sequence) in PostgresRelays.orderByContact(delivered) where sequence != Array(1...(total / 50)) {
            Issue.record("contact \(contact) delivered out of order: \(sequence)")
        }
        let ready = try waitFor(timeout: 30) { () throws -> (status: Int, body: String)? in
            let answer = try curl([cutover.base + "/readyz"])
            return answer.status == 200 ? answer : nil
        }
        #expect(ready.body.hasPrefix("ready"))
    }
}
