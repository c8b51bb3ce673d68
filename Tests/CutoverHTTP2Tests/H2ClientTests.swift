import CutoverHTTP
import CutoverHTTP2
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import CutoverTLS
import CutoverTestSupport
import Foundation
import HTTPTypes
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Cutover's client delivering over HTTP/2 when ALPN picks h2, HTTP/1.1 otherwise.
@Suite struct H2ClientTests {
    let loops = TestLoops.make(count: 2, label: "test.h2.client")
    let certificates = TestCertificates.shared

    private func clientContext(_ protocols: [String] = ["h2", "http/1.1"]) throws -> TLSContext {
        try TLSContext(client: TLSClientConfiguration(trustRoots: .file(certificates.caCertificate), applicationProtocols: protocols))
    }

    @Test func manyRequestsMultiplexOverOneConnectionToCutover() throws {
        // Responses wait until 20 requests are in flight together: only one multiplexed connection
        // carrying them all at once (or 20 connections) can get there; the count says which.
        let fixture = try H2ServerFixture(loops: loops, handler: BarrierHandler(count: 20))
        defer { fixture.server.shutdown() }
        let client = HTTPClient(loops: loops)
        defer { client.shutdown() }
        let context = try clientContext()
        let url = try #require(DestinationURL("https://localhost:\(fixture.tlsPort)/hook"))
        let results = try sendConcurrently(client, count: 40) { index in
            ClientRequest(url: url, body: Array("event \(index)".utf8), tls: context)
        }
        #expect(results.allSatisfy { (try? $0.get().head.status) == .ok }, "\(results)")
        #expect(try results[0].get().body == Array("together\n".utf8))
        #expect(fixture.observer.connectionCount == 1)
    }

    @Test func responsesCarryStatusHeadersAndBodyOverH2() throws {
        let fixture = try H2ServerFixture(loops: loops)
        defer { fixture.server.shutdown() }
        let client = HTTPClient(loops: loops)
        defer { client.shutdown() }
        let context = try clientContext()
        let url = try #require(DestinationURL("https://localhost:\(fixture.tlsPort)/hook?x=1"))
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        let response = try send(client, ClientRequest(url: url, headerFields: fields, body: Array("{}".utf8), tls: context)).get()
        #expect(response.head.status == .ok)
        #expect(response.body == Array("{}".utf8))
        #expect(response.head.headerFields[HTTPField.Name("X-TLS-Version")!] == "TLSv1.3")
        let request = try #require(fixture.counting.requests.withLock { $0.first })
        #expect(request.tls?.applicationProtocol == "h2")
        #expect(request.head.path == "/hook?x=1")
        #expect(request.head.headerFields[.contentType] == "application/json")
        #expect(request.head.authority == "localhost:\(fixture.tlsPort)")
    }

    @Test func aClientOfferingH2FallsBackToHTTP1WhenTheServerPicksIt() throws {
        let fixture = try TLSServerFixture(loops: loops)  // offers http/1.1 only
        defer { fixture.server.shutdown() }
        let client = HTTPClient(loops: loops)
        defer { client.shutdown() }
        let context = try clientContext()
        let url = try #require(DestinationURL("https://localhost:\(fixture.port)/hook"))
        let results = try sendConcurrently(client, count: 10) { ClientRequest(url: url, body: [UInt8($0)], tls: context) }
        #expect(results.allSatisfy { (try? $0.get().head.status) == .ok })
        #expect(fixture.handler.requests.withLock { $0.allSatisfy { $0.tls?.applicationProtocol == "http/1.1" } })
    }

    @Test func aResponseOverTheLimitFailsOnlyItsRequest() throws {
        let fixture = try H2ServerFixture(loops: loops)
        defer { fixture.server.shutdown() }
        let client = HTTPClient(configuration: HTTPClientConfiguration(maxResponseBodyBytes: 1000), loops: loops)
        defer { client.shutdown() }
        let context = try clientContext()
        let url = try #require(DestinationURL("https://localhost:\(fixture.tlsPort)/hook"))
        let big = try send(client, ClientRequest(url: url, body: Array(repeating: 1, count: 5000), tls: context))
        guard case .failure(.http2(let error)) = big else {
            Issue.record("expected an HTTP/2 failure, got \(big)")
            return
        }
        #expect(error.description.contains("over the limit"))
        #expect(try send(client, ClientRequest(url: url, body: [1], tls: context)).get().head.status == .ok)
        #expect(fixture.observer.connectionCount == 1)
    }

