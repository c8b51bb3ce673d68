import Testing

@testable import CutoverSpool

/// Ingest commits always fsync (every 200 rests on one); a delivery turn fsyncs only with
/// `fsyncDeliveryTurns`, otherwise it rides on the next ingest commit's fsync of the WAL.
@Suite struct DeliveryTurnSyncTests {
    /// `PRAGMA synchronous` of the writer connection: 1 is NORMAL (no fsync at COMMIT in WAL mode), 2 is FULL.
    private func synchronous(_ spool: Spool) throws -> Int? {
        try spool.withDatabase("read synchronous") { database throws(SpoolError) in
            try database.firstRow("PRAGMA synchronous", "read synchronous") { $0.int(0) }
        }
    }

    @Test(arguments: [false, true]) func aTurnRelaxesTheCommitOnlyForItselfUnlessTold(fsyncTurns: Bool) throws {
        try withSpool(options: SpoolOptions(fsyncDeliveryTurns: fsyncTurns)) { spool, _ in
            #expect(try synchronous(spool) == 2, "FULL from the start")
            _ = try spool.ingest([request([event("e1", contact: "A", destinations: ["primary"])], at: 10)])
            let turn = try spool.recordAndClaim([], destination: "primary", now: 10, limit: 4)
            #expect(turn.claimed.map(\.eventID) == ["e1"])
            #expect(try synchronous(spool) == (fsyncTurns ? 2 : 1))
            _ = try spool.ingest([request([event("e2", contact: "B", destinations: ["primary"])], at: 11)])
            #expect(try synchronous(spool) == 2, "an ingest commit syncs in full again")
            let delivered = try spool.recordAndClaim(
                [DeliveryResult(deliveryID: turn.claimed[0].id, result: .delivered(status: 200))], destination: "primary", now: 12, limit: 4)
            #expect(delivered.claimed.map(\.eventID) == ["e2"])
            _ = try spool.retryDead(ids: nil, destination: nil, at: 13)
            #expect(try synchronous(spool) == 2, "an operator's write syncs in full")
        }
    }
}
