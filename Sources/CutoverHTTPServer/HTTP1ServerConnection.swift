import CutoverHTTP
import CutoverSockets
import CutoverTLS
import Dispatch
import HTTPTypes

/// Drives one HTTP/1.1 connection: decode, hand one request at a time to the handler, answer in
/// order (pipelined requests wait in the decoder), enforce idle and read deadlines.
final class HTTP1ServerConnection: ServerConnection, ConnectionDelegate, @unchecked Sendable {
    // Invariant: all mutable state is touched only on `transport.loop`.
    private let transport: Connection
    private let configuration: HTTPServerConfiguration
    private let handler: any HTTPServerHandler
    private let observer: any HTTPServerObserver
    /// What the TLS handshake agreed on; nil on a plain connection.
    private let tls: TLSConnectionInfo?
    private let onClose: @Sendable () -> Void
    private let budget: BodyMemoryBudget
    /// What the request being read or handled holds of `budget`; kept until the handler answers,
    /// even past a close, since the body is in memory until then.
    private var reservation = BodyReservation()
    /// Bytes read ahead of the request being handled (pipelined): they are memory too.
    private var readAhead = BodyReservation()
    /// The pending head went through `handler.admit` and had its declared body reserved.
    private var headAdmitted = false
    private var decoder: HTTP1RequestDecoder
    private var phase = Phase.idle
    private var inputEnded = false
    private var closeRequested = false
    /// When the first byte of the request being received arrived: the read timeout counts from
    /// there, so a peer trickling bytes cannot hold the connection open forever.
    private var requestStartedAt: DispatchTime?
    /// Responses the peer has not read yet, above which no further pipelined request is decoded.
    private static let maxUnreadResponseBytes = 256 * 1024
    /// A chunked body borrows memory in steps of this as it arrives.
    private static let reservationStep = 64 * 1024
    private var waitingForDrain = false
    /// True while `handler.handle` runs on this loop's stack: an answer given before it returns
    /// is kept here and written by `dispatch` itself, without a trip through the loop's queue.
    private var handlerRunning = false
    private var answerGivenInline: ServerResponse?

    private enum Phase {
        /// Waiting for (more of) the next request.
        case idle
        /// The handler has a request; later pipelined bytes wait in the decoder.
        case handling(keepAlive: Bool, http10: Bool)
        /// A response with `Connection: close` is being flushed.
        case closing
    }

    init(
        transport: Connection,
        configuration: HTTPServerConfiguration,
        handler: any HTTPServerHandler,
        observer: any HTTPServerObserver,
        tls: TLSConnectionInfo?,
        budget: BodyMemoryBudget,
        onClose: @escaping @Sendable () -> Void
    ) {
        self.transport = transport
        self.budget = budget
        self.configuration = configuration
        self.handler = handler
        self.observer = observer
        self.tls = tls
        self.onClose = onClose
        decoder = HTTP1RequestDecoder(limits: configuration.limits)
    }

    func start() {
        transport.start(delegate: self)
        attach()
    }

    /// Takes over a transport already started by someone forwarding its events (the plain
    /// listener's protocol detection); the bytes it saw come next through `connection(_:didRead:)`.
    func attach() {
        armDeadline()
    }

    /// Graceful shutdown: idle connections close now, busy ones after their response.
    func closeWhenIdle() {
        transport.loop.execute { [self] in
            closeRequested = true
            if case .idle = phase, decoder.isIdle { transport.close() }
        }
    }