    /// `keptResponseBodyBytes`: deliveries keep a prefix of each response, over either protocol;
    /// the rest is read and dropped, and the connection serves the next request.
    @Test(arguments: ["h2", "http/1.1"])
    func aResponseKeepsOnlyItsBodyPrefix(protocolName: String) throws {
        let h2 = protocolName == "h2"
        let h2Fixture = h2 ? try H2ServerFixture(loops: loops) : nil
        let h1Fixture = h2 ? nil : try TLSServerFixture(loops: loops)
        defer {
            h2Fixture?.server.shutdown()
            h1Fixture?.server.shutdown()
        }
        var configuration = HTTPClientConfiguration()
        configuration.keptResponseBodyBytes = 16
        let client = HTTPClient(configuration: configuration, loops: loops)
        defer { client.shutdown() }
        let context = try clientContext()
        let port = try #require(h2Fixture?.tlsPort ?? h1Fixture?.port)
        let url = try #require(DestinationURL("https://localhost:\(port)/hook"))
        let echoed = Array("shadow broke: ".utf8) + Array(repeating: UInt8(ascii: "x"), count: 100_000)
        let response = try send(client, ClientRequest(url: url, body: echoed, tls: context)).get()
        #expect(response.head.status == .ok)
        #expect(response.body == Array(echoed.prefix(16)))
        #expect(try send(client, ClientRequest(url: url, body: Array("ok".utf8), tls: context)).get().body == Array("ok".utf8))
    }
}

/// nginx with `http2` as the delivery destination: its access log shows which connection and
/// which request on it served each delivery.
@Suite struct H2ClientNginxTests {
    let loops = TestLoops.make(count: 2, label: "test.h2.nginx")
    let certificates = TestCertificates.shared

    @Test func deliveriesToNginxMultiplexOverOneConnection() throws {
        let nginx = try NginxFixture(certificates: certificates)
        let client = HTTPClient(loops: loops)
        defer { client.shutdown() }
        let context = try TLSContext(
            client: TLSClientConfiguration(trustRoots: .file(certificates.caCertificate), applicationProtocols: ["h2", "http/1.1"])
        )
        let url = try #require(DestinationURL("https://localhost:\(nginx.port)/webhook"))
        let results = try sendConcurrently(client, count: 30) { index in
            ClientRequest(url: url, body: Array("{\"event\":\(index)}".utf8), tls: context)
        }
        #expect(results.allSatisfy { (try? $0.get().head.status) == .ok }, "\(results)")
        // nginx logs a stream when it closes it, which can come after the client has its response:
        // the log is complete only once nginx has exited.
        client.shutdown()
        try nginx.stopGracefully()
        let lines = try nginx.accessLog()
        #expect(lines.count == 30)
        // `$connection $connection_requests $server_protocol $request_length`
        let fields = lines.map { $0.split(separator: " ").map(String.init) }
        #expect(Set(fields.map { $0[0] }).count == 1, "one connection carried every delivery: \(lines)")
        #expect(Set(fields.map { $0[2] }) == ["HTTP/2.0"])
        #expect(fields.map { Int($0[1]) ?? 0 }.sorted() == Array(1...30))
        // Several requests were in flight together (nginx logs in completion order, so this is
        // the multiplexing nginx saw, not our send order): HTTP/1.1 would need 30 connections or
        // strictly sequential requests on one.
    }
}

/// nginx started by the test: config, certificate paths, logs and temp dirs in a fresh directory,
/// an ephemeral port, TLS with the test CA's server certificate, `http2` on the listener.
final class NginxFixture {
    let temporary: TemporaryDirectory
    let port: UInt16
    private let process: PeerProcess
    var directory: String { temporary.path }

    init(certificates: TestCertificates) throws {
        temporary = try TemporaryDirectory(prefix: "cutover-nginx")
        let directory = temporary.path
        port = try freePort()
        let config = """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log warn;
            events { worker_connections 256; }
            http {
                client_body_temp_path \(directory)/body;
                proxy_temp_path \(directory)/proxy;
                fastcgi_temp_path \(directory)/fastcgi;
                uwsgi_temp_path \(directory)/uwsgi;
                scgi_temp_path \(directory)/scgi;
                log_format cutover '$connection $connection_requests $server_protocol $request_length';
                access_log \(directory)/access.log cutover;
                server {
                    listen 127.0.0.1:\(port) ssl http2;
                    ssl_certificate \(certificates.serverCertificate);
                    ssl_certificate_key \(certificates.serverKey);
                    location = /webhook { return 200; }
                }
            }
            """
        try config.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        process = try PeerProcess("/usr/sbin/nginx", ["-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/error.log"])
        try waitUntilListening()
    }

    /// Ready once a TCP connect succeeds; bounded, and fails with nginx's error log.
    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            guard process.termination == nil else { break }
            if (try? RawConnection(port: port, timeoutSeconds: 1)) != nil { return }
            usleep(20_000)  // polling a port that is not open yet, not synchronizing on timing
        }
        let log = (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? ""
        throw TestFailure("nginx did not start listening on \(port): \(log)")
    }

    func accessLog() throws -> [String] {
        try String(contentsOfFile: directory + "/access.log", encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// SIGKILL: nginx without a master process ignores a graceful stop while our client still
    /// holds a connection, and nothing of its state matters once the test has its log.
    func stop() { process.kill() }

    /// SIGQUIT once no client holds a connection: nginx finishes and logs every request, then exits.
    func stopGracefully() throws {
        process.signal(SIGQUIT)
        guard process.waitForExit(timeout: 20) != nil else {
            process.kill()
            throw TestFailure("nginx did not exit within 20 s of SIGQUIT")
        }
    }

    deinit { process.kill() }
}
