import CutoverHTTP
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import CutoverTLS
import CutoverTestSupport
import Foundation
import HTTPTypes
import Testing

/// Cutover's TLS server and TLS client talking to each other, and the context's own checks.
@Suite struct InProcessTLSTests {
    let loops = TestLoops.make(count: 2, label: "test.tls")
    let certificates = TestCertificates.shared

    private func client(trusting caFile: String, certificate: String? = nil, key: String? = nil) throws -> HTTPClient {
        var configuration = HTTPClientConfiguration()
        configuration.maxResponseBodyBytes = 8 << 20
        configuration.tls = TLSClientConfiguration(trustRoots: .file(caFile), certificateChainFile: certificate, privateKeyFile: key)
        return HTTPClient(configuration: configuration, loops: loops)
    }

    @Test func requestsShareOneKeptAliveTLSConnection() throws {
        let fixture = try TLSServerFixture(loops: loops)
        defer { fixture.server.shutdown() }
        let client = try client(trusting: certificates.caCertificate)
        defer { client.shutdown() }
        let url = try #require(DestinationURL("https://localhost:\(fixture.port)/hook"))
        for index in 0..<20 {
            let body = Array("event \(index)".utf8)
            let response = try send(client, ClientRequest(url: url, body: body)).get()
            #expect(response.head.status == .ok)
            #expect(response.body == body)
            #expect(response.head.headerFields[HTTPField.Name("X-TLS-Version")!] == "TLSv1.3")
        }
        #expect(fixture.server.openConnectionCount == 1, "keep-alive reuses one TLS connection")
        let info = try #require(fixture.handler.requests.withLock { $0.first?.tls })
        #expect(info.applicationProtocol == "http/1.1")
        #expect(info.serverName == "localhost")
        #expect(info.peerSubject == nil)
    }

