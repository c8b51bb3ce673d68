import CNGHTTP2
import HTTPTypes

// Error codes are HTTPTypes' `HTTP2ErrorCode` (RFC 9113 §7).

/// A failure of an HTTP/2 session: an nghttp2 library error (with `nghttp2_strerror` text), or a
/// stream or connection the peer ended with an HTTP/2 error code.
package struct HTTP2Error: Error, Sendable, CustomStringConvertible {
    /// What was being done: `receiving`, `sending`, `submitting a response`, `stream 3`...
    package let operation: String
    package let reason: String
    /// nghttp2's (negative) library error code, when the library reported the failure.
    package let libraryCode: Int32?
    /// The HTTP/2 error code of a reset stream or a GOAWAY, when the peer (or we) sent one.
    package let errorCode: HTTP2ErrorCode?

    /// From an nghttp2 return value: the text is `nghttp2_strerror`'s.
    package init(_ operation: String, libraryCode: Int32) {
        self.operation = operation
        self.libraryCode = libraryCode
        errorCode = nil
        reason = String(cString: nghttp2_strerror(libraryCode))
    }

    package init(_ operation: String, errorCode: HTTP2ErrorCode, reason: String? = nil) {
        self.operation = operation
        libraryCode = nil
        self.errorCode = errorCode
        self.reason = reason ?? errorCode.description
    }

    package var description: String { "HTTP/2 \(operation): \(reason)" }

    /// The GOAWAY code that tells the peer about this error: PROTOCOL_ERROR for a bad client
    /// preface, ENHANCE_YOUR_CALM for flooding, INTERNAL_ERROR for the rest.
    package var goAwayCode: HTTP2ErrorCode {
        if let errorCode { return errorCode }
        switch libraryCode {
        case NGHTTP2_ERR_BAD_CLIENT_MAGIC.rawValue, NGHTTP2_ERR_PROTO.rawValue: return .protocolError
        case NGHTTP2_ERR_FLOODED.rawValue: return .enhanceYourCalm
        case NGHTTP2_ERR_FLOW_CONTROL.rawValue: return .flowControlError
        default: return .internalError
        }
    }
}

/// The limits a session announces in SETTINGS and enforces on what it receives. Defaults match
/// the HTTP/1.1 server's (`HTTP1Limits`): 64 KiB of header list, 100 fields, 4 MiB bodies.
package struct HTTP2Limits: Sendable, Hashable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams the peer may open at once (more are refused).
    package var maxConcurrentStreams: Int
    /// SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2 sizes: name + value + 32 per field).
    /// A larger request is answered 431 on its stream; a larger response fails its request.
    package var maxHeaderListSize: Int
    /// The most fields in one header block.
    package var maxHeaderCount: Int
    /// The largest message body; a larger request is answered 413 on its stream.
    package var maxBodyBytes: Int
    /// SETTINGS_INITIAL_WINDOW_SIZE: what the peer may send on one stream before we consume it.
    package var initialStreamWindowSize: Int
    /// The connection-level receive window (raised with a WINDOW_UPDATE on stream 0).
    package var connectionWindowSize: Int
    /// Header blocks over the limits (431s) one connection may send; the next ends it with
    /// GOAWAY ENHANCE_YOUR_CALM. An HPACK bomb makes us decode its whole block every time.
    package var maxHeaderRejections: Int
    /// A message's body keeps at most this many bytes; the rest is read (still within
    /// `maxBodyBytes`) and dropped: a client that wants an excerpt of responses buffers no more.
    package var keptBodyBytes = Int.max

    package init(
        maxConcurrentStreams: Int = 100,
        maxHeaderListSize: Int = 64 * 1024,
        maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 4 * 1024 * 1024,
        initialStreamWindowSize: Int = 256 * 1024,
        connectionWindowSize: Int = 1024 * 1024,
        maxHeaderRejections: Int = 8
    ) {
        self.maxHeaderRejections = max(0, maxHeaderRejections)
        self.maxConcurrentStreams = max(1, maxConcurrentStreams)
        self.maxHeaderListSize = max(256, maxHeaderListSize)
        self.maxHeaderCount = max(4, maxHeaderCount)
        self.maxBodyBytes = max(0, maxBodyBytes)
        self.initialStreamWindowSize = min(max(16 * 1024, initialStreamWindowSize), Int(Int32.max))
        self.connectionWindowSize = min(max(65_535, connectionWindowSize), Int(Int32.max))
    }
}

/// One complete message received on a stream: a request (server) or a final response (client),
/// with its header fields as received (pseudo-header fields included) and the whole body.
package struct HTTP2Message: Sendable {
    package var streamID: Int32
    package var fields: [(name: String, value: String)]
    package var body: [UInt8]

    /// The request head: pseudo-header fields become method, scheme, authority and path (the
    /// authority falls back to a `host` field, which is then dropped as the HTTP/1.1 decoder does).
    package func request() throws(HTTP2Error) -> HTTPRequest {
        var method: HTTPRequest.Method?
        var scheme: String?
        var authority: String?
        var path: String?
        var host: String?
        var headerFields = HTTPFields()
        for (name, value) in fields {
            switch name {
            case ":method": method = HTTPRequest.Method(value)
            case ":scheme": scheme = value
            case ":authority": authority = value
            case ":path": path = value
            case "host": host = value
            default:
                guard !name.hasPrefix(":") else { continue }
                guard let fieldName = HTTPField.Name(name) else { throw malformed("field name '\(name)'") }
                headerFields.append(HTTPField(name: fieldName, value: value))
            }
        }
        guard let method else { throw malformed("request without a valid :method") }
        return HTTPRequest(method: method, scheme: scheme, authority: authority ?? host, path: path, headerFields: headerFields)
    }

    /// The response head: `:status` and the header fields.
    package func response() throws(HTTP2Error) -> HTTPResponse {
        var status: Int?
        var headerFields = HTTPFields()
        for (name, value) in fields {
            if name == ":status" {
                status = Int(value)
            } else if !name.hasPrefix(":") {
                guard let fieldName = HTTPField.Name(name) else { throw malformed("field name '\(name)'") }
                headerFields.append(HTTPField(name: fieldName, value: value))
            }
        }
        guard let status, (100...999).contains(status) else { throw malformed("response without a valid :status") }
        return HTTPResponse(status: HTTPResponse.Status(code: status), headerFields: headerFields)
    }

    private func malformed(_ what: String) -> HTTP2Error {
        HTTP2Error("stream \(streamID)", errorCode: .protocolError, reason: "malformed message: \(what)")
    }
}

/// Header fields HTTP/2 forbids (RFC 9113 §8.2.2): they are dropped when a head is sent.
let connectionSpecificFields: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]
