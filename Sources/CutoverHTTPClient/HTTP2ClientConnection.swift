import CutoverHTTP
import CutoverHTTP2
import CutoverSockets
import CutoverTLS
import Dispatch
import HTTPTypes
import Synchronization

/// One outbound HTTP/2 connection (https with ALPN `h2`): many requests at once, each on its own
/// stream, never more than the peer's SETTINGS_MAX_CONCURRENT_STREAMS in flight (nghttp2 holds
/// back the HEADERS of the rest until a stream closes).
final class HTTP2ClientConnection: ConnectionDelegate, HTTP2SessionDelegate, @unchecked Sendable {
    // Invariant: `transport`, `session` and every `var` are touched only on `transport.loop`;
    // `peerStreamLimit` and `usable` are atomics the pool reads from any thread.
    typealias Completion = @Sendable (Result<HTTP1Response, HTTPClientError>) -> Void

    private let transport: Connection
    private let configuration: HTTPClientConfiguration
    private let session: HTTP2Session
    private let onClose: @Sendable (HTTP2ClientConnection) -> Void
    private var pending: [Int32: (completion: Completion, timer: (any ScheduledWork)?)] = [:]
    private var closed = false
    /// The peer's concurrency limit, for the pool's choice of connection.
    let peerStreamLimit = Atomic<Int>(100)
    /// False after GOAWAY either way or close: the pool stops giving it requests.
    let usable = Atomic<Bool>(true)

    private static let outputChunk = 64 * 1024
    private static let maxPendingOutput = 256 * 1024

    private init(
        transport: Connection, configuration: HTTPClientConfiguration, onClose: @escaping @Sendable (HTTP2ClientConnection) -> Void
    ) throws(HTTP2Error) {
        self.transport = transport
        self.configuration = configuration
        self.onClose = onClose
        var limits = HTTP2Limits(maxBodyBytes: configuration.maxResponseBodyBytes)
        limits.keptBodyBytes = configuration.keptResponseBodyBytes ?? .max
        session = try HTTP2Session(role: .client, limits: limits)
        session.delegate = self
    }

    /// Starts HTTP/2 on a TLS stream that negotiated `h2`. Call on `loop`.
    static func start(
        on stream: any ByteStream, loop: any EventLoop, peer: String, configuration: HTTPClientConfiguration,
        onClose: @escaping @Sendable (HTTP2ClientConnection) -> Void
    ) throws(HTTP2Error) -> HTTP2ClientConnection {
        let connection = try HTTP2ClientConnection(
            transport: Connection(stream: stream, loop: loop, peer: peer), configuration: configuration, onClose: onClose
        )
        connection.transport.start(delegate: connection)
        connection.flush()
        connection.armIdleDeadline()
        return connection
    }

    /// Sends one request on a new stream; `completion` runs once, on the loop.
    func send(_ head: HTTPRequest, body: [UInt8], completion: @escaping Completion) {
        transport.loop.execute { [self] in
            guard !closed, usable.load(ordering: .relaxed) else {
                completion(.failure(.connectionClosed))
                return
            }
            let id: Int32
            do throws(HTTP2Error) {
                id = try session.submitRequest(head, body: body)
            } catch {
                completion(.failure(.http2(error)))
                return
            }
            let timer = transport.loop.schedule(at: transport.loop.deadline(after: configuration.requestTimeout)) { [self] in
                guard let entry = pending.removeValue(forKey: id) else { return }
                session.resetStream(id, errorCode: .cancel)
                flush()
                entry.completion(.failure(.timedOut("waiting for the response")))
            }
            pending[id] = (completion, timer)
            transport.setDeadline(nil)
            flush()
        }
    }

    func closeIdle() {
        transport.loop.execute { [self] in
            usable.store(false, ordering: .relaxed)
            if pending.isEmpty { goAway() }
        }
    }

