import CutoverLocking
#if os(Linux)
@testable import CutoverSockets
import CutoverTestSupport
import Dispatch
import Foundation
import Synchronization
import Testing

import Glibc

/// A connected pair of Unix stream sockets: the loop's end non-blocking, the test's end blocking
/// (reads give up after ten seconds).
private struct SocketPair {
    let loopSide: Int32
    let testSide: Int32

    init() throws {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
            throw SystemError("socketpair", errno: errno)
        }
        _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
        // A test whose loop never answers fails on a read that gives up, instead of hanging.
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(pair[1], SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        loopSide = pair[0]
        testSide = pair[1]
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(write(testSide, bytes, bytes.count) == bytes.count)
    }

    func close() {
        _ = Glibc.close(loopSide)
        _ = Glibc.close(testSide)
    }
}

/// Reads at most `limit` bytes from a non-blocking descriptor: what a handler that stops early does.
private func readUpTo(_ limit: Int, from descriptor: Int32) -> Int {
    var buffer = [UInt8](repeating: 0, count: limit)
    return max(0, read(descriptor, &buffer, limit))
}

private func drainAll(_ descriptor: Int32) {
    while readUpTo(4096, from: descriptor) > 0 {}
}

/// What the handlers of a test saw, in order, from whichever thread they ran on.
private final class Log: Sendable {
    private let entries = Locked<[String]>([])
    let signal = DispatchSemaphore(value: 0)

    func append(_ entry: String) {
        entries.withLock { $0.append(entry) }
        signal.signal()
    }

    var all: [String] { entries.withLock { $0 } }
    func count(of entry: String) -> Int { all.filter { $0 == entry }.count }

    /// Waits for the next entry (the loop runs on its own thread); false after ten seconds.
    func next() -> Bool { signal.wait(timeout: .now() + 10) == .success }

    /// Waits until `entry` has been logged `count` times. Every entry signals, including a probe's
    /// that `settle` did not consume, so one `next()` may return for an earlier entry.
    func waitUntil(_ entry: String, count: Int) -> Bool {
        while self.count(of: entry) < count {
            guard next() else { return false }
        }
        return true
    }
}

/// A watch created on the loop, kept where the test's closures can reach it; touched only on the loop.
private final class WatchBox: @unchecked Sendable {
    // Invariant: `watch` is set and used only inside `loop.queue.sync` blocks and loop handlers.
    var watch: (any IOWatch)?
}

@Suite struct EpollEventLoopTests {
    let loop: EpollEventLoop

    init() throws {
        loop = try EpollEventLoop(label: "test.epoll")
    }

    /// A resumed watch on `descriptor` whose handler logs `name`, then runs `body`.
    private func watch(
        _ descriptor: Int32, _ interest: IOInterest = .readable, name: String, log: Log, body: @escaping @Sendable () -> Void = {}
    ) throws -> WatchBox {
        let box = WatchBox()
        try loop.queue.sync {
            box.watch = try loop.watch(descriptor, for: interest) {
                log.append(name)
                body()
            }
            box.watch?.resume()
        }
        return box
    }

