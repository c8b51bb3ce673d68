import CutoverTestSupport
import Foundation
import Testing

/// Ordering, shadows and reloads, with the real binary and real downstreams.
@Suite(.serialized)
struct DeliveryBehaviourTests {
    /// On-Prem text bodies: `count` messages spread over `contacts` contacts, in order.
    static func bodies(count: Int, contacts: Int, tag: String = "m") -> [(contact: String, id: String, body: String)] {
        (0..<count).map { index in
            let contact = "1650555\(String(format: "%04d", index % contacts))"
            let id = "ABGG\(tag)\(String(format: "%06d", index))"
            let body = """
                {"contacts":[{"profile":{"name":"C"},"wa_id":"\(contact)"}],"messages":[{"from":"\(contact)","id":"\(id)",\
                "timestamp":"\(1_700_000_000 + index)","text":{"body":"#\(index)"},"type":"text"}]}
                """
            return (contact, id, body)
        }
    }

    private func writeConfig(_ text: String, in directory: TemporaryDirectory) throws -> String {
        let path = directory.url.appendingPathComponent("cutover.yml")
        try text.write(to: URL(fileURLWithPath: path.path), atomically: true, encoding: .utf8)
        return path.path
    }

    @Test func eachContactsEventsArriveInOrderWhenEveryThirdFirstAttemptFails() throws {
        let downstream = try Downstream(arguments: ["--fail-every", "3"])
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let config = try writeConfig(
            """
            delivery:
              retry_initial_seconds: 0.05
              retry_max_seconds: 0.2
              breaker_failure_threshold: 1000
            destinations:
              - name: endpoint
                url: \(downstream.url)
                format: onprem
            """, in: spool
        )
        let cutover = try CutoverServer(spool: spool.path, arguments: ["--config", config])
        defer { cutover.kill() }
        let sent = Self.bodies(count: 60, contacts: 4)
        #expect(try postBodies(sent.map(\.body), url: cutover.base + "/onprem/default") == sent.count)

        // 60 events, every third failing once: 80 requests in all.
        let received = try #require(downstream.waitForRequests(80, timeout: 60))
        let delivered = received.filter { $0.status == 200 }
        #expect(delivered.count == 60)
        #expect(received.filter { $0.status == 500 }.count == 20)
        for contact in Set(sent.map(\.contact)) {
            let expected = sent.filter { $0.contact == contact }.map(\.id)
            let arrived = delivered.compactMap { request -> String? in
                guard let message = (request.json?["messages"] as? [[String: Any]])?.first,
                    message["from"] as? String == contact
                else { return nil }
                return message["id"] as? String
            }
            #expect(arrived == expected, "contact \(contact) got its events in arrival order")
        }
    }

    @Test func aShadowThatIsDownNeverDelaysThePrimary() throws {
        let primary = try Downstream()
        defer { primary.stop() }
        // The shadow accepts connections and never answers: the worst kind of down.
        let blackHole = try BlackHole()
        let spool = try TemporaryDirectory()
        let config = try writeConfig(
            """
            delivery:
              timeout_seconds: 60
            destinations:
              - name: primary
                url: \(primary.url)
                format: canonical
              - name: shadow
                url: http://127.0.0.1:\(blackHole.port)/hook
                format: cloud
                role: shadow
            """, in: spool
        )
        let cutover = try CutoverServer(spool: spool.path, arguments: ["--config", config])
        defer { cutover.kill() }
        let sent = Self.bodies(count: 40, contacts: 40, tag: "s")
        #expect(try postBodies(sent.map(\.body), url: cutover.base + "/onprem/default") == sent.count)
        // All 40 reach the primary while every shadow delivery hangs for a minute.
        let received = try #require(primary.waitForRequests(40, timeout: 20))
        #expect(Set(received.compactMap(\.eventID)).count == 40)
        #expect(blackHole.acceptedConnections > 0, "the shadow was tried")
    }

    @Test func sighupSwitchesToTheNewDestinationWithoutDroppingConnections() throws {
        let first = try Downstream()
        defer { first.stop() }
        let second = try Downstream()
        defer { second.stop() }
        let spool = try TemporaryDirectory()
        let destination = { (url: String) in
            "destinations:\n  - name: endpoint\n    url: \(url)\n    format: canonical\n"
        }
        let config = try writeConfig(destination(first.url), in: spool)
        let cutover = try CutoverServer(spool: spool.path, arguments: ["--config", config])
        defer { cutover.kill() }
        let bodies = Self.bodies(count: 2, contacts: 2, tag: "h").map(\.body)
        #expect(try postBodies([bodies[0]], url: cutover.base + "/onprem/default") == 1)
        #expect(first.waitForRequests(1) != nil)

        _ = try writeConfig(destination(second.url), in: spool)
        cutover.process.signal(SIGHUP)
        #expect(cutover.process.stderr.wait { $0.contains { $0.contains("configuration reloaded") } } != nil)
        #expect(try postBodies([bodies[1]], url: cutover.base + "/onprem/default") == 1)
        #expect(second.waitForRequests(1) != nil)
        #expect(first.requests.count == 1)
    }

