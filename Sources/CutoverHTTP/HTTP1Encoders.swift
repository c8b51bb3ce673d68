import HTTPTypes

extension [UInt8] {
    @inline(__always)
    mutating func appendASCII(_ string: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func appendString(_ string: String) {
        append(contentsOf: string.utf8)
    }

    mutating func appendDecimal(_ value: Int) {
        precondition(value >= 0)
        if value < 10 {
            append(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for Int.max (19 digits)
        var count = 0
        var remaining = value
        Swift.withUnsafeMutableBytes(of: &digits) { scratch in
            while remaining > 0 {
                count += 1
                scratch[24 - count] = UInt8(ascii: "0") &+ UInt8(remaining % 10)
                remaining /= 10
            }
            append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[(24 - count)...]))
        }
    }

    mutating func appendField(_ field: HTTPField) {
        appendString(field.name.rawName)
        appendASCII(": ")
        field.withUnsafeBytesOfValue { append(contentsOf: $0) }
        appendASCII("\r\n")
    }
}

/// Serialises responses as HTTP/1.1. Framing is always the encoder's: any Content-Length or
/// Transfer-Encoding in the given header fields is dropped and Content-Length is written from the
/// body (except for 1xx, 204 and 304, which get neither a Content-Length nor a body).
package enum HTTP1ResponseEncoder {
    /// `HTTP/1.1 100 Continue\r\n\r\n`, the answer to `HTTP1RequestDecoder.Output.continueExpected`.
    package static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Appends the status line, the header fields, framing, and the body to `output`.
    /// - Parameters:
    ///   - closeConnection: adds `Connection: close` (replacing any Connection field given). For
    ///     keep-alive with an HTTP/1.0 client, put `Connection: keep-alive` in the header fields.
    ///   - body: written verbatim. For a response to HEAD pass an empty body: Content-Length is then 0.
    package static func encode(
        _ response: HTTPResponse,
        body: UnsafeRawBufferPointer,
        closeConnection: Bool = false,
        into output: inout [UInt8]
    ) {
        encode(status: response.status, headerFields: response.headerFields, body: body, closeConnection: closeConnection, into: &output)
    }

    /// `encode(_:body:closeConnection:into:)` from a status and fields, for a caller that has no
    /// `HTTPResponse` (building one allocates its pseudo-header storage, once per response).
    /// `extraField` is written after `headerFields`, as if it were their last.
    package static func encode(
        status: HTTPResponse.Status,
        headerFields: HTTPFields,
        extraField: HTTPField? = nil,
        body: UnsafeRawBufferPointer,
        closeConnection: Bool = false,
        into output: inout [UInt8]
    ) {
        let code = status.code
        let bodyAllowed = !(code < 200 || code == 204 || code == 304)
        output.reserveCapacity(output.count + 128 + headerFields.count * 40 + (bodyAllowed ? body.count : 0))

        output.appendASCII("HTTP/1.1 ")
        output.appendDecimal(min(max(code, 0), 999))
        output.append(ASCII.space)
        let phrase = status.reasonPhrase
        output.appendString(phrase.isEmpty ? standardReasonPhrase(code) : phrase)
        output.appendASCII("\r\n")

        // Framing is the encoder's own: a given Content-Length, Transfer-Encoding or (when closing)
        // Connection field is left out.
        func appendUnlessFraming(_ field: HTTPField) {
            let name = field.name
            if name == .contentLength || name == .transferEncoding { return }
            if closeConnection, name == .connection { return }
            output.appendField(field)
        }
        for field in headerFields { appendUnlessFraming(field) }
        if let extraField { appendUnlessFraming(extraField) }
        if closeConnection { output.appendASCII("Connection: close\r\n") }
        if bodyAllowed {
            output.appendASCII("Content-Length: ")
            output.appendDecimal(body.count)
            output.appendASCII("\r\n\r\n")
            output.append(contentsOf: body)
        } else {
            output.appendASCII("\r\n")
        }
    }

    package static func encode(
        _ response: HTTPResponse,
        body: [UInt8] = [],
        closeConnection: Bool = false,
        into output: inout [UInt8]
    ) {
        body.withUnsafeBytes { encode(response, body: $0, closeConnection: closeConnection, into: &output) }
    }

    /// A canned plain-text error response that closes the connection:
    /// `HTTP/1.1 <code> <phrase>`, `Content-Type: text/plain; charset=utf-8`, `Connection: close`,
    /// `Content-Length`, and `reason` followed by a newline as the body.
    package static func encodeError(status: HTTPResponse.Status, reason: String, into output: inout [UInt8]) {
        var response = HTTPResponse(status: status)
        response.headerFields[.contentType] = "text/plain; charset=utf-8"
        let body = Array((reason + "\n").utf8)
        encode(response, body: body, closeConnection: true, into: &output)
    }

    /// The canned error response for a decoder failure (its status and reason).
    package static func encodeError(_ error: HTTP1DecodeError, into output: inout [UInt8]) {
        encodeError(status: error.status, reason: error.reason, into: &output)
    }

    /// The IANA reason phrase for codes this proxy emits, used when a status carries none.
    static func standardReasonPhrase(_ code: Int) -> String {
        switch code {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }
}

/// Serialises requests as HTTP/1.1 for outbound deliveries.
package enum HTTP1RequestEncoder {
    /// Appends `METHOD path HTTP/1.1`, `Host` (from `authority`, else from a Host header field,
    /// else empty), the other header fields, Content-Length and the body to `output`.
    ///
    /// Framing is the encoder's: Host, Content-Length and Transfer-Encoding fields given are
    /// dropped. Content-Length is written whenever there is a body, and for an empty body unless the
    /// method is GET, HEAD, DELETE, OPTIONS, TRACE or CONNECT (RFC 9110 §8.6). A nil path is sent
    /// as `/`; bytes in the path that cannot appear in a request line (CTLs, SP, DEL, non-ASCII)
    /// are percent-encoded.
    package static func encode(_ request: HTTPRequest, body: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.reserveCapacity(output.count + 128 + request.headerFields.count * 40 + body.count)
        output.appendString(request.method.rawValue)
        output.append(ASCII.space)
        appendPath(request.path ?? "/", to: &output)
        output.appendASCII(" HTTP/1.1\r\nHost: ")
        if let authority = request.authority {
            output.appendString(authority)
        } else if let host = request.headerFields.first(where: { $0.name.canonicalName == "host" }) {
            host.withUnsafeBytesOfValue { output.append(contentsOf: $0) }
        }
        output.appendASCII("\r\n")
        for field in request.headerFields {
            let name = field.name
            if name.canonicalName == "host" || name == .contentLength || name == .transferEncoding { continue }
            output.appendField(field)
        }
        let method = request.method
        let bodyless = method == .get || method == .head || method == .delete || method == .options
            || method == .trace || method == .connect
        if !body.isEmpty || !bodyless {
            output.appendASCII("Content-Length: ")
            output.appendDecimal(body.count)
            output.appendASCII("\r\n")
        }
        output.appendASCII("\r\n")
        output.append(contentsOf: body)
    }

    package static func encode(_ request: HTTPRequest, body: [UInt8] = [], into output: inout [UInt8]) {
        body.withUnsafeBytes { encode(request, body: $0, into: &output) }
    }

    private static func appendPath(_ path: String, to output: inout [UInt8]) {
        let hex: StaticString = "0123456789ABCDEF"
        for byte in path.utf8 {
            if byte > 0x20, byte < 0x7F {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "%"))
                output.append(hex.utf8Start[Int(byte >> 4)])
                output.append(hex.utf8Start[Int(byte & 0x0F)])
            }
        }
    }
}
