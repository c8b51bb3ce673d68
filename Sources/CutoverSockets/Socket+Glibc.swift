import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// Every raw libc call of the socket layer lives here, so the rest stays platform-neutral.
enum Sys {
    static let streamSocketType = Int32(SOCK_STREAM.rawValue)

    static func streamSocket(_ domain: Int32) -> Int32 {
        Glibc.socket(domain, streamSocketType | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    static func accept(_ fd: Int32) -> Int32 {
        cutover_accept_nonblocking(fd, nil, nil)
    }

    static func bind(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
        Glibc.bind(fd, address, length)
    }

    static func connect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
        Glibc.connect(fd, address, length)
    }

    static func listen(_ fd: Int32, _ backlog: Int32) -> Int32 {
        Glibc.listen(fd, backlog)
    }

    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        Glibc.recv(fd, buffer, count, 0)
    }

    static func write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        // MSG_NOSIGNAL: a peer that went away yields EPIPE instead of killing the process.
        Glibc.send(fd, buffer, count, Int32(MSG_NOSIGNAL))
    }

    static func close(_ fd: Int32) -> Int32 {
        Glibc.close(fd)
    }

    static func shutdownWrite(_ fd: Int32) -> Int32 {
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Int32 {
        var value = value
        return Glibc.setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard Glibc.getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return Glibc.errno }
        return value
    }

    static func localAddress(_ fd: Int32, _ storage: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>) -> Int32 {
        Glibc.getsockname(fd, storage, length)
    }

    static func peerAddress(_ fd: Int32, _ storage: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>) -> Int32 {
        Glibc.getpeername(fd, storage, length)
    }

    static func resolve(host: String, port: UInt16, hints: UnsafePointer<addrinfo>, result: UnsafeMutablePointer<UnsafeMutablePointer<addrinfo>?>) -> Int32 {
        Glibc.getaddrinfo(host, String(port), hints, result)
    }

    static func freeAddressInfo(_ info: UnsafeMutablePointer<addrinfo>) {
        Glibc.freeaddrinfo(info)
    }

    static func addressInfoErrorText(_ code: Int32) -> String {
        String(cString: Glibc.gai_strerror(code))
    }

    static func ignoreBrokenPipe() {
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
    }
}
