/// What a `Connection` reads from and writes to. A plain TCP `Socket` is one; a TLS stream
/// (OpenSSL over memory BIOs, driven by the same readiness events) is another, so the HTTP
/// layers above a connection never learn which one they are on.
///
/// A stream may hold bytes of its own on either side: TLS records it produced that the kernel
/// has not taken yet (handshake messages, alerts, encrypted output), and input it took from the
/// kernel but has not returned yet (records decrypted ahead). Readiness reports neither, so the
/// connection asks: it calls `flushPendingOutput()` after reading and before it considers its
/// writes done, and it comes back to `read` by itself while `hasBufferedInput` holds.
package protocol ByteStream: Sendable {
    /// The descriptor whose readiness drives the stream.
    var descriptor: Int32 { get }
    /// Reads available bytes; `.wouldBlock` when none, `.endOfStream` at the peer's close.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult
    /// Writes as much as possible now; `.wouldBlock` when nothing could be written.
    func write(_ bytes: UnsafeRawBufferPointer) throws -> IOResult
    /// Sends output the stream holds itself. True once none is left; false means: call again
    /// when the descriptor is writable.
    func flushPendingOutput() throws -> Bool
    /// Input the stream already holds that readiness will not announce.
    var hasBufferedInput: Bool { get }
    /// Signals the end of our output (TLS sends close_notify first).
    func shutdownWrite()
    func close()
}

extension ByteStream {
    /// A stream without bytes of its own (a plain socket).
    package func flushPendingOutput() throws -> Bool { true }
    package var hasBufferedInput: Bool { false }
}

extension Socket: ByteStream {}
