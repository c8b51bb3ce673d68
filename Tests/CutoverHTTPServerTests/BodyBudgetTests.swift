import CutoverHTTP
import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import CutoverTestSupport
import Dispatch
import Foundation
import HTTPTypes
import Testing

/// Answers `ok` with the body size (64 KiB for `/big`); refuses `/private` before its body unless `X-Key` is sent.
struct AdmittingHandler: HTTPServerHandler {
    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        if request.head.path == "/big" {
            respond(ServerResponse(status: .ok, body: [UInt8](repeating: 0x62, count: 64 * 1024)))
        } else {
            respond(.text(.ok, "ok \(request.body.count)"))
        }
    }

    func admit(_ head: HTTPRequest, remoteAddress: String) -> ServerResponse? {
        guard head.path == "/private", head.headerFields[HTTPField.Name("X-Key")!] == nil else { return nil }
        return .text(.unauthorized, "no key")
    }
}

/// Records what the server rejected and aborted, and signals each abort.
final class LimitObserver: HTTPServerObserver {
    let rejections = Locked<[Int]>([])
    let aborts = Locked<[String]>([])
    private let aborted = DispatchSemaphore(value: 0)

    func connectionOpened() {}
    func connectionClosed() {}
    func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {
        rejections.withLock { $0.append(status.code) }
    }
    func connectionAborted(limit: String, reason: String, remoteAddress: String) {
        aborts.withLock { $0.append(limit) }
        aborted.signal()
    }

    /// The limit of the next abort, or nil when none comes within `timeout` seconds.
    func nextAbort(timeout: Double = 20) -> String? {
        guard aborted.wait(timeout: .now() + timeout) == .success else { return nil }
        return aborts.withLock { $0.removeFirst() }
    }
}

@Suite struct BodyBudgetTests {
    let loops = TestLoops.make(count: 2, label: "test.budget")

