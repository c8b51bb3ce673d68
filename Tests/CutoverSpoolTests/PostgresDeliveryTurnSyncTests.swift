import CutoverPostgres
import CutoverTestSupport
import Testing

@testable import CutoverSpool

/// `spool_delivery_turn_sync` on PostgreSQL: `deferred` (`fsyncDeliveryTurns` false) commits a
/// delivery turn with `synchronous_commit = off`, for that transaction only; `full` keeps it `on`.
/// Every other write (ingest, a claim of its own, an operator's retry) waits for its WAL flush.
@Suite struct PostgresDeliveryTurnSyncTests {
    /// A trigger notes the setting in force whenever a delivery row is updated: inside the very
    /// transaction that updates it, which is what no session-level look could see.
    private static let noteSetting = """
        CREATE TABLE seen_sync (n BIGSERIAL PRIMARY KEY, setting TEXT NOT NULL);
        CREATE FUNCTION note_sync() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO seen_sync (setting) VALUES (current_setting('synchronous_commit')); RETURN NULL; END $$;
        CREATE TRIGGER note_sync AFTER UPDATE ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION note_sync();
        """

    @Test(arguments: [false, true]) func aTurnDefersItsCommitOnlyForItselfUnlessTold(fsyncTurns: Bool) throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let spool = try PostgresSpool.open(PostgresSpoolConfiguration(url: url), options: SpoolOptions(fsyncDeliveryTurns: fsyncTurns))
        defer { spool.close() }
        let connection = try PostgresConnection(url: url, password: nil)
        defer { connection.close() }
        try connection.execute(Self.noteSetting, "install the trigger")
        func seen() throws -> [String] {
            let rows = try connection.query("SELECT setting FROM seen_sync ORDER BY n", [], "read the settings seen")
            return try (0..<rows.count).map { row throws(PostgresError) in try rows.string(row, 0) }
        }

        _ = try spool.ingest([request([event("e1", contact: "A"), event("e2", contact: "B")], at: 10)])
        let turn = try spool.recordAndClaim([], destination: "primary", now: 10, limit: 1)
        #expect(turn.claimed.map(\.eventID) == ["e1"])
        #expect(try seen() == [fsyncTurns ? "on" : "off"])
        _ = try spool.claim(destination: "primary", now: 11, limit: 1)
        #expect(try seen().last == "on", "a claim outside a turn syncs in full: the turn's SET LOCAL ended with it")
        let delivered = try spool.recordAndClaim(
            [DeliveryResult(for: turn.claimed[0], result: .dead(error: "410", status: 410))], destination: "primary", now: 12, limit: 4)
        #expect(delivered.skipped.isEmpty)
        #expect(try seen().last == (fsyncTurns ? "on" : "off"))
        #expect(try spool.retryDead(ids: nil, destination: nil, at: 13) == 1)
        #expect(try seen().last == "on", "an operator's write syncs in full")
    }
}
