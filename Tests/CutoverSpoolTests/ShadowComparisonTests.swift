import CutoverTestSupport
import Foundation
import Testing

@testable import CutoverSpool

@Suite("Spool: primary vs shadow comparison")
struct ShadowComparisonTests {
    private static let pair = ComparisonPair(primary: "legacy", shadow: "new")
    private static let t0 = 1_700_000_000.0

    /// Six events, each its own contact (so every delivery is claimable at once): five go to both
    /// sides, `only-legacy` to the primary alone.
    private static func ingestAndSettle(_ spool: any SpoolBackend) throws {
        let both = ["legacy", "new"]
        _ = try spool.ingest([
            request(
                ["agree-ok", "disagree", "agree-dead", "shadow-open", "primary-open"].map {
                    event($0, contact: $0, destinations: both, type: "message.voice")
                } + [event("only-legacy", contact: "only-legacy", destinations: ["legacy"])],
                at: t0)
        ])
        let legacy = try claimed(spool, "legacy")
        let new = try claimed(spool, "new")
        let nonUTF8: [UInt8] = [0xFF, 0x00, 0x41]
        try spool.record(
            [
                DeliveryResult(
                    deliveryID: legacy["agree-ok"]!, result: .delivered(status: 200),
                    response: AttemptResponse(latencyMilliseconds: 1.5, bodyPrefix: Array("ok".utf8))),
                DeliveryResult(
                    deliveryID: legacy["disagree"]!, result: .delivered(status: 204),
                    response: AttemptResponse(latencyMilliseconds: 3.25, bodyPrefix: nonUTF8)),
                DeliveryResult(deliveryID: legacy["agree-dead"]!, result: .dead(error: "HTTP 410: gone", status: 410)),
                DeliveryResult(deliveryID: legacy["shadow-open"]!, result: .delivered(status: 200)),
                DeliveryResult(deliveryID: legacy["primary-open"]!, result: .retry(at: t0 + 60, error: "HTTP 503", status: 503)),
                DeliveryResult(deliveryID: legacy["only-legacy"]!, result: .delivered(status: 200)),
            ], now: t0 + 1)
        try spool.record(
            [
                DeliveryResult(deliveryID: new["agree-ok"]!, result: .delivered(status: 202)),
                DeliveryResult(
                    deliveryID: new["disagree"]!, result: .dead(error: "HTTP 500: shadow broke", status: 500),
                    response: AttemptResponse(latencyMilliseconds: 4.5, bodyPrefix: Array("shadow broke".utf8))),
                DeliveryResult(deliveryID: new["agree-dead"]!, result: .dead(error: "connection refused", status: nil)),
                DeliveryResult(deliveryID: new["shadow-open"]!, result: .retry(at: t0 + 60, error: "HTTP 500", status: 500)),
                DeliveryResult(deliveryID: new["primary-open"]!, result: .delivered(status: 200)),
            ], now: t0 + 2)
    }

    private static func claimed(_ spool: any SpoolBackend, _ destination: String) throws -> [String: Int64] {
        let deliveries = try spool.claim(destination: destination, now: t0, limit: 100)
        return Dictionary(uniqueKeysWithValues: deliveries.map { ($0.eventID, $0.id) })
    }

    @Test(arguments: SpoolKind.allCases)
    func countsEachSideAndListsTheDisagreement(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            try Self.ingestAndSettle(spool)
            let counts = try spool.comparison(Self.pair)
            #expect(counts.events == 5, "only-legacy went to one side")
            #expect(counts.primaryAccepted == 3 && counts.shadowAccepted == 2)
            #expect(counts.agree == 2, "both accepted agree-ok; both refused agree-dead")
            #expect(counts.disagree == 1)
            #expect(counts.pending == 2, "a side still retrying is pending, not a disagreement")
            #expect(counts.compared == 3)

            let found = try spool.disagreements(Self.pair, afterSeq: 0, limit: 10)
            #expect(found.map(\.eventID) == ["disagree"])
            let disagreement = try #require(found.first)
            #expect(disagreement.eventType == "message.voice" && disagreement.receivedAt == Self.t0)
            #expect(disagreement.primary.destination == "legacy" && disagreement.primary.state == .delivered)
            #expect(disagreement.primary.lastStatus == 204 && disagreement.primary.lastError == nil)
            #expect(disagreement.primary.latencyMilliseconds == 3.25)
            #expect(disagreement.primary.bodyPrefix == [0xFF, 0x00, 0x41], "bodies are bytes, not text")
            #expect(disagreement.shadow.destination == "new" && disagreement.shadow.state == .dead)
            #expect(disagreement.shadow.lastStatus == 500 && disagreement.shadow.lastError == "HTTP 500: shadow broke")
            #expect(disagreement.shadow.latencyMilliseconds == 4.5)
            #expect(disagreement.shadow.bodyPrefix == Array("shadow broke".utf8))
            #expect(try spool.delivery(id: disagreement.shadow.deliveryID)?.eventID == "disagree")

            #expect(try spool.disagreements(Self.pair, afterSeq: disagreement.eventSeq, limit: 10).isEmpty, "paged by event seq")
            let reversed = ComparisonPair(primary: "new", shadow: "legacy")
            #expect(try spool.disagreements(reversed, afterSeq: 0, limit: 10).map(\.eventID) == ["disagree"])
            #expect(try spool.comparison(ComparisonPair(primary: "legacy", shadow: "nobody")).events == 0)
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func attemptsKeepLatencyAndBodyPrefix(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            try Self.ingestAndSettle(spool)
            let found = try #require(try spool.disagreements(Self.pair, afterSeq: 0, limit: 1).first)
            let attempts = try spool.attempts(deliveryID: found.shadow.deliveryID)
            #expect(attempts.count == 1)
            #expect(attempts.first?.latencyMilliseconds == 4.5 && attempts.first?.bodyPrefix == Array("shadow broke".utf8))
            let open = try #require(try spool.deliveries(eventID: "agree-dead").first { $0.destination == "legacy" })
            let bare = try #require(try spool.attempts(deliveryID: open.id).first)
            #expect(bare.latencyMilliseconds == nil && bare.bodyPrefix == nil, "an attempt without a response stores NULL")
        }
    }

