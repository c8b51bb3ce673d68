import CutoverTestSupport
import Foundation
import Testing

/// `cutover serve --listen-tls`: what Meta's callback needs, checked with curl over HTTP/2 and 1.1.
@Suite(.serialized)
struct HTTPSServeTests {
    @Test func httpsListenerServesHTTP2AndHTTP1() throws {
        let spool = try TemporaryDirectory()
        // A CA and a server certificate for 127.0.0.1 and localhost, made with the openssl CLI for this run only.
        let certificates = TestCertificates.shared
        let tlsPort = try freePort()
        let cutover = try CutoverServer(
            spool: spool.path,
            arguments: ["--listen-tls", "127.0.0.1:\(tlsPort)", "--tls-cert", certificates.serverCertificate, "--tls-key", certificates.serverKey]
        )
        defer { cutover.kill() }
        #expect(cutover.process.stderr.wait { $0.contains { $0.contains("listening on https://127.0.0.1:\(tlsPort)") } } != nil)
        let base = "https://127.0.0.1:\(tlsPort)"
        let body = Repo.path("fixtures/onprem/meta-doc-inbound-voice.json")

        let h2 = try runCommand("/usr/bin/curl", [
            "-sS", "--http2", "--cacert", certificates.caCertificate, "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
            "-X", "POST", "--data-binary", "@\(body)", base + "/onprem/default",
        ])
        #expect(h2.output == "2 200", "curl --http2: \(h2.output) \(h2.error)")
        let h1 = try runCommand("/usr/bin/curl", [
            "-sS", "--http1.1", "--cacert", certificates.caCertificate, "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
            base + "/healthz",
        ])
        #expect(h1.output == "1.1 200")
        // A client that does not trust the certificate never gets an answer.
        let untrusted = try runCommand("/usr/bin/curl", ["-sS", "-o", "/dev/null", base + "/healthz"])
        #expect(untrusted.status == 60)
    }
}
