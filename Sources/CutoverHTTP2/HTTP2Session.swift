import CNGHTTP2
import HTTPTypes

/// What a session reports, after each `receive` returns (never from inside nghttp2, so the
/// delegate may submit, send and close freely). Every call arrives on the owner's loop.
package protocol HTTP2SessionDelegate: AnyObject {
    /// Server: a complete request. Client: a complete final response.
    func http2Session(_ session: HTTP2Session, didReceive message: HTTP2Message)
    /// A stream the session stopped accepting by itself (header list or body over the limits).
    /// Its remaining input is discarded, with flow-control credit returned. A server answers
    /// `status` (431 or 413) on it; a client fails the request.
    func http2Session(_ session: HTTP2Session, didReject streamID: Int32, status: HTTPResponse.Status, reason: String)
    /// The stream closed: answered in full, or reset by either side (`errorCode` says which).
    func http2Session(_ session: HTTP2Session, streamDidClose streamID: Int32, errorCode: HTTP2ErrorCode)
    /// The peer sent GOAWAY: streams above `lastStreamID` were not and will not be processed.
    func http2Session(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode)
    /// The peer's SETTINGS arrived (its concurrency limit may have changed).
    func http2SessionDidReceiveSettings(_ session: HTTP2Session)
}

/// One nghttp2 session (server or client side) fed from memory: bytes in with `receive`, bytes out
/// with `produceOutput`. It owns no socket and no thread: the connection that owns it calls it on
/// its event loop only, and nghttp2's callbacks find this object through an unretained pointer
/// (`user_data`) that lives exactly as long as the nghttp2 session.
///
/// Flow control is manual (`NO_AUTO_WINDOW_UPDATE`): every DATA byte is consumed as it arrives,
/// whether the body is kept, rejected over the limit or belongs to a stream already answered, so
/// the peer's windows are always returned; the body limit, not the window, bounds memory.
package final class HTTP2Session: @unchecked Sendable {
    // Invariant: used only on its owner's event loop; nghttp2 callbacks run inside its calls.
    package enum Role: Sendable { case server, client }

    package let role: Role
    package let limits: HTTP2Limits
    package weak var delegate: (any HTTP2SessionDelegate)?
    /// Server: who admits request bodies and lends the memory they are kept in; nil keeps every
    /// body within `limits.maxBodyBytes`.
    package weak var admission: (any HTTP2StreamAdmission)?
    private var session: OpaquePointer!
    private var streams: [Int32: StreamState] = [:]
    private var events: [Event] = []
    /// Server: request streams open and not refused, against `limits.maxConcurrentStreams`.
    private var openRequestCount = 0
    /// Header blocks answered 431 on this connection, against `limits.maxHeaderRejections`.
    private var headerRejections = 0
    /// Set by a callback that ends the connection; `receive` throws it.
    private var abort: HTTP2Error?
    /// Body memory is borrowed in steps of this when the size was not declared.
    private static let reservationStep = 64 * 1024

    /// A class, so callbacks update a stream in place: a struct copied out of the dictionary and
    /// written back made every DATA frame copy the body received so far (quadratic in its size).
    private final class StreamState {
        var fields: [(name: String, value: String)] = []
        var headerListSize = 0
        var headerCount = 0
        /// The first (final, for a client) header block is complete; later blocks are trailers.
        var headersComplete = false
        /// Rejected: the rest of the input is consumed and dropped.
        var discarding = false
        var rejection: (HTTPResponse.Status, String)?
        var body: [UInt8] = []
        /// Body bytes read, kept or not (`limits.keptBodyBytes`).
        var received = 0
        /// Request bytes dropped since the rejection. Past `discardAllowance`, once the
        /// response is out, RST_STREAM(NO_ERROR) tells the peer to stop sending (RFC 9113 §8.1).
        /// Not earlier: some clients (curl 7.88) then lose the response they already have.
        var discarded = 0
        /// Refused over the concurrency limit: never counted as open.
        var refused = false
        /// Body memory lent by `admission` and not yet given back.
        var reserved = 0
        var outgoing: [UInt8] = []
        var outgoingOffset = 0
    }

    private enum Event {
        case message(HTTP2Message)
        case reject(Int32, HTTPResponse.Status, String)
        case closed(Int32, HTTP2ErrorCode)
        case goAway(Int32, HTTP2ErrorCode)
        case settings
    }

    /// Makes the session and queues our SETTINGS (and the larger connection window): the first
    /// `produceOutput` sends them, a server's without waiting for the client preface.
    package init(role: Role, limits: HTTP2Limits) throws(HTTP2Error) {
        self.role = role
        self.limits = limits
        var callbacks: OpaquePointer?
        try Self.check(nghttp2_session_callbacks_new(&callbacks), "creating callbacks")
        defer { nghttp2_session_callbacks_del(callbacks) }
        Self.install(callbacks)
        var option: OpaquePointer?
        try Self.check(nghttp2_option_new(&option), "creating options")
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_no_auto_window_update(option, 1)
        // Rapid reset (CVE-2023-44487): a peer resetting streams faster than this gets GOAWAY.
        nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33)
        var made: OpaquePointer?
        let context = Unmanaged.passUnretained(self).toOpaque()
        let created =
            switch role {
            case .server: nghttp2_session_server_new2(&made, callbacks, context, option)
            case .client: nghttp2_session_client_new2(&made, callbacks, context, option)
            }
        try Self.check(created, "creating the session")
        session = made
        var settings = [
            cutover_h2_setting(Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), UInt32(limits.maxConcurrentStreams)),
            cutover_h2_setting(Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), UInt32(clamping: limits.maxHeaderListSize)),
            cutover_h2_setting(Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), UInt32(limits.initialStreamWindowSize)),
        ]
        if role == .client {
            settings.append(cutover_h2_setting(Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), 0))
        }
        try Self.check(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count), "submitting SETTINGS")
        try Self.check(
            nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(limits.connectionWindowSize)),
            "raising the connection window"
        )
    }

    deinit {
        nghttp2_session_del(session)
    }

    // MARK: Input and output

    /// Feeds bytes from the peer, then reports what they completed to the delegate. A thrown
    /// error is fatal for the connection (bad client preface, flooding, out of memory); protocol
    /// errors nghttp2 answers itself with a queued GOAWAY, after which `isFinished` turns true.
    package func receive(_ bytes: UnsafeRawBufferPointer) throws(HTTP2Error) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let result = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        defer { deliverEvents() }
        if result < 0 { throw abort ?? HTTP2Error("receiving", libraryCode: Int32(result)) }
    }

    /// Appends frames nghttp2 has ready (SETTINGS, WINDOW_UPDATE, HEADERS, DATA...) to `output`
    /// until it has nothing more or `output` holds `limit` bytes; DATA is read from the bodies
    /// lazily, so a peer that stops reading cannot make this buffer everything.
    package func produceOutput(into output: inout [UInt8], limit: Int) throws(HTTP2Error) {
        defer { deliverEvents() }
        while output.count < limit {
            var pointer: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &pointer)
            if count < 0 { throw HTTP2Error("sending", libraryCode: Int32(count)) }
            guard count > 0, let pointer else { return }
            output.append(contentsOf: UnsafeBufferPointer(start: pointer, count: count))
        }
    }

    package var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }
    /// The response on `streamID` is all serialized (or the stream is gone): nothing of it waits
    /// for the peer's flow-control window any more.
    package func responseIsSent(streamID: Int32) -> Bool {
        nghttp2_session_get_stream_local_close(session, streamID) != 0
    }
    /// Neither side has anything left to say: after a GOAWAY both ways, or a fatal error.
    package var isFinished: Bool { nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 }
    /// Streams open now (requests in progress on a server, requests in flight on a client).
    package var activeStreamCount: Int { streams.count }

    /// Where the body being received on `streamID` is stored: a test tells from it whether DATA
    /// frames are appended in place or copied into a new buffer each time.
    func receivedBodyStorage(streamID: Int32) -> UInt? {
        streams[streamID]?.body.withUnsafeBytes { $0.baseAddress.map { UInt(bitPattern: $0) } }
    }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS arrive, nghttp2's assumption).
    package var peerMaxConcurrentStreams: Int {
        Int(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
    }

    // MARK: Submitting

    /// Server: the response on `streamID`, HEADERS then DATA (none for an empty body). A
    /// content-length is added when missing; connection-specific fields are dropped.
    package func submitResponse(streamID: Int32, _ response: HTTPResponse, body: [UInt8], headRequest: Bool = false) throws(HTTP2Error) {
        guard streams[streamID] != nil else { return }
        var fields: [(String, String)] = [(":status", String(response.status.code))]
        var hasLength = false
        for field in response.headerFields {
            let name = field.name.canonicalName
            if connectionSpecificFields.contains(name) { continue }
            if name == "content-length" { hasLength = true }
            fields.append((name, field.value))
        }
        let sendsBody = !headRequest && !body.isEmpty && response.status.code != 204 && response.status.code != 304
        if !hasLength, response.status.code != 204, response.status.code != 304 {
            fields.append(("content-length", String(body.count)))
        }
        if sendsBody { streams[streamID]?.outgoing = body }
        let result = Self.withNameValues(fields) { nva, count in
            if sendsBody {
                var provider = cutover_h2_data_provider(readBody)
                return nghttp2_submit_response(session, streamID, nva, count, &provider)
            }
            return nghttp2_submit_response(session, streamID, nva, count, nil)
        }
        try Self.check(result, "submitting the response on stream \(streamID)")
    }

    /// Client: a request (pseudo-header fields from `request`); returns its stream id. nghttp2
    /// holds it back while the peer's concurrency limit is reached.
    package func submitRequest(_ request: HTTPRequest, body: [UInt8]) throws(HTTP2Error) -> Int32 {
        var fields: [(String, String)] = [
            (":method", request.method.rawValue), (":scheme", request.scheme ?? "https"),
            (":authority", request.authority ?? ""), (":path", request.path ?? "/"),
        ]
        for field in request.headerFields {
            let name = field.name.canonicalName
            if connectionSpecificFields.contains(name) { continue }
            fields.append((name, field.value))
        }
        if !body.isEmpty, request.headerFields[.contentLength] == nil {
            fields.append(("content-length", String(body.count)))
        }
        let id = Self.withNameValues(fields) { nva, count in
            if body.isEmpty { return nghttp2_submit_request(session, nil, nva, count, nil, nil) }
            var provider = cutover_h2_data_provider(readBody)
            return nghttp2_submit_request(session, nil, nva, count, &provider, nil)
        }
        try Self.check(id, "submitting a request")
        let stream = StreamState()
        stream.outgoing = body
        streams[id] = stream
        return id
    }

    /// Resets one stream (the connection carries on).
    package func resetStream(_ streamID: Int32, errorCode: HTTP2ErrorCode) {
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode.rawValue)
    }

    /// GOAWAY with the last stream this side processed: streams in progress finish, no new one
    /// starts; the session is finished once they have (graceful shutdown with `.noError`).
    package func submitGoAway(errorCode: HTTP2ErrorCode = .noError, debug: String = "") throws(HTTP2Error) {
        let last = nghttp2_session_get_last_proc_stream_id(session)
        var data = Array(debug.utf8)
        let result = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, errorCode.rawValue, &data, data.count)
        try Self.check(result, "submitting GOAWAY")
    }

    /// Ends the session with `errorCode`: GOAWAY goes out, then `isFinished` turns true.
    package func terminate(errorCode: HTTP2ErrorCode) {
        _ = nghttp2_session_terminate_session(session, errorCode.rawValue)
    }

    /// A GOAWAY frame built by hand, for when the session itself can no longer be used (after a
    /// fatal receive error such as a bad client preface).
    package static func goAwayFrame(lastStreamID: Int32 = 0, errorCode: HTTP2ErrorCode, debug: String = "") -> [UInt8] {
        let debugBytes = Array(debug.utf8.prefix(256))
        let length = 8 + debugBytes.count
        var frame: [UInt8] = [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), 0x7, 0, 0, 0, 0, 0]
        for value in [UInt32(bitPattern: lastStreamID) & 0x7fff_ffff, errorCode.rawValue] {
            frame += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        }
        return frame + debugBytes
    }

    /// The 24 bytes every HTTP/2 client connection starts with (RFC 9113 §3.4).
    package static let clientPreface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    // MARK: Events

    private func deliverEvents() {
        while !events.isEmpty {
            let batch = events
            events.removeAll()
            guard let delegate else { continue }
            for event in batch {
                switch event {
                case .message(let message): delegate.http2Session(self, didReceive: message)
                case .reject(let id, let status, let reason): delegate.http2Session(self, didReject: id, status: status, reason: reason)
                case .closed(let id, let code): delegate.http2Session(self, streamDidClose: id, errorCode: code)
                case .goAway(let last, let code): delegate.http2Session(self, didReceiveGoAway: last, errorCode: code)
                case .settings: delegate.http2SessionDidReceiveSettings(self)
                }
            }
        }
    }

    private func reject(_ id: Int32, _ status: HTTPResponse.Status, _ reason: String, now: Bool) {
        guard let stream = streams[id], !stream.discarding else { return }
        stream.discarding = true
        stream.body = []
        stream.fields = []
        release(stream, id)
        if now {
            events.append(.reject(id, status, reason))
        } else {
            stream.rejection = (status, reason)
        }
    }

    // MARK: nghttp2 callbacks (each runs inside a receive or produceOutput call)

    fileprivate func beginHeaders(_ frame: UnsafePointer<nghttp2_frame>) {
        let id = cutover_h2_frame_stream_id(frame)
        if role == .server, cutover_h2_headers_category(frame) == Int32(NGHTTP2_HCAT_REQUEST.rawValue) {
            let stream = StreamState()
            // nghttp2 enforces the limit only once the client has acknowledged our SETTINGS (and
            // then as a connection error); before that, a stream over it is refused on its own
            // (REFUSED_STREAM: the client may retry it).
            if openRequestCount >= limits.maxConcurrentStreams {
                stream.discarding = true
                stream.refused = true
                resetStream(id, errorCode: .refusedStream)
            } else {
                openRequestCount += 1
            }
            streams[id] = stream
        } else if let stream = streams[id], !stream.headersComplete {
            // A client's stream: a 1xx head may come first, and the final head replaces it.
            stream.fields = []
            stream.headerListSize = 0
            stream.headerCount = 0
        }
    }

    /// False ends the connection (`abort` says why): too many header blocks over the limits.
    fileprivate func header(_ frame: UnsafePointer<nghttp2_frame>, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool {
        let id = cutover_h2_frame_stream_id(frame)
        guard let stream = streams[id], !stream.discarding else { return true }
        stream.headerListSize += name.count + value.count + 32
        stream.headerCount += 1
        if stream.headerListSize > limits.maxHeaderListSize || stream.headerCount > limits.maxHeaderCount {
            let what = stream.headerListSize > limits.maxHeaderListSize ? "header list over \(limits.maxHeaderListSize) bytes" : "more than \(limits.maxHeaderCount) header fields"
            reject(id, .requestHeaderFieldsTooLarge, what, now: false)
            if role == .server {
                headerRejections += 1
                if headerRejections > limits.maxHeaderRejections {
                    abort = HTTP2Error(
                        "receiving", errorCode: .enhanceYourCalm,
                        reason: "\(headerRejections) header blocks over the limits on one connection (\(what))"
                    )
                    return false
                }
            }
            return true
        }
        // Trailers are counted against the limits but not kept.
        if !stream.headersComplete {
            stream.fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return true
    }

    fileprivate func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) {
        let id = cutover_h2_frame_stream_id(frame)
        let endStream = cutover_h2_frame_flags(frame) & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(cutover_h2_frame_type(frame)) {
        case NGHTTP2_HEADERS.rawValue:
            guard let stream = streams[id] else { return }
            if let (status, reason) = stream.rejection {
                stream.rejection = nil
                events.append(.reject(id, status, reason))
                return
            }
            guard !stream.discarding else { return }
            if !stream.headersComplete {
                if role == .client, let status = stream.fields.first(where: { $0.name == ":status" }), status.value.hasPrefix("1") {
                    return  // interim response: the final head follows
                }
                stream.headersComplete = true
                let length = stream.fields.first(where: { $0.name == "content-length" }).flatMap({ Int($0.value) })
                if !endStream, let length, length > limits.maxBodyBytes {
                    reject(id, .contentTooLarge, "body of \(length) bytes over the limit of \(limits.maxBodyBytes)", now: true)
                    return
                }
                if !endStream, role == .server, !admitBody(of: stream, id, contentLength: length) { return }
            }
            if endStream { complete(id) }
        case NGHTTP2_DATA.rawValue:
            if endStream { complete(id) }
        case NGHTTP2_GOAWAY.rawValue:
            events.append(.goAway(cutover_h2_goaway_last_stream_id(frame), HTTP2ErrorCode(rawValue: cutover_h2_goaway_error_code(frame))))
        case NGHTTP2_SETTINGS.rawValue:
            if cutover_h2_frame_flags(frame) & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 { events.append(.settings) }
        default:
            break
        }
    }

    private func complete(_ id: Int32) {
        guard let stream = streams[id], !stream.discarding, stream.headersComplete else { return }
        let message = HTTP2Message(streamID: id, fields: stream.fields, body: stream.body)
        stream.fields = []
        stream.body = []
        events.append(.message(message))
    }

    /// Asks `admission` whether a request body may come, and lends its declared size up front.
    private func admitBody(of stream: StreamState, _ id: Int32, contentLength: Int?) -> Bool {
        guard let admission else { return true }
        let head = HTTP2Message(streamID: id, fields: stream.fields, body: [])
        if let refusal = admission.http2Session(self, admit: head, contentLength: contentLength) {
            reject(id, refusal.status, refusal.reason, now: true)
            return false
        }
        guard let contentLength, contentLength > 0 else { return true }
        guard admission.http2Session(self, reserveBody: contentLength, on: id) else {
            reject(id, .serviceUnavailable, "no memory for a body of \(contentLength) bytes now; retry later", now: true)
            return false
        }
        stream.reserved = contentLength
        // Sized once: growing by doubling would copy it and hold up to twice its size.
        stream.body.reserveCapacity(contentLength)
        return true
    }

    /// Lends what a body that outgrew its reservation needs next, a step at a time.
    private func reserveMore(for stream: StreamState, _ id: Int32, total: Int) -> Bool {
        guard let admission, total > stream.reserved else { return true }
        let wanted = min(max(total, stream.reserved + Self.reservationStep), limits.maxBodyBytes)
        guard admission.http2Session(self, reserveBody: wanted - stream.reserved, on: id) else { return false }
        stream.reserved = wanted
        return true
    }

    private func release(_ stream: StreamState, _ id: Int32) {
        guard stream.reserved > 0 else { return }
        let bytes = stream.reserved
        stream.reserved = 0
        admission?.http2Session(self, releaseBody: bytes, on: id)
    }

    /// Bytes of a rejected request read and dropped before its stream is reset.
    private var discardAllowance: Int { max(limits.maxBodyBytes, 1 << 20) }

    fileprivate func dataChunk(streamID id: Int32, _ data: UnsafeBufferPointer<UInt8>) {
        // Credit goes back whatever becomes of the bytes: a discarded body must not shrink the
        // connection window for every later stream (the nginx quirk of the benchmark notes).
        _ = nghttp2_session_consume(session, id, data.count)
        guard let stream = streams[id] else { return }
        if stream.discarding {
            stream.discarded += data.count
            if stream.discarded > discardAllowance, nghttp2_session_get_stream_local_close(session, id) == 1 {
                resetStream(id, errorCode: .noError)
            }
            return
        }
        if stream.received + data.count > limits.maxBodyBytes {
            reject(id, .contentTooLarge, "body over the limit of \(limits.maxBodyBytes) bytes", now: true)
            return
        }
        let kept = min(data.count, max(0, limits.keptBodyBytes - stream.body.count))
        if role == .server, !reserveMore(for: stream, id, total: stream.body.count + kept) {
            reject(id, .serviceUnavailable, "no memory for more request body now; retry later", now: true)
            return
        }
        stream.received += data.count
        if kept > 0 { stream.body.append(contentsOf: UnsafeBufferPointer(rebasing: data[0..<kept])) }
    }

    fileprivate func streamClosed(_ id: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        release(stream, id)
        if role == .server, !stream.refused { openRequestCount -= 1 }
        if stream.refused { return }
        events.append(.closed(id, HTTP2ErrorCode(rawValue: errorCode)))
    }

    fileprivate func readOutgoing(streamID id: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = streams[id] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        let count = min(length, stream.outgoing.count - stream.outgoingOffset)
        stream.outgoing.withUnsafeBufferPointer { source in
            buffer.update(from: source.baseAddress! + stream.outgoingOffset, count: count)
        }
        stream.outgoingOffset += count
        if stream.outgoingOffset == stream.outgoing.count {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            stream.outgoing = []
            stream.outgoingOffset = 0
        }
        return count
    }

    // MARK: Plumbing

    private static func check(_ result: Int32, _ operation: String) throws(HTTP2Error) {
        if result < 0 { throw HTTP2Error(operation, libraryCode: result) }
    }

    /// Lays the pairs out in one buffer and calls `body` with nghttp2_nv records pointing into it
    /// (nghttp2 copies them before the submit call returns).
    private static func withNameValues(_ fields: [(String, String)], _ body: (UnsafePointer<nghttp2_nv>, Int) -> Int32) -> Int32 {
        var storage: [UInt8] = []
        var ranges: [(Int, Int, Int, Int)] = []
        for (name, value) in fields {
            let nameStart = storage.count
            storage.append(contentsOf: name.utf8)
            let valueStart = storage.count
            storage.append(contentsOf: value.utf8)
            ranges.append((nameStart, valueStart - nameStart, valueStart, storage.count - valueStart))
        }
        if storage.isEmpty { storage.append(0) }
        return storage.withUnsafeMutableBufferPointer { bytes in
            let base = bytes.baseAddress!
            let nva = ranges.map { range in
                cutover_h2_nv(base + range.0, range.1, base + range.2, range.3, UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return nva.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }

    private static func install(_ callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, context in
            guard let frame, let context else { return 0 }
            HTTP2Session.from(context).beginHeaders(frame)
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, context in
            guard let frame, let context else { return 0 }
            let proceed = HTTP2Session.from(context).header(
                frame, name: UnsafeBufferPointer(start: name, count: nameLength), value: UnsafeBufferPointer(start: value, count: valueLength)
            )
            return proceed ? 0 : Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, context in
            guard let frame, let context else { return 0 }
            HTTP2Session.from(context).frameReceived(frame)
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, context in
            guard let context else { return 0 }
            HTTP2Session.from(context).dataChunk(streamID: streamID, UnsafeBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, context in
            guard let context else { return 0 }
            HTTP2Session.from(context).streamClosed(streamID, errorCode: errorCode)
            return 0
        }
    }

    fileprivate static func from(_ context: UnsafeMutableRawPointer) -> HTTP2Session {
        Unmanaged<HTTP2Session>.fromOpaque(context).takeUnretainedValue()
    }
}

/// The data source read callback: the body is looked up by stream id.
private func readBody(
    _ session: OpaquePointer?, _ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>?, _ length: Int,
    _ flags: UnsafeMutablePointer<UInt32>?, _ source: UnsafeMutablePointer<nghttp2_data_source>?, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let buffer, let flags, let context else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
    return HTTP2Session.from(context).readOutgoing(streamID: streamID, into: buffer, length: length, flags: flags)
}
