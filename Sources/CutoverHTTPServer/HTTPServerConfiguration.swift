import CutoverHTTP
import CutoverHTTP2

/// Every limit of the HTTP server, each with a documented default.
package struct HTTPServerConfiguration: Sendable {
    /// Request line, header section, header count and body size limits (body default 4 MiB).
    package var limits: HTTP1Limits
    /// Connections open at once; one more is answered 503 and closed.
    package var maxConnections: Int
    /// How long a keep-alive connection may sit with no request before it is closed.
    package var idleTimeout: Duration
    /// How long a request may take to arrive in full once its first byte came (answered 408).
    package var readTimeout: Duration
    /// Buffered, not yet handled pipelined bytes above which reading pauses.
    package var maxPipelinedBytes: Int
    /// HTTP/2 streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS);
    /// a stream over it is refused (RST_STREAM REFUSED_STREAM) and the connection carries on.
    package var http2MaxConcurrentStreams: Int
    /// Request body bytes the whole server may hold at once (both protocols, every connection);
    /// a body that does not fit is answered 503 before it is buffered. Default 256 MiB.
    package var maxInflightBodyBytes: Int
    /// Request body bytes one HTTP/2 connection may hold at once over all its streams; a stream
    /// past it is answered 503. Default 16 MiB (four bodies at the 4 MiB limit).
    package var maxConnectionBodyBytes: Int
    /// How long a response may sit unread (a zero flow-control window, a peer that does not
    /// read) before the connection is closed. Default 30 s.
    package var writeTimeout: Duration
    /// HTTP/2: header blocks over the limits (431s) one connection may send before it is ended
    /// with GOAWAY ENHANCE_YOUR_CALM (an HPACK bomb costs decoding work every time). Default 8.
    package var maxHeaderRejections: Int

    package init(
        limits: HTTP1Limits = HTTP1Limits(),
        maxConnections: Int = 10_000,
        idleTimeout: Duration = .seconds(60),
        readTimeout: Duration = .seconds(30),
        maxPipelinedBytes: Int = 1 << 20,
        http2MaxConcurrentStreams: Int = 100,
        maxInflightBodyBytes: Int = 256 << 20,
        maxConnectionBodyBytes: Int = 16 << 20,
        writeTimeout: Duration = .seconds(30),
        maxHeaderRejections: Int = 8
    ) {
        self.limits = limits
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
        self.maxPipelinedBytes = maxPipelinedBytes
        self.http2MaxConcurrentStreams = http2MaxConcurrentStreams
        self.maxInflightBodyBytes = maxInflightBodyBytes
        self.maxConnectionBodyBytes = maxConnectionBodyBytes
        self.writeTimeout = writeTimeout
        self.maxHeaderRejections = maxHeaderRejections
    }

    /// The HTTP/2 limits, the same as HTTP/1.1's: header list size and count, body size.
    package var http2Limits: HTTP2Limits {
        HTTP2Limits(
            maxConcurrentStreams: http2MaxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes,
            maxHeaderCount: limits.maxHeaderCount, maxBodyBytes: limits.maxBodyBytes, maxHeaderRejections: maxHeaderRejections
        )
    }
}
