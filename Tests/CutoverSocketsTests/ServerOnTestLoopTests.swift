import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import HTTPTypes
import Testing

#if canImport(Glibc)
import Glibc
#endif

// These drive the HTTP server, yet live with the socket tests because the test loop does; they
// move to the server's tests once a shared test-support target can hold `TestEventLoop`.

private struct OKHandler: HTTPServerHandler {
    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        respond(ServerResponse(status: .ok))
    }
}

private final class RejectionLog: HTTPServerObserver {
    let statuses = Locked<[Int]>([])
    func connectionOpened() {}
    func connectionClosed() {}
    func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {
        statuses.withLock { $0.append(status.code) }
    }
}

/// Server timeouts and shutdown on one `TestEventLoop`: the listener and every connection run on
/// it, over real loopback sockets, and no timeout takes real time.
@Suite struct ServerOnTestLoopTests {
    let loop = TestEventLoop()
    private let rejections = RejectionLog()

    private func startServer(idleTimeout: Duration = .seconds(60), readTimeout: Duration = .seconds(30)) throws -> (HTTPServer, SocketAddress) {
        let configuration = HTTPServerConfiguration(idleTimeout: idleTimeout, readTimeout: readTimeout)
        let server = HTTPServer(configuration: configuration, handler: OKHandler(), observer: rejections, loops: [loop])
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        loop.run()
        return (server, address)
    }

    private func connect(to address: SocketAddress) throws -> Peer {
        let (socket, _) = try Socket.connecting(to: address)
        return Peer(descriptor: socket.descriptor)
    }

    /// Blocks until the peer has something to read (bytes or the end of the stream), bounded.
    private func waitUntilReadable(_ peer: Peer) -> Bool {
        var descriptor = pollfd(fd: peer.descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 10_000) == 1
    }

    /// Lets the server read what the peer sent: waits for the connection's descriptor to be
    /// ready rather than assuming the kernel has delivered the bytes already.
    private func deliver(_ text: String, from peer: Peer) {
        #expect(peer.send(text) == text.utf8.count)
        #expect(loop.runReadyWatches(waitingUpTo: .seconds(10)))
        loop.run()
    }

    @Test func aConnectionThatSendsNothingIsClosedAtTheIdleTimeout() throws {
        let (server, address) = try startServer(idleTimeout: .seconds(60))
        defer { server.shutdown(); loop.run() }
        let peer = try connect(to: address)
        defer { peer.close() }
        #expect(loop.run(until: { server.openConnectionCount == 1 }))

        loop.advanceTime(by: .seconds(59))
        #expect(server.openConnectionCount == 1)
        #expect(!peer.readAvailable().endOfStream)

        loop.advanceTime(by: .seconds(1))
        #expect(server.openConnectionCount == 0)
        #expect(waitUntilReadable(peer))
        #expect(peer.readAvailable() == ([], true))
    }

    @Test func aRequestTrickledInIsAnswered408AtTheReadTimeoutCountedFromItsFirstByte() throws {
        let (server, address) = try startServer(idleTimeout: .seconds(60), readTimeout: .seconds(30))
        defer { server.shutdown(); loop.run() }
        let peer = try connect(to: address)
        defer { peer.close() }
        #expect(loop.run(until: { server.openConnectionCount == 1 }))
        loop.advanceTime(by: .seconds(10))

        deliver("GET / HTTP/1.1\r\nHo", from: peer)
        loop.advanceTime(by: .seconds(20))
        // More bytes do not restart the clock: a trickling peer cannot hold the connection.
        deliver("st: example\r\n", from: peer)
        loop.advanceTime(by: .seconds(9) + .milliseconds(999))
        #expect(peer.readAvailable().bytes.isEmpty)
        #expect(rejections.statuses.withLock { $0 }.isEmpty)

        loop.advanceTime(by: .milliseconds(1))
        #expect(rejections.statuses.withLock { $0 } == [408])
        #expect(waitUntilReadable(peer))
        let response = String(decoding: peer.readAvailable().bytes, as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 408 "))

        // The 408 is followed by a lingering close, bounded by its own timeout.
        #expect(server.openConnectionCount == 1)
        loop.advanceTime(by: .seconds(2))
        #expect(server.openConnectionCount == 0)
    }

    @Test func aKeptAliveConnectionIsClosedAnIdleTimeoutAfterItsLastResponse() throws {
        let (server, address) = try startServer(idleTimeout: .seconds(5))
        defer { server.shutdown(); loop.run() }
        let peer = try connect(to: address)
        defer { peer.close() }
        #expect(loop.run(until: { server.openConnectionCount == 1 }))

        loop.advanceTime(by: .seconds(4))
        deliver("GET / HTTP/1.1\r\nHost: example\r\n\r\n", from: peer)
        #expect(waitUntilReadable(peer))
        #expect(String(decoding: peer.readAvailable().bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200 "))

        loop.advanceTime(by: .seconds(4) + .milliseconds(999))
        #expect(server.openConnectionCount == 1, "the idle clock restarts after the response")
        loop.advanceTime(by: .milliseconds(1))
        #expect(server.openConnectionCount == 0)
    }

    @Test func aPlainConnectionAcceptedWhileShuttingDownIsClosed() throws {
        let (server, address) = try startServer()
        let peer = try connect(to: address)
        defer { peer.close() }
        // The listener accepts; handing the socket to HTTP is queued on the loop. Shutdown comes
        // in between, so its snapshot of open connections cannot include this one.
        #expect(loop.runReadyWatches(waitingUpTo: .seconds(10)))
        server.shutdown()
        loop.run()

        #expect(server.openConnectionCount == 0)
        #expect(waitUntilReadable(peer))
        #expect(peer.readAvailable() == ([], true))
    }
}
