import CutoverTestSupport
import Foundation
import Testing

/// `admin.tls`: the admin API over HTTPS with curl, the bearer token still required, and plain
/// HTTP refused on the TLS port.
@Suite(.serialized)
struct AdminTLSTests {
    @Test func theAdminAPIAnswersOverHTTPSOnly() throws {
        let directory = try TemporaryDirectory()
        let token = "admin-token-for-the-tls-test-0123"
        let cutover = try CutoverServer.withAdminOverTLS(token: token, in: directory)
        defer { cutover.kill() }
        let base = try cutover.adminURL(tls: true)
        let admin = base + "/stats"
        let trust = ["--cacert", TestCertificates.shared.caCertificate]

        #expect(try curl(trust + [admin]).status == 401, "the token is still required over TLS")
        let authorized = try curl(trust + [admin, "-H", "Authorization: Bearer \(token)"])
        #expect(authorized.status == 200)
        #expect(authorized.body.contains("\"dead_letters\""), "\(authorized.body)")
        // Unverified, curl refuses the certificate (60); plain HTTP gets no HTTP answer at all.
        #expect(try runCommand("/usr/bin/curl", ["-sS", "-o", "/dev/null", admin]).status == 60)
        let plain = try runCommand(
            "/usr/bin/curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", base.replacingOccurrences(of: "https://", with: "http://") + "/stats"])
        #expect(plain.status != 0 && plain.output == "000", "plain HTTP to the TLS port: \(plain.output) \(plain.error)")
    }
}
