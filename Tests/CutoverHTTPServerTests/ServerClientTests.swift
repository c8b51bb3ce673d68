import CutoverHTTP
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import CutoverTestSupport
import Foundation
import HTTPTypes
import Testing

/// Echoes the request body and method back, so tests can see what the server received.
struct EchoHandler: HTTPServerHandler {
    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        var fields = HTTPFields()
        fields[HTTPField.Name("X-Method")!] = request.head.method.rawValue
        fields[HTTPField.Name("X-Path")!] = request.head.path ?? ""
        // Answer from another thread, as the spool does after its commit.
        let response = ServerResponse(status: .ok, headerFields: fields, body: request.body)
        DispatchQueue.global().async { respond(response) }
    }
}

final class RecordingObserver: HTTPServerObserver {
    let rejections = Locked<[Int]>([])
    func connectionOpened() {}
    func connectionClosed() {}
    func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {
        rejections.withLock { $0.append(status.code) }
    }
}

@Suite struct ServerClientTests {
    let loops = TestLoops.make(count: 2, label: "test.loop")

    @Test func clientAndServerExchangeRequestsOverOneKeptAliveConnection() throws {
        let server = HTTPServer(configuration: .init(), handler: EchoHandler(), observer: RecordingObserver(), loops: loops)
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        defer { server.shutdown() }
        let client = HTTPClient(loops: loops)
        defer { client.shutdown() }
        let url = try #require(DestinationURL("http://127.0.0.1:\(address.port)/hook?x=1"))

        for index in 0..<20 {
            let body = Array("payload \(index)".utf8)
            let response = try send(client, ClientRequest(url: url, body: body)).get()
            #expect(response.head.status == .ok)
            #expect(response.body == body)
            #expect(response.head.headerFields[HTTPField.Name("X-Path")!] == "/hook?x=1")
        }
        #expect(server.openConnectionCount == 1, "keep-alive reuses one connection")
    }

    @Test func largeBodyCrossesBackPressure() throws {
        let server = HTTPServer(configuration: .init(), handler: EchoHandler(), observer: RecordingObserver(), loops: loops)
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        defer { server.shutdown() }
        var configuration = HTTPClientConfiguration()
        configuration.maxResponseBodyBytes = 4 << 20
        let client = HTTPClient(configuration: configuration, loops: loops)
        defer { client.shutdown() }
        let body = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let url = try #require(DestinationURL("http://127.0.0.1:\(address.port)/big"))
        let response = try send(client, ClientRequest(url: url, body: body)).get()
        #expect(response.body == body)
    }

    @Test func connectionRefusedIsAnError() throws {
        let client = HTTPClient(loops: loops)
        // Bind and release a port so nothing listens there.
        let listener = try Socket.listening(on: SocketAddress.resolve(host: "127.0.0.1", port: 0)[0])
        let port = try listener.localAddress().port
        listener.close()
        let url = try #require(DestinationURL("http://127.0.0.1:\(port)/"))
        guard case .failure(.connect(let error)) = try send(client, ClientRequest(url: url)) else {
            Issue.record("expected a connect failure")
            return
        }
        #expect(error.errno == ECONNREFUSED)
        #expect(error.description.contains("Connection refused"))
    }

    @Test func idleConnectionIsClosedAfterTheIdleTimeout() throws {
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(idleTimeout: .milliseconds(100)), handler: EchoHandler(),
            observer: RecordingObserver(), loops: loops
        )
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        defer { server.shutdown() }
        let (socket, _) = try Socket.connecting(to: SocketAddress.resolve(host: "127.0.0.1", port: address.port)[0])
        defer { socket.close() }
        // A blocking read returns 0 (EOF) once the server closes the idle connection.
        var pollDescriptor = pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pollDescriptor, 1, 5000) == 1)
        var byte: UInt8 = 0
        #expect(recv(socket.descriptor, &byte, 1, 0) == 0)
    }

    @Test func destinationURLParsing() throws {
        let url = try #require(DestinationURL("https://example.com:8443/a/b?c=d"))
        #expect(url.scheme == .https)
        #expect(url.host == "example.com")
        #expect(url.port == 8443)
        #expect(url.target == "/a/b?c=d")
        #expect(DestinationURL("http://[::1]/")?.host == "::1")
        #expect(DestinationURL("http://h")?.target == "/")
        #expect(DestinationURL("ftp://h/") == nil)
        #expect(DestinationURL("http://user@h/") == nil)
    }
}

