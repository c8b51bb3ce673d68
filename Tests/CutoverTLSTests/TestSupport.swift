import CutoverHTTP
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverSockets
import CutoverTLS
import Foundation
import HTTPTypes
import Synchronization
import Testing

/// Certificates made with the openssl CLI for this test run (never committed): a CA with a
/// server certificate for 127.0.0.1 and localhost, one for another name, and two client certificates, and a second CA
/// with a client certificate carrying the right name and a server certificate of its own.
struct TestCertificates: Sendable {
    let directory: String
    var caCertificate: String { path("ca.pem") }
    var serverCertificate: String { path("server.pem") }
    var serverKey: String { path("server.key") }
    /// CN=client.webhooks.fbclientcerts.com (no SAN: the name is matched through the CN), from the CA.
    var clientCertificate: String { path("client.pem") }
    var clientKey: String { path("client.key") }
    /// CN=someone.else.example, from the CA.
    var strangerCertificate: String { path("stranger.pem") }
    var strangerKey: String { path("stranger.key") }
    var otherCACertificate: String { path("other-ca.pem") }
    /// CN=client.webhooks.fbclientcerts.com, from the other CA.
    var otherClientCertificate: String { path("other-client.pem") }
    var otherClientKey: String { path("other-client.key") }
    /// 127.0.0.1 and localhost, from the other CA.
    var otherServerCertificate: String { path("other-server.pem") }
    var otherServerKey: String { path("other-server.key") }
    /// A server certificate from the CA for elsewhere.example only.
    var misnamedServerCertificate: String { path("misnamed-server.pem") }
    var misnamedServerKey: String { path("misnamed-server.key") }

    static let metaClientName = "client.webhooks.fbclientcerts.com"

    func path(_ name: String) -> String { directory + "/" + name }

    /// Made once per test process; the directory is removed at exit.
    static let shared: TestCertificates = {
        do {
            let certificates = try generate()
            atexit { try? FileManager.default.removeItem(atPath: TestCertificates.shared.directory) }
            return certificates
        } catch {
            fatalError("generating test certificates failed: \(error)")
        }
    }()

    private static func generate() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        try certificates.makeCA("ca", name: "Cutover Test CA")
        try certificates.makeCA("other-ca", name: "Some Other CA")
        let serverExtensions = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        let clientExtensions = "extendedKeyUsage=clientAuth\n"
        try certificates.issue("server", name: "localhost", by: "ca", serial: 2, extensions: serverExtensions)
        try certificates.issue("client", name: metaClientName, by: "ca", serial: 3, extensions: clientExtensions)
        try certificates.issue("stranger", name: "someone.else.example", by: "ca", serial: 4, extensions: clientExtensions)
        try certificates.issue("other-client", name: metaClientName, by: "other-ca", serial: 5, extensions: clientExtensions)
        try certificates.issue("other-server", name: "localhost", by: "other-ca", serial: 6, extensions: serverExtensions)
        try certificates.issue(
            "misnamed-server", name: "elsewhere.example", by: "ca", serial: 7,
            extensions: "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth\n"
        )
        return certificates
    }

    private func makeCA(_ stem: String, name: String) throws {
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path("\(stem).key"), "-out", path("\(stem).pem"), "-days", "2", "-subj", "/CN=\(name)",
        ])
    }

    private func issue(_ stem: String, name: String, by ca: String, serial: Int, extensions: String) throws {
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path("\(stem).key"), "-out", path("\(stem).csr"), "-subj", "/CN=\(name)",
        ])
        try extensions.write(toFile: path("\(stem).ext"), atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", path("\(stem).csr"), "-CA", path("\(ca).pem"), "-CAkey", path("\(ca).key"),
            "-set_serial", String(serial), "-days", "2", "-extfile", path("\(stem).ext"), "-out", path("\(stem).pem"),
        ])
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try runCommand("/usr/bin/openssl", arguments)
        guard result.status == 0 else { throw PeerError("openssl \(arguments.first ?? "") failed: \(result.error)") }
    }
}

struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command to completion; returns its exit status, standard output and standard error.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try process.run()
    if let stdin {
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    }
    // Both pipes are read to the end before waiting, so a chatty child cannot block on a full pipe.
    let errorText = PipeDrain(err)
    let output = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self), errorText.text())
}

/// Reads a pipe to its end on a thread of its own.
final class PipeDrain: @unchecked Sendable {
    // Invariant: `data` is written by the reader thread before `done` is signalled, read after.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        Thread.detachNewThread { [self] in
            data = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A long-running peer (the Python TLS server): started, waited for until it prints its
/// readiness line, and killed when the test lets go of it.
final class PeerProcess: @unchecked Sendable {
    // Invariant: `process` is configured before `run()` and only read afterwards; `lines` is
    // guarded by `condition`.
    private let process = Process()
    private let condition = NSCondition()
    private var lines: [String] = []
    private var partial = Data()
    private var ended = false

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            condition.lock()
            defer {
                condition.broadcast()
                condition.unlock()
            }
            guard !data.isEmpty else {
                ended = true
                handle.readabilityHandler = nil
                return
            }
            partial.append(data)
            while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
                partial.removeSubrange(partial.startIndex...newline)
            }
        }
        try process.run()
    }

    /// The first line starting with `prefix`, waiting up to `timeout` seconds for it.
    func waitForLine(startingWith prefix: String, timeout: TimeInterval = 20) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let line = lines.first(where: { $0.hasPrefix(prefix) }) { return line }
            if ended || !condition.wait(until: deadline) {
                throw PeerError("no '\(prefix)' line; output so far: \(lines.joined(separator: " | "))")
            }
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Answers every request with 200 and the body back, and counts what reached it.
final class CountingHandler: HTTPServerHandler {
    let requests = Mutex<[ServerRequest]>([])

    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        requests.withLock { $0.append(request) }
        var fields = HTTPFields()
        fields[HTTPField.Name("X-TLS-Version")!] = request.tls?.protocolVersion ?? "none"
        fields[HTTPField.Name("X-Client-Subject")!] = request.tls?.peerSubject ?? "none"
        respond(ServerResponse(status: .ok, headerFields: fields, body: request.body))
    }

    var count: Int { requests.withLock { $0.count } }
}

/// Records TLS handshake failures and lets a test wait for the next one.
final class HandshakeObserver: HTTPServerObserver {
    private let failures = Mutex<[String]>([])
    private let failed = DispatchSemaphore(value: 0)

    func connectionOpened() {}
    func connectionClosed() {}
    func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {}
    func tlsHandshakeFailed(reason: String, remoteAddress: String) {
        failures.withLock { $0.append(reason) }
        failed.signal()
    }

    /// The reason of the next handshake failure, or nil when none comes within `timeout` seconds.
    func nextFailure(timeout: Double = 10) -> String? {
        guard failed.wait(timeout: .now() + timeout) == .success else { return nil }
        return failures.withLock { $0.removeFirst() }
    }

    var failureCount: Int { failures.withLock { $0.count } }
}

/// A TLS server on an ephemeral port of 127.0.0.1 with the test certificates.
struct TLSServerFixture {
    let server: HTTPServer
    let handler = CountingHandler()
    let observer = HandshakeObserver()
    let context: TLSContext
    let port: UInt16

    init(
        loops: [DispatchEventLoop],
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

/// Sends `request` with the client and waits for the outcome.
func send(_ client: HTTPClient, _ request: ClientRequest) -> Result<HTTP1Response, HTTPClientError> {
    let result = Mutex<Result<HTTP1Response, HTTPClientError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    client.execute(request) { outcome in
        result.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}
