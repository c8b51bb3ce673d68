import HTTPTypes

/// Incremental, strict HTTP/1.1 request decoder (RFC 9112). No I/O: feed it bytes with `append`,
/// then call `next()` until it returns nil.
///
/// ```swift
/// decoder.append(bytesFromSocket)
/// while let output = try decoder.next() {
///     switch output {
///     case .continueExpected: write("HTTP/1.1 100 Continue\r\n\r\n")
///     case .request(let request): handle(request)
///     }
/// }
/// ```
///
/// Pipelined requests come out one per `next()`; bytes after a complete request stay buffered.
/// Any error is final: the decoder drops its buffer and rethrows the same error from then on; the
/// server answers `error.status` (see `HTTP1ResponseEncoder.encodeError`) and closes.
///
/// Rejections (all RFC 9112 unless noted):
/// - 400: malformed request line (not exactly `method SP target SP version`), invalid method token,
///   request-target that is not origin-form, absolute-form (http/https) or `*` for OPTIONS, or that
///   contains bytes outside RFC 3986; invalid field name or value bytes, whitespace before a colon,
///   obs-fold; a bare LF anywhere a CRLF is expected (bare LF is *not* accepted as a line ending);
///   both Content-Length and Transfer-Encoding; conflicting or non-numeric or overflowing
///   Content-Length; Transfer-Encoding whose final coding is not `chunked`, or with `chunked`
///   repeated, or on an HTTP/1.0 request; invalid chunk size, chunk extension or missing CRLF after
///   chunk data; HTTP/1.1 without exactly one Host (or with an invalid Host); more than 8 empty lines
///   before a request line.
/// - 501: Transfer-Encoding with another coding before the final `chunked` (e.g. `gzip, chunked`):
///   only `chunked` alone is implemented.
/// - 413: Content-Length above `maxBodyBytes` (as soon as the head is read), or a chunked body that
///   grows past it (as soon as the offending chunk size is read).
/// - 414: request line longer than `maxRequestLineLength`.
/// - 431: header section longer than `maxHeaderBytes` or with more than `maxHeaderCount` fields
///   (the same limits apply separately to chunked trailers, which are otherwise discarded).
/// - 505: any version other than HTTP/1.0 and HTTP/1.1.
/// Unknown `Expect` values are ignored, as is `Expect: 100-continue` on HTTP/1.0.
package struct HTTP1RequestDecoder: Sendable {
    package enum Output: Sendable, Hashable {
        /// The head of a request carrying `Expect: 100-continue` is complete but its body is not:
        /// write `HTTP/1.1 100 Continue\r\n\r\n`. Emitted at most once per request.
        case continueExpected
        /// A complete request.
        case request(HTTP1Request)
    }

    private enum State {
        case requestLine
        case headers
        case fixedBody(remaining: Int)
        case chunkedBody(ChunkedBodyDecoder)
    }

    package let limits: HTTP1Limits

    private var buffer = InputBuffer()
    private var state = State.requestLine
    private var failure: HTTP1DecodeError?

    // The request being read.
    private var method = HTTPRequest.Method.get
    private var target = ""
    private var targetAuthority: String?
    private var version = HTTP1Version.http1_1
    private var head = HTTP1HeadFields()
    private var request: HTTPRequest?
    private var body: [UInt8] = []
    private var continuePending = false
    private var emptyLinesBeforeRequest = 0

    package init(limits: HTTP1Limits = .requestDefaults) {
        self.limits = limits
    }

    /// Bytes received but not yet consumed by `next()`. A server can stop reading from the socket
    /// while this is large (backpressure while it handles a request).
    package var bufferedByteCount: Int { buffer.readableCount }

    /// True when no request is partially read: an EOF now is a clean close.
    package var isIdle: Bool {
        if case .requestLine = state, buffer.readableCount == 0, failure == nil { return true }
        return false
    }

    /// The head of the request whose body is being read, from the end of its header section
    /// until the request comes out of `next()`: a server decides here, before the body is
    /// buffered, whether it wants it at all and whether memory for it is available.
    package var pendingHead: HTTPRequest? {
        switch state {
        case .fixedBody, .chunkedBody: request
        case .requestLine, .headers: nil
        }
    }

    /// The Content-Length of the request whose body is being read; nil when chunked or idle.
    package var pendingBodyLength: Int? {
        guard pendingHead != nil, !head.chunkedIsFinal else { return nil }
        return head.contentLength
    }

    /// Body bytes of the pending request taken so far (chunked framing removed).
    package var pendingBodyCount: Int { body.count }

    /// Sizes the pending body's storage once, after the server reserved memory for all of it:
    /// growing it by doubling would copy it several times and leave up to twice its size allocated.
    package mutating func reservePendingBody(capacity: Int) {
        guard pendingHead != nil, capacity > body.capacity else { return }
        body.reserveCapacity(min(capacity, limits.maxBodyBytes))
    }

    package mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        buffer.append(bytes)
    }

    package mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next complete output, or nil when more bytes are needed.
    package mutating func next() throws(HTTP1DecodeError) -> Output? {
        if let failure { throw failure }
        let storage = buffer.bytes
        do {
            return try storage.withUnsafeBufferPointer { (pointer) throws(HTTP1DecodeError) in
                try step(pointer)
            }
        } catch {
            failure = error
            buffer.release()
            body = []
            throw error
        }
    }

    private mutating func step(_ storage: UnsafeBufferPointer<UInt8>) throws(HTTP1DecodeError) -> Output? {
        while true {
            switch state {
            case .requestLine:
                switch buffer.scanLine(in: storage, limit: limits.maxRequestLineLength) {
                case .incomplete: return nil
                case .tooLong: throw HTTP1DecodeError(status: .uriTooLong, reason: "request line too long")
                case .bareLF: throw .badRequest("bare LF in request line")
                case .line(let start, let end):
                    buffer.consumeLine(end: end)
                    if start == end {
                        // RFC 9112 §2.2: ignore empty lines before a request line (a few).
                        emptyLinesBeforeRequest += 1
                        if emptyLinesBeforeRequest > 8 { throw .badRequest("too many empty lines") }
                        continue
                    }
                    try parseRequestLine(UnsafeBufferPointer(rebasing: storage[start..<end]))
                    state = .headers
                }

            case .headers:
                switch try head.readLine(from: &buffer, in: storage, limits: limits, isRequest: true) {
                case .needMore: return nil
                case .endOfSection: if let output = try finishHead() { return output }
                case .field: continue
                }

            case .fixedBody(let remaining):
                let take = buffer.takeBody(upTo: remaining, from: storage, into: &body)
                if take == remaining { return completeRequest() }
                state = .fixedBody(remaining: remaining - take)
                return continueIfPending()

            case .chunkedBody(var chunked):
                let done = try chunked.decode(storage, &buffer, into: &body, limits: limits)
                if done { return completeRequest() }
                state = .chunkedBody(chunked)
                return continueIfPending()
            }
        }
    }

    private mutating func continueIfPending() -> Output? {
        guard continuePending else { return nil }
        continuePending = false
        return .continueExpected
    }

    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single SPs only.
    private mutating func parseRequestLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTP1DecodeError) {
        var index = 0
        while index < line.count, isTokenChar(line[index]) { index += 1 }
        guard index > 0, index < line.count, line[index] == ASCII.space else {
            throw .badRequest(index == 0 ? "invalid method" : "malformed request line")
        }
        let methodBytes = UnsafeBufferPointer(rebasing: line[0..<index])

        let targetStart = index + 1
        index = targetStart
        while index < line.count, isTargetChar(line[index]) { index += 1 }
        guard index > targetStart, index < line.count, line[index] == ASCII.space else {
            throw .badRequest(index < line.count && line[index] != ASCII.space
                ? "invalid character in request target" : "malformed request line")
        }
        let targetBytes = UnsafeBufferPointer(rebasing: line[targetStart..<index])
        let versionBytes = UnsafeBufferPointer(rebasing: line[(index + 1)...])

        version = try Self.parseVersion(versionBytes)
        method = Self.method(methodBytes)
        try parseTarget(targetBytes)
    }

    static func parseVersion(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTP1DecodeError) -> HTTP1Version {
        // HTTP-version = "HTTP/" DIGIT "." DIGIT (case-sensitive).
        guard bytes.count == 8,
            bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
            bytes[3] == UInt8(ascii: "P"), bytes[4] == ASCII.slash, bytes[6] == UInt8(ascii: "."),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[5]),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[7])
        else { throw .badRequest("invalid HTTP version") }
        switch (bytes[5], bytes[7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): return .http1_1
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .http1_0
        default: throw HTTP1DecodeError(status: .httpVersionNotSupported, reason: "HTTP version not supported")
        }
    }

    private static func method(_ bytes: UnsafeBufferPointer<UInt8>) -> HTTPRequest.Method {
        // Methods are case-sensitive; the common ones avoid building a String.
        switch bytes.count {
        case 3 where bytes[0] == UInt8(ascii: "G") && bytes[1] == UInt8(ascii: "E") && bytes[2] == UInt8(ascii: "T"):
            return .get
        case 3 where bytes[0] == UInt8(ascii: "P") && bytes[1] == UInt8(ascii: "U") && bytes[2] == UInt8(ascii: "T"):
            return .put
        case 4 where bytes[0] == UInt8(ascii: "P") && bytes[1] == UInt8(ascii: "O") && bytes[2] == UInt8(ascii: "S")
            && bytes[3] == UInt8(ascii: "T"):
            return .post
        case 4 where bytes[0] == UInt8(ascii: "H") && bytes[1] == UInt8(ascii: "E") && bytes[2] == UInt8(ascii: "A")
            && bytes[3] == UInt8(ascii: "D"):
            return .head
        default:
            // Already validated as a token, which is all Method requires.
            return HTTPRequest.Method(String(ascii: bytes)) ?? .get
        }
    }

    /// origin-form, absolute-form (http/https, authority taken from it) or asterisk-form for
    /// OPTIONS (RFC 9112 §3.2). authority-form (CONNECT) is not supported.
    private mutating func parseTarget(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTP1DecodeError) {
        targetAuthority = nil
        if bytes[0] == ASCII.slash {
            target = String(ascii: bytes)
            return
        }
        if bytes.count == 1, bytes[0] == UInt8(ascii: "*") {
            guard method == .options else { throw .badRequest("asterisk-form target requires OPTIONS") }
            target = "*"
            return
        }
        // absolute-form: scheme "://" authority path-abempty [ "?" query ]
        let schemeLength: Int
        if bytes.count > 7, UnsafeBufferPointer(rebasing: bytes[0..<7]).equalsLowercased("http://") {
            schemeLength = 7
        } else if bytes.count > 8, UnsafeBufferPointer(rebasing: bytes[0..<8]).equalsLowercased("https://") {
            schemeLength = 8
        } else {
            throw .badRequest("unsupported request target form")
        }
        var index = schemeLength
        while index < bytes.count, bytes[index] != ASCII.slash, bytes[index] != UInt8(ascii: "?") {
            guard isHostChar(bytes[index]) else { throw .badRequest("invalid authority in request target") }
            index += 1
        }
        guard index > schemeLength else { throw .badRequest("empty authority in request target") }
        targetAuthority = String(ascii: UnsafeBufferPointer(rebasing: bytes[schemeLength..<index]))
        if index == bytes.count {
            target = "/"
        } else if bytes[index] == UInt8(ascii: "?") {
            target = "/" + String(ascii: UnsafeBufferPointer(rebasing: bytes[index...]))
        } else {
            target = String(ascii: UnsafeBufferPointer(rebasing: bytes[index...]))
        }
    }

    /// Applies the framing rules of RFC 9112 §6 once the empty line is read. Returns the request if
    /// it has no body, otherwise moves to a body state and returns nil.
    private mutating func finishHead() throws(HTTP1DecodeError) -> Output? {
        if version == .http1_1 {
            // RFC 9112 §3.2: exactly one Host in HTTP/1.1.
            if head.hostCount == 0 { throw .badRequest("missing Host header") }
        }
        if head.hostCount > 1 { throw .badRequest("multiple Host headers") }
        if head.transferEncodingSeen {
            if head.contentLength != nil { throw .badRequest("both Content-Length and Transfer-Encoding") }
            if version == .http1_0 { throw .badRequest("Transfer-Encoding in HTTP/1.0 request") }
            if !head.chunkedIsFinal { throw .badRequest("chunked is not the final transfer coding") }
            if head.otherCodingSeen {
                throw HTTP1DecodeError(status: .notImplemented, reason: "unsupported transfer coding")
            }
        }
        if let length = head.contentLength, length > limits.maxBodyBytes {
            throw .contentTooLarge("body too large")
        }

        let authority = targetAuthority ?? head.host.flatMap { $0.isEmpty ? nil : $0 }
        request = HTTPRequest(method: method, scheme: nil, authority: authority, path: target, headerFields: head.fields)
        continuePending = head.expectContinue && version == .http1_1

        if head.chunkedIsFinal {
            state = .chunkedBody(ChunkedBodyDecoder())
        } else if let length = head.contentLength, length > 0 {
            body.reserveCapacity(min(length, 256 * 1024))
            state = .fixedBody(remaining: length)
        } else {
            return completeRequest()
        }
        return nil
    }

    private mutating func completeRequest() -> Output {
        let keepAlive: Bool = switch version {
        case .http1_1: !head.connectionClose
        case .http1_0: head.connectionKeepAlive && !head.connectionClose
        }
        let complete = HTTP1Request(
            head: request ?? HTTPRequest(method: method, scheme: nil, authority: nil, path: target),
            version: version,
            keepAlive: keepAlive,
            body: body
        )
        state = .requestLine
        request = nil
        body = []
        head = HTTP1HeadFields()
        continuePending = false
        emptyLinesBeforeRequest = 0
        return .request(complete)
    }
}
