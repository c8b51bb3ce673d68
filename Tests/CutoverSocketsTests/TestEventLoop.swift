import CutoverLocking
import CutoverSockets
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// An event loop for tests, in the manner of NIO's `EmbeddedEventLoop`: work, readiness handlers
/// and timers run on the test's own thread, only inside `run`, `runReadyWatches` and
/// `advanceTime`, and the clock moves only when the test advances it. A timeout test therefore
/// says "a minute passes" instead of waiting for one, and cannot be early or late.
///
/// Readiness is real: resumed watches are polled (`poll(2)`) for their descriptors, so a
/// socketpair or a loopback socket drives a `Connection` exactly as in production.
final class TestEventLoop: EventLoop, @unchecked Sendable {
    // Invariant: `state` guards everything mutable; work and handlers are called outside the
    // lock, on the thread that drives the loop. `readBuffer` is touched only by that thread.
    private let state: Locked<State>
    let readBuffer: UnsafeMutableRawBufferPointer

    private struct State {
        var now: DispatchTime
        var queue: [@Sendable () -> Void] = []
        var timers: [Int: Timer] = [:]
        var watches: [Int: Watch] = [:]
        var nextID = 0
    }

    private struct Timer {
        var deadline: DispatchTime
        var work: @Sendable () -> Void
    }

    private struct Watch {
        var descriptor: Int32
        var interest: IOInterest
        var handler: @Sendable () -> Void
        var suspended = true
    }

    /// Fails a test whose handlers keep each other busy instead of letting the loop go idle.
    private static let maxRoundsPerRun = 100_000

