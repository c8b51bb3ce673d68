import CutoverHTTP
public import CutoverSockets
import Dispatch
import HTTPTypes
import Synchronization

/// An HTTP/1.1 server: one listener, connections spread over a fixed set of event loops.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    private let handler: any HTTPServerHandler
    private let observer: any HTTPServerObserver
    private let loops: [DispatchEventLoop]
    private let state = Mutex(State())

    private struct State {
        var listeners: [Listener] = []
        var openConnections = 0
        var nextLoop = 0
        var connections: [ObjectIdentifier: HTTP1ServerConnection] = [:]
    }

    public init(
        configuration: HTTPServerConfiguration,
        handler: any HTTPServerHandler,
        observer: any HTTPServerObserver,
        loops: [DispatchEventLoop]
    ) {
        precondition(!loops.isEmpty, "an HTTP server needs at least one event loop")
        self.configuration = configuration
        self.handler = handler
        self.observer = observer
        self.loops = loops
        Socket.ignoreBrokenPipeSignal()
    }

    /// Starts listening on `host:port` and returns the bound address (port 0 picks one).
    @discardableResult
    public func listen(on endpoint: HostAndPort) throws -> SocketAddress {
        let listener = try Listener(
            host: endpoint.host, port: endpoint.port, loop: loops[0],
            onAccept: { [self] socket in accept(socket) },
            onError: { [observer] error in
                observer.requestRejected(status: .serviceUnavailable, reason: error.description, remoteAddress: "")
            }
        )
        state.withLock { $0.listeners.append(listener) }
        listener.start()
        return listener.address
    }

    /// Stops accepting; open connections finish their current request and close.
    public func stopListening() {
        let listeners = state.withLock { state in
            defer { state.listeners.removeAll() }
            return state.listeners
        }
        for listener in listeners { listener.stop() }
    }

    /// Closes idle keep-alive connections and lets busy ones close after their response.
    public func shutdown() {
        stopListening()
        let connections = state.withLock { Array($0.connections.values) }
        for connection in connections { connection.closeWhenIdle() }
    }

    public var openConnectionCount: Int { state.withLock { $0.openConnections } }

    private func accept(_ socket: Socket) {
        socket.setNoDelay()
        let admitted: DispatchEventLoop? = state.withLock { state in
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
            let transport = Connection(stream: socket, loop: loop, peer: (try? socket.peerAddress().description) ?? "")
            let connection = HTTP1ServerConnection(
                transport: transport, configuration: configuration, handler: handler, observer: observer,
                onClose: { [self] closed in connectionDidClose(closed) }
            )
            state.withLock { $0.connections[ObjectIdentifier(connection)] = connection }
            connection.start()
        }
    }

    private func connectionDidClose(_ connection: HTTP1ServerConnection) {
        state.withLock { state in
            state.openConnections -= 1
            state.connections[ObjectIdentifier(connection)] = nil
        }
        observer.connectionClosed()
    }

    /// Over the connection limit: a best-effort 503 written straight to the fresh socket.
    private func rejectOverCapacity(_ socket: Socket) {
        var bytes: [UInt8] = []
        HTTP1ResponseEncoder.encodeError(status: .serviceUnavailable, reason: "too many connections", into: &bytes)
        _ = try? bytes.withUnsafeBytes { try socket.write($0) }
        socket.close()
        observer.requestRejected(status: .serviceUnavailable, reason: "too many connections", remoteAddress: "")
    }
}