    /// Several MiB each way: the BIO rings fill, the socket pushes back, and every byte arrives.
    @Test func largeBodiesCrossBackPressureBothWays() throws {
        let fixture = try TLSServerFixture(loops: loops)
        defer { fixture.server.shutdown() }
        let client = try client(trusting: certificates.caCertificate)
        defer { client.shutdown() }
        let body = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 11) }
        let url = try #require(DestinationURL("https://127.0.0.1:\(fixture.port)/big"))
        for _ in 0..<2 {
            let response = try send(client, ClientRequest(url: url, body: body)).get()
            #expect(response.body == body)
        }
    }

    @Test func aTLS13OnlyServerServesTheClient() throws {
        // TLS 1.2 and the refusal of older versions are covered with openssl s_client (TLSPeerTests).
        let fixture = try TLSServerFixture(loops: loops) { $0.minimumVersion = .tls1_3 }
        defer { fixture.server.shutdown() }
        let client = try client(trusting: certificates.caCertificate)
        defer { client.shutdown() }
        let url = try #require(DestinationURL("https://127.0.0.1:\(fixture.port)/"))
        let response = try send(client, ClientRequest(url: url, body: [1])).get()
        #expect(response.head.headerFields[HTTPField.Name("X-TLS-Version")!] == "TLSv1.3")
    }

    @Test func clientCertificateReachesTheHandlerThroughMutualTLS() throws {
        let fixture = try TLSServerFixture(loops: loops) {
            $0.clientAuthentication = .init(
                trustedCAFile: certificates.caCertificate, expectedSubjectName: TestCertificates.metaClientName
            )
        }
        defer { fixture.server.shutdown() }
        let url = try #require(DestinationURL("https://127.0.0.1:\(fixture.port)/cloud"))

        let withCertificate = try client(
            trusting: certificates.caCertificate, certificate: certificates.clientCertificate, key: certificates.clientKey
        )
        defer { withCertificate.shutdown() }
        let response = try send(withCertificate, ClientRequest(url: url, body: [7])).get()
        #expect(response.head.status == .ok)
        #expect(response.head.headerFields[HTTPField.Name("X-Client-Subject")!] == "CN=\(TestCertificates.metaClientName)")

        // Without a certificate the TLS 1.3 client finishes its side, then reads the server's alert.
        let without = try client(trusting: certificates.caCertificate)
        defer { without.shutdown() }
        let refused = try send(without, ClientRequest(url: url, body: [8]))
        guard case .failure(.tls(let error)) = refused else {
            Issue.record("expected a TLS failure, got \(refused)")
            return
        }
        #expect(error.reason.contains("certificate required"), "\(error)")
        #expect(fixture.observer.nextFailure()?.contains("did not return a certificate") == true)

        // A certificate from this CA with another name: verification fails on the name.
        let stranger = try client(
            trusting: certificates.caCertificate, certificate: certificates.strangerCertificate, key: certificates.strangerKey
        )
        defer { stranger.shutdown() }
        let strangerResult = try send(stranger, ClientRequest(url: url, body: [9]))
        #expect((try? strangerResult.get()) == nil)
        #expect(fixture.observer.nextFailure()?.contains("hostname mismatch") == true)
        #expect(fixture.handler.count == 1, "only the request with the right certificate was handled")
    }

    @Test func reloadServesNewConnectionsWithTheNewCertificateAndKeepsOldOnes() throws {
        let directory = certificates.path("reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let chain = directory + "/server.pem"
        let key = directory + "/server.key"
        try FileManager.default.copyItem(atPath: certificates.serverCertificate, toPath: chain)
        try FileManager.default.copyItem(atPath: certificates.serverKey, toPath: key)
        let handler = CountingHandler()
        let context = try TLSContext(server: TLSServerConfiguration(certificateChainFile: chain, privateKeyFile: key))
        let server = HTTPServer(configuration: .init(), handler: handler, observer: HandshakeObserver(), loops: loops)
        let port = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0), tls: context).port
        defer { server.shutdown() }
        let url = try #require(DestinationURL("https://127.0.0.1:\(port)/"))

        let oldTrust = try client(trusting: certificates.caCertificate)
        defer { oldTrust.shutdown() }
        #expect(try send(oldTrust, ClientRequest(url: url, body: [1])).get().head.status == .ok)

        // Renewal: the other CA's certificate replaces the files, then the context reloads.
        try Data(contentsOf: URL(fileURLWithPath: certificates.otherServerCertificate)).write(to: URL(fileURLWithPath: chain))
        try Data(contentsOf: URL(fileURLWithPath: certificates.otherServerKey)).write(to: URL(fileURLWithPath: key))
        try context.reload()

        // The kept-alive connection was verified against the old certificate and keeps working.
        #expect(try send(oldTrust, ClientRequest(url: url, body: [2])).get().head.status == .ok)
        #expect(server.openConnectionCount == 1)
        // New connections get the new certificate.
        let newTrust = try client(trusting: certificates.otherCACertificate)
        defer { newTrust.shutdown() }
        #expect(try send(newTrust, ClientRequest(url: url, body: [3])).get().head.status == .ok)
        let freshOldTrust = try client(trusting: certificates.caCertificate)
        defer { freshOldTrust.shutdown() }
        guard case .failure(.tls) = try send(freshOldTrust, ClientRequest(url: url, body: [4])) else {
            Issue.record("a new connection trusting only the old CA must fail")
            return
        }

        // A broken file fails the reload and leaves the working context in place.
        try "not a certificate".write(toFile: chain, atomically: true, encoding: .utf8)
        #expect(throws: TLSError.self) { try context.reload() }
        #expect(try send(newTrust, ClientRequest(url: url, body: [5])).get().head.status == .ok)
    }

    @Test func alpnFollowsServerPreference() throws {
        let server = try TLSContext(
            server: TLSServerConfiguration(
                certificateChainFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey,
                applicationProtocols: ["h2", "http/1.1"]
            )
        )
        let both = try TLSContext(
            client: TLSClientConfiguration(trustRoots: .file(certificates.caCertificate), applicationProtocols: ["http/1.1", "h2"])
        )
        #expect(try handshake(server: server, client: both).server.applicationProtocol == "h2")
        let onlyHTTP1 = try TLSContext(client: TLSClientConfiguration(trustRoots: .file(certificates.caCertificate)))
        let result = try handshake(server: server, client: onlyHTTP1)
        #expect(result.server.applicationProtocol == "http/1.1")
        #expect(result.client.applicationProtocol == "http/1.1")
        let none = try TLSContext(
            client: TLSClientConfiguration(trustRoots: .file(certificates.caCertificate), applicationProtocols: ["spdy/3"])
        )
        #expect(try handshake(server: server, client: none).server.applicationProtocol == nil)
    }

    @Test func aServerRefusesToOfferAProtocolItDoesNotSpeak() throws {
        let context = try TLSContext(
            server: TLSServerConfiguration(
                certificateChainFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey,
                applicationProtocols: ["h2", "spdy/3", "http/1.1"]
            )
        )
        let server = HTTPServer(configuration: .init(), handler: CountingHandler(), observer: HandshakeObserver(), loops: loops)
        #expect(throws: HTTPServerSetupError.self) { try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0), tls: context) }
    }

    @Test func contextErrorsCarryOpenSSLText() throws {
        let missing = TLSServerConfiguration(certificateChainFile: "/nonexistent/chain.pem", privateKeyFile: certificates.serverKey)
        do {
            _ = try TLSContext(server: missing)
            Issue.record("a missing file must fail")
        } catch {
            #expect(error.description.contains("/nonexistent/chain.pem"))
            #expect(error.reason.contains("No such file or directory"), "\(error)")
        }
        let mismatched = TLSServerConfiguration(certificateChainFile: certificates.serverCertificate, privateKeyFile: certificates.clientKey)
        do {
            _ = try TLSContext(server: mismatched)
            Issue.record("a key of another certificate must fail")
        } catch {
            #expect(error.reason.contains("key values mismatch"), "\(error)")
        }
    }

    @Test func handshakeTimesOutWhenThePeerSaysNothing() throws {
        let fixture = try TLSServerFixture(loops: loops) { $0.handshakeTimeout = .milliseconds(200) }
        defer { fixture.server.shutdown() }
        let silent = try RawClient(port: fixture.port)
        #expect(silent.readUntilClosed() == 0, "closed without a byte")
        #expect(fixture.observer.nextFailure()?.contains("not completed within") == true)
        #expect(fixture.server.openConnectionCount == 0)
    }

    @Test func plaintextHTTPToATLSPortNeverReachesTheHandler() throws {
        let fixture = try TLSServerFixture(loops: loops)
        defer { fixture.server.shutdown() }
        let raw = try RawClient(port: fixture.port)
        raw.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        _ = raw.readUntilClosed()
        #expect(fixture.observer.nextFailure()?.contains("http request") == true)
        #expect(fixture.handler.count == 0)
    }

    /// Runs one handshake between the two contexts over a socket pair; returns what each side saw.
    private func handshake(server: TLSContext, client: TLSContext) throws -> (server: TLSConnectionInfo, client: TLSConnectionInfo) {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        for descriptor in pair { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        let serverStream = try server.makeServerStream(socket: Socket(descriptor: pair[0]))
        let clientStream = try client.makeClientStream(socket: Socket(descriptor: pair[1]), host: "localhost")
        defer {
            serverStream.close()
            clientStream.close()
        }
        let results = Locked<[Bool: Result<TLSConnectionInfo, TLSError>]>([:])
        let done = DispatchSemaphore(value: 0)
        for (isServer, stream, loop) in [(true, serverStream, loops[0]), (false, clientStream, loops[1])] {
            TLSHandshake.start(stream, on: loop, timeout: .seconds(10)) { result in
                results.withLock { $0[isServer] = result }
                done.signal()
            }
        }
        #expect(done.wait(timeout: .now() + 20) == .success)
        #expect(done.wait(timeout: .now() + 20) == .success)
        let outcome = results.withLock { $0 }
        return (try #require(outcome[true]).get(), try #require(outcome[false]).get())
    }
}

/// A blocking TCP client for talking to a server in ways no real client would.
struct RawClient {
    let descriptor: Int32

    init(port: UInt16) throws {
        // Reads give up after 10 s: a safety net against a hung test, not a synchronization.
        descriptor = try connectToLoopback(port: port, receiveTimeout: 10)
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    /// Reads until the server closes; returns how many bytes came. Closes the socket.
    func readUntilClosed() -> Int {
        defer { close(descriptor) }
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { return count < 0 ? -1 : total }
            total += count
        }
    }
}
