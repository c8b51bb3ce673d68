import CutoverLocking
import Dispatch

/// Checkpoints the spool's WAL from a connection and a queue of its own, so the writer's COMMIT
/// never does it.
///
/// Left to SQLite, the commit that takes the WAL past `wal_autocheckpoint` pages copies them all into
/// the database and fsyncs it before it returns, and every request of that batch waits for its 200
/// behind the copy: several milliseconds, several times a second under load. Here a PASSIVE
/// checkpoint runs every `interval` beside the writer (it takes no lock the writer needs and stops
/// early rather than wait for a reader). The writer keeps a far higher `wal_autocheckpoint`
/// (`writerFallbackPages`) as a bound should this queue fall behind.
final class WALCheckpointer: Sendable {
    /// What the writer checkpoints by itself only when the WAL has grown this far (about 40 MB).
    static let writerFallbackPages = 10_000
    static let interval = DispatchTimeInterval.milliseconds(200)

    /// nil once closed: the next round finds it so and schedules no more.
    private let connection: Locked<SQLiteDatabase?>
    /// Background QoS (nice 10 on Linux): a round copies the frames committed since the last one
    /// (about a thousand at 2000 requests/s, some 5 ms of CPU in one burst) and fsyncs the database,
    /// and nothing but the WAL's length waits for it; at nice 0 the burst shared the core at par
    /// with the threads answering requests, which then waited behind it.
    private let queue = DispatchQueue(label: "cutover.spool.checkpoint", qos: .background)

    /// `path` must already be a WAL database (the writer opened it first).
    init(path: String, busyTimeoutMilliseconds: Int32) throws(SpoolError) {
        // A PASSIVE checkpoint never calls the busy handler; the timeout only covers opening.
        let database = try SQLiteDatabase(path: path, options: SQLiteDatabase.Options(busyTimeoutMilliseconds: busyTimeoutMilliseconds))
        connection = Locked(Optional(database))
        scheduleNextRound()
    }

    private func scheduleNextRound() {
        queue.asyncAfter(deadline: .now() + Self.interval) { [self] in
            do throws(SpoolError) {
                guard try checkpointNow() != nil else { return }
            } catch {
                // Busy or a disk error: the writer reports disk trouble on its next commit, and
                // the next round tries again.
            }
            scheduleNextRound()
        }
    }

    /// One PASSIVE checkpoint now, on the caller's thread; nil once closed.
    @discardableResult
    func checkpointNow() throws(SpoolError) -> WALCheckpointResult? {
        try connection.withLock { (database: inout SQLiteDatabase?) throws(SpoolError) -> WALCheckpointResult? in
            try database?.checkpointPassively()
        }
    }

    /// Waits for a checkpoint in progress, then closes the connection; no round runs after. Idempotent.
    func close() {
        connection.withLock { database in
            database?.close()
            database = nil
        }
    }
}

/// What `PRAGMA wal_checkpoint` reports: frames in the WAL and frames copied into the database.
struct WALCheckpointResult: Equatable {
    var busy: Bool
    var logFrames: Int
    var checkpointedFrames: Int
}

extension SQLiteDatabase {
    /// A PASSIVE checkpoint: copies what it can without waiting for readers or the writer.
    func checkpointPassively() throws(SpoolError) -> WALCheckpointResult {
        try firstRow("PRAGMA wal_checkpoint(PASSIVE)", "checkpoint the WAL") { row in
            WALCheckpointResult(busy: row.int(0) != 0, logFrames: row.int(1), checkpointedFrames: row.int(2))
        } ?? WALCheckpointResult(busy: true, logFrames: 0, checkpointedFrames: 0)
    }
}
