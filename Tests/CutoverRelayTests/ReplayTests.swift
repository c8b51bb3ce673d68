@testable import CutoverConfiguration
@testable import CutoverDelivery
@testable import CutoverIngress
@testable import CutoverOperations
@testable import CutoverRelay
import CutoverLocking
import CutoverWebhooks
import Foundation
import HTTPTypes
import Logging
import Testing

/// A clock that only moves when a replay sleeps: pacing is checked in virtual time.
final class FakeReplayClock: ReplayClock {
    private let time: Locked<Double>

    init(start: Double) { time = Locked(start) }

    func now() -> Double { time.withLock { $0 } }

    func sleep(until deadline: Double) async {
        time.withLock { $0 = max($0, deadline) }
    }
}

/// Answers every request at once and notes when (in the fake clock's time) it was sent.
final class RecordingTransport: ReplayTransport {
    let clock: FakeReplayClock
    let response: ReplayResponse
    private let sent = Locked<[(at: Double, request: ReplayRequest)]>([])

    init(clock: FakeReplayClock, response: ReplayResponse = .status(200, excerpt: "")) {
        self.clock = clock
        self.response = response
    }

    var sends: [(at: Double, request: ReplayRequest)] { sent.withLock { $0 } }

    func send(_ request: ReplayRequest) async -> ReplayResponse {
        // When the runner released it: the child task running it may start a little later.
        let at = request.releasedAt ?? clock.now()
        sent.withLock { $0.append((at, request)) }
        return response
    }
}

/// The most sends in any window `[t, t + length)` that starts at a send.
func busiestWindow(_ times: [Double], length: Double) -> Int {
    let sorted = times.sorted()
    return sorted.indices.map { start in sorted[start...].prefix { $0 < sorted[start] + length }.count }.max() ?? 0
}

/// Sends per whole-second window `[k, k + 1)`.
func perSecond(_ times: [Double]) -> [Int: Int] {
    Dictionary(grouping: times) { Int($0.rounded(.down)) }.mapValues(\.count)
}

struct ReplayPacerTests {
    @Test func eagerSenderGetsExactlyTheRatePerWindow() {
        var pacer = ReplayPacer(rate: 10)
        var now = 1_000_000.0
        var times: [Double] = []
        for _ in 0..<100 {
            // The sender wants to go at once every time; it waits for the slot it is given.
            now = pacer.reserve(now: now)
            times.append(now)
        }
        #expect(perSecond(times) == Dictionary(uniqueKeysWithValues: (1_000_000..<1_000_010).map { ($0, 10) }))
        #expect(busiestWindow(times, length: 1) == 10)
        #expect(abs(times.last! - times.first! - 9.9) < 1e-6)
    }

    @Test func anIdleGapDoesNotBuildUpABurst() {
        var pacer = ReplayPacer(rate: 4)
        var times: [Double] = []
        var now = 0.0
        for _ in 0..<4 {
            now = pacer.reserve(now: now)
            times.append(now)
        }
        // The source stalls for 10 s, then everything arrives at once.
        now += 10
        for _ in 0..<12 {
            now = pacer.reserve(now: now)
            times.append(now)
        }
        #expect(busiestWindow(times, length: 1) == 4)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 >= 0.25 - 1e-9 })
        #expect(times[4] == 10.75, "the first send after the gap goes at once")
    }

    @Test func aSlowSenderIsNeverHeldBack() {
        var pacer = ReplayPacer(rate: 2)
        #expect(pacer.reserve(now: 5) == 5)
        #expect(pacer.reserve(now: 6) == 6)
        #expect(pacer.reserve(now: 6.1) == 6.5)
        #expect(pacer.reserve(now: 6.2) == 7)
    }

    @Test func withoutARateEverySendGoesNow() {
        var pacer = ReplayPacer(rate: nil)
        #expect((0..<5).map { _ in pacer.reserve(now: 42) } == [42, 42, 42, 42, 42])
    }
}

