import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 client on raw bytes: heads sent without their bodies, responses read as
/// they come, so a test sees what the server answers before it has a body.
package final class RawHTTP1Connection {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    package init(port: UInt16, receiveBufferBytes: Int32? = nil) throws {
        descriptor = try connectToLoopback(port: port)
        if var size = receiveBufferBytes {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    private var closed = false

    deinit { if !closed { close(descriptor) } }

    /// Ends the connection with a reset (SO_LINGER 0), as a client that crashes or gives up does.
    package func abort() {
        guard !closed else { return }
        closed = true
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(descriptor)
    }

    package func send(_ text: String) { send(Array(text.utf8)) }

    package func send(_ bytes: [UInt8]) { Self.send(bytes, on: descriptor) }

    /// Sends from another thread, for bytes the server may stop reading (back-pressure) before
    /// the test reads its answers. The connection must outlive the returned semaphore's signal.
    package func sendInBackground(_ text: String) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        let bytes = Array(text.utf8), descriptor = descriptor
        Thread {
            Self.send(bytes, on: descriptor)
            done.signal()
        }.start()
        return done
    }

    private static func send(_ bytes: [UInt8], on descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// The next response head (status line and fields), then its Content-Length body; nil at EOF.
    package func readResponse() -> (status: Int, head: String, body: String)? {
        guard let end = read(until: { $0.firstRange(of: Array("\r\n\r\n".utf8)) }) else { return nil }
        let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
        buffer.removeFirst(end.upperBound)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        guard read(until: { $0.count >= length ? 0..<length : nil }) != nil else { return nil }
        let body = String(decoding: buffer[..<length], as: UTF8.self)
        buffer.removeFirst(length)
        return (status, head, body)
    }

    /// True once the server closed its side (after whatever it still sends).
    package func readsEndOfStream() -> Bool {
        while true {
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return true }
            if count < 0 { return false }
        }
    }

    private func read(until found: ([UInt8]) -> Range<Int>?) -> Range<Int>? {
        while true {
            if let range = found(buffer) { return range }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}

