import CSQLite
import Testing

@testable import CutoverSpool

/// What Cutover configures in the SQLite library itself before its first connection.
struct SQLiteConfigurationTests {
    /// Memory statistics are off (`SQLITE_CONFIG_MEMSTATUS`), set before the library initialized:
    /// with them on, every SQLite malloc and free takes a global mutex. The counter stays at 0 while
    /// a spool allocates plenty.
    @Test func theLibraryKeepsNoMemoryStatistics() throws {
        try withSpool { spool, _ in
            _ = try spool.ingest([request([event("counted")])])
            #expect(try spool.event(id: "counted") != nil)
            #expect(sqlite3_memory_used() == 0)
            #expect(sqlite3_memory_highwater(0) == 0)
        }
    }
}