    @Test(arguments: SpoolKind.allCases)
    func theSecondSideToEndSettlesThePairOnce(kind: SpoolKind) throws {
        try withSpool(kind) { spool in
            _ = try spool.ingest([
                request([event("first", contact: "a", destinations: ["legacy", "new"]), event("retried", contact: "b", destinations: ["legacy", "new"])], at: Self.t0)
            ])
            let legacy = try Self.claimed(spool, "legacy")
            let new = try Self.claimed(spool, "new")
            func outcome(_ id: Int64, _ result: DeliveryResult.Result, comparedWith other: String) -> DeliveryResult {
                var outcome = DeliveryResult(deliveryID: id, result: result)
                outcome.comparedWith = [other]
                return outcome
            }
            let primaryFirst = try spool.recordAndClaim(
                [outcome(legacy["first"]!, .delivered(status: 200), comparedWith: "new"), outcome(legacy["retried"]!, .delivered(status: 200), comparedWith: "new")],
                destination: "legacy", now: Self.t0 + 1, limit: 0)
            #expect(primaryFirst.settled.isEmpty, "the shadow has not answered yet")
            let shadowSecond = try spool.recordAndClaim(
                [
                    outcome(new["first"]!, .dead(error: "HTTP 500", status: 500), comparedWith: "legacy"),
                    outcome(new["retried"]!, .retry(at: Self.t0 + 60, error: "HTTP 503", status: 503), comparedWith: "legacy"),
                ],
                destination: "new", now: Self.t0 + 2, limit: 0)
            #expect(shadowSecond.settled == [SettledComparison(deliveryID: new["first"]!, otherDestination: "legacy", otherAccepted: true)])
            let unpaired = try spool.recordAndClaim(
                [DeliveryResult(deliveryID: try #require(try spool.claim(destination: "new", now: Self.t0 + 60, limit: 1).first).id, result: .delivered(status: 200))],
                destination: "new", now: Self.t0 + 61, limit: 0)
            #expect(unpaired.settled.isEmpty, "an outcome compared with nothing settles nothing")
        }
    }

    @Test func theComparisonSurvivesReopeningTheSpool() throws {
        try withTemporaryDirectory { directory in
            do {
                let spool = try Spool.open(directory: directory)
                defer { spool.close() }
                try Self.ingestAndSettle(spool)
            }
            let reopened = try Spool.open(directory: directory)
            defer { reopened.close() }
            #expect(try reopened.comparison(Self.pair).disagree == 1)
            #expect(try reopened.disagreements(Self.pair, afterSeq: 0, limit: 10).first?.shadow.bodyPrefix == Array("shadow broke".utf8))
        }
    }

    @Test func attemptsRecordedBeforeSchemaV6ReadAsNull() throws {
        try withTemporaryDirectory { directory in
            let database = try SQLiteDatabase(path: directory + "/spool.sqlite3")
            try database.migrate(Array(Schema.migrations.prefix(5)))
            _ = try database.ingest([request([event("old")], at: Self.t0)])
            try database.execute(
                "INSERT INTO attempts (delivery_id, attempt, at, outcome, status) SELECT id, 1, 0, 'delivered', 200 FROM deliveries",
                "write a v5 attempt")
            database.close()

            let spool = try Spool.open(directory: directory)
            defer { spool.close() }
            let id = try #require(try spool.deliveries(eventID: "old").first).id
            let attempt = try #require(try spool.attempts(deliveryID: id).first)
            #expect(attempt.status == 200 && attempt.latencyMilliseconds == nil && attempt.bodyPrefix == nil)
        }
    }
}
