import Foundation

/// Certificates made with the openssl CLI for this test run (never committed): a CA with a
/// server certificate for 127.0.0.1 and localhost, one for another name, and two client certificates, and a second CA
/// with a client certificate carrying the right name and a server certificate of its own.
package struct TestCertificates: Sendable {
    package let directory: String
    package var caCertificate: String { path("ca.pem") }
    package var serverCertificate: String { path("server.pem") }
    package var serverKey: String { path("server.key") }
    /// CN=client.webhooks.fbclientcerts.com (no SAN: the name is matched through the CN), from the CA.
    package var clientCertificate: String { path("client.pem") }
    package var clientKey: String { path("client.key") }
    /// CN=someone.else.example, from the CA.
    package var strangerCertificate: String { path("stranger.pem") }
    package var strangerKey: String { path("stranger.key") }
    package var otherCACertificate: String { path("other-ca.pem") }
    /// CN=client.webhooks.fbclientcerts.com, from the other CA.
    package var otherClientCertificate: String { path("other-client.pem") }
    package var otherClientKey: String { path("other-client.key") }
    /// 127.0.0.1 and localhost, from the other CA.
    package var otherServerCertificate: String { path("other-server.pem") }
    package var otherServerKey: String { path("other-server.key") }
    /// A server certificate from the CA for elsewhere.example only.
    package var misnamedServerCertificate: String { path("misnamed-server.pem") }
    package var misnamedServerKey: String { path("misnamed-server.key") }

    package static let metaClientName = "client.webhooks.fbclientcerts.com"

    package func path(_ name: String) -> String { directory + "/" + name }

    /// Made once per test process; the directory is removed at exit.
    package static let shared: TestCertificates = {
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
        guard result.status == 0 else { throw TestFailure("openssl \(arguments.first ?? "") failed: \(result.error)") }
    }
}
