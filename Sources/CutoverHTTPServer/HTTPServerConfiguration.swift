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

    package init(
        limits: HTTP1Limits = HTTP1Limits(),
        maxConnections: Int = 10_000,
        idleTimeout: Duration = .seconds(60),
        readTimeout: Duration = .seconds(30),
        maxPipelinedBytes: Int = 1 << 20,
        http2MaxConcurrentStreams: Int = 100
    ) {
        self.limits = limits
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
        self.maxPipelinedBytes = maxPipelinedBytes
        self.http2MaxConcurrentStreams = http2MaxConcurrentStreams
    }

    /// The HTTP/2 limits, the same as HTTP/1.1's: header list size and count, body size.
    package var http2Limits: HTTP2Limits {
        HTTP2Limits(
            maxConcurrentStreams: http2MaxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes,
            maxHeaderCount: limits.maxHeaderCount, maxBodyBytes: limits.maxBodyBytes
        )
    }
}