    @Test func sigtermFinishesInFlightWorkAndExitsCleanly() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: ["--forward", downstream.url])
        #expect(try postBodies(Self.bodies(count: 3, contacts: 1, tag: "t").map(\.body), url: cutover.base + "/onprem/default") == 3)
        #expect(downstream.waitForRequests(3) != nil)
        #expect(cutover.process.terminate() == .exited(0))
        #expect(cutover.process.stderr.lines.contains { $0.contains("stopped") }, "the spool was closed after the drain")
        // A restart on the same spool finds nothing left to send: every delivery was recorded.
        let restarted = try CutoverServer(spool: spool.path, arguments: ["--forward", downstream.url])
        defer { restarted.kill() }
        #expect(try postBodies(Self.bodies(count: 1, contacts: 1, tag: "u").map(\.body), url: restarted.base + "/onprem/default") == 1)
        let all = try #require(downstream.waitForRequests(4))
        #expect(all.count == 4, "no delivery was repeated after a clean shutdown")
    }

    @Test func aDeliveryInFlightAtSigtermIsRecordedBeforeTheSpoolCloses() throws {
        let downstream = try Downstream(arguments: ["--hold"])
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: ["--forward", downstream.url])
        #expect(try postBodies(Self.bodies(count: 1, contacts: 1, tag: "f").map(\.body), url: cutover.base + "/onprem/default") == 1)
        // The downstream has the delivery and holds its answer: it is in flight.
        #expect(downstream.waitForRequests(1) != nil)
        cutover.process.signal(SIGTERM)
        #expect(cutover.process.stderr.wait { $0.contains { $0.contains("shutting down") } } != nil)
        #expect(cutover.process.termination == nil, "the in-flight delivery holds the shutdown")
        #expect(try curl(["-X", "POST", "http://127.0.0.1:\(downstream.port)/release"]).status == 204)
        #expect(cutover.process.waitForExit(timeout: 60) == .exited(0))
        let log = cutover.process.stderr.lines
        let shuttingDown = log.firstIndex { $0.contains("shutting down") }
        let stopped = log.firstIndex { $0.contains("stopped") }
        #expect(shuttingDown != nil && stopped != nil && shuttingDown! < stopped!)
        #expect(!log.contains { $0.contains("closed") && $0.contains("error") }, "nothing was recorded into a closed spool")

        // The outcome was recorded: a restart sends only the new event, not the held one again.
        let restarted = try CutoverServer(spool: spool.path, arguments: ["--forward", downstream.url])
        defer { restarted.kill() }
        #expect(try postBodies(Self.bodies(count: 1, contacts: 1, tag: "g").map(\.body), url: restarted.base + "/onprem/default") == 1)
        let all = try #require(downstream.waitForRequests(2))
        #expect(all.count == 2, "the delivery in flight at SIGTERM was not repeated")
    }
}

/// Accepts TCP connections and never answers: a destination that is down but not refusing.
final class BlackHole: @unchecked Sendable {
    // Invariant: `sockets` and `accepted` are only touched on the accept thread or under `lock`.
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var accepted = 0
    private var sockets: [Int32] = []

    init() throws {
        let (listening, port) = try listenOnLoopback()
        self.port = Int(port)
        listener = listening
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(listening, nil, nil)
                if client < 0 { return }
                lock.withLock {
                    accepted += 1
                    sockets.append(client)
                }
            }
        }
    }

    var acceptedConnections: Int { lock.withLock { accepted } }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for socket in sockets { close(socket) }
    }
}

/// Posts each body over one keep-alive connection with Python's http.client; returns the 200 count.
func postBodies(_ bodies: [String], url: String) throws -> Int {
    let script = """
        import http.client, json, sys, urllib.parse
        target = urllib.parse.urlparse(sys.argv[1])
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        ok = 0
        for body in json.load(sys.stdin):
            connection.request("POST", target.path, body=body.encode(), headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            ok += response.status == 200
        print(ok)
        """
    let input = try JSONSerialization.data(withJSONObject: bodies)
    let result = try runCommand("/usr/bin/env", ["python3", "-c", script, url], stdin: input)
    guard let accepted = Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw TestFailure("python client failed: \(result.error)")
    }
    return accepted
}
