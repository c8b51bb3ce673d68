import CutoverPostgres
import CutoverTestSupport
import Testing

@testable import CutoverSpool

/// The PostgreSQL spool's kept counts (schema v5: triggers append changes, stats fold them) against
/// the tables counted row by row, after each step of a random mix of every operation that changes
/// requests, events or deliveries, run by two instances on one database.
@Suite("PostgreSQL spool: counts under random operations")
struct PostgresCountTests {
    private static let destinations = ["primary", "shadow", "audit"]

    @Test(arguments: [1, 2] as [UInt64])
    func countsEqualTheTablesAfterEveryStep(seed: UInt64) throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let names = ["one", "two"]
        let instances = try names.map { name throws(SpoolError) in
            try PostgresSpool.open(PostgresSpoolConfiguration(url: url, instanceID: name, leaseSeconds: 60))
        }
        defer { for instance in instances { instance.close() } }
        let tables = try PostgresConnection(url: url, password: nil)
        defer { tables.close() }

        var random = SplitMix64(seed: seed)
        var now = 1_700_000_000.0
        var nextEvent = 0
        for step in 0..<120 {
            now += 10
            let index = Int.random(in: 0..<instances.count, using: &random)
            let name = try Self.apply(
                Int.random(in: 0..<10, using: &random), to: instances[index], named: names[index], tables: tables, now: now,
                nextEvent: &nextEvent, random: &random)
            // Read by either instance: the counts live in the database, not in an instance.
            let reader = instances.randomElement(using: &random)!
            let counted = TableCounts(try reader.stats(now: now), destinations: try reader.destinations())
            #expect(try counted == TableCounts(counting: tables), "after step \(step) (\(name)), seed \(seed)")
        }
        let folded = try tables.query(
            "SELECT (SELECT count(*) FROM delivery_count_changes) + (SELECT count(*) FROM row_count_changes)", [], "count changes")
        #expect(try folded.int(0, 0) < 20, "each stats call folded the changes before it into the totals")
    }

    /// Runs operation number `operation` on `spool` (or, for 9, straight on the tables) and names it.
    private static func apply(
        _ operation: Int, to spool: PostgresSpool, named instance: String, tables: PostgresConnection, now: Double, nextEvent: inout Int,
        random: inout SplitMix64
    ) throws -> String {
        let destination = destinations.randomElement(using: &random)!
        switch operation {
        case 0:
            _ = try spool.ingest(RandomSpoolTraffic.requests(now: now, nextEvent: &nextEvent, destinations: destinations, random: &random))
            return "ingest"
        case 1:
            let batch = RandomSpoolTraffic.requests(now: now, nextEvent: &nextEvent, destinations: destinations, random: &random)
            let results = submitAndWait(spool, batch)
            #expect(results.allSatisfy { (try? $0?.get()) != nil })
            return "group commit"
        case 2:
            let claimed = try spool.claim(destination: destination, now: now, limit: Int.random(in: 1...6, using: &random), withRequestBody: false)
            guard Bool.random(using: &random) else { return "claim" }
            // Outcomes made from their claims, as the delivery worker sends them: one statement for all.
            let outcomes = claimed.filter { _ in Bool.random(using: &random) }.map { delivery in
                DeliveryResult(for: delivery, result: RandomSpoolTraffic.outcome(for: delivery.id, now: now, random: &random).result)
            }
            _ = try spool.recordAndClaim(outcomes, releasing: [], destination: destination, now: now, limit: 2, withRequestBody: false)
            return "claim, then a turn recording outcomes made from the claims"
        case 3:
            let inflight = try spool.deliveries(state: .inflight, destination: destination, afterID: 0, limit: 1_000)
            let (recording, releasing) = RandomSpoolTraffic.split(inflight.map(\.id), random: &random)
            _ = try spool.recordAndClaim(
                recording.map { RandomSpoolTraffic.outcome(for: $0, now: now, random: &random) }, releasing: releasing, destination: destination,
                now: now, limit: Int.random(in: 0...4, using: &random), withRequestBody: false)
            return "turn"
        case 4:
            let inflight = try spool.deliveries(state: .inflight, destination: nil, afterID: 0, limit: 1_000).map(\.id)
            let recording = RandomSpoolTraffic.split(inflight, random: &random).0
            _ = try spool.record(recording.map { RandomSpoolTraffic.outcome(for: $0, now: now, random: &random) }, now: now)
            return "record"
        case 5:
            // Only the instance holding a lease records its delivery's outcome.
            let held = try tables.query(
                "SELECT id FROM deliveries WHERE state = 'inflight' AND claimed_by = $1", [.text(instance)], "find held deliveries")
            guard held.count > 0 else { return "single outcome (none held)" }
            let id = try held.int64(Int.random(in: 0..<held.count, using: &random), 0)
            try RandomSpoolTraffic.recordOneOutcome(of: id, on: spool, now: now, random: &random)
            return "single outcome"
        case 6:
            _ = try spool.retryDead(ids: nil, destination: Bool.random(using: &random) ? destination : nil, at: now)
            return "retry dead letters"
        case 7:
            try RandomSpoolTraffic.purge(spool, destination: destination, now: now, random: &random)
            return "purge"
        case 8:
            // Deleting a request deletes its events and their deliveries by cascade.
            try RandomSpoolTraffic.prune(spool, now: now, random: &random)
            return "prune"
        default:
            // An operator's own SQL is counted too: the triggers see every statement.
            try tables.execute(
                """
                UPDATE deliveries SET state = 'dead', last_error = 'by hand' WHERE id IN (
                    SELECT id FROM deliveries WHERE state = 'pending' ORDER BY id DESC LIMIT 2);
                DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE status = 'quarantined' LIMIT 1);
                """, "change rows by hand")
            return "hand-written SQL"
        }
    }
}