/// A source over records in memory.
final class ArraySource: ReplaySource {
    private var records: [ReplayRecord]
    let estimatedCount: Int?

    init(_ records: [ReplayRecord]) {
        self.records = records
        estimatedCount = records.count
    }

    func next() throws -> ReplayRecord? { records.isEmpty ? nil : records.removeFirst() }
}

func onpremBody(_ id: String, from contact: String = "15550001111", type: String = "text") -> [UInt8] {
    Array(
        #"{"contacts":[{"profile":{"name":"A"},"wa_id":"\#(contact)"}],"messages":[{"from":"\#(contact)","id":"\#(id)","timestamp":"1700000000","type":"\#(type)","text":{"body":"hi"}}]}"#
            .utf8)
}

func onpremRecord(_ id: String, at time: Double? = nil, contact: String = "15550001111") -> ReplayRecord {
    ReplayRecord(
        label: id,
        request: CapturedRequest(receivedAt: time, route: "onprem/default", headers: [], body: onpremBody(id, from: contact))
    )
}

struct ReplayRunnerTests {
    @Test func sendsArePacedToTheRateInEveryWindow() async throws {
        let clock = FakeReplayClock(start: 2_000_000)
        let transport = RecordingTransport(clock: clock)
        let records = (0..<40).map { onpremRecord("wamid.\($0)") }
        let runner = ReplayRunner(plan: ReplayPlan(format: .canonical), rate: 5, concurrency: 3, clock: clock)
        var updates = 0
        let summary = try await runner.run(source: ArraySource(records), transport: transport) { _ in updates += 1 }

        let times = transport.sends.map(\.at)
        #expect(times.count == 40)
        #expect(busiestWindow(times, length: 1) == 5)
        #expect(perSecond(times).values.allSatisfy { $0 == 5 })
        #expect(perSecond(times).count == 8)
        #expect(summary.progress.sent == 40 && summary.progress.succeeded == 40 && summary.progress.failed == 0)
        #expect(abs(summary.progress.elapsed - 7.8) < 1e-6, "virtual time: 40 sends 0.2 s apart")
        #expect(updates >= 40)
        // Released in source order; the child tasks that carry them out may start in any order.
        let ids = transport.sends.sorted { $0.at < $1.at }.map { $0.request.eventIDs }
        #expect(ids == (0..<40).map { ["msg:wamid.\($0)"] }, "released in source order")
    }

    @Test func failuresAreCountedAndListed() async throws {
        let clock = FakeReplayClock(start: 0)
        let transport = RecordingTransport(clock: clock, response: .status(500, excerpt: "boom"))
        var bad = onpremRecord("x")
        bad.problem = "not JSON"
        let runner = ReplayRunner(plan: ReplayPlan(format: .onprem), clock: clock)
        let summary = try await runner.run(source: ArraySource([onpremRecord("wamid.1"), bad]), transport: transport)
        #expect(summary.progress.sent == 1)
        #expect(summary.progress.succeeded == 0)
        #expect(summary.progress.failed == 2)
        #expect(summary.anyFailed)
        #expect(summary.failures.contains("x: not JSON"))
        #expect(summary.failures.contains { $0.contains("HTTP 500: boom") })
    }

    @Test func dryRunRendersWithoutATransport() throws {
        let runner = ReplayRunner(plan: ReplayPlan(format: .cloud))
        var rendered: [ReplayRequest] = []
        let summary = try runner.dryRun(source: ArraySource([onpremRecord("wamid.1"), onpremRecord("wamid.2")])) { rendered.append($0) }
        #expect(rendered.count == 2 && summary.progress.sent == 2)
        #expect(rendered.allSatisfy { String(decoding: $0.body, as: UTF8.self).contains("whatsapp_business_account") })
    }

