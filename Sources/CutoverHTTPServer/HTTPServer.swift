import CutoverHTTP
import CutoverHTTP2
import CutoverLocking
import CutoverSockets
import CutoverTLS
import Dispatch
import HTTPTypes

/// An HTTP/1.1 and HTTP/2 server: listeners (plain or TLS), connections spread over a fixed set
/// of event loops. TLS connections speak what ALPN chose (`h2` or `http/1.1`); plain ones speak
/// HTTP/1.1, or h2c when they open with the HTTP/2 client preface.
package final class HTTPServer: Sendable {
    package let configuration: HTTPServerConfiguration
    private let handler: any HTTPServerHandler
    private let observer: any HTTPServerObserver
    private let loops: [any EventLoop]
    private let state = Locked(State())
    /// Request bodies held by every connection of this server, against `maxInflightBodyBytes`.
    package let bodyBudget: BodyMemoryBudget
    /// Where `shutdownGracefully` waits for the last connection to close.
    let drained = ConnectionDrain()

    private struct State {
        var listeners: [Listener] = []
        var openConnections = 0
        var nextLoop = 0
        var connections: [Int: any ServerConnection] = [:]
        var nextConnectionID = 0
        var isShuttingDown = false
    }

    package init(
        configuration: HTTPServerConfiguration,
        handler: any HTTPServerHandler,
        observer: any HTTPServerObserver,
        loops: [any EventLoop]
    ) {
        precondition(!loops.isEmpty, "an HTTP server needs at least one event loop")
        self.configuration = configuration
        self.handler = handler
        self.observer = observer
        self.loops = loops
        bodyBudget = BodyMemoryBudget(limit: configuration.maxInflightBodyBytes)
        Socket.ignoreBrokenPipeSignal()
    }

    /// Starts listening on `host:port` and returns the bound address (port 0 picks one). With
    /// `tls`, every connection first completes a TLS handshake (and, when the context requires
    /// client certificates, presents a valid one) before any byte reaches HTTP; reload the
    /// context to change certificates for new connections.
    @discardableResult
    package func listen(on endpoint: HostAndPort, tls: TLSContext? = nil) throws -> SocketAddress {
        if let tls {
            guard case .server(let configuration) = tls.role else {
                throw HTTPServerSetupError("a TLS listener needs a server context, not a client one")
            }
            // ALPN decides the protocol of a connection, so only what the server speaks may be offered.
            if let unsupported = configuration.applicationProtocols.first(where: { !Self.servedProtocols.contains($0) }) {
                throw HTTPServerSetupError("ALPN protocol '\(unsupported)' is not served; offer only h2 and http/1.1")
            }
        }
        let listener = try Listener(
            host: endpoint.host, port: endpoint.port, loop: loops[0],
            onAccept: { [self] socket in accept(socket, tls: tls) },
            onError: { [observer] error in
                observer.requestRejected(status: .serviceUnavailable, reason: error.description, remoteAddress: "")
            }
        )
        state.withLock { $0.listeners.append(listener) }
        listener.start()
        return listener.address
    }

    /// Stops accepting; open connections finish their current request and close.
    package func stopListening() {
        let listeners = state.withLock { state in
            defer { state.listeners.removeAll() }
            return state.listeners
        }
        for listener in listeners { listener.stop() }
    }

    /// ALPN protocols a connection can be handed to.
    static let servedProtocols: Set<String> = ["h2", "http/1.1"]

    /// Closes idle keep-alive connections and lets busy ones close after their response.
    package func shutdown() {
        // One lock for the flag and the snapshot: `track` then closes exactly those not in it.
        let connections = state.withLock { state in
            state.isShuttingDown = true
            return Array(state.connections.values)
        }
        stopListening()
        for connection in connections { connection.closeWhenIdle() }
    }

    package var openConnectionCount: Int { state.withLock { $0.openConnections } }

    private func accept(_ socket: Socket, tls: TLSContext?) {
        socket.setNoDelay()
        let admitted: (any EventLoop)? = state.withLock { state in
            guard state.openConnections < configuration.maxConnections else { return nil }
            state.openConnections += 1
            state.nextLoop = (state.nextLoop + 1) % loops.count
            return loops[state.nextLoop]
        }
        guard let loop = admitted else {
            rejectOverCapacity(socket)
            return
        }
        observer.connectionOpened()
        loop.execute { [self] in
            let peer = (try? socket.peerAddress().description) ?? ""
            guard let tls else {
                startHTTP(on: socket, loop: loop, peer: peer, tls: nil)
                return
            }
            let stream: TLSStream
            do throws(TLSError) {
                stream = try tls.makeServerStream(socket: socket)
            } catch {
                handshakeFailed(error, peer: peer)
                socket.close()
                return
            }
            TLSHandshake.start(stream, on: loop, timeout: tls.handshakeTimeout) { [self] result in
                switch result {
                case .success(let info):
                    guard !state.withLock({ $0.isShuttingDown }) else {
                        stream.close()
                        releaseSlot()
                        return
                    }
                    // The negotiated ALPN protocol picks the connection type; no ALPN at all
                    // means HTTP/1.1.
                    startHTTP(on: stream, loop: loop, peer: peer, tls: info)
                case .failure(let error):
                    handshakeFailed(error, peer: peer)
                    stream.close()
                }
            }
        }
    }

    private func startHTTP(on stream: any ByteStream, loop: any EventLoop, peer: String, tls: TLSConnectionInfo?) {
        let transport = Connection(stream: stream, loop: loop, peer: peer)
        let id = state.withLock { state in
            state.nextConnectionID += 1
            return state.nextConnectionID
        }
        let onClose: @Sendable () -> Void = { [self] in connectionDidClose(id) }
        let makeHTTP1: @Sendable () -> HTTP1ServerConnection = { [self] in
            HTTP1ServerConnection(
                transport: transport, configuration: configuration, handler: handler, observer: observer, tls: tls, budget: bodyBudget,
                onClose: onClose
            )
        }
        let makeHTTP2: @Sendable () -> HTTP2ServerConnection? = { [self] in
            do throws(HTTP2Error) {
                return try HTTP2ServerConnection(
                    transport: transport, configuration: configuration, handler: handler, observer: observer, tls: tls, budget: bodyBudget,
                    onClose: onClose
                )
            } catch {
                observer.requestRejected(status: .internalServerError, reason: error.description, remoteAddress: peer)
                return nil
            }
        }
        if let tls {
            if tls.applicationProtocol == "h2" {
                guard let connection = makeHTTP2() else {
                    stream.close()
                    releaseSlot()
                    return
                }
                track(connection, id: id)
                connection.start()
            } else {
                let connection = makeHTTP1()
                track(connection, id: id)
                connection.start()
            }
        } else {
            let detector = PlainProtocolDetector(
                transport: transport, idleTimeout: configuration.idleTimeout, makeHTTP1: makeHTTP1, makeHTTP2: makeHTTP2, onClose: onClose
            )
            track(detector, id: id)
            detector.start()
        }
    }

    /// Checked under the lock `shutdown()` sets the flag and snapshots under: a connection is
    /// either in its snapshot or told to close here, however late its accept was.
    private func track(_ connection: any ServerConnection, id: Int) {
        let shuttingDown = state.withLock { state in
            state.connections[id] = connection
            return state.isShuttingDown
        }
        if shuttingDown { connection.closeWhenIdle() }
    }

    /// A TLS connection that never reached HTTP: no valid client certificate, a protocol
    /// version or cipher below the policy, a timeout, or a peer that gave up.
    private func handshakeFailed(_ error: TLSError, peer: String) {
        observer.tlsHandshakeFailed(reason: error.description, remoteAddress: peer)
        releaseSlot()
    }

    private func connectionDidClose(_ id: Int) {
        state.withLock { $0.connections[id] = nil }
        releaseSlot()
    }

    private func releaseSlot() {
        let remaining = state.withLock { state in
            state.openConnections -= 1
            return state.openConnections
        }
        observer.connectionClosed()
        if remaining == 0 { drained.lastConnectionClosed() }
    }

    /// Over the connection limit: a best-effort 503 written straight to the fresh socket.
    private func rejectOverCapacity(_ socket: Socket) {
        // Counted before the peer can see the answer, so what a client observes is already in the metrics.
        observer.requestRejected(status: .serviceUnavailable, reason: "too many connections", remoteAddress: "")
        var bytes: [UInt8] = []
        HTTP1ResponseEncoder.encodeError(status: .serviceUnavailable, reason: "too many connections", into: &bytes)
        _ = try? bytes.withUnsafeBytes { try socket.write($0) }
        socket.close()
    }
}

/// A listener the server cannot set up as asked.
package struct HTTPServerSetupError: Error, Sendable, CustomStringConvertible {
    package let description: String

    init(_ description: String) {
        self.description = description
    }
}
