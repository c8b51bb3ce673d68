import CutoverLocking
@testable import CutoverConfiguration
@testable import CutoverDelivery
import CutoverHTTPClient
@testable import CutoverOperations
import CutoverSockets
import CutoverSpool
import CutoverTestSupport
import CutoverWebhooks
import Dispatch
import Foundation
import Logging
import Synchronization
import Testing

/// A real worker draining a backlog into the Python downstream (scripts/test-downstream.py): the
/// outcomes are recorded in batches, every contact's events arrive in order, and the client keeps
/// its connections alive instead of opening one per delivery.
@Suite(.serialized)
struct DeliveryBatchTests {
    private static let events = 1000
    /// Fewer than a 16-wide worker's window (64) can claim at once: one head per contact.
    private static let contacts = 50

    private struct Drained {
        var contacts: Int
        var received: [ReceivedRequest]
        var batches: [[DeliveryResult]]
        var spool: SpoolStats
        /// Uptime nanoseconds at which each turn started, up to the last outcome's record.
        var turnStarts: [UInt64]
    }

    private func drain(concurrency: Int, contacts: Int = Self.contacts, turnSpacing: Duration = .zero) throws -> Drained {
        let downstream = try Downstream()
        let directory = try TemporaryDirectory(prefix: "cutover-batches")
        defer { withExtendedLifetime((downstream, directory)) {} }
        let spool = try Spool.open(directory: directory.path)
        defer { spool.close() }
        _ = try spool.ingest((0..<Self.events).map { n in
            IncomingRequest(
                receivedAt: 1_000_000, route: "cloud", headers: [], body: Array("{}".utf8),
                events: [
                    IncomingEvent(
                        id: "e\(n)", type: "com.whatsapp.message.received", contactKey: "c\(n % contacts)",
                        payload: Array("{\"n\":\(n)}".utf8), destinations: ["d"])
                ])
        })

        var config = CutoverConfig()
        var target = CutoverConfig.Destination(
            name: "d", url: try #require(DestinationURL("http://127.0.0.1:\(downstream.port)/hook")), format: .raw)
        target.concurrency = concurrency
        config.destinations = [target]
        let destination = try #require(try RelaySettings(config: config, environment: [:]).destinations.first)
        let worker = DeliveryWorker(
            destination: destination, spool: spool, client: HTTPClient(loops: DispatchEventLoop.makeGroup(count: 1)),
            policy: RetryPolicy(initialDelay: 1, maxDelay: 60, horizon: 3600),
            breaker: CircuitBreaker(failureThreshold: 1000, openDuration: 1, maxOpenDuration: 1),
            metrics: RelayMetrics(), logger: Logger(label: "test"), turnSpacing: turnSpacing)
        let turnStarts = Locked<[UInt64]>([])
        worker.onTurnStarted = { startedAt in turnStarts.withLock { $0.append(startedAt) } }
        let batches = Locked<[[DeliveryResult]]>([])
        let allRecorded = DispatchSemaphore(value: 0)
        worker.onBatchRecorded = { batch in
            let total = batches.withLock { batches in
                batches.append(batch)
                return batches.reduce(0) { $0 + $1.count }
            }
            if total == Self.events { allRecorded.signal() }
        }
        worker.poke()
        try #require(allRecorded.wait(timeout: .now() + 120) == .success, "every outcome was recorded")
        // Stopping turns at once, whatever the spacing.
        let startsBeforeStop = turnStarts.withLock { $0 }
        let stopped = DispatchSemaphore(value: 0)
        worker.stop { stopped.signal() }
        try #require(stopped.wait(timeout: .now() + 30) == .success, "the worker stopped")
        let received = try #require(downstream.waitForRequests(Self.events))
        return Drained(contacts: contacts, received: received, batches: batches.withLock { $0 }, spool: try spool.stats(), turnStarts: startsBeforeStop)
    }

    @Test func aBacklogIsDeliveredInOrderPerContactOverKeptAliveConnectionsInBatches() throws {
        let concurrency = 16
        let drained = try drain(concurrency: concurrency)

        try expectDeliveredOnceInContactOrder(drained)
        // Connections opened for 1000 deliveries: at most one per concurrent request, all reused.
        let connections = Set(drained.received.map(\.peer))
        #expect(!connections.contains(""))
        #expect(connections.count <= concurrency, "\(connections.count) connections for \(Self.events) deliveries")

        // One turn per delivery would be 1000 batches; a turn takes what came back meanwhile.
        #expect(drained.batches.count < Self.events / 2, "\(drained.batches.count) turns")
    }

    @Test func turnsStartAtLeastTheSpacingApart() throws {
        let spacingNanoseconds: UInt64 = 20_000_000
        let drained = try drain(concurrency: 16, turnSpacing: .nanoseconds(Int64(spacingNanoseconds)))

        try expectDeliveredOnceInContactOrder(drained)
        let gaps = zip(drained.turnStarts.dropFirst(), drained.turnStarts).map { later, earlier in later - earlier }
        #expect(gaps.count >= 2, "\(drained.turnStarts.count) turns")
        let shortest = try #require(gaps.min())
        #expect(shortest >= spacingNanoseconds, "turns \(Double(shortest) / 1e6) ms apart at the closest")
    }

    @Test func aBacklogThatFillsTheWindowIsClaimedWithoutWaitingForTheSpacing() throws {
        // 4 wide: a window of 16, and 200 contacts' heads to fill it from. Spaced 1 s apart, the
        // 1000 deliveries would take over 60 turns, a minute.
        let spacingNanoseconds: UInt64 = 1_000_000_000
        let drained = try drain(concurrency: 4, contacts: 200, turnSpacing: .nanoseconds(Int64(spacingNanoseconds)))

        try expectDeliveredOnceInContactOrder(drained)
        let gaps = zip(drained.turnStarts.dropFirst(), drained.turnStarts).map { later, earlier in later - earlier }
        #expect(gaps.count >= Self.events / 16, "\(drained.turnStarts.count) turns")
        // Once the spool has fewer due than the window, the last turns are spaced again.
        let spaced = gaps.filter { $0 >= spacingNanoseconds }.count
        #expect(spaced <= 3, "\(spaced) of \(gaps.count) turns waited for the spacing")
    }

    private func expectDeliveredOnceInContactOrder(_ drained: Drained) throws {
        #expect(drained.spool.deliveries["d"]?.delivered == Self.events)
        #expect(drained.received.count == Self.events, "each delivered once")
        // Arrival order per contact: the raw body carries nothing, the event id's number does.
        var byContact: [Int: [Int]] = [:]
        for request in drained.received {
            let n = try #require(request.eventID.flatMap { Int($0.dropFirst()) })
            byContact[n % drained.contacts, default: []].append(n)
        }
        for (contact, numbers) in byContact { #expect(numbers == numbers.sorted(), "contact \(contact) in arrival order") }
    }
}