    @Test func progressTextShowsRateAndETA() {
        var progress = ReplayProgress(total: 100)
        progress.read = 25
        progress.sent = 25
        progress.succeeded = 24
        progress.failed = 1
        progress.elapsed = 5
        #expect(ReplayDisplay.bar(progress, width: 8) == "[##......]  25%  25/100  sent 25  2xx 24  failed 1  5.0/s  ETA 0:15")
        #expect(ReplayDisplay.line(progress) == "replay: 25/100 read, 25 sent, 24 2xx, 1 failed, 5.0/s, ETA 15s")
        progress.elapsed = 0.01
        #expect(ReplayDisplay.line(progress) == "replay: 25/100 read, 25 sent, 24 2xx, 1 failed", "no rate from a moment's history")
    }
}

struct ReplayPlanTests {
    @Test func filtersByTimeTypeContactAndPhoneNumber() throws {
        var plan = ReplayPlan(format: .canonical)
        plan.routeIdentities["default"] = BusinessIdentity(phoneNumberID: "111", displayPhoneNumber: "+1 555 0100")
        plan.filter = ReplayFilter(since: 100, until: 200)
        #expect(plan.prepare(onpremRecord("wamid.1", at: 150), now: 0).requests.count == 1)
        #expect(plan.prepare(onpremRecord("wamid.1", at: 200), now: 0).requests.isEmpty, "until is exclusive")
        #expect(plan.prepare(onpremRecord("wamid.1", at: nil), now: 0).requests.isEmpty, "no time, no match")

        plan.filter = ReplayFilter(contacts: ["15550002222"])
        #expect(plan.prepare(onpremRecord("wamid.1"), now: 0).requests.isEmpty)
        #expect(plan.prepare(onpremRecord("wamid.1", contact: "15550002222"), now: 0).requests.count == 1)

        plan.filter = ReplayFilter(phoneNumbers: ["15550100"])
        #expect(plan.prepare(onpremRecord("wamid.1"), now: 0).requests.count == 1, "display number, digits compared")
        plan.filter = ReplayFilter(phoneNumbers: ["222"])
        #expect(plan.prepare(onpremRecord("wamid.1"), now: 0).requests.isEmpty)

        plan.filter = ReplayFilter(eventTypes: ["com.whatsapp.message.*"])
        #expect(plan.prepare(onpremRecord("wamid.1"), now: 0).requests.count == 1)
        plan.filter = ReplayFilter(eventTypes: ["com.whatsapp.message.status"])
        #expect(plan.prepare(onpremRecord("wamid.1"), now: 0).matched == false)
    }

