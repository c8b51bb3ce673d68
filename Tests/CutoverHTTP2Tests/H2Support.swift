import CutoverHTTP
import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import CutoverTLS
import CutoverTestSupport
import Foundation
import HTTPTypes
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Counts connections and the requests the server answered by itself.
final class H2Observer: HTTPServerObserver {
    let rejections = Locked<[(status: Int, reason: String)]>([])
    let opened = Atomic<Int>(0)

    func connectionOpened() { opened.add(1, ordering: .relaxed) }
    func connectionClosed() {}
    func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {
        rejections.withLock { $0.append((status.code, reason)) }
    }
    let aborts = Locked<[String]>([])
    func connectionAborted(limit: String, reason: String, remoteAddress: String) {
        aborts.withLock { $0.append(limit) }
    }
    var connectionCount: Int { opened.load(ordering: .relaxed) }
    var rejectionStatuses: [Int] { rejections.withLock { $0.map(\.status) } }
}

/// A server listening plain (HTTP/1.1 and h2c) and with TLS (ALPN h2, http/1.1) on 127.0.0.1.
struct H2ServerFixture {
    let server: HTTPServer
    let handler: any HTTPServerHandler
    let observer = H2Observer()
    let plainPort: UInt16
    let tlsPort: UInt16

    init(
        loops: [any EventLoop], configuration: HTTPServerConfiguration = .init(), handler: any HTTPServerHandler = CountingHandler(),
        certificates: TestCertificates = .shared
    ) throws {
        self.handler = handler
        server = HTTPServer(configuration: configuration, handler: handler, observer: observer, loops: loops)
        plainPort = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0)).port
        let context = try TLSContext(
            server: TLSServerConfiguration(
                certificateChainFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey,
                applicationProtocols: ["h2", "http/1.1"]
            )
        )
        tlsPort = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0), tls: context).port
    }

    var counting: CountingHandler { handler as! CountingHandler }
}

/// Holds every response until `count` requests are with the handler at once: it only finishes
/// when the client really runs that many requests concurrently.
final class BarrierHandler: HTTPServerHandler {
    private let waiting = Locked<[@Sendable (ServerResponse) -> Void]>([])
    let count: Int

    init(count: Int) { self.count = count }

    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        let release: [@Sendable (ServerResponse) -> Void] = waiting.withLock { waiting in
            waiting.append(respond)
            guard waiting.count >= count else { return [] }
            defer { waiting.removeAll() }
            return waiting
        }
        for respond in release { respond(ServerResponse(status: .ok, body: Array("together\n".utf8))) }
    }
}

/// One HTTP/2 frame as read off the wire.
struct RawFrame {
    var type: UInt8
    var flags: UInt8
    var streamID: UInt32
    var payload: [UInt8]

    static let data: UInt8 = 0, headers: UInt8 = 1, rstStream: UInt8 = 3, settings: UInt8 = 4, ping: UInt8 = 6, goAway: UInt8 = 7
    static let windowUpdate: UInt8 = 8

