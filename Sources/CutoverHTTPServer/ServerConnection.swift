import CutoverHTTP2
import CutoverSockets
import Dispatch

/// A server connection of either protocol, as the server tracks it for shutdown.
protocol ServerConnection: AnyObject, Sendable {
    /// Graceful shutdown: HTTP/1.1 closes when idle, HTTP/2 sends GOAWAY and lets streams finish.
    func closeWhenIdle()
}

/// The first bytes of a plain connection decide its protocol: the HTTP/2 client preface means
/// h2c with prior knowledge (RFC 9113 §3.3), anything else is HTTP/1.1. Bytes are held until
/// they differ from the preface or match all of it, then every event goes to the chosen
/// connection, the held bytes first.
final class PlainProtocolDetector: ServerConnection, ConnectionDelegate, @unchecked Sendable {
    // Invariant: all mutable state is touched only on `transport.loop`.
    private let transport: Connection
    private let makeHTTP1: @Sendable () -> HTTP1ServerConnection
    private let makeHTTP2: @Sendable () -> HTTP2ServerConnection?
    private let onClose: @Sendable () -> Void
    private let idleTimeout: Duration
    private var held: [UInt8] = []
    private var chosen: (any ConnectionDelegate & ServerConnection)?
    private var closeRequested = false

    /// `PRI * HTTP/2.0`: a request line no HTTP/1.1 server serves. From there on a mismatch is a
    /// bad HTTP/2 preface (answered with GOAWAY), not an HTTP/1.1 request.
    private static let decisivePrefix = 14

    init(
        transport: Connection, idleTimeout: Duration,
        makeHTTP1: @escaping @Sendable () -> HTTP1ServerConnection,
        makeHTTP2: @escaping @Sendable () -> HTTP2ServerConnection?,
        onClose: @escaping @Sendable () -> Void
    ) {
        self.transport = transport
        self.idleTimeout = idleTimeout
        self.makeHTTP1 = makeHTTP1
        self.makeHTTP2 = makeHTTP2
        self.onClose = onClose
    }

    func start() {
        transport.start(delegate: self)
        transport.setDeadline(after: idleTimeout)
    }

    func closeWhenIdle() {
        transport.loop.execute { [self] in
            if let chosen {
                chosen.closeWhenIdle()
            } else {
                closeRequested = true
                if held.isEmpty { transport.close() }
            }
        }
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        if let chosen {
            chosen.connection(connection, didRead: bytes)
            return
        }
        held.append(contentsOf: bytes)
        let preface = HTTP2Session.clientPreface
        let compared = min(held.count, preface.count)
        let matching = zip(held.prefix(compared), preface).prefix { $0 == $1 }.count
        if matching == compared, compared < preface.count { return }  // so far, so HTTP/2
        choose(http2: matching >= Self.decisivePrefix)
    }

    private func choose(http2: Bool) {
        let next: any ConnectionDelegate & ServerConnection
        if http2, let connection = makeHTTP2() {
            connection.attach()
            next = connection
        } else {
            let connection = makeHTTP1()
            connection.attach()
            next = connection
        }
        chosen = next
        let bytes = held
        held = []
        bytes.withUnsafeBytes { next.connection(transport, didRead: $0) }
        if closeRequested { next.closeWhenIdle() }
    }

    func connectionDidReachEndOfInput(_ connection: Connection) {
        if chosen == nil, !held.isEmpty { choose(http2: false) }
        if let chosen {
            chosen.connectionDidReachEndOfInput(connection)
        } else {
            transport.close()
        }
    }

    func connectionDidDrainWrites(_ connection: Connection) {
        chosen?.connectionDidDrainWrites(connection)
    }

    func connectionDeadlineDidPass(_ connection: Connection) {
        if let chosen {
            chosen.connectionDeadlineDidPass(connection)
        } else if held.isEmpty {
            transport.close()
        } else {
            // A partial preface that never completed: HTTP/1.1 answers it as a timed-out request.
            choose(http2: false)
            chosen?.connectionDeadlineDidPass(connection)
        }
    }

    func connectionDidClose(_ connection: Connection, error: (any Error)?) {
        if let chosen {
            chosen.connectionDidClose(connection, error: error)
        } else {
            onClose()
        }
    }
}