    @Test func headersMarkTheReplayAndSignaturesVerify() throws {
        var plan = ReplayPlan(format: .cloud)
        plan.appSecret = "s3cret"
        plan.business = BusinessIdentity(phoneNumberID: "999")
        plan.headers = [("X-Env", "staging")]
        let request = try #require(plan.prepare(onpremRecord("wamid.1"), now: 0).requests.first)
        let headers = Dictionary(request.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(headers["x-cutover-replay"] == "1")
        #expect(headers["x-cutover-event-id"] == "msg:wamid.1")
        #expect(headers["x-env"] == "staging")
        let signature = try #require(headers["x-hub-signature-256"])
        #expect(WebhookSignatureVerifier(secrets: ["s3cret"]).verify(header: signature, body: request.body))
        #expect(String(decoding: request.body, as: UTF8.self).contains(#""phone_number_id":"999""#))

        var canonical = ReplayPlan(format: .canonical)
        let key: [UInt8] = Array("0123456789abcdef".utf8)
        canonical.signingKey = StandardWebhooksKey(secret: "whsec_" + Data(key).base64EncodedString())
        #expect(canonical.signingKey?.bytes == key)
        let signed = try #require(canonical.prepare(onpremRecord("wamid.2"), now: 1_700_000_000).requests.first)
        let fields = Dictionary(signed.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(fields["webhook-id"] == "msg:wamid.2")
        #expect(fields["webhook-timestamp"] == "1700000000")
        let expected = try StandardWebhooksSignature.sign(id: "msg:wamid.2", timestamp: "1700000000", body: signed.body, key: key)
        #expect(fields["webhook-signature"] == expected)
    }

    @Test func rawSendsTheExactBytesOnceWithTheOriginalSignature() throws {
        let body = Array("{ \"object\": \"whatsapp_business_account\", \"entry\": [] }".utf8)
        let record = ReplayRecord(
            label: "a",
            request: CapturedRequest(receivedAt: nil, route: "cloud", headers: [("X-Hub-Signature-256", "sha256=abc")], body: body)
        )
        let request = try #require(ReplayPlan(format: .raw).prepare(record, now: 0).requests.first)
        #expect(request.body == body)
        #expect(request.headers.contains { $0.name == "X-Hub-Signature-256" && $0.value == "sha256=abc" })

        // Undecodable bytes still go raw (a quarantined body), but not when events are filtered.
        let junk = ReplayRecord(label: "j", request: CapturedRequest(receivedAt: nil, route: "cloud", headers: [], body: Array("not json".utf8)))
        #expect(ReplayPlan(format: .raw).prepare(junk, now: 0).requests.count == 1)
        let rendered = ReplayPlan(format: .onprem).prepare(junk, now: 0)
        #expect(rendered.requests.isEmpty && rendered.failures.count == 1)
    }

    @Test func timesOnTheCommandLine() {
        #expect(ReplayTime.parse("2h", now: 10_000) == 2_800)
        let relative = ReplayTime.parse("1d12h", now: 200_000)
        #expect(relative == 70_400.0, "\(String(describing: relative))")
        #expect(ReplayTime.parse("2025-06-01T12:00:00Z", now: 0) == 1_748_779_200)
        #expect(ReplayTime.parse("2025-06-01T14:00:00.250+02:00", now: 0) == 1_748_779_200.25)
        #expect(ReplayTime.parse("2", now: 0) == nil)
        #expect(ReplayTime.parse("yesterday", now: 0) == nil)
    }
}

struct CaptureTests {
    @Test func aCaptureLineKeepsTheExactBytesAndDropsCredentials() throws {
        let body = Array("{\n  \"messages\": [ {\"text\": {\"body\": \"héllo \\u00e9 \\\"q\\\"\"}} ]\n}".utf8)
        let captured = CapturedRequest(
            receivedAt: 1_748_779_200.123, route: "onprem/main",
            headers: [("Content-Type", "application/json"), ("Authorization", "Bearer t0ken"), ("X-Many", "a"), ("x-many", "b")],
            body: body
        )
        let line = captured.jsonLine()
        #expect(!line.contains(UInt8(ascii: "\n")))
        let text = String(decoding: line, as: UTF8.self)
        #expect(!text.contains("t0ken") && !text.lowercased().contains("authorization"))
        #expect(text.hasPrefix(#"{"received_at":"2025-06-01T12:00:00.123Z","route":"onprem/main","headers":{"content-type":"application/json","x-many":"a, b"}"#))
        let parsed = try CapturedRequest.parse(line: line)
        #expect(parsed.body == body)
        #expect(parsed.route == "onprem/main")
        #expect(abs(parsed.receivedAt! - 1_748_779_200.123) < 0.0005)
        #expect(parsed.header("X-Many") == "a, b")

        let binary = CapturedRequest(receivedAt: nil, route: nil, headers: [], body: [0xFF, 0x00])
        #expect(try CapturedRequest.parse(line: binary.jsonLine()).body == [0xFF, 0x00])
        let bare = Array(#"{"messages":[]}"#.utf8)
        #expect(try CapturedRequest.parse(line: bare).body == bare, "a bare body is its own record")
        let objectBody = try CapturedRequest.parse(line: Array(#"{"received_at":1700000000,"body":{"messages":[]}}"#.utf8))
        #expect(objectBody.body == bare && objectBody.receivedAt == 1_700_000_000)
    }

    @Test func theWriterRotatesBySizeAndKeepsAFewFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capture-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/capture.jsonl"
        let metrics = RelayMetrics()
        let writer = CaptureWriter(settings: CaptureSettings(path: path, maxBytes: 1000, keep: 2), metrics: metrics, logger: Logger(label: "test"))
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.authorization] = "Bearer secret"
        for index in 0..<30 {
            writer.record(receivedAt: Double(index), route: "onprem/default", headers: fields, body: onpremBody("wamid.\(index)"))
        }
        await writer.close()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(files == ["capture.jsonl", "capture.jsonl.1", "capture.jsonl.2"])
        var lines: [CapturedRequest] = []
        for name in ["capture.jsonl.2", "capture.jsonl.1", "capture.jsonl"] {
            let data = try #require(FileManager.default.contents(atPath: directory + "/" + name))
            #expect(data.count <= 1000)
            #expect(!String(decoding: data, as: UTF8.self).contains("secret"))
            lines += try data.split(separator: UInt8(ascii: "\n")).map { try CapturedRequest.parse(line: Array($0)) }
        }
        // The newest lines survive, in order; older files were rotated away.
        let times = lines.compactMap(\.receivedAt)
        #expect(times == Array(times.sorted()) && times.last == 29)
        #expect(metricValue(metrics, "cutover_capture_lines_total") == 30)
        #expect(metricValue(metrics, "cutover_capture_rotations_total") > 2)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func aWriteErrorIsCountedAndNeverThrown() async throws {
        // A path under a regular file can never be created.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("capture-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let metrics = RelayMetrics()
        let writer = CaptureWriter(settings: CaptureSettings(path: file + "/sub/capture.jsonl"), metrics: metrics, logger: Logger(label: "test"))
        writer.record(receivedAt: 0, route: "cloud", headers: [:], body: Array("{}".utf8))
        writer.record(receivedAt: 1, route: "cloud", headers: [:], body: Array("{}".utf8))
        await writer.flush()
        #expect(metricValue(metrics, "cutover_capture_errors_total") == 2)
        #expect(metricValue(metrics, "cutover_capture_lines_total") == 0)
    }

    @Test func aBacklogPastTheBoundDropsLinesInsteadOfGrowing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capture-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let metrics = RelayMetrics()
        let writer = CaptureWriter(
            settings: CaptureSettings(path: directory + "/c.jsonl"), metrics: metrics, logger: Logger(label: "test"), maxPendingBytes: 0
        )
        writer.record(receivedAt: 0, route: "cloud", headers: [:], body: Array("{}".utf8))
        await writer.close()
        #expect(metricValue(metrics, "cutover_capture_dropped_total{reason=\"backlog\"}") == 1)
    }

    @Test func captureConfigIsReadAndChecked() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capture-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/c.yml"
        try "capture:\n  path: /tmp/x.jsonl\n  max_bytes: 2048\n  keep: 1\n  routes: [cloud]\n".write(toFile: path, atomically: true, encoding: .utf8)
        let settings = try RelaySettings(config: CutoverConfig.load(path: path, environment: [:]), environment: [:])
        #expect(settings.capture == CaptureSettings(path: "/tmp/x.jsonl", maxBytes: 2048, keep: 1, routes: ["cloud"]))
        try "capture:\n  path: /tmp/x.jsonl\n  rotate: 3\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try CutoverConfig.load(path: path, environment: [:]) }
        try "capture:\n  path: /tmp/x.jsonl\n  max_bytes: 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try RelaySettings(config: CutoverConfig.load(path: path, environment: [:]), environment: [:]) }
    }
}

/// A sample's value in the Prometheus exposition (0 when the series was never touched).
func metricValue(_ metrics: RelayMetrics, _ series: String) -> Double {
    let text = String(decoding: metrics.exposition(), as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1)) ?? -1
    }
    return 0
}
