import CutoverLocking
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of its own for tests: a cluster made by `initdb` in a temporary directory,
/// listening on a loopback ephemeral port with its unix socket in that directory, trust
/// authentication for the user `cutover`, removed with the directory.
///
/// The server runs in the foreground as a `PeerProcess` (not daemonized by `pg_ctl`), so it carries
/// the test-peer marker, is killed with the test on any path, and is waited on by its "ready to
/// accept connections" log line. Each test starts its own and stops it when done (`deinit` stops it
/// on a failing path too): a server shared by the test process would outlive every test. PostgreSQL refuses to run as root: as root, every command runs as
/// the `postgres` user through `runuser` (the cluster directory is handed to that user).
package final class PostgresServer: Sendable {
    package let port: UInt16
    package let directory: TemporaryDirectory
    private let server = Locked<PeerProcess?>(nil)
    private let nextDatabase = Locked(0)

    package init() throws {
        directory = try TemporaryDirectory(prefix: "cutover-postgres")
        port = try freePort()
        try Self.handOver(directory.path)
        let initdb = try runCommand(
            Self.command("initdb"),
            Self.arguments(
                "initdb", ["-D", dataDirectory, "-A", "trust", "-U", "cutover", "-E", "UTF8", "--no-sync", "--no-instructions"]),
            timeout: 120)
        guard initdb.status == 0 else { throw TestFailure("initdb failed: \(initdb.error)") }
        try start()
    }

    private var dataDirectory: String { directory.path("data") }

    /// `postgresql://cutover@127.0.0.1:<port>/<database>`.
    package func url(database: String = "postgres") -> String { "postgresql://cutover@127.0.0.1:\(port)/\(database)" }

    /// A new, empty database on the server; its URL.
    package func makeDatabase() throws -> String {
        let name = "test_\(nextDatabase.withLock { value in value += 1; return value })_\(getpid())"
        try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// Runs `sql` with psql on the `postgres` database; throws with psql's error on failure.
    @discardableResult
    package func psql(_ sql: String, database: String = "postgres") throws -> String {
        let result = try runCommand(
            "/usr/bin/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, url(database: database)], timeout: 60)
        guard result.status == 0 else { throw TestFailure("psql \(sql): \(result.error)") }
        return result.output
    }

    /// Starts the server (again) on the same port and data; returns once it accepts connections.
    package func start() throws {
        let sockets = directory.path("sockets")
        try? FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true)
        try Self.handOver(sockets)
        let process = try PeerProcess(
            Self.command("postgres"),
            Self.arguments(
                "postgres",
                [
                    "-D", dataDirectory, "-p", String(port), "-k", sockets, "-c", "listen_addresses=127.0.0.1",
                    "-c", "max_connections=200", "-c", "logging_collector=off",
                ]))
        server.withLock { $0 = process }
        _ = try process.waitForLine(.stderr, timeout: 60) { $0.contains("ready to accept connections") }
    }

    /// Fast shutdown (SIGINT: sessions are ended, in-progress transactions roll back); returns once
    /// the server exited.
    package func stop() {
        guard let process = server.withLock({ $0.take() }) else { return }
        process.signalGroup(SIGINT)
        if process.waitForExit(timeout: 60) == nil { process.kill() }
    }

    deinit { stop() }

    private static var runsAsRoot: Bool { geteuid() == 0 }

    private static let binDirectory: String = {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let newest = versions.compactMap(Int.init).max().map(String.init) ?? "15"
        return "/usr/lib/postgresql/\(newest)/bin"
    }()

    private static func command(_ name: String) -> String { runsAsRoot ? "/usr/sbin/runuser" : "\(binDirectory)/\(name)" }

    private static func arguments(_ name: String, _ arguments: [String]) -> [String] {
        runsAsRoot ? ["-u", "postgres", "--", "\(binDirectory)/\(name)"] + arguments : arguments
    }

    /// As root, gives `path` to the `postgres` user, which initdb and the server run as.
    private static func handOver(_ path: String) throws {
        guard runsAsRoot else { return }
        guard let user = getpwnam("postgres") else { throw TestFailure("running as root and there is no postgres user") }
        guard chown(path, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
            throw TestFailure("chown \(path) to postgres: \(String(cString: strerror(errno)))")
        }
    }
}
