import CutoverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Each rejection gets its status code and closes the connection; the server keeps serving.
@Suite(.serialized)
struct MalformedRequestTests {
    static let cases: [(name: String, request: String, status: Int)] = [
        ("content-length with transfer-encoding",
         "POST /onprem/default HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("duplicate differing content-length",
         "POST /onprem/default HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400),
        ("bad chunk size",
         "POST /onprem/default HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
        ("obs-fold",
         "POST /onprem/default HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\nContent-Length: 0\r\n\r\n", 400),
        ("malformed request line", "GARBAGE\r\n\r\n", 400),
        ("body over the limit",
         "POST /onprem/default HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n", 413),
        ("too many headers",
         "GET /healthz HTTP/1.1\r\nHost: x\r\n" + (0..<150).map { "X-H\($0): v\r\n" }.joined() + "\r\n", 431),
        ("header section too large",
         "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 70_000) + "\r\n\r\n", 431),
    ]

    @Test(arguments: 0..<cases.count)
    func rejectionGetsItsStatusAndServerKeepsServing(caseIndex: Int) throws {
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: [])
        defer { cutover.kill() }
        let testCase = Self.cases[caseIndex]

        let response = try exchange(port: cutover.port, request: Array(testCase.request.utf8))
        #expect(response.hasPrefix("HTTP/1.1 \(testCase.status) "), "\(testCase.name): got \(response.prefix(40))")
        #expect(response.lowercased().contains("connection: close"), "\(testCase.name) closes the connection")

        let healthy = try exchange(port: cutover.port, request: Array("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        #expect(healthy.hasPrefix("HTTP/1.1 200 "))
    }

    /// Writes raw bytes on a fresh connection and reads until the server closes it.
    private func exchange(port: Int, request: [UInt8]) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("connect failed: errno \(errno)") }
        // The server may answer and close before it has read everything (431, 413): ignore EPIPE.
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: response, as: UTF8.self)
    }
}
