import HTTPTypes

/// Incremental HTTP/1.1 response decoder for the client side (RFC 9112), with the same
/// append/next shape as `HTTP1RequestDecoder`.
///
/// Set `requestMethod` to the method of the request whose response is expected next (before the
/// response head arrives): responses to HEAD carry no body. 1xx responses other than 101 are
/// skipped; 204 and 304 have no body. Bodies are delimited by Content-Length, chunked coding, or
/// the end of the connection: for the last, call `finishOnEOF()` when the peer closes.
///
/// Every failure is reported with status 502 Bad Gateway and a reason; it is final, as for
/// requests. Besides the request decoder's rules: a 101 response, a status line that is not
/// `HTTP/1.x DDD[ reason]`, and any Transfer-Encoding other than exactly `chunked` are rejected, and
/// so is a body over `limits.maxBodyBytes` (1 MiB by default).
package struct HTTP1ResponseDecoder: Sendable {
    private enum State {
        case statusLine
        case headers
        case fixedBody(remaining: Int)
        case chunkedBody(ChunkedBodyDecoder)
        case untilClose
    }

    package let limits: HTTP1Limits
    /// The method of the request being answered; decides whether the response can have a body.
    package var requestMethod: HTTPRequest.Method

    private var buffer = InputBuffer()
    private var state = State.statusLine
    private var failure: HTTP1DecodeError?

    private var version = HTTP1Version.http1_1
    private var status = HTTPResponse.Status.ok
    private var head = HTTP1HeadFields()
    private var body: [UInt8] = []
    /// Body bytes of the current response read so far, kept or not.
    private var bodyReceived = 0
    /// A response's body keeps at most this many bytes; the rest is read (still within
    /// `limits.maxBodyBytes`) and dropped, so a caller that wants an excerpt buffers no more.
    package let keptBodyBytes: Int

    package init(requestMethod: HTTPRequest.Method = .post, limits: HTTP1Limits = .responseDefaults, keptBodyBytes: Int = .max) {
        self.requestMethod = requestMethod
        self.limits = limits
        self.keptBodyBytes = max(0, keptBodyBytes)
    }

    /// Bytes received but not yet consumed.
    package var bufferedByteCount: Int { buffer.readableCount }

    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        buffer.append(bytes)
    }

    package mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next complete final response, or nil when more bytes (or the end of the connection)
    /// are needed.
    package mutating func next() throws(HTTP1DecodeError) -> HTTP1Response? {
        if let failure { throw failure }
        let storage = buffer.bytes
        do {
            return try storage.withUnsafeBufferPointer { (pointer) throws(HTTP1DecodeError) in
                try step(pointer)
            }
        } catch {
            throw fail(HTTP1DecodeError(status: .badGateway, reason: error.reason))
        }
    }

    /// Call when the peer closed the connection, after `next()` returned nil. Returns the
    /// close-delimited response if one was being read, nil if the connection was idle, and throws
    /// if it closed in the middle of a response.
    package mutating func finishOnEOF() throws(HTTP1DecodeError) -> HTTP1Response? {
        if let failure { throw failure }
        switch state {
        case .untilClose:
            return complete(keepAlive: false)
        case .statusLine where buffer.readableCount == 0:
            return nil
        default:
            throw fail(HTTP1DecodeError(status: .badGateway, reason: "connection closed before response was complete"))
        }
    }

    private mutating func fail(_ error: HTTP1DecodeError) -> HTTP1DecodeError {
        failure = error
        buffer.release()
        body = []
        return error
    }

    private mutating func step(_ storage: UnsafeBufferPointer<UInt8>) throws(HTTP1DecodeError) -> HTTP1Response? {
        while true {
            switch state {
            case .statusLine:
                switch buffer.scanLine(in: storage, limit: limits.maxRequestLineLength) {
                case .incomplete: return nil
                case .tooLong: throw .badRequest("status line too long")
                case .bareLF: throw .badRequest("bare LF in status line")
                case .line(let start, let end):
                    buffer.consumeLine(end: end)
                    try parseStatusLine(UnsafeBufferPointer(rebasing: storage[start..<end]))
                    state = .headers
                }

            case .headers:
                switch try head.readLine(from: &buffer, in: storage, limits: limits, isRequest: false) {
                case .needMore: return nil
                case .endOfSection: if let response = try finishHead() { return response }
                case .field: continue
                }

            case .fixedBody(let remaining):
                let take = buffer.takeBody(upTo: remaining, from: storage, into: &body, keeping: keptBodyBytes)
                if take == remaining { return complete(keepAlive: connectionPersists) }
                state = .fixedBody(remaining: remaining - take)
                return nil

            case .chunkedBody(var chunked):
                let done = try chunked.decode(storage, &buffer, into: &body, limits: limits, keeping: keptBodyBytes)
                if done { return complete(keepAlive: connectionPersists) }
                state = .chunkedBody(chunked)
                return nil

            case .untilClose:
                let available = buffer.readableCount
                if available > limits.maxBodyBytes - bodyReceived { throw .contentTooLarge("response body too large") }
                bodyReceived += buffer.takeBody(upTo: available, from: storage, into: &body, keeping: keptBodyBytes)
                return nil
            }
        }
    }

    /// status-line = HTTP-version SP status-code SP [ reason-phrase ]. A missing final SP before an
    /// empty reason is tolerated.
    private mutating func parseStatusLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTP1DecodeError) {
        guard line.count >= 12, line[8] == ASCII.space else { throw .badRequest("malformed status line") }
        do {
            version = try HTTP1RequestDecoder.parseVersion(UnsafeBufferPointer(rebasing: line[0..<8]))
        } catch {
            throw .badRequest("unsupported HTTP version in status line")
        }
        var code = 0
        for index in 9..<12 {
            let byte = line[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .badRequest("invalid status code") }
            code = code * 10 + Int(byte &- UInt8(ascii: "0"))
        }
        guard code >= 100 else { throw .badRequest("invalid status code") }
        var reason = ""
        if line.count > 12 {
            guard line[12] == ASCII.space else { throw .badRequest("malformed status line") }
            let phrase = UnsafeBufferPointer(rebasing: line[13...])
            for byte in phrase where !isFieldValueChar(byte) { throw .badRequest("invalid reason phrase") }
            reason = String(decoding: phrase, as: UTF8.self)
        }
        status = HTTPResponse.Status(code: code, reasonPhrase: reason)
    }

    private var connectionPersists: Bool {
        switch version {
        case .http1_1: !head.connectionClose
        case .http1_0: head.connectionKeepAlive && !head.connectionClose
        }
    }

    /// RFC 9112 §6.3 message body length for responses.
    private mutating func finishHead() throws(HTTP1DecodeError) -> HTTP1Response? {
        if status.code < 200 {
            if status.code == 101 { throw .badRequest("unexpected 101 Switching Protocols") }
            // Interim response: discard it and read the next head.
            head = HTTP1HeadFields()
            state = .statusLine
            return nil
        }
        if requestMethod == .head || status.code == 204 || status.code == 304 {
            return complete(keepAlive: connectionPersists)
        }
        if head.transferEncodingSeen {
            if head.contentLength != nil { throw .badRequest("both Content-Length and Transfer-Encoding") }
            guard head.chunkedIsFinal, !head.otherCodingSeen else {
                throw .badRequest("unsupported transfer coding")
            }
            state = .chunkedBody(ChunkedBodyDecoder())
            return nil
        }
        if let length = head.contentLength {
            if length > limits.maxBodyBytes { throw .contentTooLarge("response body too large") }
            if length == 0 { return complete(keepAlive: connectionPersists) }
            body.reserveCapacity(min(length, 256 * 1024, keptBodyBytes))
            state = .fixedBody(remaining: length)
            return nil
        }
        state = .untilClose
        return nil
    }

    private mutating func complete(keepAlive: Bool) -> HTTP1Response {
        let response = HTTP1Response(
            head: HTTPResponse(status: status, headerFields: head.fields),
            version: version,
            keepAlive: keepAlive,
            body: body
        )
        state = .statusLine
        head = HTTP1HeadFields()
        body = []
        bodyReceived = 0
        return response
    }
}
