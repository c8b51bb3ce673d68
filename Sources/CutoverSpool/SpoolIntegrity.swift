import CSQLite
import CutoverLocking
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `Spool.open` found before it let anyone use the database.
package struct SpoolOpenReport: Sendable, Equatable {
    package enum Check: Sendable, Equatable {
        /// A database created by this open: nothing to check.
        case newSpool
        /// `SpoolCheck.off`.
        case skipped
        /// `PRAGMA quick_check` said ok.
        case passed(Duration)
        /// The check ran past `SpoolOptions.checkTimeout` and was interrupted: the spool is unverified.
        case timedOut(Duration)
    }

    /// The id the database carries and `spool.id` records.
    package var spoolID: String
    package var check: Check
    /// `spool.id` was missing and has been written (a new spool, or one from before markers).
    package var wroteMarker: Bool
}

/// The start-up checks. A spool that has held data must never start silently empty (a database
/// truncated or deleted under a marker that says otherwise), nor damaged (a failing quick_check);
/// both refusals name the fix, and the operator decides.
///
/// The marker, `<directory>/spool.id`, is written once when the database is created and records the
/// random id the database keeps in `spool_identity` (schema v5). A database without that id under a
/// marker is empty or new: the data the directory held is gone.
enum SpoolIntegrity {
    static let markerName = "spool.id"

    static func markerPath(directory: String) -> String {
        directory.hasSuffix("/") ? directory + markerName : directory + "/" + markerName
    }

    /// The checks that need the database before migration; returns the report and whether `migrate`
    /// may proceed. Throws `.refused` with the fix in the message.
    static func verify(_ database: SQLiteDatabase, directory: String, options: SpoolOptions) throws(SpoolError)
        -> SpoolOpenReport.Check
    {
        let markerPath = markerPath(directory: directory)
        let marker = try readMarker(markerPath)
        let version = try refusingDamage(database) { () throws(SpoolError) in try database.userVersion() }
        let stored = try refusingDamage(database) { () throws(SpoolError) in try database.storedSpoolID() }
        if let marker {
            guard let stored else {
                if version == 0 {
                    throw SpoolError(
                        kind: .refused, message:
                        "\(database.path) is empty, but \(markerPath) says this directory held spool \(marker): its requests, "
                            + "events and pending deliveries are gone. Restore \(database.path) from a backup; to start an "
                            + "empty spool here on purpose, move \(markerPath) aside first",
                        operation: "open \(database.path)")
                }
                // A spool from before markers that somehow has one: migration gives it an id, and the marker follows.
                return try check(database, options: options)
            }
            guard stored == marker else {
                throw SpoolError(
                    kind: .refused, message:
                    "\(database.path) is spool \(stored), but \(markerPath) says this directory held spool \(marker). Put the "
                        + "right database back; to adopt this one, move \(markerPath) aside first",
                    operation: "open \(database.path)")
            }
        }
        if version == 0 { return .newSpool }
        return try check(database, options: options)
    }

    /// Writes the marker if it is missing (after migration gave the database its id).
    static func writeMarkerIfMissing(directory: String, spoolID: String) throws(SpoolError) -> Bool {
        let path = markerPath(directory: directory)
        if try readMarker(path) != nil { return false }
        let text =
            "# Cutover spool identity: spool.sqlite3 beside this file must carry this id, or cutover refuses to start.\n"
            + "id=\(spoolID)\n"
        try FileSystem.writeDurably(path: path, contents: Array(text.utf8), operation: "write spool marker \(path)")
        return true
    }

    /// The id in the marker, nil if there is no marker. An unreadable or malformed marker is an error:
    /// it is no reason to believe the directory was empty.
    static func readMarker(_ path: String) throws(SpoolError) -> String? {
        let operation = "read spool marker \(path)"
        guard let bytes = try FileSystem.readSmallFile(path: path, limit: 4096, operation: operation) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("id=") {
            let id = String(line.dropFirst(3).filter { !$0.isWhitespace })
            if !id.isEmpty { return id }
        }
        throw SpoolError(
            kind: .refused, message: "\(path) has no id= line; restore it, or move it aside to adopt the database as it is",
            operation: operation)
    }

