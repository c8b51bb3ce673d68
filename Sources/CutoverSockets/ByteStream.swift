/// What a `Connection` reads from and writes to. A plain TCP `Socket` is one; a TLS stream
/// (OpenSSL over memory BIOs, driven by the same readiness events) is another, so the HTTP
/// layers above a connection never learn which one they are on.
public protocol ByteStream: Sendable {
    /// The descriptor whose readiness drives the stream.
    var descriptor: Int32 { get }
    /// Reads available bytes; `.wouldBlock` when none, `.endOfStream` at the peer's close.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult
    /// Writes as much as possible now; `.wouldBlock` when nothing could be written.
    func write(_ bytes: UnsafeRawBufferPointer) throws -> IOResult
    /// Signals the end of our output (TLS sends close_notify first).
    func shutdownWrite()
    func close()
}

extension Socket: ByteStream {}
