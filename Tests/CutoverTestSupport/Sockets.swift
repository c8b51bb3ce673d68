#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket listening on an ephemeral port of 127.0.0.1, and that port.
package func listenOnLoopback(backlog: Int32 = 128) throws -> (descriptor: Int32, port: UInt16) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestFailure("socket: errno \(errno)") }
    var address = loopback(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let listening = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && listen(descriptor, backlog) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard listening else {
        let error = errno
        close(descriptor)
        throw TestFailure("cannot listen on 127.0.0.1: errno \(error)")
    }
    return (descriptor, UInt16(bigEndian: address.sin_port))
}

/// A loopback port the kernel just handed out (listened on, read back, released), for a peer
/// that must be told its port before it starts.
package func freePort() throws -> UInt16 {
    let (descriptor, port) = try listenOnLoopback()
    close(descriptor)
    return port
}

/// A blocking TCP connection to 127.0.0.1:`port`. Its reads give up after `receiveTimeout`
/// seconds: a safety net against a hung test, not a synchronization.
package func connectToLoopback(port: UInt16, receiveTimeout: Int = 10) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestFailure("socket: errno \(errno)") }
    var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = loopback(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        let error = errno
        close(descriptor)
        throw TestFailure("connect to 127.0.0.1:\(port): errno \(error)")
    }
    return descriptor
}

private func loopback(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}