    // MARK: ConnectionDelegate

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        decoder.append(bytes)
        if case .idle = phase, !waitingForDrain {
            decodeNext()
        } else {
            // Already read, so counted whatever the budget says; reading stops until the request
            // in hand is answered once this connection's share or the whole budget is used.
            readAhead.cover(decoder.bufferedByteCount, in: budget)
            noteBudget()
            if decoder.bufferedByteCount > configuration.maxPipelinedBytes || budget.reservedBytes > budget.limit {
                transport.pauseReading()
            }
        }
    }

    func connectionDidReachEndOfInput(_ connection: Connection) {
        inputEnded = true
        if case .idle = phase { transport.close() }
    }

    func connectionDidDrainWrites(_ connection: Connection) {
        guard waitingForDrain else { return }
        waitingForDrain = false
        transport.setDeadline(nil)
        decodeNext()
    }

    func connectionDeadlineDidPass(_ connection: Connection) {
        if case .closing = phase {
            // The last response was not read within the write timeout.
            abortUnread()
            return
        }
        guard case .idle = phase else { return }
        if waitingForDrain {
            abortUnread()
        } else if !decoder.isIdle {
            reject(.requestTimeout, reason: "request not received in full within \(configuration.readTimeout)")
        } else {
            transport.close()
        }
    }

    func connectionDidClose(_ connection: Connection, error: (any Error)?) {
        releaseReadAhead()
        // A body with the handler is still in memory: its reservation goes when the answer comes.
        if case .handling = phase {} else { releaseBody() }
        onClose()
    }

    // MARK: Request cycle

    private func decodeNext() {
        // What was read ahead is now the next request's: its head and body are reserved as decoded.
        releaseReadAhead()
        while case .idle = phase, !waitingForDrain, !transport.isClosed {
            let output: HTTP1RequestDecoder.Output?
            do {
                output = try decoder.next()
            } catch {
                reject(error.status, reason: error.reason)
                return
            }
            if case .request = output {} else if !admitPendingBody() { return }
            switch output {
            case nil:
                if inputEnded || (closeRequested && decoder.isIdle) {
                    transport.close()
                } else {
                    transport.resumeReading()
                    armDeadline()
                }
                return
            case .continueExpected:
                transport.write(HTTP1ResponseEncoder.continueResponse)
            case .request(let request):
                dispatch(request)
            }
        }
    }

    /// Before a body is buffered (and before `100 Continue`): the handler may refuse the head, and
    /// the body must fit the server's memory budget, declared length up front, chunked step by
    /// step. False when the request was answered and the connection is closing.
    private func admitPendingBody() -> Bool {
        guard let head = decoder.pendingHead else { return true }
        if !headAdmitted {
            headAdmitted = true
            if let refusal = handler.admit(head, remoteAddress: transport.peer) {
                refuseUnread(refusal)
                return false
            }
            if let length = decoder.pendingBodyLength {
                guard reservation.grow(to: length, in: budget) else {
                    refuseOverBudget(length)
                    return false
                }
                noteBudget()
                decoder.reservePendingBody(capacity: length)
                return true
            }
        }
        let received = decoder.pendingBodyCount
        guard decoder.pendingBodyLength == nil, received >= reservation.bytes else { return true }
        guard reservation.grow(to: min(received + Self.reservationStep, max(received, configuration.limits.maxBodyBytes)), in: budget) else {
            refuseOverBudget(received)
            return false
        }
        noteBudget()
        return true
    }

    private func dispatch(_ request: HTTP1Request) {
        headAdmitted = false
        // A body that arrived whole with its head was never reserved; it counts while handled.
        reservation.cover(request.body.count, in: budget)
        noteBudget()
        let keepAlive = request.keepAlive && !closeRequested
        phase = .handling(keepAlive: keepAlive, http10: request.version == .http1_0)
        requestStartedAt = nil
        transport.setDeadline(nil)
        let serverRequest = ServerRequest(head: request.head, body: request.body, remoteAddress: transport.peer, tls: tls)
        let loop = transport.loop
        handlerRunning = true
        handler.handle(serverRequest) { [self] response in
            if loop.isCurrent, handlerRunning {
                answerGivenInline = response
            } else {
                loop.execute { [self] in respond(response) }
            }
        }
        handlerRunning = false
        if let answer = answerGivenInline {
            answerGivenInline = nil
            // The caller's decoding loop takes the next pipelined request.
            respond(answer, thenDecode: false)
        }
    }

    private func respond(_ response: ServerResponse, thenDecode: Bool = true) {
        guard case .handling(let keepAlive, let http10) = phase, !transport.isClosed else {
            releaseBody()
            return
        }
        let stayOpen = keepAlive && !inputEnded && !closeRequested
        var fields = response.headerFields
        // HTTP/1.0 closes by default: keeping it open has to be said.
        if stayOpen, http10 { fields[.connection] = "keep-alive" }
        var bytes: [UInt8] = []
        response.body.withUnsafeBytes { body in
            HTTP1ResponseEncoder.encode(
                status: response.status, headerFields: fields, extraField: response.extraField, body: body, closeConnection: !stayOpen,
                into: &bytes)
        }
        // Given back before the peer can see the answer: what it observes next has the memory free.
        releaseBody()
        transport.write(bytes)
        if stayOpen {
            phase = .idle
            // A peer that pipelines but does not read its responses gets no more work done for it
            // until it catches up: memory stays bounded.
            if transport.pendingWriteCount > Self.maxUnreadResponseBytes {
                waitingForDrain = true
                transport.pauseReading()
                transport.setDeadline(after: configuration.writeTimeout)
            } else if thenDecode {
                decodeNext()
            }
        } else {
            phase = .closing
            transport.setDeadline(after: configuration.writeTimeout)
            transport.close(afterFlush: true)
        }
    }

    /// The handler refused the head: its answer, then close, since the body was never read.
    private func refuseUnread(_ response: ServerResponse) {
        var bytes: [UInt8] = []
        response.body.withUnsafeBytes { body in
            HTTP1ResponseEncoder.encode(
                status: response.status, headerFields: response.headerFields, extraField: response.extraField, body: body,
                closeConnection: true, into: &bytes)
        }
        closeUnread(bytes)
    }

    /// No memory for this body now: 503 before buffering it, with a hint to retry soon.
    private func refuseOverBudget(_ bytes: Int) {
        let reason = "no memory for a request body of \(bytes) bytes now (\(budget.limit) bytes of bodies in flight at most); retry later"
        observer.requestRejected(status: .serviceUnavailable, reason: reason, remoteAddress: transport.peer)
        var response = ServerResponse.text(.serviceUnavailable, "server busy, retry later")
        response.headerFields[.retryAfter] = "1"
        refuseUnread(response)
    }

    private func closeUnread(_ bytes: [UInt8]) {
        phase = .closing
        releaseBody()
        transport.write(bytes)
        transport.close(afterFlush: true, linger: true)
    }

    /// A peer that leaves its responses unread for the write timeout holds a slot for nothing.
    private func abortUnread() {
        observer.connectionAborted(
            limit: "write_timeout", reason: "responses not read within \(configuration.writeTimeout)", remoteAddress: transport.peer
        )
        transport.close()
    }

    private func releaseBody() {
        guard reservation.bytes > 0 else { return }
        reservation.release(to: budget)
        noteBudget()
    }

    private func releaseReadAhead() {
        guard readAhead.bytes > 0 else { return }
        readAhead.release(to: budget)
        noteBudget()
    }

    private func noteBudget() {
        observer.bodyBytesInFlight(budget.reservedBytes)
    }

    /// Answers a request the server refuses by itself, then closes: after a framing error the
    /// byte stream cannot be trusted (RFC 9112 §9.6).
    private func reject(_ status: HTTPResponse.Status, reason: String) {
        observer.requestRejected(status: status, reason: reason, remoteAddress: transport.peer)
        var bytes: [UInt8] = []
        HTTP1ResponseEncoder.encodeError(status: status, reason: reason, into: &bytes)
        closeUnread(bytes)
    }

    private func armDeadline() {
        if !decoder.isIdle {
            let started = requestStartedAt ?? transport.loop.now
            requestStartedAt = started
            transport.setDeadline(started + configuration.readTimeout.dispatchInterval)
        } else {
            requestStartedAt = nil
            transport.setDeadline(after: configuration.idleTimeout)
        }
    }
}