    // MARK: ConnectionDelegate

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard !closed else { return }
        do throws(HTTP2Error) {
            try session.receive(bytes)
        } catch {
            failAll(.http2(error))
            transport.write(HTTP2Session.goAwayFrame(errorCode: error.goAwayCode))
            transport.close(afterFlush: true)
            return
        }
        flush()
    }

    func connectionDidReachEndOfInput(_ connection: Connection) {
        transport.close()
    }

    func connectionDidDrainWrites(_ connection: Connection) {
        flush()
    }

    func connectionDeadlineDidPass(_ connection: Connection) {
        if pending.isEmpty { goAway() }
    }

    func connectionDidClose(_ connection: Connection, error: (any Error)?) {
        closed = true
        usable.store(false, ordering: .relaxed)
        let failure: HTTPClientError =
            if let error = error as? SystemError { .io(error) } else if let error = error as? TLSError { .tls(error) } else { .connectionClosed }
        failAll(failure)
        onClose(self)
    }

    // MARK: HTTP2SessionDelegate

    func http2Session(_ session: HTTP2Session, didReceive message: HTTP2Message) {
        guard let entry = pending.removeValue(forKey: message.streamID) else { return }
        entry.timer?.cancel()
        do throws(HTTP2Error) {
            let head = try message.response()
            // HTTP1Response is the client's one response type; the version field cannot say h2.
            entry.completion(.success(HTTP1Response(head: head, version: .http1_1, keepAlive: true, body: message.body)))
        } catch {
            entry.completion(.failure(.http2(error)))
        }
    }

    func http2Session(_ session: HTTP2Session, didReject streamID: Int32, status: HTTPResponse.Status, reason: String) {
        // A response over our limits: that request fails, the connection carries on.
        session.resetStream(streamID, errorCode: .cancel)
        guard let entry = pending.removeValue(forKey: streamID) else { return }
        entry.timer?.cancel()
        entry.completion(.failure(.http2(HTTP2Error("stream \(streamID)", errorCode: .cancel, reason: "response \(reason)"))))
    }

    func http2Session(_ session: HTTP2Session, streamDidClose streamID: Int32, errorCode: HTTP2ErrorCode) {
        if let entry = pending.removeValue(forKey: streamID) {
            entry.timer?.cancel()
            // REFUSED_STREAM (or a stream beyond a GOAWAY) was not processed: safe to retry.
            entry.completion(
                .failure(
                    errorCode == .refusedStream
                        ? .connectionClosed : .http2(HTTP2Error("stream \(streamID)", errorCode: errorCode, reason: "reset by the server: \(errorCode)"))
                )
            )
        }
        if pending.isEmpty { armIdleDeadline() }
    }

    func http2Session(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode) {
        usable.store(false, ordering: .relaxed)
    }

    func http2SessionDidReceiveSettings(_ session: HTTP2Session) {
        peerStreamLimit.store(session.peerMaxConcurrentStreams, ordering: .relaxed)
    }

    // MARK: Plumbing

    private func flush() {
        guard !closed, !transport.isClosed else { return }
        while transport.pendingWriteCount < Self.maxPendingOutput, session.wantsWrite {
            var output: [UInt8] = []
            do throws(HTTP2Error) {
                try session.produceOutput(into: &output, limit: Self.outputChunk)
            } catch {
                failAll(.http2(error))
                transport.close()
                return
            }
            if output.isEmpty { break }
            transport.write(output)
            if transport.isClosed { return }
        }
        if session.isFinished {
            usable.store(false, ordering: .relaxed)
            transport.close(afterFlush: true)
        }
    }

    private func goAway() {
        guard !closed else { return }
        usable.store(false, ordering: .relaxed)
        try? session.submitGoAway()
        flush()
        transport.close(afterFlush: true)
    }

    private func failAll(_ error: HTTPClientError) {
        let entries = pending
        pending.removeAll()
        for entry in entries.values {
            entry.timer?.cancel()
            entry.completion(.failure(error))
        }
    }

    private func armIdleDeadline() {
        guard !closed else { return }
        transport.setDeadline(after: configuration.idleTimeout)
    }
}