    private func server(_ configure: (inout HTTPServerConfiguration) -> Void) throws -> (HTTPServer, LimitObserver, UInt16) {
        var configuration = HTTPServerConfiguration()
        configure(&configuration)
        let observer = LimitObserver()
        let server = HTTPServer(configuration: configuration, handler: AdmittingHandler(), observer: observer, loops: loops)
        let port = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0)).port
        return (server, observer, port)
    }

    private static func head(_ path: String, length: Int, expect: Bool = true, extra: String = "") -> String {
        "POST \(path) HTTP/1.1\r\nHost: h\r\nContent-Length: \(length)\r\n\(expect ? "Expect: 100-continue\r\n" : "")\(extra)\r\n"
    }

    /// Two 3 MiB bodies take 6 of 8 MiB: a third is answered 503 before a byte of it is read,
    /// while small requests on other connections still get their answers; once a body is
    /// answered its memory is back and the next large one is let in.
    @Test func bodiesPastTheBudgetGet503BeforeTheyAreReadAndSmallRequestsStillPass() throws {
        let (server, observer, port) = try server { $0.maxInflightBodyBytes = 8 << 20 }
        defer { server.shutdown() }
        let large = 3 << 20
        // `100 Continue` is written only once the body is reserved.
        let first = try RawHTTP1Connection(port: port)
        first.send(Self.head("/hook", length: large))
        #expect(first.readResponse()?.status == 100)
        let second = try RawHTTP1Connection(port: port)
        second.send(Self.head("/hook", length: large))
        #expect(second.readResponse()?.status == 100)
        #expect(server.bodyBudget.reservedBytes == 2 * large)

        let third = try RawHTTP1Connection(port: port)
        third.send(Self.head("/hook", length: large))
        let refused = try #require(third.readResponse())
        #expect(refused.status == 503)
        #expect(refused.head.lowercased().contains("retry-after: 1"))
        #expect(refused.head.lowercased().contains("connection: close"))
        #expect(third.readsEndOfStream())

        let small = try RawHTTP1Connection(port: port)
        small.send("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(small.readResponse()?.status == 200)
        small.send(Self.head("/hook", length: 1024, expect: false) + String(repeating: "s", count: 1024))
        #expect(small.readResponse()?.body == "ok 1024\n")

        first.send(String(repeating: "a", count: large))
        #expect(first.readResponse()?.body == "ok \(large)\n")
        let fourth = try RawHTTP1Connection(port: port)
        fourth.send(Self.head("/hook", length: large))
        #expect(fourth.readResponse()?.status == 100)
        fourth.send(String(repeating: "b", count: large))
        #expect(fourth.readResponse()?.body == "ok \(large)\n")
        second.send(String(repeating: "c", count: large))
        #expect(second.readResponse()?.body == "ok \(large)\n")
        #expect(server.bodyBudget.reservedBytes == 0)
        #expect(observer.rejections.withLock { $0 } == [503])
    }

    /// A chunked body declares no size: it borrows memory as it arrives and is answered 503 the
    /// moment it would take the server past its budget, long before the per-request limit.
    @Test func aChunkedBodyIsRefusedOnceItOutgrowsTheBudget() throws {
        let (server, observer, port) = try server { $0.maxInflightBodyBytes = 1 << 20 }
        defer { server.shutdown() }
        let connection = try RawHTTP1Connection(port: port)
        connection.send("POST /hook HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = "40000\r\n" + String(repeating: "x", count: 0x40000) + "\r\n"
        for _ in 0..<8 { connection.send(chunk) }
        connection.send("0\r\n\r\n")
        let response = try #require(connection.readResponse())
        #expect(response.status == 503)
        #expect(connection.readsEndOfStream())
        #expect(observer.rejections.withLock { $0 } == [503])
        #expect(server.bodyBudget.reservedBytes == 0)
    }

    /// `Expect: 100-continue` to a head the handler refuses: the refusal comes at once, with no
    /// `100 Continue` before it, and the connection closes since the body was never read. An
    /// admitted head gets its `100 Continue` and its answer on the same connection.
    @Test func aRefusedHeadGetsItsFinalStatusInsteadOf100Continue() throws {
        let (server, _, port) = try server { _ in }
        defer { server.shutdown() }
        let refused = try RawHTTP1Connection(port: port)
        refused.send(Self.head("/private", length: 1 << 20))
        let answer = try #require(refused.readResponse())
        #expect(answer.status == 401)
        #expect(answer.body == "no key\n")
        #expect(refused.readsEndOfStream())

        let admitted = try RawHTTP1Connection(port: port)
        admitted.send(Self.head("/private", length: 5, extra: "X-Key: k\r\n"))
        #expect(admitted.readResponse()?.status == 100)
        admitted.send("hello")
        #expect(admitted.readResponse()?.body == "ok 5\n")
        #expect(server.bodyBudget.reservedBytes == 0)
    }

    /// A client that pipelines requests and never reads the answers is closed after the write
    /// timeout, not the (much longer) idle timeout.
    @Test func aPeerThatStopsReadingIsClosedAfterTheWriteTimeout() throws {
        let (server, observer, port) = try server {
            $0.writeTimeout = .milliseconds(500)
            $0.idleTimeout = .seconds(600)
        }
        defer { server.shutdown() }
        let connection = try RawHTTP1Connection(port: port, receiveBufferBytes: 4096)
        // 12.5 MiB of answers: far more than the kernel's buffers take.
        connection.send(String(repeating: "GET /big HTTP/1.1\r\nHost: h\r\n\r\n", count: 200))
        #expect(observer.nextAbort() == "write_timeout")
        withExtendedLifetime(connection) {}
    }
}

@Suite struct BodyBudgetHoldTests {
    let loops = TestLoops.make(count: 2, label: "test.budget-hold")

    private func server(budget: Int) throws -> (HTTPServer, GateHandler, BudgetObserver, UInt16) {
        var configuration = HTTPServerConfiguration()
        configuration.maxInflightBodyBytes = budget
        let handler = GateHandler()
        let observer = BudgetObserver()
        let server = HTTPServer(configuration: configuration, handler: handler, observer: observer, loops: loops)
        let port = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0)).port
        return (server, handler, observer, port)
    }

    /// A client that sends a body and resets the connection while the handler still decodes it:
    /// the body is in memory until the handler answers, so its reservation lasts until then (the
    /// connection itself closes once the answer finds the reset).
    @Test func aBodyStaysReservedPastItsConnectionsCloseUntilTheHandlerAnswers() throws {
        let (server, handler, observer, port) = try server(budget: 8 << 20)
        defer { server.shutdown() }
        let size = 100_000
        let connection = try RawHTTP1Connection(port: port)
        connection.send("POST /hook HTTP/1.1\r\nHost: h\r\nContent-Length: \(size)\r\n\r\n" + String(repeating: "x", count: size))
        #expect(handler.nextArrival())
        connection.abort()
        #expect(server.bodyBudget.reservedBytes == size)
        handler.open()
        #expect(observer.nextClose())
        #expect(observer.waitForValue { $0 == 0 })
        #expect(server.bodyBudget.reservedBytes == 0)
    }

    /// Bytes pipelined behind a request the handler holds count against the budget, and reading
    /// stops once they reach it: a peer cannot park memory outside the budget by pipelining.
    @Test func bytesReadAheadOfAHeldRequestCountAndStopAtTheBudget() throws {
        let budget = 512 << 10
        let (server, handler, observer, port) = try server(budget: budget)
        defer { server.shutdown() }
        let connection = try RawHTTP1Connection(port: port)
        let pipelined = (0..<4).map { _ in
            "POST /hook HTTP/1.1\r\nHost: h\r\nContent-Length: 300000\r\n\r\n" + String(repeating: "p", count: 300_000)
        }.joined()
        let sent = connection.sendInBackground("POST /hook HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi" + pipelined)
        #expect(handler.nextArrival())
        #expect(observer.waitForValue { $0 >= budget })
        // One event's reads at most past the budget before reading stops.
        #expect(observer.highest <= budget + 256 << 10)
        handler.open()
        #expect(connection.readResponse()?.status == 200)
        // Reading resumed: the pipelined requests come through, one at a time.
        for _ in 0..<4 {
            #expect(handler.nextArrival())
            handler.open()
            #expect(connection.readResponse()?.status == 200)
        }
        #expect(sent.wait(timeout: .now() + 20) == .success)
        #expect(server.bodyBudget.reservedBytes == 0)
    }
}
