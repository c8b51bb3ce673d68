import Dispatch
import Foundation
import Testing

@testable import CutoverSpool

/// The writer never checkpoints on its own below the fallback; the checkpointer copies the WAL
/// into the database beside it, on its timer, and stops at close.
@Suite struct WALCheckpointerTests {
    private func databaseBytes(_ directory: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: directory + "/spool.sqlite3")[.size] as? Int ?? 0
    }

    @Test func theWriterLeavesCheckpointsToTheCheckpointer() throws {
        try withSpool { spool, _ in
            let pages = try spool.withDatabase("read wal_autocheckpoint") { database throws(SpoolError) in
                try database.firstRow("PRAGMA wal_autocheckpoint", "read wal_autocheckpoint") { $0.int(0) }
            }
            #expect(pages == WALCheckpointer.writerFallbackPages)
        }
    }

    @Test func aCheckpointCopiesTheCommittedFramesAndTheTimerRunsOne() throws {
        try withSpool { spool, directory in
            let before = try databaseBytes(directory)
            let body = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
            for n in 0..<20 {
                _ = try spool.ingest([request([event("e\(n)", contact: "C\(n)", destinations: ["primary"])], at: Double(n), body: body)])
            }
            // The timer's rounds copy the frames into the database file, which grows from them.
            let deadline = Date().addingTimeInterval(10)
            while try databaseBytes(directory) <= before + 20 * 64 * 1024, Date() < deadline { usleep(10_000) }
            let after = try databaseBytes(directory)
            #expect(after > before + 20 * 64 * 1024, "a timed round checkpointed the WAL")
            let now = try #require(try spool.checkpointer.checkpointNow())
            #expect(!now.busy)
            #expect(now.checkpointedFrames == now.logFrames, "nothing left behind with no reader in the way")
        }
    }

    @Test func noRoundRunsAfterClose() throws {
        try withSpool { spool, _ in
            spool.close()
            let round = try spool.checkpointer.checkpointNow()
            #expect(round == nil)
        }
    }
}
