import CutoverTestSupport
import Foundation
import Testing

@testable import CutoverSpool

/// The spool's VFS writes a transaction's WAL frames with one write call (CSQLiteWAL.h). What it
/// writes must be the WAL SQLite itself would read: a copy of the database and its WAL (without
/// the shared-memory index, so the reader rebuilds it from every frame's header and checksum) is
/// read by Python's sqlite3, which uses SQLite's default VFS.
struct WALFrameWritesTests {
    @Test func eachTransactionsFramesGoOutInOneWriteAndReadBackThroughSQLitesOwnVFS() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/frames.sqlite3"
            let database = try openLog(path)
            let transactions = 40
            var expectedBytes = 0
            for transaction in 0..<transactions {
                try database.transaction("insert rows") { () throws(SpoolError) in
                    for row in 0..<(1 + transaction % 7) {
                        let size = 100 + (transaction * 997 + row * 131) % 6000
                        expectedBytes += size
                        try database.run("INSERT INTO rows (payload) VALUES (?1)", "insert") { statement throws(SpoolError) in
                            try statement.bind((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ transaction) }, at: 1)
                        }
                    }
                }
            }
            let rows = (0..<transactions).reduce(0) { $0 + 1 + $1 % 7 }
            let writes = try #require(database.walWrites)
            // Most transactions here are several pages (up to 7 rows of up to 6 KB), so frames
            // outnumber transactions; the log's header and the table's creation add two calls.
            #expect(writes.frames > Int64(transactions) * 2, "frames appended: \(writes.frames)")
            #expect(writes.calls <= Int64(transactions) + 2, "a transaction's frames in one write call: \(writes.calls) calls for \(transactions) transactions")

            #expect(try readBack(path) == ["ok", "\(rows) \(expectedBytes)"])
        }
    }

    /// A transaction larger than the page cache writes frames before its commit, then rewrites
    /// pages it had already logged in place and, after the commit frame, rewrites the headers of
    /// those frames with new checksums (24-byte writes that no page follows). With
    /// `synchronous = NORMAL` nothing syncs the log after that: every header must be on disk
    /// when the commit returns, or the log read back stops at a checksum that does not match.
    @Test func aTransactionThatSpillsItsCacheIsWholeInTheLogWhenItsCommitReturns() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/spill.sqlite3"
            let database = try openLog(path, cachePages: 10)
            var expectedBytes = 0
            try database.transaction("spill", sync: .deferred) { () throws(SpoolError) in
                for row in 0..<2000 {
                    let size = 1000 + row % 900
                    expectedBytes += size
                    try database.run("INSERT INTO rows (id, payload) VALUES (?1, ?2)", "insert") { statement throws(SpoolError) in
                        try statement.bind(row, at: 1)
                        try statement.bind((0..<size).map { UInt8(truncatingIfNeeded: $0 &+ row) }, at: 2)
                    }
                }
                // Pages logged before the spill are changed again: rewritten in place in the log.
                try database.execute("UPDATE rows SET payload = zeroblob(length(payload)) WHERE id % 3 = 0", "change early pages")
            }
            #expect(try readBack(path) == ["ok", "2000 \(expectedBytes)"])
        }
    }

    /// A database with the table `rows` whose every frame stays in the WAL (no automatic
    /// checkpoints), so a copy is read from the log, not from the database file.
    private func openLog(_ path: String, cachePages: Int? = nil) throws -> SQLiteDatabase {
        let database = try SQLiteDatabase(path: path)
        try database.execute("PRAGMA wal_autocheckpoint = 0", "no automatic checkpoints")
        if let cachePages { try database.execute("PRAGMA cache_size = \(cachePages)", "set the page cache's size") }
        try database.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)", "create table")
        return database
    }

    /// Integrity and `count(*), sum(length(payload))` of `rows`, read by Python's sqlite3 from a
    /// copy of the database and its WAL taken now (without the shared-memory index).
    private func readBack(_ path: String) throws -> [Substring] {
        let copy = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: path, toPath: copy.path("copy.sqlite3"))
        try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy.path("copy.sqlite3-wal"))
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            print(db.execute("PRAGMA integrity_check").fetchone()[0])
            print(*db.execute("SELECT count(*), coalesce(sum(length(payload)), 0) FROM rows").fetchone())
            """
        return try runCommand("/usr/bin/env", ["python3", "-c", script, copy.path("copy.sqlite3")]).output.split(separator: "\n")
    }
}
