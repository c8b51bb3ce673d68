import CutoverTestSupport
import Foundation
import Testing

/// deploy/nginx/nginx.conf run by the real nginx in front of two real Cutover instances: the
/// compose host names and port moved to loopback ports, its temporary paths to a test directory,
/// everything else as shipped. The instances have SQLite spools of their own here (what nginx
/// does does not depend on the spool behind it); each request is counted where it was committed.
struct DeployNginxTests {
    @Test func nginxSpreadsWebhooksOverBothInstancesAndSkipsOneThatIsDown() throws {
        let spools = [try TemporaryDirectory(), try TemporaryDirectory()]
        let a = try CutoverServer(spool: spools[0].path, arguments: [])
        defer { a.kill() }
        let b = try CutoverServer(spool: spools[1].path, arguments: [])
        defer { b.kill() }
        let nginx = try DeployedNginx(upstreams: ["cutover-a:8080": a.port, "cutover-b:8080": b.port])

        let bodies = DeliveryBehaviourTests.bodies(count: 40, contacts: 4, tag: "nginx").map(\.body)
        #expect(try postBodies(Array(bodies[..<20]), url: nginx.base + "/onprem/default") == 20)
        let first = try spools.map { try Self.committedRequests($0.path) }
        #expect(first.reduce(0, +) == 20 && first.allSatisfy { $0 > 0 }, "requests per instance: \(first)")

        // One instance gone: nginx sends its share to the other (`proxy_next_upstream error`).
        b.kill()
        #expect(try postBodies(Array(bodies[20...]), url: nginx.base + "/onprem/default") == 20)
        #expect(try Self.committedRequests(spools[0].path) == first[0] + 20)
    }

    @Test func aBodyAsLargeAsMetaSendsPassesAndMetricsStayPrivate() throws {
        let spool = try TemporaryDirectory()
        let a = try CutoverServer(spool: spool.path, arguments: [])
        defer { a.kill() }
        let nginx = try DeployedNginx(upstreams: ["cutover-a:8080": a.port, "cutover-b:8080": a.port])
        // Meta sends up to 3 MB; nginx's default limit (1 MiB) would answer 413 before Cutover saw it.
        let text = String(repeating: "x", count: 3_000_000)
        let body = DeliveryBehaviourTests.bodies(count: 1, contacts: 1, tag: "large")[0].body.replacingOccurrences(of: "#0", with: text)
        #expect(try postBodies([body], url: nginx.base + "/onprem/default") == 1)
        #expect(try Self.committedRequests(spool.path) == 1)
        #expect(try curl([nginx.base + "/metrics"]).status == 404)
        #expect(try curl([a.base + "/metrics"]).status == 200)
    }

    /// Requests the spool committed (`cutover spool stats`): each was committed before its 200.
    static func committedRequests(_ spool: String) throws -> Int {
        let result = try runCommand(cutoverBinary, ["spool", "stats", "--spool", spool, "--json"])
        guard result.status == 0, let stats = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
            let requests = stats["requests"] as? Int
        else { throw TestFailure("spool stats: \(result.output)\(result.error)") }
        return requests
    }
}

/// nginx with deploy/nginx/nginx.conf, listening on an ephemeral loopback port; stopped with the test.
final class DeployedNginx {
    let port: UInt16
    private let directory: TemporaryDirectory
    private let process: PeerProcess

    var base: String { "http://127.0.0.1:\(port)" }

    /// `upstreams`: each `server` of the shipped upstream block and the loopback port it stands for.
    init(upstreams: [String: Int]) throws {
        directory = try TemporaryDirectory(prefix: "cutover-deploy-nginx")
        port = try freePort()
        var config = try String(contentsOfFile: Deploy.path("nginx/nginx.conf"), encoding: .utf8)
        for (server, port) in upstreams {
            guard config.contains("server \(server) ") else { throw TestFailure("nginx.conf has no upstream server \(server)") }
            config = config.replacingOccurrences(of: "server \(server) ", with: "server 127.0.0.1:\(port) ")
        }
        for (shipped, local) in [
            ("listen 8080;", "listen 127.0.0.1:\(port);"), ("/tmp/", directory.path + "/"),
            // notice: nginx says when its workers start, after it has bound the listener.
            ("error_log /dev/stderr warn;", "error_log /dev/stderr notice;"),
        ] {
            guard config.contains(shipped) else { throw TestFailure("nginx.conf no longer has \(shipped)") }
            config = config.replacingOccurrences(of: shipped, with: local)
        }
        let file = directory.path("nginx.conf")
        try config.write(toFile: file, atomically: true, encoding: .utf8)
        process = try PeerProcess(
            "/usr/sbin/nginx", ["-p", directory.path, "-c", file, "-e", directory.path("error.log"), "-g", "daemon off;"])
        _ = try process.waitForLine(.stderr, timeout: 20) { $0.contains("start worker process") }
    }

    deinit { process.terminate(grace: 10) }
}
