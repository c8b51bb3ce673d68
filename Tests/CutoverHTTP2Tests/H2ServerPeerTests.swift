import CutoverHTTP
import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import CutoverTLS
import CutoverTestSupport
import Foundation
import HTTPTypes
import Testing

/// Cutover's HTTP/2 server against real clients: curl, nghttp2's h2load and Python httpx.
@Suite struct H2ServerPeerTests {
    let loops = TestLoops.make(count: 2, label: "test.h2.server")
    let certificates = TestCertificates.shared
    private let summary = ["-w", "\n%{http_code} %{http_version} %{num_connects}"]

    @Test func curlPriorKnowledgeOnThePlainListener() throws {
        let fixture = try H2ServerFixture(loops: loops)
        defer { fixture.server.shutdown() }
        let url = "http://127.0.0.1:\(fixture.plainPort)/hook"
        let h2c = try curl(["--http2-prior-knowledge", "--data-binary", "hello h2c"] + summary + [url])
        #expect(h2c.status == 0, "\(h2c.error)")
        #expect(h2c.output == "hello h2c\n200 2 1")
        // The same listener still speaks HTTP/1.1 to a client that does not open with the preface.
        let http1 = try curl(["--data-binary", "hello 1.1"] + summary + [url])
        #expect(http1.output == "hello 1.1\n200 1.1 1")
        let request = try #require(fixture.counting.requests.withLock { $0.first })
        #expect(request.head.method == .post)
        #expect(request.head.path == "/hook")
        #expect(request.head.authority == "127.0.0.1:\(fixture.plainPort)")
        #expect(request.tls == nil)
    }

    @Test func curlHTTP2OverTLSNegotiatesH2WithALPN() throws {
        let fixture = try H2ServerFixture(loops: loops)
        defer { fixture.server.shutdown() }
        let result = try curl(
            ["--http2", "--cacert", certificates.caCertificate, "--resolve", "localhost:\(fixture.tlsPort):127.0.0.1",
             "--data-binary", "hello h2"] + summary + ["https://localhost:\(fixture.tlsPort)/hook"]
        )
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == "hello h2\n200 2 1")
        let info = try #require(fixture.counting.requests.withLock { $0.first?.tls })
        #expect(info.applicationProtocol == "h2")
        #expect(info.serverName == "localhost")
        // A client offering only HTTP/1.1 still gets it on the same listener.
        let http1 = try curl(
            ["--http1.1", "--cacert", certificates.caCertificate, "--resolve", "localhost:\(fixture.tlsPort):127.0.0.1",
             "--data-binary", "old"] + summary + ["https://localhost:\(fixture.tlsPort)/hook"]
        )
        #expect(http1.output == "old\n200 1.1 1")
    }

    @Test func h2loadMultiplexesConcurrentStreamsOnOneConnection() throws {
        // Every response waits until 20 requests are with the handler at once: only streams really
        // running in parallel on the single connection can finish.
        let fixture = try H2ServerFixture(loops: loops, handler: BarrierHandler(count: 20))
        defer { fixture.server.shutdown() }
        for url in ["http://127.0.0.1:\(fixture.plainPort)/", "https://127.0.0.1:\(fixture.tlsPort)/"] {
            let opened = fixture.observer.connectionCount
            let result = try runCommand("/usr/bin/timeout", ["30", "/usr/bin/h2load", "-n", "200", "-c", "1", "-m", "20", url])
            #expect(result.status == 0, "\(result.output) \(result.error)")
            #expect(result.output.contains("200 total, 200 started, 200 done, 200 succeeded, 0 failed"), "\(result.output)")
            #expect(url.hasPrefix("http:") || result.output.contains("Application protocol: h2"))
            #expect(fixture.observer.connectionCount == opened + 1)
        }
    }

    @Test func httpxWithHTTP2OverTLSAndPriorKnowledge() throws {
        let python = try Repo.consumersPython.get()
        let fixture = try H2ServerFixture(loops: loops)
        defer { fixture.server.shutdown() }
        let script = """
            import sys, httpx
            ca, tls_port, plain_port = sys.argv[1], sys.argv[2], sys.argv[3]
            with httpx.Client(http2=True, verify=ca) as client:
                for i in range(3):
                    r = client.post(f"https://localhost:{tls_port}/hook", content=f"tls {i}".encode())
                    print(r.http_version, r.status_code, r.text)
            with httpx.Client(http1=False, http2=True) as client:
                r = client.post(f"http://127.0.0.1:{plain_port}/hook", content=b"h2c")
                print(r.http_version, r.status_code, r.text)
            """
        let result = try runCommand(python, ["-c", script, certificates.caCertificate, String(fixture.tlsPort), String(fixture.plainPort)])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == "HTTP/2 200 tls 0\nHTTP/2 200 tls 1\nHTTP/2 200 tls 2\nHTTP/2 200 h2c\n")
        // One connection for the three TLS requests, one for h2c.
        #expect(fixture.observer.connectionCount == 2)
    }

    /// The benchmark notes' nginx quirk: bodies the server discards must still give their
    /// flow-control credit back, or the connection stalls once a window's worth was discarded.
    @Test func discardingManyWindowsOfRejectedBodiesKeepsTheConnectionWorking() throws {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxBodyBytes = 1024
        let fixture = try H2ServerFixture(loops: loops, configuration: configuration)
        defer { fixture.server.shutdown() }
        let directory = try TemporaryDirectory(prefix: "cutover-h2-body")
        defer { withExtendedLifetime(directory) {} }
        let body = directory.path("body")
        try Data(repeating: 0x61, count: 256 * 1024).write(to: URL(fileURLWithPath: body))
        let url = "http://127.0.0.1:\(fixture.plainPort)/hook"

        // 200 bodies of 256 KiB on one connection: 50 MiB discarded, 200 stream windows and 50
        // connection windows' worth. Every one is answered 413.
        let h2load = try runCommand("/usr/bin/timeout", ["60", "/usr/bin/h2load", "-n", "200", "-c", "1", "-m", "4", "-d", body, url])
        #expect(h2load.status == 0, "\(h2load.error)")
        #expect(h2load.output.contains("200 total, 200 started, 200 done"), "\(h2load.output)")
        #expect(h2load.output.contains("status codes: 0 2xx, 0 3xx, 200 4xx, 0 5xx"), "\(h2load.output)")

        // curl reuses one connection: 30 rejected bodies (7.5 MiB), then a small one that succeeds.
        var arguments = ["--http2-prior-knowledge"]
        for _ in 0..<30 {
            arguments += ["-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n", "--data-binary", "@" + body, url, "--next"]
        }
        arguments += ["-w", "\n%{http_code} %{num_connects} %{http_version}\n", "--data-binary", "small", url]
        let result = try curl(arguments)
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.first == "413 1")
        #expect(lines.dropFirst().prefix(29).allSatisfy { $0 == "413 0" })
        #expect(lines.suffix(2) == ["small", "200 0 2"])
        #expect(fixture.observer.rejectionStatuses.filter { $0 == 413 }.count == 230)
    }
}
