import CutoverHTTP
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverSockets
import Dispatch
import HTTPTypes
import Synchronization
import Testing

/// Holds every request until `release()`, so a test can shut down with a request in flight.
final class HeldHandler: HTTPServerHandler {
    let arrived = DispatchSemaphore(value: 0)
    private let held = Mutex<[@Sendable (ServerResponse) -> Void]>([])

    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        held.withLock { $0.append(respond) }
        arrived.signal()
    }

    func release() {
        for respond in held.withLock({ $0 }) { respond(ServerResponse(status: .ok)) }
    }
}

@Suite struct GracefulShutdownTests {
    let loops = DispatchEventLoop.makeGroup(count: 2, label: "test.shutdown")

    @Test func returnsAtOnceWithoutConnections() async throws {
        let server = HTTPServer(configuration: .init(), handler: HeldHandler(), observer: RecordingObserver(), loops: loops)
        try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        let elapsed = await ContinuousClock().measure { await server.shutdownGracefully(gracePeriod: .seconds(120)) }
        #expect(elapsed < .seconds(60), "waited for the grace period with nothing open")
    }

    @Test func returnsWhenTheLastConnectionClosesNotAtTheDeadline() async throws {
        let handler = HeldHandler()
        let server = HTTPServer(configuration: .init(), handler: handler, observer: RecordingObserver(), loops: loops)
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        let client = HTTPClient(loops: loops)
        defer { client.shutdown() }
        let url = try #require(DestinationURL("http://127.0.0.1:\(address.port)/held"))
        let answered = DispatchSemaphore(value: 0)
        let status = Mutex<Int?>(nil)
        client.execute(ClientRequest(url: url, body: [])) { result in
            status.withLock { $0 = (try? result.get())?.head.status.code }
            answered.signal()
        }
        #expect(handler.arrived.wait(timeout: .now() + 30) == .success)

        let clock = ContinuousClock()
        let start = clock.now
        let shutdown = Task { await server.shutdownGracefully(gracePeriod: .seconds(120)) }
        #expect(server.openConnectionCount == 1, "the busy connection stays open until it answered")
        handler.release()
        await shutdown.value
        // Far below the grace period: the wait ended because the connection closed.
        #expect(clock.now - start < .seconds(60))
        #expect(server.openConnectionCount == 0)
        #expect(answered.wait(timeout: .now() + 30) == .success)
        #expect(status.withLock { $0 } == 200, "the request in flight was answered, not cut off")
    }

    @Test func theGracePeriodBoundsTheWait() async throws {
        let handler = HeldHandler()
        let server = HTTPServer(configuration: .init(), handler: handler, observer: RecordingObserver(), loops: loops)
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        let client = HTTPClient(loops: loops)
        defer { client.shutdown() }
        let url = try #require(DestinationURL("http://127.0.0.1:\(address.port)/held"))
        client.execute(ClientRequest(url: url, body: [])) { _ in }
        #expect(handler.arrived.wait(timeout: .now() + 30) == .success)
        await server.shutdownGracefully(gracePeriod: .milliseconds(50))
        #expect(server.openConnectionCount == 1, "still busy: returned at the deadline")
        handler.release()
    }
}
