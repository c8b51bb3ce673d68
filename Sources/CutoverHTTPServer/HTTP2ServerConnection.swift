import CutoverHTTP
import CutoverHTTP2
import CutoverSockets
import CutoverTLS
import Dispatch
import HTTPTypes

/// Drives one HTTP/2 connection (h2 over TLS, or h2c with prior knowledge): an nghttp2 session
/// fed from the transport on its loop, one `ServerRequest` per stream handed to the same handler
/// as HTTP/1.1, responses written as HEADERS + DATA as they come back, in any order.
final class HTTP2ServerConnection: ServerConnection, ConnectionDelegate, HTTP2SessionDelegate, HTTP2StreamAdmission, @unchecked Sendable {
    // Invariant: all mutable state (and the session) is touched only on `transport.loop`.
    private let transport: Connection
    private let configuration: HTTPServerConfiguration
    private let handler: any HTTPServerHandler
    private let observer: any HTTPServerObserver
    private let tls: TLSConnectionInfo?
    private let onClose: @Sendable () -> Void
    private let session: HTTP2Session
    private let budget: BodyMemoryBudget
    /// What this connection's streams hold of `budget`, against `maxConnectionBodyBytes`.
    private var reservedBodyBytes = 0
    /// Each open stream's part of `reservedBodyBytes`, lent by the session.
    private var reservedByStream: [Int32: Int] = [:]
    /// Bodies the handler still holds after their stream (or the connection) closed: given back
    /// when the handler answers, since the bytes are in memory until then.
    private var heldByHandler: [Int32: Int] = [:]
    /// Streams whose request is with the handler: whether each was a HEAD request.
    private var inFlight: [Int32: Bool] = [:]
    /// Streams whose response is submitted but not yet all handed to the transport, and since
    /// when: the write timeout runs from the oldest (a zero window never lets it finish).
    private var responding: [Int32: DispatchTime] = [:]
    /// The handler's answers to heads it refused, sent in place of a generic text.
    private var refusals: [Int32: ServerResponse] = [:]
    /// GOAWAY sent for an idle timeout or a shutdown; a second deadline closes regardless.
    private var goingAway = false
    private var closed = false
    /// Inside `session.receive`: answers given meanwhile are submitted and flushed together after it.
    private var receiving = false

    /// Output nghttp2 serializes per turn, and unwritten output above which it stops (and reading
    /// pauses) until the peer reads: a peer that does not read cannot grow our buffers.
    private static let outputChunk = 64 * 1024
    private static let maxPendingOutput = 256 * 1024

    init(
        transport: Connection, configuration: HTTPServerConfiguration, handler: any HTTPServerHandler,
        observer: any HTTPServerObserver, tls: TLSConnectionInfo?, budget: BodyMemoryBudget, onClose: @escaping @Sendable () -> Void
    ) throws(HTTP2Error) {
        self.transport = transport
        self.budget = budget
        self.configuration = configuration
        self.handler = handler
        self.observer = observer
        self.tls = tls
        self.onClose = onClose
        session = try HTTP2Session(role: .server, limits: configuration.http2Limits)
        session.delegate = self
        session.admission = self
    }

    /// Starts reading from the transport (a TLS connection that negotiated h2).
    func start() {
        transport.start(delegate: self)
        attach()
    }

    /// Takes over a transport already started by someone forwarding its events (h2c detection).
    func attach() {
        flush()
        armIdleDeadline()
    }

    func closeWhenIdle() {
        transport.loop.execute { [self] in goAway(.noError, debug: "shutting down") }
    }

