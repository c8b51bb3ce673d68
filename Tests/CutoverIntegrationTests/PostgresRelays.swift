import CutoverTestSupport
import Foundation

/// What the PostgreSQL integration tests share: a database of their own on a test server, a config
/// per instance, the signed load client, and reading what the downstream got.
struct PostgresRelays {
    static let appSecret = "cutover-postgres-test-app-secret"
    let postgres: PostgresServer
    let url: String
    let directory: TemporaryDirectory

    init() throws {
        postgres = try PostgresServer()
        url = try postgres.makeDatabase()
        directory = try TemporaryDirectory()
    }

    var database: String { String(url.split(separator: "/").last ?? "") }

    /// A config for one instance on the shared spool, delivering canonical events to `downstream`.
    /// Each instance claims at most 4 × 16 = 64 contact heads at once, fewer than the tests' contacts:
    /// two instances always share the work, so the one killed holds some.
    /// The lease. The kill test needs no takeover by expiry (the restarted instance takes back its own
    /// claims at start), so it only must outlast a late renewal: with 5 s, a debug build on a loaded
    /// 2-core machine (the suite's other tests beside it) once renewed too late, a live send's lease
    /// lapsed and the other instance sent 9 deliveries again, legitimately, which the test counted
    /// against the kill. Longer still under a sanitizer (TSan about 10x slower).
    static let leaseSeconds: Double = Sanitizer.current == nil ? 15 : 30

    func config(instance: String, downstream: Downstream, leaseSeconds: Double = PostgresRelays.leaseSeconds) throws -> String {
        let path = directory.path("\(instance).yml")
        try """
        spool:
          postgres:
            url: \(url)
            instance_id: \(instance)
            lease_seconds: \(leaseSeconds)
        cloud:
          app_secrets: [{env: TEST_APP_SECRET}]
        delivery:
          concurrency: 16
          retry_initial_seconds: 0.05
          retry_max_seconds: 0.3
          breaker_open_seconds: 0.2
          breaker_max_open_seconds: 0.5
        destinations:
          - name: app
            url: \(downstream.url)
            format: canonical
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func start(instance: String, downstream: Downstream, port: Int = 0) throws -> CutoverServer {
        try CutoverServer(
            spool: nil, arguments: ["--config", try config(instance: instance, downstream: downstream)],
            environment: ["TEST_APP_SECRET": Self.appSecret], port: port)
    }

    /// `scripts/test-signed-load-client.py` posting `messages` webhooks for `contacts` contacts over `targets`.
    static func loadClient(targets: [CutoverServer], messages: Int, contacts: Int, prefix: String, threads: Int = 20) throws -> PeerProcess {
        try PeerProcess(
            "/usr/bin/env",
            [
                "python3", Repo.path("scripts/test-signed-load-client.py"),
                "--targets", targets.map { "127.0.0.1:\($0.port)" }.joined(separator: ","), "--messages", String(messages),
                "--contacts", String(contacts), "--threads", String(threads), "--secret", appSecret, "--prefix", prefix,
            ])
    }

    /// The message ids the load client saw answered 200, once it printed `done`.
    static func acknowledged(by client: PeerProcess, timeout: TimeInterval) throws -> Set<String> {
        let lines = try client.stdout.wait(timeout: timeout) { $0.last == "done" || $0.last == "timeout" }
            .orThrow("the load client did not finish within \(timeout) s")
        guard lines.last == "done" else { throw TestFailure("the load client gave up: \(lines.suffix(3))") }
        return Set(lines.filter { $0.hasPrefix("ack ") }.map { String($0.dropFirst(4)) })
    }

    /// One delivery the downstream answered 200: its event id and the message it carries.
    struct Delivered {
        var eventID: String
        var messageID: String
        var contact: Int
        var sequence: Int
    }

    /// The downstream's 200s in arrival order, once every id in `expected` is among them.
    /// Waits on the count of lines (each a request), parsing only when enough arrived.
    static func deliveries(_ downstream: Downstream, covering expected: Set<String>, timeout: TimeInterval) throws -> [Delivered] {
        let deadline = Date().addingTimeInterval(timeout)
        var needed = expected.count
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, let lines = downstream.process.stdout.wait(timeout: remaining, until: { $0.count >= needed }) else {
                let got = Set(parse(Downstream.parse(downstream.process.stdout.lines)).map(\.messageID))
                throw TestFailure("not delivered within \(timeout) s: \(expected.subtracting(got).sorted().prefix(10)) ...")
            }
            let delivered = parse(Downstream.parse(lines))
            let missing = expected.subtracting(delivered.map(\.messageID))
            if missing.isEmpty { return delivered }
            needed = lines.count + missing.count
        }
    }

    private static func parse(_ requests: [ReceivedRequest]) -> [Delivered] {
        requests.filter { $0.status == 200 }.compactMap { request in
            guard let eventID = request.eventID,
                let message = (request.json?["data"] as? [String: Any])?["message"] as? [String: Any],
                let id = message["id"] as? String
            else { return nil }
            // wamid.<prefix>.<contact>.<sequence>
            let parts = id.split(separator: ".")
            guard parts.count == 4, let contact = Int(parts[2]), let sequence = Int(parts[3]) else { return nil }
            return Delivered(eventID: eventID, messageID: id, contact: contact, sequence: sequence)
        }
    }

    /// Each contact's sequence numbers in arrival order, a repeat right after itself folded in: what
    /// must read 1, 2, 3, ... for per-contact order to hold.
    static func orderByContact(_ delivered: [Delivered]) -> [Int: [Int]] {
        var order: [Int: [Int]] = [:]
        for delivery in delivered where order[delivery.contact]?.last != delivery.sequence {
            order[delivery.contact, default: []].append(delivery.sequence)
        }
        return order
    }
}

extension Optional {
    func orThrow(_ message: @autoclosure () -> String) throws -> Wrapped {
        guard let self else { throw TestFailure(message()) }
        return self
    }
}
