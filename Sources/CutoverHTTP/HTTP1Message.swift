import HTTPTypes

/// The HTTP/1.x protocol versions the codec speaks.
package enum HTTP1Version: Sendable, Hashable, CustomStringConvertible {
    case http1_0
    case http1_1

    package var description: String {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        }
    }
}

/// A complete request read by `HTTP1RequestDecoder`.
package struct HTTP1Request: Sendable, Hashable {
    /// Method, authority (from the Host field, or from an absolute-form target), path including the
    /// query, and the header fields. `scheme` is nil. The Host field is carried only as `authority`;
    /// it is not repeated in `headerFields`.
    package var head: HTTPRequest
    package var version: HTTP1Version
    /// Whether the connection may carry another request after this one: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive` (and no `close`).
    package var keepAlive: Bool
    /// The whole body with any chunked framing removed; empty when the request has none.
    package var body: [UInt8]

    package init(head: HTTPRequest, version: HTTP1Version, keepAlive: Bool, body: [UInt8]) {
        self.head = head
        self.version = version
        self.keepAlive = keepAlive
        self.body = body
    }
}

/// A complete final (non-1xx) response read by `HTTP1ResponseDecoder`.
package struct HTTP1Response: Sendable, Hashable {
    /// Status (with the peer's reason phrase) and header fields.
    package var head: HTTPResponse
    package var version: HTTP1Version
    /// Whether the connection may be reused: false for close-delimited bodies, `Connection: close`,
    /// and HTTP/1.0 without `Connection: keep-alive`.
    package var keepAlive: Bool
    /// The whole body with any chunked framing removed.
    package var body: [UInt8]

    package init(head: HTTPResponse, version: HTTP1Version, keepAlive: Bool, body: [UInt8]) {
        self.head = head
        self.version = version
        self.keepAlive = keepAlive
        self.body = body
    }
}