    /// Waits until the loop has taken in every event the kernel had for it before this call: a
    /// second socket, resumed, gets a byte; its handler runs in the same drain as, or a later one
    /// than, every earlier event (the ready list is in arrival order).
    private func settle(_ log: Log) throws {
        let probe = try SocketPair()
        defer { probe.close() }
        let box = try watch(probe.loopSide, name: "probe", log: log) { drainAll(probe.loopSide) }
        let before = log.count(of: "probe")
        probe.send("p")
        while log.count(of: "probe") == before { #expect(log.next()) }
        let done = DispatchSemaphore(value: 0)
        loop.queue.sync { box.watch?.cancel { done.signal() } }
        #expect(done.wait(timeout: .now() + 10) == .success)
    }

    @Test func aResumedWatchRunsItsHandlerForAnEdgeThatPassedBeforeItsSuspension() throws {
        let pair = try SocketPair()
        defer { pair.close() }
        let log = Log()
        // The handler takes one byte per call and does not come back for the rest.
        let box = try watch(pair.loopSide, name: "read", log: log) { _ = readUpTo(1, from: pair.loopSide) }
        pair.send("ab")
        #expect(log.next())
        try settle(log)
        #expect(log.count(of: "read") == 1)
        // One byte is left, and no new edge will come for it: only the resume can find it.
        loop.queue.sync {
            box.watch?.suspend()
            box.watch?.resume()
        }
        #expect(log.waitUntil("read", count: 2))
        #expect(log.count(of: "read") == 2)
        // The entry is logged before the handler's read: let the handler finish first (a run under
        // load read the byte here, before the handler did).
        loop.queue.sync {}
        #expect(readUpTo(16, from: pair.loopSide) == 0, "the resumed handler took the byte left")
        loop.queue.sync { box.watch?.cancel {} }
    }

    @Test func aSuspendedWatchIsNotCalledUntilResumed() throws {
        let pair = try SocketPair()
        defer { pair.close() }
        let log = Log()
        let box = try watch(pair.loopSide, name: "read", log: log) { drainAll(pair.loopSide) }
        pair.send("first")
        #expect(log.next())
        loop.queue.sync { box.watch?.suspend() }
        pair.send("second")
        pair.send("third")
        try settle(log)
        #expect(log.count(of: "read") == 1, "no call while suspended: \(log.all)")
        loop.queue.sync { box.watch?.resume() }
        #expect(log.waitUntil("read", count: 2))
        #expect(log.count(of: "read") == 2)
        loop.queue.sync { box.watch?.cancel {} }
    }

    @Test func cancelCompletesOnceAfterTheLastHandler() throws {
        let pair = try SocketPair()
        defer { pair.close() }
        let log = Log()
        let box = try watch(pair.loopSide, name: "read", log: log) { drainAll(pair.loopSide) }
        pair.send("one")
        #expect(log.next())
        loop.queue.sync {
            // Ready in the kernel before the cancel, in the same turn: its handler must not run.
            pair.send("two")
            box.watch?.cancel { log.append("completion") }
            #expect(log.all == ["read"], "the completion waits for a later turn")
        }
        #expect(log.next())
        pair.send("three")
        try settle(log)
        #expect(log.all.filter { $0 != "probe" } == ["read", "completion"])
    }

    /// What a handler captures often holds its watch (a connection, a connect attempt): a cancelled
    /// watch lets go of its handler, as Dispatch does with a cancelled source's, or both would leak.
    @Test func aCancelledWatchReleasesItsHandler() throws {
        final class Owner: Sendable {}
        let pair = try SocketPair()
        defer { pair.close() }
        weak var released: Owner?
        let done = DispatchSemaphore(value: 0)
        // Still held after the cancel, as the owner of a cycle would hold it.
        let box = WatchBox()
        try loop.queue.sync {
            let owner = Owner()
            released = owner
            box.watch = try loop.watch(pair.loopSide, for: .readable) { withExtendedLifetime(owner) {} }
            box.watch?.resume()
            box.watch?.cancel { done.signal() }
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(released == nil)
        withExtendedLifetime(box) {}
    }

    @Test func aHandlerCanCancelItsOwnWatch() throws {
        let pair = try SocketPair()
        defer { pair.close() }
        let log = Log()
        let box = WatchBox()
        try loop.queue.sync {
            box.watch = try loop.watch(pair.loopSide, for: .readable) {
                log.append("read")
                box.watch?.cancel { log.append("completion") }
                box.watch = nil
            }
            box.watch?.resume()
        }
        pair.send("x")
        #expect(log.next())
        #expect(log.next())
        pair.send("y")
        try settle(log)
        #expect(log.all.filter { $0 != "probe" } == ["read", "completion"])
    }

    @Test func timersFireInDeadlineOrderAndCancelledOnesNever() throws {
        let log = Log()
        /// Logs when the cancelled timer lets go of its work.
        final class Witness: Sendable {
            let log: Log
            init(_ log: Log) { self.log = log }
            deinit { log.append("released") }
        }
        loop.queue.sync {
            let start = loop.now
            _ = loop.schedule(at: start + .milliseconds(30)) { log.append("30") }
            _ = loop.schedule(at: start + .milliseconds(10)) { log.append("10") }
            _ = loop.schedule(at: start + .milliseconds(20)) { log.append("20") }
            _ = loop.schedule(at: start + .milliseconds(10)) { log.append("10 again") }
            let witness = Witness(log)
            let cancelled = loop.schedule(at: start + .milliseconds(15)) { log.append("cancelled \(witness)") }
            cancelled.cancel()
            _ = loop.schedule(at: start - .milliseconds(5)) { log.append("past") }
        }
        for _ in 0..<6 { #expect(log.next()) }
        // A cancelled timer gives its work up at once, not at its deadline.
        #expect(log.all == ["released", "past", "10", "10 again", "20", "30"])
    }

    @Test func aTimerScheduledByATimerRunsInALaterTurn() throws {
        let log = Log()
        loop.queue.sync {
            _ = loop.schedule(at: loop.now) {
                log.append("first")
                _ = loop.schedule(at: loop.now) { log.append("second") }
                log.append("first done")
            }
        }
        for _ in 0..<3 { #expect(log.next()) }
        #expect(log.all == ["first", "first done", "second"])
    }

    @Test func workFromOtherThreadsRunsOnTheLoopInEachThreadsOrder() {
        let threads = 8
        let perThread = 1000
        let seen = Locked<[[Int]]>(Array(repeating: [], count: threads))
        let offLoop = Locked(0)
        let loop = loop
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread {
                loop.execute {
                    if !loop.isCurrent { offLoop.withLock { $0 += 1 } }
                    seen.withLock { $0[thread].append(index) }
                }
            }
        }
        loop.queue.sync {}
        #expect(offLoop.withLock { $0 } == 0)
        #expect(seen.withLock { $0 } == Array(repeating: Array(0..<perThread), count: threads))
        #expect(!loop.isCurrent)
    }

    @Test func manyConnectionsShareOneLoop() throws {
        let count = 300  // more than a few batches of ready events
        let pairs = try (0..<count).map { _ in try SocketPair() }
        defer { for pair in pairs { _ = Glibc.close(pair.testSide) } }
        let delegates = pairs.map { _ in EchoDelegate() }
        let loop = loop
        for (pair, delegate) in zip(pairs, delegates) {
            let connection = Connection(stream: Socket(descriptor: pair.loopSide), loop: loop)
            loop.execute { connection.start(delegate: delegate) }
        }
        for (index, pair) in pairs.enumerated() { pair.send("message \(index)") }
        for (index, pair) in pairs.enumerated() {
            let expected = Array("message \(index)".utf8)
            var received = [UInt8](repeating: 0, count: expected.count)
            var total = 0
            while total < expected.count {
                let read = read(pair.testSide, &received[total], expected.count - total)
                guard read > 0 else { break }
                total += read
            }
            #expect(received == expected)
        }
        for pair in pairs { shutdown(pair.testSide, Int32(SHUT_WR)) }
        for delegate in delegates { #expect(delegate.closed.wait(timeout: .now() + 10) == .success) }
        #expect(delegates.allSatisfy { $0.endedByPeer })
    }

    @Test func aReadThatStopsAtItsBudgetComesBackForTheRest() throws {
        // A 16-byte read buffer makes the per-event budget 64 bytes: the kilobyte below arrives
        // with one edge, and only the connection coming back by itself reads past the budget.
        let loop = try EpollEventLoop(label: "test.epoll.budget", readBufferSize: 16)
        let pair = try SocketPair()
        defer { _ = Glibc.close(pair.testSide) }
        let payload = (0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(write(pair.testSide, payload, payload.count) == payload.count)
        let delegate = EchoDelegate()
        let connection = Connection(stream: Socket(descriptor: pair.loopSide), loop: loop)
        loop.execute { connection.start(delegate: delegate) }
        var echoed: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while echoed.count < payload.count {
            let count = read(pair.testSide, &buffer, buffer.count)
            guard count > 0 else { break }
            echoed.append(contentsOf: buffer[0..<count])
        }
        #expect(echoed == payload)
        shutdown(pair.testSide, Int32(SHUT_WR))
        #expect(delegate.closed.wait(timeout: .now() + 10) == .success)
    }

    @Test func aBacklogLongerThanOneTurnOfAcceptsIsAcceptedWhole() throws {
        let count = 300  // more than the 256 accepts of one turn, all reported by one edge
        let accepted = Locked<[Socket]>([])
        let all = DispatchSemaphore(value: 0)
        let listener = try Listener(
            host: "127.0.0.1", port: 0, loop: loop,
            onAccept: { socket in
                if accepted.withLock({ $0.append(socket); return $0.count }) == count { all.signal() }
            },
            onError: { Issue.record("accept failed: \($0)") }
        )
        // Queued in the kernel's backlog before the listener is watched.
        let clients = try (0..<count).map { _ in try Socket.connecting(to: listener.address).0 }
        defer {
            for socket in clients + accepted.withLock({ $0 }) { socket.close() }
        }
        listener.start()
        #expect(all.wait(timeout: .now() + 10) == .success)
        #expect(accepted.withLock { $0.count } == count)
        let stopped = DispatchSemaphore(value: 0)
        listener.stop { stopped.signal() }
        #expect(stopped.wait(timeout: .now() + 10) == .success)
    }

    /// The descriptor is replaced under its watch (dup2 closes the old file atomically, as a close
    /// followed by a reuse of the number would): the kernel drops the old entry, and the stale
    /// watch must neither fire for the new file nor take the number's new registration with it.
    @Test(arguments: [IOInterest.readable, .writable])
    func aDescriptorClosedWhileWatchedLeavesNoTrace(staleInterest: IOInterest) throws {
        let old = try SocketPair()
        defer { old.close() }
        let log = Log()
        let stale = try watch(old.loopSide, staleInterest, name: "stale", log: log) { drainAll(old.loopSide) }
        if staleInterest == .writable { #expect(log.next()) }  // a fresh socket is writable at once
        let replacement = try SocketPair()
        defer { _ = Glibc.close(replacement.testSide) }
        #expect(dup2(replacement.loopSide, old.loopSide) == old.loopSide)
        _ = Glibc.close(replacement.loopSide)
        let staleCalls = log.count(of: "stale")

        let fresh = try watch(old.loopSide, .readable, name: "fresh", log: log) { drainAll(old.loopSide) }
        replacement.send("to the new file")
        #expect(log.next())
        loop.queue.sync {
            stale.watch?.suspend()
            stale.watch?.resume()  // a kick, which must not reach the replaced descriptor
        }
        let completed = DispatchSemaphore(value: 0)
        loop.queue.sync { stale.watch?.cancel { completed.signal() } }
        #expect(completed.wait(timeout: .now() + 10) == .success)
        replacement.send("still watched")
        #expect(log.next())
        try settle(log)
        #expect(log.count(of: "stale") == staleCalls)
        #expect(log.count(of: "fresh") == 2)
        loop.queue.sync { fresh.watch?.cancel {} }
    }

    @Test func aDescriptorEpollCannotWatchIsASystemError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("epoll-\(UUID().uuidString)").path
        let file = open(path, O_CREAT | O_RDWR, 0o600)
        #expect(file >= 0)
        defer {
            _ = Glibc.close(file)
            unlink(path)
        }
        let error = loop.queue.sync { () -> SystemError? in
            do throws(SystemError) {
                _ = try loop.watch(file, for: .readable) {}
                return nil
            } catch {
                return error
            }
        }
        #expect(error?.errno == EPERM, "regular files are always ready, so epoll refuses them")
        #expect(error?.call.hasPrefix("epoll_ctl") == true)
    }

    /// Checked against the kernel's own account of the mask; run the tests under `taskset -c 0`
    /// and both say 1 on a machine of any size.
    @Test func theCoreCountIsTheAffinityMasksNotTheMachines() throws {
        let allowed = try coresAllowedByTheKernel()
        #expect(try System.affinityCoreCount() == allowed)
        #expect(System.coreCount == allowed)
        #expect(allowed <= Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

@Suite struct TimerHeapTests {
    final class Entry: TimerHeapEntry {
        let deadline: UInt64
        let sequence: UInt64
        var heapIndex = -1
        init(_ deadline: UInt64, _ sequence: UInt64) {
            self.deadline = deadline
            self.sequence = sequence
        }
    }

    @Test func popsInDeadlineThenSequenceOrderAfterRandomRemovals() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var heap = TimerHeap<Entry>()
        var kept: [Entry] = []
        for sequence in 0..<2000 {
            let entry = Entry(next() % 100, UInt64(sequence))
            heap.insert(entry)
            if next() % 3 == 0 {
                let removed = heap.remove(entry)
                let again = heap.remove(entry)
                #expect(removed)
                #expect(!again, "a second remove finds nothing")
            } else {
                kept.append(entry)
            }
        }
        kept.removeAll { entry in next() % 4 == 0 && heap.remove(entry) }
        var popped: [Entry] = []
        while let entry = heap.popFirst() { popped.append(entry) }
        let expected = kept.sorted { ($0.deadline, $0.sequence) < ($1.deadline, $1.sequence) }
        #expect(popped.map(\.sequence) == expected.map(\.sequence))
        #expect(popped.count > 500)
        #expect(heap.count == 0)
    }
}
#endif