    // MARK: ConnectionDelegate

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard !closed else { return }
        receiving = true
        defer { receiving = false }
        do {
            try session.receive(bytes)
        } catch {
            fail(error)
            return
        }
        receiving = false
        flush()
    }

    func connectionDidReachEndOfInput(_ connection: Connection) {
        // Half-closed clients are not a thing in HTTP/2: nothing more can be answered usefully.
        closed = true
        transport.close(afterFlush: true)
    }

    func connectionDidDrainWrites(_ connection: Connection) {
        flush()
    }

    func connectionDeadlineDidPass(_ connection: Connection) {
        if let oldest = responding.values.min(), transport.loop.now >= oldest + configuration.writeTimeout.dispatchInterval {
            // The peer keeps its window shut or stopped reading: its streams would hold their
            // slots and memory forever. Nothing can be answered to it any more.
            observer.connectionAborted(
                limit: "write_timeout", reason: "HTTP/2 responses not read within \(configuration.writeTimeout)",
                remoteAddress: transport.peer
            )
            closed = true
            transport.close()
            return
        }
        if goingAway || !inFlight.isEmpty {
            transport.close()
        } else {
            goAway(.noError, debug: "idle")
        }
    }

    func connectionDidClose(_ connection: Connection, error: (any Error)?) {
        closed = true
        for (id, bytes) in reservedByStream {
            if inFlight[id] != nil { heldByHandler[id, default: 0] += bytes } else { returnToBudget(bytes) }
        }
        reservedByStream.removeAll()
        inFlight.removeAll()
        responding.removeAll()
        refusals.removeAll()
        observer.bodyBytesInFlight(budget.reservedBytes)
        onClose()
    }

    // MARK: HTTP2SessionDelegate

    func http2Session(_ session: HTTP2Session, didReceive message: HTTP2Message) {
        let head: HTTPRequest
        do {
            head = try message.request()
        } catch {
            observer.requestRejected(status: .badRequest, reason: error.reason, remoteAddress: transport.peer)
            session.resetStream(message.streamID, errorCode: .protocolError)
            return
        }
        let id = message.streamID
        inFlight[id] = head.method == .head
        transport.setDeadline(nil)
        armWriteDeadline()
        let request = ServerRequest(head: head, body: message.body, remoteAddress: transport.peer, tls: tls)
        let loop = transport.loop
        handler.handle(request) { [self] response in
            // An answer given on the loop (inside this read) goes out with the read's flush, in the
            // same write as its neighbours'; one from another thread waits for a turn of the loop.
            if loop.isCurrent {
                answer(id, response)
            } else {
                loop.execute { [self] in answer(id, response) }
            }
        }
    }

    private func answer(_ id: Int32, _ response: ServerResponse) {
        if let held = heldByHandler.removeValue(forKey: id) {
            returnToBudget(held)
            observer.bodyBytesInFlight(budget.reservedBytes)
        }
        respond(on: id, response)
    }

    func http2Session(_ session: HTTP2Session, didReject streamID: Int32, status: HTTPResponse.Status, reason: String) {
        // The handler counted and logged its own refusals.
        if let response = refusals.removeValue(forKey: streamID) {
            submit(streamID, response, head: false)
        } else {
            observer.requestRejected(status: status, reason: reason, remoteAddress: transport.peer)
            submit(streamID, ServerResponse.text(status, reason), head: false)
        }
    }

    func http2Session(_ session: HTTP2Session, streamDidClose streamID: Int32, errorCode: HTTP2ErrorCode) {
        // A stream the peer reset while its handler runs: the response is dropped when it comes.
        inFlight[streamID] = nil
        responding[streamID] = nil
        refusals[streamID] = nil
        if !responding.isEmpty {
            armWriteDeadline()
        } else if inFlight.isEmpty {
            armIdleDeadline()
        }
    }

    func http2Session(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode) {}

    func http2SessionDidReceiveSettings(_ session: HTTP2Session) {}

    // MARK: HTTP2StreamAdmission

    func http2Session(_ session: HTTP2Session, admit head: HTTP2Message, contentLength: Int?) -> HTTP2Refusal? {
        // A malformed head is reset once complete, as for a request without a body.
        guard let request = try? head.request(), let response = handler.admit(request, remoteAddress: transport.peer) else { return nil }
        refusals[head.streamID] = response
        return HTTP2Refusal(status: response.status, reason: "refused before its body")
    }

    func http2Session(_ session: HTTP2Session, reserveBody bytes: Int, on streamID: Int32) -> Bool {
        guard !closed, reservedBodyBytes + bytes <= configuration.maxConnectionBodyBytes, budget.reserve(bytes) else { return false }
        reservedBodyBytes += bytes
        reservedByStream[streamID, default: 0] += bytes
        observer.bodyBytesInFlight(budget.reservedBytes)
        return true
    }

    func http2Session(_ session: HTTP2Session, releaseBody bytes: Int, on streamID: Int32) {
        // After the close, what the streams held was given back or handed to `heldByHandler`.
        guard let lent = reservedByStream[streamID] else { return }
        let amount = min(bytes, lent)
        reservedByStream[streamID] = lent == amount ? nil : lent - amount
        // A stream reset while its handler runs: the body is still in memory.
        if inFlight[streamID] != nil {
            heldByHandler[streamID, default: 0] += amount
        } else {
            returnToBudget(amount)
        }
        observer.bodyBytesInFlight(budget.reservedBytes)
    }

    private func returnToBudget(_ bytes: Int) {
        reservedBodyBytes -= bytes
        budget.release(bytes)
    }

    // MARK: Writing

    private func respond(on id: Int32, _ response: ServerResponse) {
        guard !closed, let head = inFlight.removeValue(forKey: id) else { return }
        submit(id, response, head: head)
        if !receiving { flush() }
    }

    private func submit(_ id: Int32, _ response: ServerResponse, head: Bool) {
        if responding[id] == nil {
            responding[id] = transport.loop.now
            armWriteDeadline()
        }
        do {
            try session.submitResponse(
                streamID: id, HTTPResponse(status: response.status, headerFields: response.allHeaderFields), body: response.body,
                headRequest: head
            )
        } catch {
            // The stream is gone or the head cannot be encoded: that stream fails, not the connection.
            session.resetStream(id, errorCode: .internalError)
        }
    }

    /// Moves what nghttp2 has to say to the transport, as far as the peer keeps reading; closes
    /// once the session is finished (GOAWAY exchanged, or a connection error answered).
    private func flush() {
        guard !closed else { return }
        while transport.pendingWriteCount < Self.maxPendingOutput, session.wantsWrite {
            var output: [UInt8] = []
            do {
                try session.produceOutput(into: &output, limit: Self.outputChunk)
            } catch {
                fail(error)
                return
            }
            if output.isEmpty { break }
            transport.write(output)
            if transport.isClosed { return }
        }
        if !responding.isEmpty {
            responding = responding.filter { !session.responseIsSent(streamID: $0.key) }
            if responding.isEmpty {
                if inFlight.isEmpty { armIdleDeadline() } else if !goingAway { transport.setDeadline(nil) }
            }
        }
        if transport.pendingWriteCount >= Self.maxPendingOutput {
            transport.pauseReading()
        } else {
            transport.resumeReading()
        }
        if session.isFinished {
            closed = true
            transport.close(afterFlush: true, linger: true)
        }
    }

    private func goAway(_ code: HTTP2ErrorCode, debug: String) {
        guard !closed, !goingAway else { return }
        goingAway = true
        try? session.submitGoAway(errorCode: code, debug: debug)
        transport.setDeadline(after: configuration.readTimeout)
        flush()
    }

    /// A connection error nghttp2 could not answer itself (bad client preface, flooding): a
    /// GOAWAY written by hand, then close.
    private func fail(_ error: HTTP2Error) {
        guard !closed else { return }
        closed = true
        let code = error.goAwayCode
        if error.errorCode == .enhanceYourCalm {
            observer.connectionAborted(limit: "header_rejections", reason: error.reason, remoteAddress: transport.peer)
        } else {
            observer.requestRejected(status: .badRequest, reason: error.description, remoteAddress: transport.peer)
        }
        transport.write(HTTP2Session.goAwayFrame(errorCode: code, debug: error.reason))
        transport.close(afterFlush: true, linger: true)
    }

    /// With no request at the handler: the idle timeout when no stream is open, the read timeout
    /// while some are still receiving (a peer that stalls mid-request gets GOAWAY, then is closed).
    /// While a response waits for the peer: the write timeout, from the oldest one submitted.
    private func armWriteDeadline() {
        guard !goingAway, let oldest = responding.values.min() else { return }
        transport.setDeadline(oldest + configuration.writeTimeout.dispatchInterval)
    }

    private func armIdleDeadline() {
        guard !goingAway else { return }
        let timeout = session.activeStreamCount == 0 ? configuration.idleTimeout : configuration.readTimeout
        transport.setDeadline(after: timeout)
    }
}
