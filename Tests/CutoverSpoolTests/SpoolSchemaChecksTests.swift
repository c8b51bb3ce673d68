import CutoverTestSupport
import Testing

@testable import CutoverSpool

/// Schema v8: the state and outcome CHECKs as comparisons, so writing a delivery's state or an
/// attempt builds no ephemeral table, and the constraints still hold.
@Suite("Spool: CHECK constraints without IN lists")
struct SpoolSchemaChecksTests {
    private func opcodes(_ sql: String, in spool: Spool) throws -> [String] {
        try spool.withDatabase("explain") { database throws(SpoolError) in
            try database.rows("EXPLAIN " + sql, "explain") { $0.string(1) }
        }
    }

    @Test func writesOfStateAndOutcomeOpenNoEphemeralTableAndTheChecksStillHold() throws {
        try withSpool { spool, _ in
            _ = try spool.ingest([request([event("a")])])
            let writes = [
                "UPDATE deliveries SET state = ?2, updated_at = ?3 WHERE id = ?1",
                "INSERT INTO attempts (delivery_id, attempt, at, outcome, status, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            ]
            for sql in writes {
                let codes = try opcodes(sql, in: spool)
                #expect(!codes.isEmpty && !codes.contains("OpenEphemeral"), "\(sql): \(codes)")
            }
            // The v7 text's `IN` list built one for the same statement: the check above can fail.
            let inList = try spool.withDatabase("explain") { database throws(SpoolError) in
                try database.execute("CREATE TEMP TABLE old_checks (state TEXT CHECK (state IN ('a', 'b', 'c')))", "create")
                return try database.rows("EXPLAIN UPDATE old_checks SET state = ?1", "explain") { $0.string(1) }
            }
            #expect(inList.contains("OpenEphemeral"))

            for bad in [
                "UPDATE deliveries SET state = 'lost'",
                "INSERT INTO attempts (delivery_id, attempt, at, outcome) SELECT id, 1, 0, 'maybe' FROM deliveries",
            ] {
                let error = #expect(throws: SpoolError.self) { try spool._execute(bad) }
                #expect(error?.message.contains("CHECK constraint failed") == true, "\(bad)")
            }
            let integrity = try spool.withDatabase("check") { database throws(SpoolError) in
                try database.rows("PRAGMA integrity_check", "integrity check") { $0.string(0) }
            }
            #expect(integrity == ["ok"])
        }
    }

    @Test func aV7SpoolKeepsItsRowsThroughTheRewrite() throws {
        try withTemporaryDirectory { directory in
            let database = try SQLiteDatabase(path: directory + "/spool.sqlite3")
            try database.migrate(Array(Schema.migrations.prefix(7)))
            _ = try database.ingest([request([event("x", destinations: ["primary", "shadow"])])])
            database.close()

            let spool = try Spool.open(directory: directory)
            defer { spool.close() }
            let schema = try spool.withDatabase("read schema") { database throws(SpoolError) in
                try database.rows("SELECT sql FROM sqlite_schema WHERE name IN ('deliveries', 'attempts')", "read") { $0.string(0) }
            }
            #expect(schema.count == 2 && schema.allSatisfy { !$0.contains("state IN (") && !$0.contains("outcome IN (") }, "\(schema)")
            let claimed = try spool.claim(destination: "primary", now: .infinity, limit: 10)
            #expect(claimed.map(\.eventID) == ["x"])
            try spool.markDelivered(id: claimed[0].id, status: 200)
            #expect(try spool.stats().deliveries["primary"]?.delivered == 1)
            #expect(try spool.stats().deliveries["shadow"]?.pending == 1)
        }
    }
}
