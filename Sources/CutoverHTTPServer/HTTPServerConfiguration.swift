import CutoverHTTP

/// Every limit of the HTTP server, each with a documented default.
public struct HTTPServerConfiguration: Sendable {
    /// Request line, header section, header count and body size limits (body default 4 MiB).
    public var limits: HTTP1Limits
    /// Connections open at once; one more is answered 503 and closed.
    public var maxConnections: Int
    /// How long a keep-alive connection may sit with no request before it is closed.
    public var idleTimeout: Duration
    /// How long a request may take to arrive in full once its first byte came (answered 408).
    public var readTimeout: Duration
    /// Buffered, not yet handled pipelined bytes above which reading pauses.
    public var maxPipelinedBytes: Int

    public init(
        limits: HTTP1Limits = HTTP1Limits(),
        maxConnections: Int = 10_000,
        idleTimeout: Duration = .seconds(60),
        readTimeout: Duration = .seconds(30),
        maxPipelinedBytes: Int = 1 << 20
    ) {
        self.limits = limits
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
        self.maxPipelinedBytes = maxPipelinedBytes
    }
}
