import COpenSSL
import CutoverSockets

#if canImport(Glibc)
import Glibc
#endif

/// How far a handshake step got: done, or the readiness it waits for.
package enum TLSHandshakeProgress: Sendable, Equatable {
    case complete
    case needsReadable
    case needsWritable
}

/// TLS over a non-blocking socket, with OpenSSL working on memory only: a BIO pair sits between
/// the SSL object and the socket, so the descriptor's readiness (the same Dispatch sources that
/// drive plaintext connections) drives TLS too and no call ever blocks.
///
/// Ciphertext moves between the socket and the pair's two fixed rings without extra copies
/// (`BIO_nwrite0` / `BIO_nread0` hand out pointers into them). The outgoing ring is the
/// stream's only write buffer, so back-pressure stays one ring deep.
package final class TLSStream: ByteStream, @unchecked Sendable {
    // Invariant: used by one event loop at a time (the handshake's, then the connection's, which are the same).
    package let socket: Socket
    package let isServer: Bool
    /// Keeps the OpenSSL context, and what its callbacks read, alive as long as this stream.
    private let context: SSLContextHandle
    private let ssl: OpaquePointer
    /// The socket's end of the BIO pair; the SSL object owns the other end.
    private let network: OpaquePointer
    private let requestedServerName: String?
    /// After a fatal error OpenSSL forbids SSL_shutdown.
    private var failed = false
    private var closeNotifySent = false
    /// A read stopped because the outgoing ring was full; it goes on once the ring drains.
    private var readWaitsForOutput = false
    /// What the handshake agreed on; nil until it completes.
    package private(set) var info: TLSConnectionInfo?

    init(socket: Socket, context: SSLContextHandle, isServer: Bool, serverName: String?) throws(TLSError) {
        self.socket = socket
        self.context = context
        self.isServer = isServer
        requestedServerName = serverName
        guard let ssl = SSL_new(context.pointer) else { throw .openSSL("creating a session") }
        var inside: OpaquePointer?
        var outside: OpaquePointer?
        // 0: OpenSSL's default ring size (17 KiB each way), one full record plus headroom.
        guard BIO_new_bio_pair(&inside, 0, &outside, 0) == 1, let inside, let outside else {
            SSL_free(ssl)
            throw .openSSL("creating the BIO pair")
        }
        SSL_set_bio(ssl, inside, inside)
        self.ssl = ssl
        network = outside
        if isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let serverName { try configureClient(for: serverName) }
        }
    }

    deinit {
        SSL_free(ssl)  // frees the inside BIO too
        BIO_free(network)
    }

    private func configureClient(for host: String) throws(TLSError) {
        // An IP literal is checked against the certificate's IP addresses and gets no SNI
        // (RFC 6066 §3); a name is checked against its DNS names and sent as SNI.
        if X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 { return }
        ERR_clear_error()
        guard SSL_set1_host(ssl, host) == 1 else { throw .openSSL("setting the expected host name \(host)") }
        guard cutover_ssl_set_server_name(ssl, host) == 1 else { throw .openSSL("setting SNI to \(host)") }
    }

    package var descriptor: Int32 { socket.descriptor }

    // MARK: Handshake

    /// Advances the handshake as far as the socket allows. Once it reports `.complete`, `info`
    /// is set and everything the handshake wrote has reached the kernel.
    package func handshake() throws(TLSError) -> TLSHandshakeProgress {
        while true {
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            if result == 1 {
                if info == nil { info = collectInfo() }
                return try handshakeIO(flushRing) ? .complete : .needsWritable
            }
            let code = SSL_get_error(ssl, result)
            switch code {
            case SSL_ERROR_WANT_READ:
                guard try handshakeIO(flushRing) else { return .needsWritable }
                switch try handshakeIO(fillRing) {
                case .processed: continue
                case .wouldBlock: return .needsReadable
                case .endOfStream:
                    failed = true
                    throw TLSError("handshake", reason: "the peer closed the connection during the handshake")
                }
            case SSL_ERROR_WANT_WRITE:
                guard try handshakeIO(flushRing) else { return .needsWritable }
            default:
                let error = failure("handshake", code: code)
                // The alert OpenSSL queued tells the peer why; best effort.
                _ = try? flushRing()
                throw error
            }
        }
    }

    /// Socket errors during the handshake are handshake failures.
    private func handshakeIO<Result>(_ operation: () throws(SystemError) -> Result) throws(TLSError) -> Result {
        do {
            return try operation()
        } catch {
            failed = true
            throw TLSError("handshake", reason: error.description)
        }
    }

    // MARK: ByteStream

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult {
        // A read that stopped on a full outgoing ring must call SSL_read again even with no new
        // input: OpenSSL retries the write it owes from there.
        var mustCallSSL = readWaitsForOutput
        readWaitsForOutput = false
        var total = 0
        // After a short read from the kernel, asking it again would only return EAGAIN.
        var kernelDrained = false
        ERR_clear_error()
        while total < buffer.count {
            // SSL_read with nothing to work on only fails with WANT_READ, and a failed call costs
            // about as much as a record's decryption (the error queue, the BIO calls): when
            // neither OpenSSL nor the ring holds input, the kernel is asked first.
            if !mustCallSSL && !sessionHasInput {
                if kernelDrained { return total > 0 ? .processed(total) : .wouldBlock }
                switch try fillRing() {
                case .processed(let received, let space):
                    kernelDrained = received < space
                    if received == 0 { return total > 0 ? .processed(total) : .wouldBlock }
                case .wouldBlock:
                    return total > 0 ? .processed(total) : .wouldBlock
                case .endOfStream:
                    // Closed without close_notify: HTTP framing tells a complete message from a cut one.
                    return total > 0 ? .processed(total) : .endOfStream
                }
            }
            mustCallSSL = false
            let count = SSL_read(ssl, buffer.baseAddress! + total, Int32(clamping: buffer.count - total))
            if count > 0 {
                total += Int(count)
                continue
            }
            let code = SSL_get_error(ssl, count)
            switch code {
            case SSL_ERROR_WANT_READ:
                // Whatever reading produced (a key update reply) goes out first; the connection
                // flushes any rest after the read. The ring holds part of a record: more input.
                _ = try flushRing()
                if kernelDrained { return total > 0 ? .processed(total) : .wouldBlock }
                switch try fillRing() {
                case .processed(let received, let space):
                    kernelDrained = received < space
                case .wouldBlock:
                    return total > 0 ? .processed(total) : .wouldBlock
                case .endOfStream:
                    return total > 0 ? .processed(total) : .endOfStream
                }
            case SSL_ERROR_WANT_WRITE:
                if try flushRing() {
                    mustCallSSL = true
                    continue
                }
                readWaitsForOutput = true
                return total > 0 ? .processed(total) : .wouldBlock
            case SSL_ERROR_ZERO_RETURN:
                return total > 0 ? .processed(total) : .endOfStream
            default:
                throw failure("read", code: code)
            }
        }
        return .processed(total)
    }

    /// OpenSSL holds plaintext or record bytes, the incoming ring holds ciphertext, or the peer's
    /// close_notify came (SSL_read reports it): an SSL_read call has something to work on.
    private var sessionHasInput: Bool {
        SSL_has_pending(ssl) == 1 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0
            || SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN != 0
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws -> IOResult {
        guard !bytes.isEmpty else { return .processed(0) }
        // Records already made leave first: the ring is the stream's whole write buffer.
        guard try flushRing() else { return .wouldBlock }
        while true {
            ERR_clear_error()
            // Partial writes are on: this returns once the ring is full, with what fit.
            let count = SSL_write(ssl, bytes.baseAddress!, Int32(clamping: bytes.count))
            if count > 0 {
                _ = try flushRing()
                return .processed(Int(count))
            }
            let code = SSL_get_error(ssl, count)
            switch code {
            case SSL_ERROR_WANT_WRITE:
                // Retried with the same bytes, as OpenSSL requires: the connection keeps them.
                guard try flushRing() else { return .wouldBlock }
            case SSL_ERROR_ZERO_RETURN:
                return .endOfStream
            case SSL_ERROR_WANT_READ:
                failed = true
                throw TLSError("write", reason: "the peer asked for renegotiation, which is disabled")
            default:
                throw failure("write", code: code)
            }
        }
    }

    package func flushPendingOutput() throws -> Bool {
        try flushRing()
    }

    package var hasBufferedInput: Bool {
        readWaitsForOutput || SSL_has_pending(ssl) == 1 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0
    }

    /// Sends close_notify, then shuts the socket's write side.
    package func shutdownWrite() {
        sendCloseNotify()
        socket.shutdownWrite()
    }

    /// Sends close_notify when the session is healthy (best effort), then closes the socket.
    package func close() {
        sendCloseNotify()
        socket.close()
    }

    private func sendCloseNotify() {
        guard info != nil, !failed, !closeNotifySent else { return }
        closeNotifySent = true
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        _ = try? flushRing()
        ERR_clear_error()
    }

    // MARK: Ring plumbing

    private enum RingFill {
        /// `received` bytes came from the kernel into `space` bytes of room.
        case processed(received: Int, space: Int)
        case wouldBlock
        case endOfStream
    }

    /// Moves ciphertext from the kernel into the incoming ring, straight into its memory.
    private func fillRing() throws(SystemError) -> RingFill {
        var pointer: UnsafeMutablePointer<CChar>?
        let space = BIO_nwrite0(network, &pointer)
        // SSL only asks for more after draining the ring, so there is room whenever this runs.
        guard space > 0, let start = pointer else { return .processed(received: 0, space: 0) }
        switch try socket.read(into: UnsafeMutableRawBufferPointer(start: start, count: Int(space))) {
        case .processed(let count):
            _ = BIO_nwrite(network, &pointer, Int32(count))
            return .processed(received: count, space: Int(space))
        case .wouldBlock:
            return .wouldBlock
        case .endOfStream:
            return .endOfStream
        }
    }

    /// Moves ciphertext from the outgoing ring to the kernel. True once the ring is empty.
    private func flushRing() throws(SystemError) -> Bool {
        while true {
            var pointer: UnsafeMutablePointer<CChar>?
            let available = BIO_nread0(network, &pointer)
            guard available > 0, let start = pointer else { return true }
            switch try socket.write(UnsafeRawBufferPointer(start: start, count: Int(available))) {
            case .processed(let count):
                _ = BIO_nread(network, &pointer, Int32(count))
            case .wouldBlock:
                return false
            case .endOfStream:
                failed = true
                throw SystemError("send", errno: EPIPE)
            }
        }
    }

    // MARK: Errors and details

    private func failure(_ operation: String, code: Int32) -> TLSError {
        failed = true
        var queue = TLSError.queueText()
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK {
            let text = String(cString: X509_verify_cert_error_string(verify))
            queue = queue.isEmpty ? text : "\(text) (\(queue))"
        }
        if !queue.isEmpty { return TLSError(operation, reason: queue) }
        switch code {
        case SSL_ERROR_SYSCALL: return TLSError(operation, reason: "the connection ended unexpectedly")
        case SSL_ERROR_ZERO_RETURN: return TLSError(operation, reason: "the peer closed the TLS session")
        default: return TLSError(operation, reason: "OpenSSL error \(code)")
        }
    }

    private func collectInfo() -> TLSConnectionInfo {
        var alpnData: UnsafePointer<UInt8>?
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpnData, &alpnLength)
        let alpn = alpnData.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(alpnLength)), as: UTF8.self) }
        var subject: String?
        if let certificate = SSL_get1_peer_certificate(ssl) {
            var buffer = [CChar](repeating: 0, count: 512)
            let count = buffer.count
            buffer.withUnsafeMutableBufferPointer { cutover_x509_subject_text(certificate, $0.baseAddress, count) }
            subject = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            X509_free(certificate)
        }
        let serverName: String? =
            if isServer {
                SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
            } else {
                requestedServerName
            }
        return TLSConnectionInfo(
            protocolVersion: String(cString: SSL_get_version(ssl)),
            cipher: SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "",
            applicationProtocol: alpn.flatMap { $0.isEmpty ? nil : $0 },
            peerSubject: subject,
            serverName: serverName
        )
    }
}
