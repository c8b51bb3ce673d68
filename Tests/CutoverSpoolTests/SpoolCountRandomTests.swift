import CutoverTestSupport
import Testing

@testable import CutoverSpool

/// The counts every write transaction keeps (`RowCountDeltas`, schema v7) against the tables,
/// after each step of a random mix of every operation that changes requests, events or
/// deliveries: ingest (direct and group-committed, duplicates and quarantine included), claims,
/// turns that record and release, single outcomes, dead-letter revivals, purges, retention and
/// the inflight recovery of a reopen.
@Suite("Spool: counts under random operations")
struct SpoolCountRandomTests {
    private static let destinations = ["primary", "shadow", "audit"]

    @Test(arguments: [1, 2, 3] as [UInt64])
    func countsEqualTheTablesAfterEveryStep(seed: UInt64) throws {
        try withTemporaryDirectory { directory in
            var random = SplitMix64(seed: seed)
            var spool = try Spool.open(directory: directory)
            defer { spool.close() }
            var now = 1_700_000_000.0
            var nextEvent = 0
            for step in 0..<160 {
                now += 10
                let operation = Int.random(in: 0..<12, using: &random)
                let name = try Self.apply(operation, to: &spool, directory: directory, now: now, nextEvent: &nextEvent, random: &random)
                try expectCountsMatch(spool, "step \(step) (\(name)), seed \(seed)")
            }
        }
    }

    /// A transaction that moves more (destination, state) counts than one upsert statement carries
    /// (`maxRowsPerCountUpsert`, 4) writes them in several: six destinations' pending counts on
    /// ingest, then twelve moves when one turn per destination claims and records.
    @Test func moreCountChangesThanOneStatementCarriesAreAllWritten() throws {
        try withTemporaryDirectory { directory in
            let spool = try Spool.open(directory: directory)
            defer { spool.close() }
            let destinations = (1...6).map { "destination-\($0)" }
            _ = try spool.ingest([request([event("wide-1", destinations: destinations), event("wide-2", destinations: destinations)])])
            try expectCountsMatch(spool, "ingest to six destinations")
            let claimed = try destinations.flatMap { try spool.claim(destination: $0, now: 1_700_000_100, limit: 1) }
            #expect(claimed.count == 6)
            try expectCountsMatch(spool, "claims")
            _ = try spool.record(claimed.map { DeliveryResult(deliveryID: $0.id, result: .delivered(status: 200)) }, now: 1_700_000_200)
            try expectCountsMatch(spool, "six outcomes in one transaction")
        }
    }

    /// Runs operation number `operation` and names it.
    private static func apply(
        _ operation: Int, to spool: inout Spool, directory: String, now: Double, nextEvent: inout Int,
        random: inout SplitMix64
    ) throws -> String {
        let destination = destinations.randomElement(using: &random)!
        switch operation {
        case 0, 1:
            _ = try spool.ingest(RandomSpoolTraffic.requests(now: now, nextEvent: &nextEvent, destinations: destinations, random: &random))
            return "ingest"
        case 2:
            let batch = RandomSpoolTraffic.requests(now: now, nextEvent: &nextEvent, destinations: destinations, random: &random)
            let results = submitAndWait(spool, batch)
            #expect(results.allSatisfy { (try? $0?.get()) != nil })
            return "group commit"
        case 3:
            _ = try spool.claim(destination: destination, now: now, limit: Int.random(in: 1...6, using: &random))
            return "claim"
        case 4:
            let inflight = try spool.deliveries(state: .inflight, destination: destination, afterID: 0, limit: 1_000)
            let (recording, releasing) = RandomSpoolTraffic.split(inflight.map(\.id), random: &random)
            _ = try spool.recordAndClaim(
                recording.map { RandomSpoolTraffic.outcome(for: $0, now: now, random: &random) }, releasing: releasing, destination: destination,
                now: now, limit: Int.random(in: 0...4, using: &random))
            return "turn"
        case 5:
            // Outcomes of several destinations in one transaction, some no longer inflight.
            let inflight = try spool.deliveries(state: .inflight, destination: nil, afterID: 0, limit: 1_000).map(\.id)
            let stale = try spool.deliveries(state: .delivered, destination: nil, afterID: 0, limit: 3).map(\.id)
            let chosen = RandomSpoolTraffic.split(inflight, random: &random).0 + stale
            _ = try spool.record(chosen.map { RandomSpoolTraffic.outcome(for: $0, now: now, random: &random) }, now: now)
            return "record"
        case 6:
            guard let delivery = try spool.deliveries(state: .inflight, destination: nil, afterID: 0, limit: 1_000)
                .randomElement(using: &random)
            else { return "single outcome (none inflight)" }
            try RandomSpoolTraffic.recordOneOutcome(of: delivery.id, on: spool, now: now, random: &random)
            return "single outcome"
        case 7:
            let dead = try spool.deliveries(state: .dead, destination: nil, afterID: 0, limit: 1_000).map(\.id)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: _ = try spool.retryDead(ids: RandomSpoolTraffic.split(dead, random: &random).0, destination: nil, at: now)
            case 1: _ = try spool.retryDead(ids: nil, destination: destination, at: now)
            default: _ = try spool.retryDead(ids: nil, destination: nil, at: now)
            }
            return "retry dead letters"
        case 8:
            try RandomSpoolTraffic.purge(spool, destination: destination, now: now, random: &random)
            return "purge"
        case 9:
            try RandomSpoolTraffic.prune(spool, now: now, random: &random)
            return "prune"
        case 10:
            // A restart: deliveries left inflight go back to pending.
            spool.close()
            spool = try Spool.open(directory: directory)
            return "reopen"
        default:
            // A failing statement rolls the whole transaction back, its counts included.
            let before = try spool.stats(now: now)
            var batch = RandomSpoolTraffic.requests(now: now, nextEvent: &nextEvent, destinations: destinations, random: &random)
            batch.append(request([], at: now, route: "boom"))
            try spool._execute(
                """
                CREATE TEMP TRIGGER IF NOT EXISTS fail_boom BEFORE INSERT ON requests WHEN NEW.route = 'boom'
                BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
                """)
            #expect(throws: SpoolError.self) { try spool.ingest(batch) }
            let after = try spool.stats(now: now)
            #expect(after.requests == before.requests && after.events == before.events && after.deliveries == before.deliveries)
            return "rolled back ingest"
        }
    }
}
