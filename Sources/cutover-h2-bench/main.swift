// A benchmark-only server: Cutover's HTTPServer answering every request 200 with an empty body
// (nginx's `return 200`), on a plain port (HTTP/1.1 and h2c) and optionally a TLS port (h2 and
// http/1.1 via ALPN). Used by scripts/bench-h2.sh; not part of the product.
//
// Usage: cutover-h2-bench [--loops N] [--event-loop epoll|dispatch] [--port P] [--tls-port P --cert FILE --key FILE]
// Prints `plain=PORT tls=PORT` once listening, then serves until killed.
import CutoverHTTPServer
import CutoverSockets
import CutoverTLS
import Dispatch
import HTTPTypes

#if canImport(Glibc)
import Glibc
#endif

struct Return200: HTTPServerHandler {
    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        respond(ServerResponse(status: .ok))
    }
}

struct Quiet: HTTPServerObserver {
    func connectionOpened() {}
    func connectionClosed() {}
    func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {}
}

func fail(_ message: String, status: Int32) -> Never {
    let bytes = Array((message + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
}

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard flag.hasPrefix("--"), let value = arguments.popFirst() else {
        fail("usage: cutover-h2-bench [--loops N] [--event-loop epoll|dispatch] [--port P] [--tls-port P --cert FILE --key FILE]", status: 2)
    }
    options[String(flag.dropFirst(2))] = value
}

do {
    guard let kind = options["event-loop"].map(EventLoopKind.init(rawValue:)) ?? .platformDefault else {
        fail("cutover-h2-bench: --event-loop is epoll or dispatch", status: 2)
    }
    let loops = try kind.makeGroup(count: Int(options["loops"] ?? "1") ?? 1, label: "bench")
    let server = HTTPServer(configuration: .init(), handler: Return200(), observer: Quiet(), loops: loops)
    let plain = try server.listen(on: HostAndPort(host: "127.0.0.1", port: UInt16(options["port"] ?? "0") ?? 0))
    var tlsPort = "none"
    if let port = options["tls-port"], let cert = options["cert"], let key = options["key"] {
        let context = try TLSContext(
            server: TLSServerConfiguration(certificateChainFile: cert, privateKeyFile: key, applicationProtocols: ["h2", "http/1.1"])
        )
        tlsPort = String(try server.listen(on: HostAndPort(host: "127.0.0.1", port: UInt16(port) ?? 0), tls: context).port)
    }
    // print() buffers when stdout is a pipe; the readiness line must get out now.
    let line = Array("plain=\(plain.port) tls=\(tlsPort)\n".utf8)
    _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    dispatchMain()
} catch {
    fail("cutover-h2-bench: \(error)", status: 1)
}
