@testable import CutoverConfiguration
import CutoverHTTPServer
@testable import CutoverIngress
@testable import CutoverOperations
@testable import CutoverSpool
import CutoverTestSupport
import CutoverWebhooks
import Dispatch
import Foundation
import HTTPTypes
import Logging
import CutoverLocking
import Synchronization
import Testing

/// A latch a test waits on with a deadline: synchronization, not a sleep.
final class Latch: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func open() { semaphore.signal() }
    func wait(seconds: Double = 10) -> Bool { semaphore.wait(timeout: .now() + seconds) == .success }
}

/// Responses a handler gave, in order, with a latch per arrival.
final class Responses: Sendable {
    private let received = Locked<[ServerResponse]>([])
    private let arrived = DispatchSemaphore(value: 0)

    var respond: @Sendable (ServerResponse) -> Void {
        { response in
            self.received.withLock { $0.append(response) }
            self.arrived.signal()
        }
    }

    var all: [ServerResponse] { received.withLock { $0 } }

    func next(seconds: Double = 10) -> Bool { arrived.wait(timeout: .now() + seconds) == .success }
}

@Suite struct DecodePoolTests {
    @Test func jobsRunOnTheWorkersNeverOnTheCaller() throws {
        let pool = DecodePool(workers: 2, maxPending: 8)
        let caller = pthread_self()
        let threads = Locked<[pthread_t]>([])
        let done = DispatchGroup()
        for _ in 0..<6 {
            done.enter()
            #expect(pool.submit {
                threads.withLock { $0.append(pthread_self()) }
                done.leave()
            })
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(threads.withLock { $0.count } == 6)
        #expect(threads.withLock { $0.allSatisfy { pthread_equal($0, caller) == 0 } })
    }

    @Test func busyWorkersQueueJobsInOrderUpToTheLimitThenRefuse() throws {
        let pool = DecodePool(workers: 1, maxPending: 2)
        let started = Latch()
        let gate = Latch()
        #expect(pool.submit {
            started.open()
            _ = gate.wait()
        })
        #expect(started.wait())
        let order = Locked<[Int]>([])
        let done = DispatchGroup()
        for n in 1...2 {
            done.enter()
            #expect(pool.submit {
                order.withLock { $0.append(n) }
                done.leave()
            })
        }
        #expect(pool.pending == 2)
        #expect(!pool.submit { Issue.record("a refused job ran") }, "a third waiting job is refused")
        gate.open()
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(order.withLock { $0 } == [1, 2], "first come, first served")
        #expect(pool.pending == 0)
        let again = Latch()
        #expect(pool.submit { again.open() }, "the worker is idle again")
        #expect(again.wait())
    }

    @Test func aLongBacklogDrainsCompletely() throws {
        let pool = DecodePool(workers: 3, maxPending: 10_000)
        let count = Atomic(0)
        let done = DispatchGroup()
        for _ in 0..<5_000 {
            done.enter()
            #expect(pool.submit {
                count.add(1, ordering: .relaxed)
                done.leave()
            })
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(count.load(ordering: .relaxed) == 5_000)
        #expect(pool.pending == 0)
    }

    @Test func zeroWorkersMeansOnePerCore() {
        #expect(DecodePool(workers: 0, maxPending: 1).workers == max(1, ProcessInfo.processInfo.activeProcessorCount))
    }
}

@Suite struct IngressDecodeTests {
    struct Harness {
        let directory: TemporaryDirectory
        let spool: Spool
        let metrics = RelayMetrics()
        let pool: DecodePool
        let handler: IngressHandler

        let settings: RelaySettings

        init(
            workers: Int = 1, maxPending: Int = 1, loopDedupMaxBytes: Int = CutoverConfig.Limits().loopDedupMaxBytes,
            appSecret: String? = nil, signedBodiesKept: Int = CutoverConfig.Limits().signedBodiesKept,
            commitTimeout: Duration? = nil
        ) throws {
            directory = try TemporaryDirectory()
            var config = CutoverConfig()
            config.spool = .directory(directory.path)
            config.limits.loopDedupMaxBytes = loopDedupMaxBytes
            config.limits.signedBodiesKept = signedBodiesKept
            config.cloud.appSecrets = appSecret.map { [Secret(.literal($0))] } ?? []
            settings = try RelaySettings(config: config, environment: [:])
            spool = try Spool.open(directory: directory.path, options: SpoolOptions(commitTimeout: commitTimeout))
            pool = DecodePool(workers: workers, maxPending: maxPending)
            handler = IngressHandler(
                settings: settings, spool: spool, metrics: metrics, readiness: Readiness(spool: spool),
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, decodePool: pool, onAccepted: {})
        }