    init(readBufferSize: Int = 64 * 1024) {
        // Far from zero: `dispatch_time` reads a raw value of 0 as "the real now".
        state = Locked(State(now: DispatchTime(uptimeNanoseconds: 1 << 40)))
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 16)
    }

    deinit {
        readBuffer.deallocate()
    }

    // MARK: EventLoop

    func execute(_ work: @escaping @Sendable () -> Void) {
        state.withLock { $0.queue.append(work) }
    }

    /// The test's thread is the loop: everything it calls directly runs "on the loop".
    var isCurrent: Bool { true }

    var now: DispatchTime { state.withLock { $0.now } }

    func watch(_ descriptor: Int32, for interest: IOInterest, handler: @escaping @Sendable () -> Void) -> any IOWatch {
        let id = state.withLock { state in
            state.nextID += 1
            state.watches[state.nextID] = Watch(descriptor: descriptor, interest: interest, handler: handler)
            return state.nextID
        }
        return TestWatch(loop: self, id: id)
    }

    func schedule(at deadline: DispatchTime, _ work: @escaping @Sendable () -> Void) -> any ScheduledWork {
        let id = state.withLock { state in
            state.nextID += 1
            state.timers[state.nextID] = Timer(deadline: deadline, work: work)
            return state.nextID
        }
        return TestScheduledWork(loop: self, id: id)
    }

    // MARK: Driving the loop

    /// Runs queued work, due timers and the handlers of ready descriptors until none is left.
    func run() {
        for _ in 0..<Self.maxRoundsPerRun {
            runQueuedAndDue()
            if !runReadyWatches() && isIdle { return }
        }
        preconditionFailure("the test loop never went idle")
    }

    /// Runs the loop until `condition` holds. When nothing is left to do it blocks in `poll(2)`
    /// until a watched descriptor becomes ready: it waits for the kernel, not for a clock;
    /// `limit` (real time) only ends a test that would otherwise hang.
    @discardableResult
    func run(until condition: () -> Bool, limit: Duration = .seconds(10)) -> Bool {
        let giveUp = ContinuousClock.now + limit
        run()
        while !condition() {
            guard ContinuousClock.now < giveUp, waitForReadiness(until: giveUp) else { return false }
            run()
        }
        return true
    }

    /// Calls the handler of every resumed watch whose descriptor is ready, once, and leaves the
    /// work they queue for `run`. With `waitingUpTo`, first blocks until one is ready (bounded).
    /// True when a handler ran.
    @discardableResult
    func runReadyWatches(waitingUpTo limit: Duration? = nil) -> Bool {
        if let limit, !waitForReadiness(until: ContinuousClock.now + limit) { return false }
        let ready = poll(timeoutMilliseconds: 0)
        for id in ready {
            // An earlier handler of this pass may have suspended or cancelled this one.
            let handler = state.withLock { state in
                state.watches[id].flatMap { $0.suspended ? nil : $0.handler }
            }
            handler?()
        }
        return !ready.isEmpty
    }

    /// Moves the clock forward, firing each timer that comes due on the way at its own instant
    /// (earliest first) and running the loop after each.
    func advanceTime(by duration: Duration) {
        let target = now + duration.dispatchInterval
        while let next = nextTimer(dueBy: target) {
            state.withLock { state in
                state.timers[next.id] = nil
                if next.timer.deadline > state.now { state.now = next.timer.deadline }
            }
            next.timer.work()
            run()
        }
        state.withLock { $0.now = target }
        run()
    }

    // MARK: Internals

    private var isIdle: Bool {
        state.withLock { state in
            state.queue.isEmpty && !state.timers.values.contains { $0.deadline <= state.now }
        }
    }

    private func runQueuedAndDue() {
        while true {
            let next: (@Sendable () -> Void)? = state.withLock { state in
                if !state.queue.isEmpty { return state.queue.removeFirst() }
                return nil
            }
            if let next {
                next()
                continue
            }
            guard let due = nextTimer(dueBy: now) else { return }
            state.withLock { $0.timers[due.id] = nil }
            due.timer.work()
        }
    }

    private func nextTimer(dueBy instant: DispatchTime) -> (id: Int, timer: Timer)? {
        state.withLock { state in
            // Equal deadlines fire in the order they were scheduled, as ids grow.
            state.timers.filter { $0.value.deadline <= instant }
                .min { ($0.value.deadline, $0.key) < ($1.value.deadline, $1.key) }
                .map { (id: $0.key, timer: $0.value) }
        }
    }

    /// Ids of resumed watches whose descriptors are ready now (or within the timeout).
    private func poll(timeoutMilliseconds: Int32) -> [Int] {
        let watched = state.withLock { state in
            state.watches.filter { !$0.value.suspended }.sorted { $0.key < $1.key }
                .map { (id: $0.key, descriptor: $0.value.descriptor, interest: $0.value.interest) }
        }
        guard !watched.isEmpty else { return [] }
        var descriptors = watched.map { watch in
            pollfd(fd: watch.descriptor, events: Int16(watch.interest == .readable ? POLLIN : POLLOUT), revents: 0)
        }
        let result = Glibc.poll(&descriptors, nfds_t(descriptors.count), timeoutMilliseconds)
        guard result > 0 else { return [] }
        // A hang-up or an error wakes both interests, as Dispatch sources do; a closed descriptor
        // (POLLNVAL) wakes none, or a stale watch would spin the loop.
        let wakes = Int16(POLLIN | POLLOUT | POLLHUP | POLLERR)
        return zip(watched, descriptors).compactMap { watch, polled in
            polled.revents & wakes != 0 ? watch.id : nil
        }
    }

    /// Blocks until a resumed watch is ready; false when none is, or none became so in time.
    private func waitForReadiness(until instant: ContinuousClock.Instant) -> Bool {
        let remaining = max(.zero, instant - ContinuousClock.now)
        let milliseconds = Int32(min(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000, 60_000))
        return !poll(timeoutMilliseconds: milliseconds).isEmpty
    }

    fileprivate func setSuspended(_ suspended: Bool, watch id: Int) {
        state.withLock { $0.watches[id]?.suspended = suspended }
    }

    fileprivate func cancel(watch id: Int, completion: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.watches[id] = nil
            state.queue.append(completion)
        }
    }

    fileprivate func cancel(timer id: Int) {
        state.withLock { $0.timers[id] = nil }
    }

    /// Resumed watches: a test checks that a closed connection let go of its descriptor.
    var activeWatchCount: Int { state.withLock { $0.watches.values.filter { !$0.suspended }.count } }

    /// Timers not yet fired or cancelled.
    var pendingTimerCount: Int { state.withLock { $0.timers.count } }
}

private final class TestWatch: IOWatch {
    private let loop: TestEventLoop
    private let id: Int

    init(loop: TestEventLoop, id: Int) {
        self.loop = loop
        self.id = id
    }

    func resume() { loop.setSuspended(false, watch: id) }
    func suspend() { loop.setSuspended(true, watch: id) }
    func cancel(completion: @escaping @Sendable () -> Void) { loop.cancel(watch: id, completion: completion) }
}

private final class TestScheduledWork: ScheduledWork {
    private let loop: TestEventLoop
    private let id: Int

    init(loop: TestEventLoop, id: Int) {
        self.loop = loop
        self.id = id
    }

    func cancel() { loop.cancel(timer: id) }
}