/// Raw-socket exchanges: what a peer sees byte for byte.
@Suite struct ServerWireTests {
    let loops = TestLoops.make(count: 1, label: "test.wire")

    /// Connects, writes `request`, and reads until `expectedResponses` status lines arrived or EOF.
    private func exchange(port: UInt16, _ request: String, expectedResponses: Int) throws -> String {
        let (socket, _) = try Socket.connecting(to: SocketAddress.resolve(host: "127.0.0.1", port: port)[0])
        defer { socket.close() }
        var pollDescriptor = pollfd(fd: socket.descriptor, events: Int16(POLLOUT), revents: 0)
        _ = poll(&pollDescriptor, 1, 5000)
        let bytes = Array(request.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { send(socket.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 { written += count } else { _ = poll(&pollDescriptor, 1, 1000) }
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        pollDescriptor.events = Int16(POLLIN)
        while String(decoding: response, as: UTF8.self).components(separatedBy: "HTTP/1.1 ").count - 1 < expectedResponses {
            guard poll(&pollDescriptor, 1, 5000) == 1 else { break }
            let count = recv(socket.descriptor, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: response, as: UTF8.self)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = HTTPServer(configuration: .init(), handler: EchoHandler(), observer: RecordingObserver(), loops: loops)
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        defer { server.shutdown() }
        let requests = (1...3).map { "POST /\($0) HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nr-\($0)" }.joined()
        let response = try exchange(port: address.port, requests.replacingOccurrences(of: "r-", with: "b="), expectedResponses: 3)
        let paths = response.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("x-path:") }
        #expect(paths == ["X-Path: /1", "X-Path: /2", "X-Path: /3"])
        #expect(response.hasSuffix("b=3"))
    }

    @Test func expectContinueGetsAnInterimResponseBeforeTheBody() throws {
        let server = HTTPServer(configuration: .init(), handler: EchoHandler(), observer: RecordingObserver(), loops: loops)
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        defer { server.shutdown() }
        let head = "POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
        let interim = try exchange(port: address.port, head, expectedResponses: 1)
        #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
    }

    @Test func aTrickledRequestTimesOutWith408() throws {
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(readTimeout: .milliseconds(200)), handler: EchoHandler(),
            observer: RecordingObserver(), loops: loops
        )
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        defer { server.shutdown() }
        let response = try exchange(port: address.port, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", expectedResponses: 1)
        #expect(response.hasPrefix("HTTP/1.1 408 "))
        #expect(response.contains("Connection: close"))
    }

    @Test func connectionsOverTheLimitGet503() throws {
        let observer = RecordingObserver()
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(maxConnections: 1), handler: EchoHandler(), observer: observer, loops: loops
        )
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        defer { server.shutdown() }
        let (first, _) = try Socket.connecting(to: SocketAddress.resolve(host: "127.0.0.1", port: address.port)[0])
        defer { first.close() }
        // The first connection is admitted once a request on it is answered.
        _ = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n".utf8.withContiguousStorageIfAvailable { send(first.descriptor, $0.baseAddress, $0.count, 0) }
        var pollDescriptor = pollfd(fd: first.descriptor, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pollDescriptor, 1, 5000) == 1)
        let second = try exchange(port: address.port, "GET /y HTTP/1.1\r\nHost: x\r\n\r\n", expectedResponses: 1)
        #expect(second.hasPrefix("HTTP/1.1 503 "))
        #expect(observer.rejections.withLock { $0 } == [503])
    }
}
