#if canImport(Glibc)
import Glibc
#endif

/// A resolved IPv4 or IPv6 address with its port, ready for bind or connect.
package struct SocketAddress: Sendable, CustomStringConvertible {
    private var storage = sockaddr_storage()
    private(set) var length: socklen_t = 0

    package var family: Int32 { Int32(storage.ss_family) }

    /// Resolves `host` (a name or a literal address) for a stream socket.
    /// `getaddrinfo` may block on DNS, so callers keep it off the event loop.
    package static func resolve(host: String, port: UInt16) throws(AddressError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Sys.streamSocketType
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let status = Sys.resolve(host: host, port: port, hints: &hints, result: &list)
        guard status == 0, let first = list else {
            throw AddressError(host: host, reason: Sys.addressInfoErrorText(status))
        }
        defer { Sys.freeAddressInfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let raw = info.pointee.ai_addr {
                var address = SocketAddress()
                withUnsafeMutableBytes(of: &address.storage) { destination in
                    destination.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(info.pointee.ai_addrlen)))
                }
                address.length = info.pointee.ai_addrlen
                addresses.append(address)
            }
            cursor = info.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw AddressError(host: host, reason: "no addresses") }
        return addresses
    }

    init(copying raw: UnsafePointer<sockaddr>, length: socklen_t) {
        withUnsafeMutableBytes(of: &storage) { destination in
            destination.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(length)))
        }
        self.length = length
    }

    private init() {}

    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafeBytes(of: storage) { bytes in
            body(bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    package var port: UInt16 {
        withUnsafeBytes(of: storage) { bytes in
            switch family {
            case AF_INET: UInt16(bigEndian: bytes.load(as: sockaddr_in.self).sin_port)
            case AF_INET6: UInt16(bigEndian: bytes.load(as: sockaddr_in6.self).sin6_port)
            default: 0
            }
        }
    }

    package var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        withUnsafeBytes(of: storage) { bytes in
            switch family {
            case AF_INET:
                var address = bytes.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
            case AF_INET6:
                var address = bytes.load(as: sockaddr_in6.self).sin6_addr
                _ = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            default:
                break
            }
        }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A host name that did not resolve, with getaddrinfo's reason.
package struct AddressError: Error, Sendable, CustomStringConvertible {
    package let host: String
    package let reason: String
    package var description: String { "cannot resolve \(host): \(reason)" }

    package init(host: String, reason: String) {
        self.host = host
        self.reason = reason
    }
}

/// `HOST:PORT` or `[IPV6]:PORT` as given on a command line or in config.
package struct HostAndPort: Sendable, Equatable, CustomStringConvertible {
    package var host: String
    package var port: UInt16

    package init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    package init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
