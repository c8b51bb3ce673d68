import CSQLiteWAL
import CutoverTestSupport
import Foundation
import Testing

@testable import CutoverSpool

/// The spool's VFS writes each WAL frame as one write (CSQLiteWAL.h). What it writes must be the
/// WAL SQLite itself would read: a copy of the database and its WAL (without the shared-memory
/// index, so the reader rebuilds it from every frame's header and checksum) is read by Python's
/// sqlite3, which uses SQLite's default VFS.
struct WALFrameWritesTests {
    @Test func framesWrittenAsOneWriteEachAreReadBackBySQLitesOwnVFS() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/frames.sqlite3"
            let database = try SQLiteDatabase(path: path)
            // Every frame stays in the WAL: the copy below must be read from the log, not the file.
            try database.execute("PRAGMA wal_autocheckpoint = 0", "no automatic checkpoints")
            try database.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)", "create table")
            let mergedBefore = cutover_sqlite3_wal_vfs_merged_frames()
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
            let merged = cutover_sqlite3_wal_vfs_merged_frames() - mergedBefore
            #expect(merged >= Int64(transactions), "each commit writes at least one frame, each frame as one write")

            let copy = try TemporaryDirectory()
            try FileManager.default.copyItem(atPath: path, toPath: copy.path("copy.sqlite3"))
            try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy.path("copy.sqlite3-wal"))
            let script = """
                import sqlite3, sys
                db = sqlite3.connect(sys.argv[1])
                print(db.execute("PRAGMA integrity_check").fetchone()[0])
                print(*db.execute("SELECT count(*), coalesce(sum(length(payload)), 0) FROM rows").fetchone())
                """
            let result = try runCommand("/usr/bin/env", ["python3", "-c", script, copy.path("copy.sqlite3")])
            #expect(result.output.split(separator: "\n") == ["ok", "\(rows) \(expectedBytes)"])
        }
    }
}
