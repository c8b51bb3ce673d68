import CutoverHTTP
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import CutoverTLS
import Dispatch
import Foundation
import HTTPTypes

/// Sends `request` with the client and waits for the outcome; throws when none comes within
/// `timeout` seconds instead of hanging the run.
package func send(
    _ client: HTTPClient, _ request: ClientRequest, timeout: TimeInterval = 60
) throws -> Result<HTTP1Response, HTTPClientError> {
    try sendConcurrently(client, count: 1, timeout: timeout) { _ in request }[0]
}

/// Sends `count` requests at once and waits for all of them, in order; throws when they are not
/// all answered within `timeout` seconds.
package func sendConcurrently(
    _ client: HTTPClient, count: Int, timeout: TimeInterval = 60, make: (Int) -> ClientRequest
) throws -> [Result<HTTP1Response, HTTPClientError>] {
    let results = Locked<[Int: Result<HTTP1Response, HTTPClientError>]>([:])
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        client.execute(make(index)) { result in
            results.withLock { $0[index] = result }
            group.leave()
        }
    }
    guard group.wait(timeout: .now() + timeout) == .success else {
        let answered = results.withLock { $0.count }
        throw TestFailure("the client answered \(answered) of \(count) requests within \(timeout) s")
    }
    return results.withLock { dictionary in (0..<count).map { dictionary[$0]! } }
}

/// Answers every request with 200 and the body back (with the TLS version and client subject in
/// headers), and counts what reached it.
package final class CountingHandler: HTTPServerHandler {
    package let requests = Locked<[ServerRequest]>([])

    package init() {}

    package func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        requests.withLock { $0.append(request) }
        var fields = HTTPFields()
        fields[HTTPField.Name("X-TLS-Version")!] = request.tls?.protocolVersion ?? "none"
        fields[HTTPField.Name("X-Client-Subject")!] = request.tls?.peerSubject ?? "none"
        respond(ServerResponse(status: .ok, headerFields: fields, body: request.body))
    }

    package var count: Int { requests.withLock { $0.count } }
}

/// Records TLS handshake failures and lets a test wait for the next one.
package final class HandshakeObserver: HTTPServerObserver {
    private let failures = Locked<[String]>([])
    private let failed = DispatchSemaphore(value: 0)

    package init() {}

    package func connectionOpened() {}
    package func connectionClosed() {}
    package func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {}
    package func tlsHandshakeFailed(reason: String, remoteAddress: String) {
        failures.withLock { $0.append(reason) }
        failed.signal()
    }

    /// The reason of the next handshake failure, or nil when none comes within `timeout` seconds.
    package func nextFailure(timeout: Double = 10) -> String? {
        guard failed.wait(timeout: .now() + timeout) == .success else { return nil }
        return failures.withLock { $0.removeFirst() }
    }

    package var failureCount: Int { failures.withLock { $0.count } }
}

/// A TLS server on an ephemeral port of 127.0.0.1 with the test certificates.
package struct TLSServerFixture {
    package let server: HTTPServer
    package let handler = CountingHandler()
    package let observer = HandshakeObserver()
    package let context: TLSContext
    package let port: UInt16

    package init(
        loops: [any EventLoop],
        configure: (inout TLSServerConfiguration) -> Void = { _ in },
        certificates: TestCertificates = .shared
    ) throws {
        var configuration = TLSServerConfiguration(
            certificateChainFile: certificates.serverCertificate, privateKeyFile: certificates.serverKey
        )
        configure(&configuration)
        context = try TLSContext(server: configuration)
        server = HTTPServer(configuration: .init(), handler: handler, observer: observer, loops: loops)
        port = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0), tls: context).port
    }
}