    /// `PRAGMA quick_check`, interrupted after `options.checkTimeout`.
    private static func check(_ database: SQLiteDatabase, options: SpoolOptions) throws(SpoolError) -> SpoolOpenReport.Check {
        guard options.check == .quick else { return .skipped }
        let started = DispatchTime.now()
        let problems: [String]
        do throws(SpoolError) {
            problems = try database.interrupting(after: options.checkTimeout) { () throws(SpoolError) -> [String] in
                try database.rows("PRAGMA quick_check(20)", "run PRAGMA quick_check") { $0.string(0) }
            }
        } catch where error.primaryCode == SQLITE_INTERRUPT {
            return .timedOut(options.checkTimeout)
        } catch where SpoolFault.of(error) != nil {
            throw refusal(database, "\(database.path) is damaged: \(error)", code: error.code)
        }
        let elapsed = Duration.nanoseconds(Int64(clamping: DispatchTime.now().uptimeNanoseconds &- started.uptimeNanoseconds))
        if problems == ["ok"] { return .passed(elapsed) }
        throw refusal(database, "\(database.path) failed PRAGMA quick_check: " + problems.prefix(5).joined(separator: "; "))
    }

    /// Runs `body`; a corrupt or not-a-database error becomes the refusal naming the fix.
    private static func refusingDamage<T>(_ database: SQLiteDatabase, _ body: () throws(SpoolError) -> T) throws(SpoolError) -> T {
        do throws(SpoolError) {
            return try body()
        } catch where SpoolFault.of(error) != nil {
            throw refusal(database, "\(database.path) is damaged: \(error)", code: error.code)
        }
    }

    private static func refusal(_ database: SQLiteDatabase, _ problem: String, code: Int32 = 0) -> SpoolError {
        refusal(path: database.path, problem, code: code)
    }

    /// The refusal to open a damaged database, with the fixes an operator has.
    /// `code`: the SQLite result code that showed the damage, if one did.
    static func refusal(path: String, _ problem: String, code: Int32 = 0) -> SpoolError {
        SpoolError(
            kind: .refused, code: code,
            message: problem
                + ". Fix: restore the spool directory from a backup; or move \(path) and \(markerName) aside to start an "
                + "empty spool; or start with `--spool-check off` (spool_check: off) to read out what is left",
            operation: "open \(path)")
    }
}

extension SQLiteDatabase {
    /// The id schema v5 gives every spool, or nil (an empty or pre-v5 database).
    func storedSpoolID() throws(SpoolError) -> String? {
        let hasTable = try firstRow(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spool_identity'", "look for the spool identity table"
        ) { _ in true } ?? false
        guard hasTable else { return nil }
        return try firstRow("SELECT id FROM spool_identity", "read the spool identity") { $0.string(0) }
    }

    /// Runs `body`; past `timeout`, `sqlite3_interrupt` stops its statement with SQLITE_INTERRUPT.
    /// A timer thread does it because the integrity check runs inside one VDBE instruction, where a
    /// progress handler is never called, but it does look at the interrupt flag page by page. The
    /// timer repeats until `body` returns: an interrupt before the statement started is a no-op, so
    /// one shot could miss a limit shorter than the time to get there (seen under AddressSanitizer).
    func interrupting<T>(after timeout: Duration, _ body: () throws(SpoolError) -> T) throws(SpoolError) -> T {
        guard let handle else { return try body() }
        let target = InterruptTarget(handle)
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + timeout.dispatchInterval, repeating: .milliseconds(1))
        timer.setEventHandler { target.interrupt() }
        timer.activate()
        defer {
            timer.cancel()
            target.disarm()
        }
        return try body()
    }
}

/// The connection a timer may interrupt, until `disarm`: then the handle may be closed.
private final class InterruptTarget: @unchecked Sendable {
    // Invariant: `handle` is only touched under `lock`, and is nil once disarmed.
    private let lock = Locked<Void>(())
    private var handle: OpaquePointer?

    init(_ handle: OpaquePointer) { self.handle = handle }

    func interrupt() {
        lock.withLock { _ in if let handle { sqlite3_interrupt(handle) } }
    }

    func disarm() {
        lock.withLock { _ in handle = nil }
    }
}
