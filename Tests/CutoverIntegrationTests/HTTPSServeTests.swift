import Foundation
import Testing

/// `cutover serve --listen-tls`: what Meta's callback needs, checked with curl over HTTP/2 and 1.1.
@Suite(.serialized)
struct HTTPSServeTests {
    /// A CA and a server certificate for 127.0.0.1, made with the openssl CLI for this run only.
    private func makeCertificates(in directory: TemporaryDirectory) throws -> (ca: String, cert: String, key: String) {
        let dir = directory.path
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
             "-subj", "/CN=Cutover Test CA", "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.pem"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr"],
            ["x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", "\(dir)/san.ext", "-out", "\(dir)/server.pem"],
        ]
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: "\(dir)/san.ext", atomically: true, encoding: .utf8)
        for step in steps {
            let result = try runCommand("/usr/bin/openssl", step)
            guard result.status == 0 else { throw TestFailure("openssl \(step[0]) failed: \(result.error)") }
        }
        return ("\(dir)/ca.pem", "\(dir)/server.pem", "\(dir)/server.key")
    }

    @Test func httpsListenerServesHTTP2AndHTTP1() throws {
        let spool = try TemporaryDirectory()
        let certificates = try makeCertificates(in: spool)
        let tlsPort = try freePort()
        let cutover = try CutoverServer(
            spool: spool.path,
            arguments: ["--listen-tls", "127.0.0.1:\(tlsPort)", "--tls-cert", certificates.cert, "--tls-key", certificates.key]
        )
        defer { cutover.kill() }
        #expect(cutover.process.stderr.wait { $0.contains { $0.contains("listening on https://127.0.0.1:\(tlsPort)") } } != nil)
        let base = "https://127.0.0.1:\(tlsPort)"
        let body = packageRoot.appendingPathComponent("fixtures/onprem/meta-doc-inbound-voice.json").path

        let h2 = try runCommand("/usr/bin/curl", [
            "-sS", "--http2", "--cacert", certificates.ca, "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
            "-X", "POST", "--data-binary", "@\(body)", base + "/onprem/default",
        ])
        #expect(h2.output == "2 200", "curl --http2: \(h2.output) \(h2.error)")
        let h1 = try runCommand("/usr/bin/curl", [
            "-sS", "--http1.1", "--cacert", certificates.ca, "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
            base + "/healthz",
        ])
        #expect(h1.output == "1.1 200")
        // A client that does not trust the certificate never gets an answer.
        let untrusted = try runCommand("/usr/bin/curl", ["-sS", "-o", "/dev/null", base + "/healthz"])
        #expect(untrusted.status == 60)
    }
}
