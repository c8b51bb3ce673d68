import CutoverTestSupport
import Foundation
import Testing

/// `cutover healthcheck`, the probe the image's HEALTHCHECK and compose's healthchecks run (the
/// runtime image has no curl): exit 0 on a 200 only.
struct DeployHealthcheckTests {
    @Test func aRunningCutoverIsHealthyAndReady() throws {
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: [])
        defer { cutover.kill() }
        for path in ["/healthz", "/readyz"] {
            let result = try runCommand(cutoverBinary, ["healthcheck", "--url", cutover.base + path])
            #expect(result.status == 0, "\(path): \(result.output)\(result.error)")
            #expect(result.output == "\(cutover.base)\(path): 200\n")
        }
    }

    @Test func anythingButA200IsUnhealthy() throws {
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: [])
        defer { cutover.kill() }
        let result = try runCommand(cutoverBinary, ["healthcheck", "--url", cutover.base + "/nothing-here"])
        #expect(result.status == 1)
        #expect(result.output.hasPrefix("\(cutover.base)/nothing-here: 404"), "\(result.output)")
    }

    @Test func nothingListeningIsUnhealthy() throws {
        let port = try freePort()
        let result = try runCommand(cutoverBinary, ["healthcheck", "--url", "http://127.0.0.1:\(port)/healthz", "--timeout", "2"])
        #expect(result.status == 1)
        #expect(result.output.hasPrefix("http://127.0.0.1:\(port)/healthz: "), "\(result.output)")
        #expect(!result.output.contains(": 200"))
    }

    @Test func aURLThatIsNotHTTPIsAUsageError() throws {
        let result = try runCommand(cutoverBinary, ["healthcheck", "--url", "ftp://127.0.0.1/healthz"])
        #expect(result.status == 64)
        #expect(result.error.contains("--url: expected an http:// or https:// URL"), "\(result.error)")
    }
}
