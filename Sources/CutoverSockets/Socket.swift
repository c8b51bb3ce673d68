#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking stream socket. A value type over the descriptor: closing is explicit,
/// because the connection that owns it decides when (after its watches are cancelled).
package struct Socket: Sendable, Hashable {
    package let descriptor: Int32

    package init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Creates a listening socket bound to `address` (port 0 picks an ephemeral port).
    package static func listening(on address: SocketAddress, backlog: Int32 = 1024) throws(SystemError) -> Socket {
        let fd = Sys.streamSocket(address.family)
        guard fd >= 0 else { throw .last("socket") }
        let socket = Socket(descriptor: fd)
        do throws(SystemError) {
            try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1, name: "setsockopt(SO_REUSEADDR)")
            if address.family == AF_INET6 {
                try socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, name: "setsockopt(IPV6_V6ONLY)")
            }
            let bound = address.withSockaddr { Sys.bind(fd, $0, $1) }
            guard bound == 0 else { throw SystemError.last("bind(\(address))") }
            guard Sys.listen(fd, backlog) == 0 else { throw SystemError.last("listen") }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Starts a non-blocking connect. `.inProgress` means: wait until writable, then `finishConnect()`.
    package static func connecting(to address: SocketAddress) throws(SystemError) -> (Socket, connected: Bool) {
        let fd = Sys.streamSocket(address.family)
        guard fd >= 0 else { throw .last("socket") }
        let socket = Socket(descriptor: fd)
        let result = address.withSockaddr { Sys.connect(fd, $0, $1) }
        if result == 0 { return (socket, true) }
        let error = Glibc.errno
        guard error == EINPROGRESS else {
            socket.close()
            throw SystemError("connect(\(address))", errno: error)
        }
        return (socket, false)
    }

    /// The result of an asynchronous connect, read once the socket became writable.
    package func finishConnect() throws(SystemError) {
        let error = Sys.pendingError(descriptor)
        guard error == 0 else { throw SystemError("connect", errno: error) }
    }

    /// Accepts one pending connection, already non-blocking; nil when none is waiting.
    package func accept() throws(SystemError) -> Socket? {
        while true {
            switch Self.nonBlocking({ Int(Sys.accept(descriptor)) }) {
            case .done(let fd): return Socket(descriptor: Int32(fd))
            case .wouldBlock: return nil
            // A connection that died while queued: the next one may be fine, and stopping here
            // would lose the readiness an edge-triggered loop reports only once.
            case .failed(ECONNABORTED), .failed(EPROTO): continue
            case .failed(let error): throw SystemError("accept", errno: error)
            }
        }
    }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult {
        switch Self.nonBlocking({ Sys.read(descriptor, buffer.baseAddress!, buffer.count) }) {
        case .done(0): return .endOfStream
        case .done(let count): return .processed(count)
        case .wouldBlock: return .wouldBlock
        case .failed(ECONNRESET): return .endOfStream
        case .failed(let error): throw SystemError("recv", errno: error)
        }
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> IOResult {
        guard !bytes.isEmpty else { return .processed(0) }
        switch Self.nonBlocking({ Sys.write(descriptor, bytes.baseAddress!, bytes.count) }) {
        case .done(let count): return .processed(count)
        case .wouldBlock: return .wouldBlock
        case .failed(EPIPE), .failed(ECONNRESET): return .endOfStream
        case .failed(let error): throw SystemError("send", errno: error)
        }
    }

    private enum CallOutcome {
        case done(Int)
        case wouldBlock
        case failed(Int32)
    }

    /// Runs a non-blocking call again when a signal interrupted it, and reads errno right after
    /// the call that failed, before anything else can change it.
    private static func nonBlocking(_ call: () -> Int) -> CallOutcome {
        while true {
            let result = call()
            if result >= 0 { return .done(result) }
            let error = Glibc.errno
            switch error {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(error)
            }
        }
    }

    package func setNoDelay() {
        // Latency matters more than segment count for small webhook responses; failure is harmless.
        _ = Sys.setOption(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }

    package func shutdownWrite() {
        _ = Sys.shutdownWrite(descriptor)
    }

    package func close() {
        _ = Sys.close(descriptor)
    }

    /// The address the socket is bound to (to learn an ephemeral port).
    package func localAddress() throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Sys.localAddress(descriptor, $0, &length) }
        }
        guard result == 0 else { throw .last("getsockname") }
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(copying: $0, length: length) }
        }
    }

    private func setOption(_ level: Int32, _ option: Int32, _ value: Int32, name: String) throws(SystemError) {
        guard Sys.setOption(descriptor, level, option, value) == 0 else { throw .last(name) }
    }

    /// Broken pipes are reported per write (MSG_NOSIGNAL); this covers any other path to SIGPIPE.
    package static func ignoreBrokenPipeSignal() {
        Sys.ignoreBrokenPipe()
    }
}

extension Socket {
    /// The address of the other end, for logs.
    package func peerAddress() throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Sys.peerAddress(descriptor, $0, &length) }
        }
        guard result == 0 else { throw .last("getpeername") }
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(copying: $0, length: length) }
        }
    }
}