        func post(_ path: String, _ body: [UInt8], _ responses: Responses) {
            let head = HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: path)
            handler.handle(ServerRequest(head: head, body: body, remoteAddress: "127.0.0.1"), respond: responses.respond)
        }

        func post(_ path: String, _ body: [UInt8], signature: String, _ responses: Responses) {
            var head = HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: path)
            head.headerFields[.xHubSignature256] = signature
            handler.handle(ServerRequest(head: head, body: body, remoteAddress: "127.0.0.1"), respond: responses.respond)
        }

        func get(_ path: String, _ responses: Responses) {
            let head = HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: path)
            handler.handle(ServerRequest(head: head, body: [], remoteAddress: "127.0.0.1"), respond: responses.respond)
        }

        var exposition: String { String(decoding: metrics.exposition(), as: UTF8.self) }

        /// Keeps the pool's only worker busy until the returned latch opens.
        func occupyTheWorker() throws -> Latch {
            let started = Latch()
            let gate = Latch()
            #expect(pool.submit {
                started.open()
                _ = gate.wait()
            })
            try #require(started.wait())
            return gate
        }
    }

    static let onpremBody = Array(#"{"messages":[{"from":"1650","id":"m1","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}"#.utf8)

    /// With the only decode worker busy, a webhook waits in the backlog while /healthz on the same
    /// thread is answered at once; the next webhook finds the backlog full and gets 503.
    @Test func aBusyDecoderNeitherStallsTheLoopNorQueuesWithoutBound() throws {
        let harness = try Harness(workers: 1, maxPending: 1)
        let gate = try harness.occupyTheWorker()

        let webhook = Responses()
        harness.post("/onprem/default", Self.onpremBody, webhook)
        #expect(harness.pool.pending == 1, "the body waits for a decode worker instead of being decoded here")
        #expect(webhook.all.isEmpty)

        let health = Responses()
        harness.get("/healthz", health)
        #expect(health.all.map(\.status) == [.ok], "answered synchronously, behind no decode")

        let refused = Responses()
        harness.post("/onprem/default", Self.onpremBody, refused)
        #expect(refused.all.map(\.status) == [.serviceUnavailable], "the full backlog answers on the spot")
        #expect(refused.all.first?.headerFields[.retryAfter] == "1")
        #expect(harness.exposition.contains(#"cutover_decode_rejected_total{route="/onprem/default"} 1"#))
        #expect(harness.exposition.contains(#"cutover_requests_total{route="/onprem/default",status="503"} 1"#))

        gate.open()
        #expect(webhook.next())
        #expect(webhook.all.map(\.status) == [.ok])
        #expect(try harness.spool.requestSummaries().count == 1, "the refused body was not stored")
        #expect(harness.exposition.contains("cutover_decode_seconds_count 1"))
    }

    /// The commit timeout runs from when a webhook is handed to the decode pool: one whose dedup
    /// lookup waits for the database (the reader held, as a read on a frozen disk holds it) gets
    /// its 503 in time, and is not written once the lookup returns.
    @Test func aDedupLookupStuckOnTheDiskIsAnsweredByTheCommitTimeout() throws {
        let harness = try Harness(workers: 1, maxPending: 4, commitTimeout: .milliseconds(200))
        let entered = Latch()
        let release = Latch()
        let holderDone = Latch()
        Thread.detachNewThread {
            _ = try? harness.spool.withReader("hold the reader") { _ in
                entered.open()
                _ = release.wait(seconds: 30)
            }
            holderDone.open()
        }
        try #require(entered.wait())
        let stuck = Responses()
        harness.post("/onprem/default", Self.onpremBody, stuck)
        #expect(stuck.next(), "answered while the lookup still waits")
        #expect(stuck.all.map(\.status) == [.serviceUnavailable])
        #expect(stuck.all.first.map { String(decoding: $0.body, as: UTF8.self) } == "spool commit timed out\n")
        #expect(harness.spool.counters.timedOutRequests == 1)
        release.open()
        try #require(holderDone.wait())

        // Behind the stuck one on the only worker: once this is answered, that one is done too.
        let next = Responses()
        harness.post("/onprem/default", Self.onpremBody(id: "m2"), next)
        #expect(next.next())
        #expect(next.all.map(\.status) == [.ok])
        #expect(try harness.spool.event(id: "m1") == nil, "the timed-out request was not written")
        #expect(try harness.spool.requestSummaries().count == 1)
        #expect(harness.exposition.contains(#"cutover_requests_total{route="/onprem/default",status="503"} 1"#))
    }

    /// A webhook still waiting for a decode worker when its commit timeout passes gets its 503 then,
    /// and is neither decoded nor written when a worker frees up.
    @Test func aWebhookWaitingForAWorkerPastTheCommitTimeoutIsAnsweredAndDropped() throws {
        let harness = try Harness(workers: 1, maxPending: 4, commitTimeout: .milliseconds(200))
        let gate = try harness.occupyTheWorker()
        let waiting = Responses()
        harness.post("/onprem/default", Self.onpremBody, waiting)
        #expect(waiting.next())
        #expect(waiting.all.map(\.status) == [.serviceUnavailable])
        #expect(harness.pool.pending == 1, "answered by the timeout while still in the backlog")
        gate.open()

        let next = Responses()
        harness.post("/onprem/default", Self.onpremBody(id: "m2"), next)
        #expect(next.next())
        #expect(next.all.map(\.status) == [.ok])
        #expect(try harness.spool.requestSummaries().count == 1)
        #expect(harness.exposition.contains("cutover_decode_seconds_count 1"), "the timed-out body was never decoded")
    }

    static func onpremBody(id: String) -> [UInt8] {
        Array(#"{"messages":[{"from":"1650","id":"\#(id)","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}"#.utf8)
    }

    /// Meta's retries are answered where they were read: a body whose ids are all in the dedup
    /// index gets its 200 on the calling thread (the loop) even with every decode worker busy.
    /// Over `limits.loop_dedup_max_bytes`, the same retry waits for a decode worker.
    @Test(arguments: [true, false]) func aRetryOfIndexedIdsIsAnsweredOnTheLoopWhenSmallEnough(small: Bool) throws {
        let harness = try Harness(workers: 1, maxPending: 4, loopDedupMaxBytes: small ? Self.onpremBody.count : Self.onpremBody.count - 1)
        let first = Responses()
        harness.post("/onprem/default", Self.onpremBody, first)
        #expect(first.next())
        #expect(first.all.map(\.status) == [.ok])

        let gate = try harness.occupyTheWorker()
        let retry = Responses()
        harness.post("/onprem/default", Self.onpremBody, retry)
        if small {
            #expect(retry.all.map(\.status) == [.ok], "answered on the caller, behind no decode")
            #expect(harness.pool.pending == 0)
        } else {
            #expect(retry.all.isEmpty)
            #expect(harness.pool.pending == 1, "a body over the limit waits for a decode worker")
        }
        gate.open()
        if !small { #expect(retry.next()) }
        #expect(retry.all.map(\.status) == [.ok])
        #expect(try harness.spool.requestSummaries().count == 1, "the retry was not stored")
        #expect(harness.exposition.contains(#"cutover_duplicate_requests_total{route="/onprem/default"} 1"#))
    }

    static func cloudBody(messageID: String) -> [UInt8] {
        Array(
            #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001","phone_number_id":"2"},"messages":[{"from":"1650","id":"\#(messageID)","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}}]}]}"#
                .utf8)
    }

    /// A signed `/cloud` body's ids are kept under its verified signature, so Meta's byte-for-byte
    /// retry is answered on the loop from memory; another body is another entry, a reload (other
    /// secrets) forgets them all, and `signed_bodies_kept: 0` keeps none (the retry is then
    /// answered on the loop after a parse, as before).
    @Test(arguments: [65_536, 0]) func aSignedRetryIsKnownByItsSignature(kept: Int) throws {
        let secret = "signed-retry-secret"
        let harness = try Harness(workers: 1, maxPending: 4, appSecret: secret, signedBodiesKept: kept)
        let body = Self.cloudBody(messageID: "wamid.signed-1")
        let signature = try WebhookSignature.sign(body: body, secret: secret)
        let first = Responses()
        harness.post("/cloud", body, signature: signature, first)
        #expect(first.next())
        #expect(first.all.map(\.status) == [.ok])
        #expect(harness.handler.signedBodiesRemembered == (kept > 0 ? 1 : 0))

        let gate = try harness.occupyTheWorker()
        let retry = Responses()
        harness.post("/cloud", body, signature: signature, retry)
        #expect(retry.all.map(\.status) == [.ok], "answered on the caller, behind no decode")
        #expect(harness.handler.signedBodiesRemembered == (kept > 0 ? 1 : 0), "the same body is one entry")

        let other = Self.cloudBody(messageID: "wamid.signed-2")
        let otherResponses = Responses()
        harness.post("/cloud", other, signature: try WebhookSignature.sign(body: other, secret: secret), otherResponses)
        #expect(otherResponses.all.isEmpty, "a new id waits for the decode worker")
        #expect(harness.handler.signedBodiesRemembered == (kept > 0 ? 2 : 0))
        gate.open()
        #expect(otherResponses.next())
        #expect(otherResponses.all.map(\.status) == [.ok])
        #expect(try harness.spool.requestSummaries().count == 2, "the retry was not stored")
        #expect(harness.exposition.contains(#"cutover_duplicate_requests_total{route="/cloud"} 1"#))

        harness.handler.reload(harness.settings)
        #expect(harness.handler.signedBodiesRemembered == 0)
    }

    /// A signature the verifier refuses never reaches the cache, even for a remembered body's bytes.
    @Test func aBadSignatureIsRefusedEvenForARememberedBody() throws {
        let secret = "signed-retry-secret"
        let harness = try Harness(workers: 1, maxPending: 4, appSecret: secret)
        let body = Self.cloudBody(messageID: "wamid.signed-3")
        let first = Responses()
        harness.post("/cloud", body, signature: try WebhookSignature.sign(body: body, secret: secret), first)
        #expect(first.next())
        let forged = Responses()
        harness.post("/cloud", body, signature: try WebhookSignature.sign(body: body, secret: "another-secret"), forged)
        #expect(forged.all.map(\.status) == [.unauthorized])
        #expect(harness.handler.signedBodiesRemembered == 1)
    }

    @Test func quarantinedBodiesAreCountedByReason() throws {
        let harness = try Harness(workers: 2, maxPending: 16)
        let bodies: [(String, String)] = [
            (#"{"messages":[{"from":"1","id":"a","id":"b","type":"text"}]}"#, "duplicate_key"),
            (#"{"messages":[{"from":"1","id":"a","timestamp":1e999999,"type":"text"}]}"#, "unreadable_number"),
            ("not json", "invalid_json"),
        ]
        for (body, _) in bodies {
            let responses = Responses()
            harness.post("/onprem/default", Array(body.utf8), responses)
            #expect(responses.next())
            #expect(responses.all.map(\.status) == [.ok], "quarantined bodies are acknowledged: \(body)")
        }
        let stored = try harness.spool.requestSummaries(status: .quarantined)
        #expect(stored.count == 3)
        #expect(stored.contains { $0.quarantineReason == #"duplicate key "id" at byte 34"# })
        #expect(stored.contains { $0.quarantineReason?.hasPrefix("number no consumer can read") == true })
        for (_, reason) in bodies {
            #expect(harness.exposition.contains(#"cutover_quarantined_total{route="/onprem/default",reason="\#(reason)"} 1"#))
        }
    }

    @Test func theEventLimitComesFromTheConfiguration() throws {
        let directory = try TemporaryDirectory()
        var config = CutoverConfig()
        config.spool = .directory(directory.path)
        config.limits.maxEventsPerRequest = 2
        let settings = try RelaySettings(config: config, environment: [:])
        let spool = try Spool.open(directory: directory.path)
        let metrics = RelayMetrics()
        let handler = IngressHandler(
            settings: settings, spool: spool, metrics: metrics, readiness: Readiness(spool: spool),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, onAccepted: {})
        let body = #"{"statuses":[{"id":"1","status":"sent"},{"id":"2","status":"sent"},{"id":"3","status":"sent"}]}"#
        let responses = Responses()
        let head = HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/onprem/default")
        handler.handle(ServerRequest(head: head, body: Array(body.utf8), remoteAddress: "127.0.0.1"), respond: responses.respond)
        #expect(responses.next())
        #expect(try spool.requestSummaries(status: .quarantined).first?.quarantineReason == "more than 2 events in one request")
        #expect(String(decoding: metrics.exposition(), as: UTF8.self).contains(#"reason="too_many_events"} 1"#))
    }
}

@Suite struct LogLineSeparatorTests {
    @Test func logLinesEscapeU2028AndU2029() throws {
        let line = JSONLogHandler.line(
            timestamp: Date(timeIntervalSince1970: 0), level: .info, label: "cutover", message: "a\u{2028}b",
            metadata: ["k": "c\u{2029}d \u{2013}"])
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""message":"a\u2028b""#))
        #expect(text.contains(#""k":"c\u2029d \#u{2013}""#), "other E2 sequences stay raw")
        #expect(!text.unicodeScalars.contains { $0 == "\u{2028}" || $0 == "\u{2029}" })
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(parsed["message"] as? String == "a\u{2028}b")
    }
}
