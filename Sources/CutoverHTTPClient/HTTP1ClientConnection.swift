import CutoverHTTP
import CutoverSockets
import CutoverTLS
import Dispatch
import HTTPTypes

/// One outbound keep-alive connection: one request at a time, response decoded incrementally.
final class HTTP1ClientConnection: ConnectionDelegate, @unchecked Sendable {
    // Invariant: all mutable state is touched only on `transport.loop`.
    typealias Completion = @Sendable (Result<HTTP1Response, HTTPClientError>) -> Void

    private let transport: Connection
    private let configuration: HTTPClientConfiguration
    private let onIdle: @Sendable (HTTP1ClientConnection) -> Void
    private let onClose: @Sendable (HTTP1ClientConnection) -> Void
    private var decoder: HTTP1ResponseDecoder
    private var pending: Completion?
    /// Why the connection closed, when it closed on an error before a request was sent on it (a
    /// server refusing our TLS 1.3 client certificate does so right after the handshake).
    private var closeError: HTTPClientError?

    private init(
        transport: Connection, configuration: HTTPClientConfiguration,
        onIdle: @escaping @Sendable (HTTP1ClientConnection) -> Void,
        onClose: @escaping @Sendable (HTTP1ClientConnection) -> Void
    ) {
        self.transport = transport
        self.configuration = configuration
        self.onIdle = onIdle
        self.onClose = onClose
        var limits = HTTP1Limits.responseDefaults
        limits.maxBodyBytes = configuration.maxResponseBodyBytes
        decoder = HTTP1ResponseDecoder(limits: limits, keptBodyBytes: configuration.keptResponseBodyBytes ?? .max)
    }

    /// Starts HTTP/1.1 on a connected (and, for https, handshaken) stream. Call on `loop`.
    static func start(
        on stream: any ByteStream, loop: any EventLoop, peer: String, configuration: HTTPClientConfiguration,
        onIdle: @escaping @Sendable (HTTP1ClientConnection) -> Void,
        onClose: @escaping @Sendable (HTTP1ClientConnection) -> Void
    ) -> HTTP1ClientConnection {
        let connection = HTTP1ClientConnection(
            transport: Connection(stream: stream, loop: loop, peer: peer),
            configuration: configuration, onIdle: onIdle, onClose: onClose
        )
        connection.transport.start(delegate: connection)
        return connection
    }

    func send(_ bytes: [UInt8], method: HTTPRequest.Method, completion: @escaping Completion) {
        transport.loop.execute { [self] in
            guard !transport.isClosed, pending == nil else {
                completion(.failure(closeError ?? .connectionClosed))
                return
            }
            pending = completion
            decoder.requestMethod = method
            transport.setDeadline(after: configuration.requestTimeout)
            transport.write(bytes)
        }
    }

    func closeIdle() {
        transport.loop.execute { [self] in
            if pending == nil { transport.close() }
        }
    }

    // MARK: ConnectionDelegate

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard pending != nil else {
            // Bytes nobody asked for: the stream is out of step, so it cannot be reused.
            transport.close()
            return
        }
        decoder.append(bytes)
        do {
            if let response = try decoder.next() { complete(.success(response), reuse: response.keepAlive) }
        } catch {
            complete(.failure(.malformedResponse(error)), reuse: false)
        }
    }

    func connectionDidReachEndOfInput(_ connection: Connection) {
        guard pending != nil else {
            transport.close()
            return
        }
        do {
            if let response = try decoder.finishOnEOF() {
                complete(.success(response), reuse: false)
            } else {
                complete(.failure(.connectionClosed), reuse: false)
            }
        } catch {
            complete(.failure(.malformedResponse(error)), reuse: false)
        }
    }

    func connectionDidDrainWrites(_ connection: Connection) {}

    func connectionDeadlineDidPass(_ connection: Connection) {
        if pending != nil {
            complete(.failure(.timedOut("waiting for the response")), reuse: false)
        } else {
            transport.close()
        }
    }

    func connectionDidClose(_ connection: Connection, error: (any Error)?) {
        let failure: HTTPClientError =
            if let error = error as? SystemError {
                .io(error)
            } else if let error = error as? TLSError {
                // After a TLS 1.3 handshake a server can still refuse us (no client certificate).
                .tls(error)
            } else {
                .connectionClosed
            }
        if error != nil { closeError = failure }
        if let pending {
            self.pending = nil
            pending(.failure(failure))
        }
        onClose(self)
    }

    private func complete(_ result: Result<HTTP1Response, HTTPClientError>, reuse: Bool) {
        guard let pending else { return }
        self.pending = nil
        if reuse {
            transport.setDeadline(after: configuration.idleTimeout)
            onIdle(self)
        } else {
            transport.close()
        }
        pending(result)
    }
}
