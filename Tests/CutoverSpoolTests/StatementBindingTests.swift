import CutoverTestSupport
import Testing

@testable import CutoverSpool

/// Text and blobs are bound from the statement's own kept copies (`SQLITE_STATIC`): every value
/// must read back as bound, through one cached statement, whether its buffer is reused, grown, or
/// bypassed for a value over the kept size.
struct StatementBindingTests {
    @Test func valuesOfEverySizeReadBackThroughOneReusedStatement() throws {
        try withTemporaryDirectory { directory in
            let database = try SQLiteDatabase(path: directory + "/bindings.sqlite3")
            try database.execute("CREATE TABLE kept (id INTEGER PRIMARY KEY, text TEXT NOT NULL, blob BLOB NOT NULL)", "create table")
            let sizes = [1, 63, 64, 65, 3, 4_000, 100, Statement.maxKeptBindingBytes, Statement.maxKeptBindingBytes + 1, 70_000, 12, 0]
            for (index, size) in sizes.enumerated() {
                let text = String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: size)
                let blob = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
                try database.run("INSERT INTO kept (id, text, blob) VALUES (?1, ?2, ?3)", "insert") { statement throws(SpoolError) in
                    try statement.bind(index, at: 1)
                    try statement.bind(text, at: 2)
                    try statement.bind(blob, at: 3)
                }
            }
            for (index, size) in sizes.enumerated() {
                let row = try database.firstRow(
                    "SELECT text, blob FROM kept WHERE id = ?1", "read",
                    bind: { statement throws(SpoolError) in try statement.bind(index, at: 1) }
                ) { statement in (statement.string(0), statement.bytes(1)) }
                let (text, blob) = try #require(row)
                #expect(text == String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: size), "text of \(size) bytes")
                #expect(blob == (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }, "blob of \(size) bytes")
            }
        }
    }
}
