import CutoverLocking
import CutoverPostgres

/// Keeps a configured `instance_id` to one running instance: a session-level advisory lock on the
/// id, held by a connection of its own for the life of the process. Two live instances with one id
/// would renew and take back each other's leases, so a contact's deliveries could be in flight on
/// both at once: the second refuses to start instead.
///
/// PostgreSQL ends a session, and frees its locks, when the process holding it dies, so a restart
/// after a crash gets the lock; `acquire` waits `waitSeconds` for the dead process's session to end
/// (the server notices the closed socket at once, but not before the restart may ask). If the session
/// breaks while running (the server restarted), `keep` takes the lock again on a new one.
final class PostgresInstanceLock: Sendable {
    /// The first key of the two-key advisory lock ("CUTI" in ASCII): two-key locks never meet the
    /// one-key migration lock, and other applications are unlikely to pick it.
    static let namespace: Int32 = 0x4355_5449
    /// How long a start waits for a previous holder's session to end.
    static let waitSeconds = 5

    let instanceID: String
    private let url: String
    private let password: String?
    private let connectTimeout: Int
    private let session = Locked<PostgresConnection?>(nil)

    private init(instanceID: String, url: String, password: String?, connectTimeout: Int) {
        self.instanceID = instanceID
        self.url = url
        self.password = password
        self.connectTimeout = connectTimeout
    }

    /// Takes the lock of `configuration.instanceID`. Throws `.refused` naming the id if another
    /// running instance holds it, `.unavailable` if the server cannot be reached.
    static func acquire(_ configuration: PostgresSpoolConfiguration) throws(SpoolError) -> PostgresInstanceLock {
        let lock = PostgresInstanceLock(
            instanceID: configuration.instanceID, url: configuration.url, password: configuration.password,
            connectTimeout: configuration.connectTimeout)
        try lock.session.withLock { (session: inout PostgresConnection?) throws(SpoolError) in
            session = try lock.lockedSession()
        }
        return lock
    }

    /// A new session holding the lock, waiting `waitSeconds` for it.
    private func lockedSession() throws(SpoolError) -> sending PostgresConnection {
        let connection: PostgresConnection
        do throws(PostgresError) {
            connection = try connect()
            try connection.execute("SET lock_timeout = '\(Self.waitSeconds)s'", "set the instance lock's wait")
        } catch {
            throw PostgresSpoolError.of(error)
        }
        do throws(PostgresError) {
            try connection.query(
                "SELECT pg_advisory_lock(\(Self.namespace), hashtext($1))", [.text(instanceID)], "take the lock of instance id \(instanceID)")
            return connection
        } catch {
            connection.close()
            // 55P03 lock_not_available: lock_timeout ran out with the lock still held elsewhere.
            guard error.sqlState == "55P03" else { throw PostgresSpoolError.of(error) }
            throw SpoolError(
                kind: .refused,
                message: "instance_id \"\(instanceID)\" is in use by another running instance on this spool "
                    + "(its session has held the id's lock for \(Self.waitSeconds) s); give each instance its own instance_id, "
                    + "or leave it unset for a new one each run",
                operation: "take the lock of instance id \(instanceID)")
        }
    }

    /// Checks the session is alive; if it broke, takes the lock again on a new one (without waiting:
    /// if another process took the id meanwhile, tried again at the next call). Failures are left for
    /// the next call, as the lease renewal that calls it does with its own.
    func keep() {
        session.withLock { (connection: inout PostgresConnection?) in
            if let open = connection, (try? open.query("SELECT 1", [], "check the instance lock's session")) != nil { return }
            connection?.close()
            connection = nil
            guard let fresh = try? connect(),
                let taken = try? fresh.query(
                    "SELECT pg_try_advisory_lock(\(Self.namespace), hashtext($1))", [.text(instanceID)],
                    "take the lock of instance id \(instanceID) again"),
                (try? taken.int(0, 0)) == 1
            else { return }
            connection = fresh
        }
    }

    /// Ends the session, which frees the lock.
    func release() {
        session.withLock { connection in
            connection?.close()
            connection = nil
        }
    }

    private func connect() throws(PostgresError) -> PostgresConnection {
        try PostgresConnection(url: url, password: password, connectTimeout: connectTimeout, applicationName: "cutover instance lock")
    }
}
