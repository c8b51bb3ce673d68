import CutoverLocking
import CutoverPostgres
import Dispatch
import Synchronization

/// A few connections to the spool's database, each in a slot of its own, made on first use and made
/// again after a failure. Reconnecting backs off (0.1 s doubling to 5 s) across the whole pool, so an
/// unreachable server costs one connect attempt per interval and every call in between fails at once
/// with `.unavailable` and the last connect error, instead of each waiting out a connect timeout.
final class PostgresPool: Sendable {
    private let url: String
    private let password: String?
    private let connectTimeout: Int
    private let slots: [Locked<PostgresConnection?>]
    private let next = Atomic<Int>(0)
    private let backoff = Locked<Backoff>(Backoff())

    private struct Backoff {
        /// Uptime nanoseconds before which no connect is tried; 0: connect at once.
        var retryAt: UInt64 = 0
        var delay: Duration = PostgresPool.firstDelay
        var lastError: PostgresError?
    }

    static let firstDelay: Duration = .milliseconds(100)
    static let longestDelay: Duration = .seconds(5)

    init(url: String, password: String?, size: Int, connectTimeout: Int) {
        self.url = url
        self.password = password
        self.connectTimeout = connectTimeout
        slots = (0..<max(1, size)).map { _ in Locked<PostgresConnection?>(nil) }
    }

    /// Runs `body` on slot `slot`'s connection (connecting first if needed), holding that slot.
    /// A failure showing the server unreachable drops the connection, so the next use reconnects.
    func with<T: Sendable>(slot: Int, _ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        try slots[slot % slots.count].withLock { (connection: inout PostgresConnection?) throws(PostgresError) -> T in
            if connection?.isOpen != true {
                connection?.close()
                connection = nil
                connection = try connect()
            }
            guard let open = connection else { throw PostgresError(kind: .connection, message: "no connection", operation: "connect") }
            do throws(PostgresError) {
                return try body(open)
            } catch {
                if error.isUnavailable || !open.isOpen {
                    open.close()
                    connection = nil
                }
                throw error
            }
        }
    }

    /// Any slot but the first (which `with(slot: 0)` callers keep for the writer), in turn.
    func withAny<T: Sendable>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        let shared = slots.count - 1
        let slot = shared == 0 ? 0 : 1 + next.wrappingAdd(1, ordering: .relaxed).oldValue % shared
        return try with(slot: slot, body)
    }

    private func connect() throws(PostgresError) -> PostgresConnection {
        let now = DispatchTime.now().uptimeNanoseconds
        if let waiting = backoff.withLock({ state in now < state.retryAt ? state.lastError : nil }) {
            throw PostgresError(
                kind: .connection, message: "PostgreSQL unreachable, reconnecting with backoff: \(waiting.message)",
                operation: waiting.operation)
        }
        do throws(PostgresError) {
            let connection = try PostgresConnection(url: url, password: password, connectTimeout: connectTimeout)
            // Explicit, whatever the server's default: a COMMIT returns only once its WAL is flushed.
            try connection.execute("SET synchronous_commit = on", "set synchronous_commit = on")
            backoff.withLock { $0 = Backoff() }
            return connection
        } catch {
            backoff.withLock { state in
                state.retryAt = DispatchTime.now().uptimeNanoseconds &+ UInt64(state.delay.components.seconds) * 1_000_000_000
                    &+ UInt64(state.delay.components.attoseconds / 1_000_000_000)
                state.delay = min(state.delay * 2, Self.longestDelay)
                state.lastError = error
            }
            throw error
        }
    }

    /// Closes every connection; later uses reconnect.
    func closeAll() {
        for slot in slots {
            slot.withLock { connection in
                connection?.close()
                connection = nil
            }
        }
    }
}
