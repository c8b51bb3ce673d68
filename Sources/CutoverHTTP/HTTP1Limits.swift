/// Size limits the HTTP/1.1 decoders enforce. Every limit is checked as bytes arrive, so a peer
/// can never make a decoder buffer more than roughly these amounts.
///
/// The request decoder answers a violated limit with the status the server should send:
/// 414 for the request line, 431 for the header section or header count, 413 for the body and
/// 400 for an over-long chunk-size line. The response decoder reports the same violations as 502.
package struct HTTP1Limits: Sendable, Hashable {
    /// The longest start line (request line, or status line for responses), excluding its CRLF.
    /// Default 8 KiB.
    package var maxRequestLineLength: Int
    /// The largest header section: every field line after the start line including its CRLF, plus
    /// the terminating empty line. The same budget applies separately to chunked trailers.
    /// Default 64 KiB.
    package var maxHeaderBytes: Int
    /// The most field lines in the header section (and, separately, in chunked trailers).
    /// Default 100. Clamped to at most 10,000.
    package var maxHeaderCount: Int
    /// The largest body, counted after removing chunked framing. Default 4 MiB, since Meta sends
    /// webhook payloads of up to 3 MB.
    package var maxBodyBytes: Int
    /// The longest chunk-size line, chunk extensions included, excluding its CRLF. Default 1 KiB.
    package var maxChunkLineLength: Int

    package init(
        maxRequestLineLength: Int = 8 * 1024,
        maxHeaderBytes: Int = 64 * 1024,
        maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 4 * 1024 * 1024,
        maxChunkLineLength: Int = 1024
    ) {
        self.maxRequestLineLength = max(16, maxRequestLineLength)
        self.maxHeaderBytes = max(2, maxHeaderBytes)
        self.maxHeaderCount = min(max(0, maxHeaderCount), 10_000)
        self.maxBodyBytes = max(0, maxBodyBytes)
        self.maxChunkLineLength = max(1, maxChunkLineLength)
    }

    /// Defaults for decoding requests (body up to 4 MiB).
    package static var requestDefaults: HTTP1Limits { HTTP1Limits() }

    /// Defaults for decoding responses to the proxy's outbound deliveries: as for requests, but
    /// with bodies capped at 1 MiB, since only an excerpt of an error body is ever kept.
    package static var responseDefaults: HTTP1Limits { HTTP1Limits(maxBodyBytes: 1024 * 1024) }
}