    func uint32(at offset: Int) -> UInt32 {
        payload[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The error code of a RST_STREAM or GOAWAY frame.
    var errorCode: UInt32? {
        let offset: Int
        switch type {
        case Self.rstStream: offset = 0
        case Self.goAway: offset = 4
        default: return nil
        }
        guard payload.count >= offset + 4 else { return nil }
        return payload[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func encode(type: UInt8, flags: UInt8 = 0, streamID: UInt32 = 0, payload: [UInt8] = []) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags]
            + [UInt8(streamID >> 24 & 0x7f), UInt8(streamID >> 16 & 0xff), UInt8(streamID >> 8 & 0xff), UInt8(streamID & 0xff)]
            + payload
    }

    /// A HEADERS block for `GET /` with `:authority: localhost`, in HPACK without Huffman:
    /// indexed :method GET (2), :path / (4), :scheme http (6), literal :authority (name 1).
    static func getRequest(streamID: UInt32, endStream: Bool) -> [UInt8] {
        let block: [UInt8] = [0x82, 0x84, 0x86, 0x01, 9] + Array("localhost".utf8)
        // END_HEADERS (0x4), END_STREAM (0x1)
        return encode(type: headers, flags: endStream ? 0x5 : 0x4, streamID: streamID, payload: block)
    }
}

/// A blocking TCP client speaking raw bytes, for input no well-behaved HTTP/2 client sends.
final class RawConnection {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    private var closed = false

    init(port: UInt16, timeoutSeconds: Int = 10) throws {
        descriptor = try connectToLoopback(port: port, receiveTimeout: timeoutSeconds)
    }

    deinit { if !closed { close(descriptor) } }

    /// Ends the connection with a reset (SO_LINGER 0), as a client that crashes does.
    func abort() {
        guard !closed else { return }
        closed = true
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(descriptor)
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Sends the client preface and an empty SETTINGS frame.
    func sendPreface() {
        send(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + RawFrame.encode(type: RawFrame.settings))
    }

    /// The next frame, or nil at EOF (or after the receive timeout).
    func readFrame() -> RawFrame? {
        while true {
            if buffer.count >= 9 {
                let length = Int(buffer[0]) << 16 | Int(buffer[1]) << 8 | Int(buffer[2])
                if buffer.count >= 9 + length {
                    let streamID = buffer[5..<9].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7fff_ffff
                    let frame = RawFrame(type: buffer[3], flags: buffer[4], streamID: streamID, payload: Array(buffer[9..<9 + length]))
                    buffer.removeFirst(9 + length)
                    return frame
                }
            }
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// Frames until `stop` says so (the matching frame is included) or the connection ends.
    func readFrames(until stop: (RawFrame) -> Bool) -> (frames: [RawFrame], ended: Bool) {
        var frames: [RawFrame] = []
        while let frame = readFrame() {
            frames.append(frame)
            if stop(frame) { return (frames, false) }
        }
        return (frames, true)
    }
}

/// A raw client that keeps HTTP/2 flow control honestly: it sends DATA only within the windows
/// the server granted, so a server that never returns credit makes it stall (and time out).
final class FlowControlledClient {
    let connection: RawConnection
    private var connectionWindow = 65_535
    private var initialStreamWindow = 65_535
    private var streamWindows: [UInt32: Int] = [:]
    /// Frames other than flow control and SETTINGS, in arrival order.
    private(set) var received: [RawFrame] = []

    init(port: UInt16) throws {
        connection = try RawConnection(port: port)
        connection.sendPreface()
    }

    /// Reads one frame and applies it; false at EOF or timeout.
    private func pump() -> Bool {
        guard let frame = connection.readFrame() else { return false }
        switch frame.type {
        case RawFrame.windowUpdate:
            let increment = Int(frame.uint32(at: 0) & 0x7fff_ffff)
            if frame.streamID == 0 { connectionWindow += increment } else { streamWindows[frame.streamID, default: initialStreamWindow] += increment }
        case RawFrame.settings where frame.flags & 1 == 0:
            var offset = 0
            while offset + 6 <= frame.payload.count {
                let id = Int(frame.payload[offset]) << 8 | Int(frame.payload[offset + 1])
                let value = Int(frame.uint32(at: offset + 2))
                if id == 4 {
                    for key in streamWindows.keys { streamWindows[key]! += value - initialStreamWindow }
                    initialStreamWindow = value
                }
                offset += 6
            }
            connection.send(RawFrame.encode(type: RawFrame.settings, flags: 1))
        case RawFrame.settings:
            break
        default:
            received.append(frame)
        }
        return true
    }

    /// Sends `body` as DATA in chunks the windows allow, ending the stream; false if it stalled.
    func sendBody(_ body: [UInt8], on streamID: UInt32, chunk: Int = 16 * 1024) -> Bool {
        var offset = 0
        while offset < body.count {
            let size = min(chunk, body.count - offset)
            while connectionWindow < size || streamWindows[streamID, default: initialStreamWindow] < size {
                guard pump() else { return false }
            }
            connectionWindow -= size
            streamWindows[streamID, default: initialStreamWindow] -= size
            let last = offset + size == body.count
            connection.send(RawFrame.encode(type: RawFrame.data, flags: last ? 1 : 0, streamID: streamID, payload: Array(body[offset..<offset + size])))
            offset += size
        }
        return true
    }

    /// Reads until a frame of `type` ends stream `streamID` (END_STREAM set), or returns nil.
    func waitForEnd(of streamID: UInt32) -> [RawFrame]? {
        while true {
            let mine = received.filter { $0.streamID == streamID }
            if mine.contains(where: { ($0.type == RawFrame.headers || $0.type == RawFrame.data) && $0.flags & 1 != 0 }) { return mine }
            guard pump() else { return nil }
        }
    }

    /// A POST head with no content-length (the body's size is learnt as it arrives).
    static func postHead(streamID: UInt32) -> [UInt8] {
        // :method POST (3), :path / (4), :scheme http (6), literal :authority (name 1).
        let block: [UInt8] = [0x83, 0x84, 0x86, 0x01, 9] + Array("localhost".utf8)
        return RawFrame.encode(type: RawFrame.headers, flags: 0x4, streamID: streamID, payload: block)
    }
}

/// curl with HTTP/2 options against 127.0.0.1; prints the body, then `code version connects`.
func curl(_ arguments: [String]) throws -> CommandResult {
    try runCommand("/usr/bin/curl", ["-sS", "--max-time", "20"] + arguments)
}
