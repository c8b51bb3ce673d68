import CutoverHTTP
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import CutoverTestSupport
import Dispatch
import HTTPTypes
import Testing

/// Holds every request until `release()`, so a test can shut down with a request in flight.
final class HeldHandler: HTTPServerHandler {
    let arrived = DispatchSemaphore(value: 0)
    private let held = Locked<[@Sendable (ServerResponse) -> Void]>([])

    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        held.withLock { $0.append(respond) }
        arrived.signal()
    }

    /// Answers and forgets the held requests: a kept `respond` retains its connection, which retains
    /// this handler through its server (a cycle LeakSanitizer reports).
    func release() {
        let waiting = held.withLock { held in
            defer { held = [] }
            return held
        }
        for respond in waiting { respond(ServerResponse(status: .ok)) }
    }
}

/// Each wait is given an hour of grace and the test ten minutes: one that ran into its deadline
/// fails on the time limit, while how long a prompt one takes is left out, since the test's tasks may
/// wait for a thread of a pool other tests are blocking.
@Suite(.timeLimit(.minutes(10))) struct GracefulShutdownTests {
    let loops = TestLoops.make(count: 2, label: "test.shutdown")

    @Test func returnsAtOnceWithoutConnections() async throws {
        let server = HTTPServer(configuration: .init(), handler: HeldHandler(), observer: RecordingObserver(), loops: loops)
        try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        await server.shutdownGracefully(gracePeriod: .seconds(3600))
        #expect(server.openConnectionCount == 0)
    }

    /// A server whose handler holds the one request a client sent it, with that request arrived.
    private final class HeldRequest: Sendable {
        let server: HTTPServer
        let handler = HeldHandler()
        let client: HTTPClient
        let answered = DispatchSemaphore(value: 0)
        let status = Locked<Int?>(nil)

        init(loops: [any EventLoop]) throws {
            server = HTTPServer(configuration: .init(), handler: handler, observer: RecordingObserver(), loops: loops)
            let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
            client = HTTPClient(loops: loops)
            let url = try #require(DestinationURL("http://127.0.0.1:\(address.port)/held"))
            client.execute(ClientRequest(url: url, body: [])) { [self] result in
                status.withLock { $0 = (try? result.get())?.head.status.code }
                answered.signal()
            }
            #expect(handler.arrived.wait(timeout: .now() + 30) == .success)
        }
    }

    @Test func returnsWhenTheLastConnectionClosesNotAtTheDeadline() async throws {
        let held = try HeldRequest(loops: loops)
        defer { held.client.shutdown() }
        let shutdown = Task { await held.server.shutdownGracefully(gracePeriod: .seconds(3600)) }
        #expect(held.server.openConnectionCount == 1, "the busy connection stays open until it answered")
        held.handler.release()
        // Returns because the connection closed: the grace period is far beyond the time limit.
        await shutdown.value
        #expect(held.server.openConnectionCount == 0)
        #expect(held.answered.wait(timeout: .now() + 30) == .success)
        #expect(held.status.withLock { $0 } == 200, "the request in flight was answered, not cut off")
    }

    @Test func theGracePeriodBoundsTheWait() async throws {
        let held = try HeldRequest(loops: loops)
        defer { held.client.shutdown() }
        await held.server.shutdownGracefully(gracePeriod: .milliseconds(50))
        #expect(held.server.openConnectionCount == 1, "still busy: returned at the deadline")
        held.handler.release()
    }
}
