import CutoverHTTP
import CutoverHTTP2
import CutoverSockets
import CutoverTLS
import HTTPTypes

package struct ClientRequest: Sendable {
    package var url: DestinationURL
    package var method: HTTPRequest.Method
    package var headerFields: HTTPFields
    package var body: [UInt8]
    /// For https: the TLS settings of this destination (custom CA, client certificate). Nil uses
    /// the client's own (`HTTPClientConfiguration.tls`, the system CA store by default). Make one
    /// context per destination and reuse it: connections are pooled per context.
    package var tls: TLSContext?

    package init(
        url: DestinationURL, method: HTTPRequest.Method = .post, headerFields: HTTPFields = [:], body: [UInt8] = [],
        tls: TLSContext? = nil
    ) {
        self.url = url
        self.method = method
        self.headerFields = headerFields
        self.body = body
        self.tls = tls
    }
}

/// Why a request got no response. Every case is retryable from a delivery's point of view.
package enum HTTPClientError: Error, Sendable, CustomStringConvertible {
    case resolve(AddressError)
    case connect(SystemError)
    case io(SystemError)
    case timedOut(String)
    case connectionClosed
    case malformedResponse(HTTP1DecodeError)
    /// The TLS handshake or session failed: an untrusted or mismatched certificate, a refused
    /// client certificate, no common protocol version.
    case tls(TLSError)
    /// The HTTP/2 connection or stream failed: reset by the server, a GOAWAY, or an nghttp2 error.
    case http2(HTTP2Error)

    package var description: String {
        switch self {
        case .resolve(let error): error.description
        case .connect(let error): error.description
        case .io(let error): error.description
        case .timedOut(let what): "timed out \(what)"
        case .connectionClosed: "connection closed before a response arrived"
        case .malformedResponse(let error): "malformed response: \(error.reason)"
        case .tls(let error): error.description
        case .http2(let error): error.description
        }
    }
}

package struct HTTPClientConfiguration: Sendable {
    package var connectTimeout: Duration
    /// From the request being written to the whole response having arrived.
    package var requestTimeout: Duration
    /// Keep-alive connections kept per host and port.
    package var maxIdleConnectionsPerHost: Int
    /// A pooled connection unused this long is closed.
    package var idleTimeout: Duration
    /// Longer response bodies fail the request: deliveries only keep an excerpt.
    package var maxResponseBodyBytes: Int
    /// A response's body keeps at most this many bytes, the rest read and dropped (deliveries store
    /// a prefix); nil keeps it whole.
    package var keptResponseBodyBytes: Int? = nil
    /// TLS for https destinations whose request carries no context of its own. Offers `h2`
    /// first by default: a destination that picks it gets many requests over one connection.
    package var tls: TLSClientConfiguration
    /// Name lookups: their timeout, how long an answer is reused, how many run at once.
    package var dns: HostResolver.Configuration

    package init(
        connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(30),
        maxIdleConnectionsPerHost: Int = 32,
        idleTimeout: Duration = .seconds(30),
        maxResponseBodyBytes: Int = 1 << 20,
        tls: TLSClientConfiguration = TLSClientConfiguration(applicationProtocols: ["h2", "http/1.1"]),
        dns: HostResolver.Configuration = HostResolver.Configuration()
    ) {
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxIdleConnectionsPerHost = maxIdleConnectionsPerHost
        self.idleTimeout = idleTimeout
        self.maxResponseBodyBytes = maxResponseBodyBytes
        self.tls = tls
        self.dns = dns
    }
}
