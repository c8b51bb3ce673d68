#if os(Linux)
import CSystemShims
import Dispatch
import Glibc

/// An event loop on one serial Dispatch queue that pays for readiness per loop, not per socket.
///
/// Every descriptor the loop watches sits in one edge-triggered epoll set, registered once; the
/// epoll descriptor is the only thing a Dispatch read source watches. When it fires, its handler
/// (on `queue`) drains the ready events in batches and calls each watch's handler. Suspending and
/// resuming a watch only flips a flag: no `epoll_ctl` per re-arm, which is what a Dispatch source
/// per socket costs (two `epoll_ctl`, a wake-up of Dispatch's manager thread, a thread hop).
/// Timers live in the loop's heap behind one timerfd in the same epoll set, so a timer that comes
/// due arrives with the socket events, on the same turn, without a thread of its own.
///
/// Edge-triggered readiness is reported once per change; a handler that stops before the kernel
/// runs dry (a read budget, a pause) must come back by itself, and a watch that is resumed runs its
/// handler once, because the edge it needs may have passed while it was suspended. The handlers of
/// the socket layer tolerate the `EAGAIN` such a call may meet.
///
/// One watch per descriptor and interest at a time (a connection's read and write watches share one
/// registration). A descriptor must not be closed before its watches' cancel completions ran; one
/// that is anyway is dropped by the kernel, and a later watch on the reused number starts afresh.
package final class EpollEventLoop: EventLoop, @unchecked Sendable {
    // Invariant: every mutable property (`registrations`, `timers`, the kick list, the event
    // buffer, `readBuffer`) is read and written only by code running on `queue`: the Dispatch
    // source's handler, work handed to `execute`, and the watch and timer methods, which the
    // `EventLoop` contract calls on the loop. Other threads reach the loop only through `execute`.
    package let queue: DispatchQueue
    private let key = DispatchSpecificKey<ObjectIdentifier>()
    package let readBuffer: UnsafeMutableRawBufferPointer

    private let epoll: EpollSet
    private let timerDescriptor: Int32
    private let readiness: any DispatchSourceRead
    private let batch: UnsafeMutablePointer<cutover_epoll_event>

    /// Registrations by descriptor number: a ready event names its slot and generation, so an
    /// event for a registration that was cancelled earlier in the same batch finds nothing.
    private var registrations: [EpollRegistration?] = []
    private var nextGeneration: UInt32 = 0
    private var timers = TimerHeap<EpollTimer>()
    private var nextTimerSequence: UInt64 = 0
    /// The instant the timerfd is armed for (uptime nanoseconds), nil when disarmed.
    private var timerArmedFor: UInt64?
    private var kicked: [EpollWatch] = []

    /// Events taken per `epoll_wait`; a full batch means more may be waiting.
    package static let batchSize = 64
    /// The epoll data of the timerfd: no descriptor slot has this generation and number.
    private static let timerToken = UInt64.max

    package init(label: String, readBufferSize: Int = 64 * 1024) throws(SystemError) {
        let epoll = try EpollSet()
        let timer = cutover_timerfd_create()
        guard timer >= 0 else {
            let error = SystemError.last("timerfd_create")
            epoll.close()
            throw error
        }
        do throws(SystemError) {
            try epoll.add(timer, events: cutover_epoll_in | cutover_epoll_edge_triggered, token: Self.timerToken)
        } catch {
            _ = Glibc.close(timer)
            epoll.close()
            throw error
        }
        self.epoll = epoll
        timerDescriptor = timer
        queue = DispatchQueue(label: label)
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 16)
        batch = .allocate(capacity: Self.batchSize)
        readiness = DispatchSource.makeReadSource(fileDescriptor: epoll.descriptor, queue: queue)
        queue.setSpecific(key: key, value: ObjectIdentifier(self))
        // Weak: the source must not keep the loop alive, or the loop could never close its set.
        readiness.setEventHandler { [weak self] in self?.drain() }
        readiness.setCancelHandler {
            _ = Glibc.close(timer)
            epoll.close()
        }
        readiness.activate()
    }

    deinit {
        readiness.cancel()
        readBuffer.deallocate()
        batch.deallocate()
    }

    /// A small fixed set of loops, about one per core the process may run on.
    package static func makeGroup(count: Int = max(1, System.coreCount), label: String = "cutover.loop") throws(SystemError) -> [EpollEventLoop] {
        var loops: [EpollEventLoop] = []
        for index in 0..<count { loops.append(try EpollEventLoop(label: "\(label).\(index)")) }
        return loops
    }

    // MARK: EventLoop

    package func execute(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }

    package var isCurrent: Bool {
        DispatchQueue.getSpecific(key: key) == ObjectIdentifier(self)
    }

    package var now: DispatchTime { .now() }

    package func watch(_ descriptor: Int32, for interest: IOInterest, handler: @escaping @Sendable () -> Void) throws(SystemError) -> any IOWatch {
        preconditionOnLoop()
        let watch = EpollWatch(loop: self, interest: interest, handler: handler)
        let registration = try register(descriptor, adding: interest)
        registration.attach(watch)
        watch.registration = registration
        return watch
    }

    package func schedule(at deadline: DispatchTime, _ work: @escaping @Sendable () -> Void) -> any ScheduledWork {
        preconditionOnLoop()
        nextTimerSequence += 1
        let timer = EpollTimer(loop: self, deadline: deadline.uptimeNanoseconds, sequence: nextTimerSequence, work: work)
        timers.insert(timer)
        if timers.first === timer { armTimer() }
        return timer
    }

    // MARK: Draining

    /// The read source's handler: takes ready events until a batch comes back short.
    private func drain() {
        while true {
            let count: Int
            do {
                count = try epoll.wait(into: batch, capacity: Self.batchSize)
            } catch {
                // EINTR cannot happen with a zero timeout; anything else means the set itself is
                // broken, and the source will fire again while it stays readable.
                assertionFailure("\(error)")
                return
            }
            for index in 0..<count {
                let event = batch[index]
                if event.data == Self.timerToken {
                    runDueTimers()
                } else {
                    dispatch(event.events, token: event.data)
                }
            }
            if count < Self.batchSize { return }
        }
    }

    private static let readableEvents = cutover_epoll_in | cutover_epoll_rdhup | cutover_epoll_hup | cutover_epoll_err
    private static let writableEvents = cutover_epoll_out | cutover_epoll_hup | cutover_epoll_err

    private func dispatch(_ events: UInt32, token: UInt64) {
        let descriptor = Int(token & 0xFFFF_FFFF)
        let generation = UInt32(truncatingIfNeeded: token >> 32)
        // A hang-up or an error wakes both interests, as Dispatch sources do. Each lookup is fresh:
        // the read handler may have cancelled the write watch (or the whole registration).
        if events & Self.readableEvents != 0, let reader = current(descriptor, generation)?.reader {
            reader.ready()
        }
        if events & Self.writableEvents != 0, let writer = current(descriptor, generation)?.writer {
            writer.ready()
        }
    }

    private func current(_ descriptor: Int, _ generation: UInt32) -> EpollRegistration? {
        guard descriptor < registrations.count, let registration = registrations[descriptor],
            registration.generation == generation
        else { return nil }
        return registration
    }

    // MARK: Registrations

    private static func events(for interest: IOInterest) -> UInt32 {
        switch interest {
        case .readable: cutover_epoll_in | cutover_epoll_rdhup
        case .writable: cutover_epoll_out
        }
    }

    /// The registration `descriptor` gets `interest` from: its live one widened, or a new one.
    private func register(_ descriptor: Int32, adding interest: IOInterest) throws(SystemError) -> EpollRegistration {
        let slot = Int(descriptor)
        guard slot >= 0 else { throw SystemError("epoll_ctl", errno: EBADF) }
        let wanted = Self.events(for: interest)
        if slot < registrations.count, let existing = registrations[slot] {
            if existing.watch(for: interest) == nil {
                do throws(SystemError) {
                    let events = existing.events | wanted
                    try epoll.modify(descriptor, events: events | cutover_epoll_edge_triggered, token: existing.token)
                    existing.events = events
                    return existing
                } catch where error.errno == ENOENT {
                    // The kernel dropped it: the descriptor was closed while registered and its
                    // number now names another file.
                }
            }
            // Stale (see above), or a second watch for an interest that already has one, which
            // only a closed and reused descriptor number produces.
            registrations[slot] = nil
        }
        nextGeneration &+= 1
        let registration = EpollRegistration(descriptor: descriptor, generation: nextGeneration, events: wanted)
        do throws(SystemError) {
            try epoll.add(descriptor, events: wanted | cutover_epoll_edge_triggered, token: registration.token)
        } catch where error.errno == EEXIST {
            // Still in the set under a registration we forgot: take the entry over.
            try epoll.modify(descriptor, events: wanted | cutover_epoll_edge_triggered, token: registration.token)
        }
        if slot >= registrations.count {
            registrations.append(contentsOf: repeatElement(nil, count: max(slot + 1, registrations.count * 2) - registrations.count))
        }
        registrations[slot] = registration
        return registration
    }

    fileprivate func isLive(_ registration: EpollRegistration) -> Bool {
        let slot = Int(registration.descriptor)
        return slot < registrations.count && registrations[slot] === registration
    }

    /// Takes `watch` off its registration, and the descriptor out of the set with its last watch.
    fileprivate func unregister(_ watch: EpollWatch) {
        guard let registration = watch.registration else { return }
        watch.registration = nil
        registration.detach(watch)
        guard registration.isEmpty, isLive(registration) else { return }
        registrations[Int(registration.descriptor)] = nil
        do throws(SystemError) {
            try epoll.remove(registration.descriptor)
        } catch {
            // Closed already (EBADF) or dropped by the kernel when it closed (ENOENT): gone either
            // way. The remaining interests of a live registration stay in the set unwatched; an
            // edge-triggered entry costs nothing while nothing changes.
            assert(error.errno == EBADF || error.errno == ENOENT || error.errno == EPERM, "\(error)")
        }
    }

    // MARK: Kicks

    /// Runs `watch`'s handler once in a later turn (see the type's comment).
    fileprivate func kick(_ watch: EpollWatch) {
        guard !watch.kickPending else { return }
        watch.kickPending = true
        kicked.append(watch)
        if kicked.count == 1 { queue.async { [self] in runKicks() } }
    }

    private func runKicks() {
        let watches = kicked
        kicked.removeAll(keepingCapacity: true)
        for watch in watches {
            watch.kickPending = false
            guard let registration = watch.registration, isLive(registration) else { continue }
            watch.ready()
        }
    }

    // MARK: Timers

    fileprivate func cancel(_ timer: EpollTimer) {
        preconditionOnLoop()
        // The timerfd stays armed: if it fires for nothing, it re-arms for the next timer then.
        timers.remove(timer)
        timer.work = nil
    }

    /// Arms the timerfd for the earliest timer unless it is armed for that or earlier already.
    private func armTimer() {
        guard let first = timers.first else { return }
        if let armed = timerArmedFor, armed <= first.deadline { return }
        let now = DispatchTime.now().uptimeNanoseconds
        // Relative: the timerfd's clock and Dispatch's uptime need not share an epoch.
        let delay = first.deadline > now ? first.deadline - now : 1
        guard cutover_timerfd_arm(timerDescriptor, delay) == 0 else {
            // Only an invalid descriptor or value fails, which the loop never passes.
            assertionFailure("\(SystemError.last("timerfd_settime"))")
            return
        }
        timerArmedFor = first.deadline
    }

    private func runDueTimers() {
        timerArmedFor = nil
        let now = DispatchTime.now().uptimeNanoseconds
        // Timers scheduled by the ones running now wait for the next turn, even if already due.
        let lastSequence = nextTimerSequence
        while let first = timers.first, first.deadline <= now, first.sequence <= lastSequence {
            timers.remove(first)
            let work = first.work
            first.work = nil
            work?()
        }
        armTimer()
    }
}

/// The descriptors one loop watches, behind one epoll descriptor: each call's failure as a
/// `SystemError` with its errno.
private struct EpollSet: Sendable {
    let descriptor: Int32

    init() throws(SystemError) {
        descriptor = cutover_epoll_create()
        guard descriptor >= 0 else { throw .last("epoll_create1") }
    }

    func add(_ watched: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        guard cutover_epoll_add(descriptor, watched, events, token) == 0 else { throw .last("epoll_ctl(ADD, \(watched))") }
    }

    func modify(_ watched: Int32, events: UInt32, token: UInt64) throws(SystemError) {
        guard cutover_epoll_modify(descriptor, watched, events, token) == 0 else { throw .last("epoll_ctl(MOD, \(watched))") }
    }

    func remove(_ watched: Int32) throws(SystemError) {
        guard cutover_epoll_remove(descriptor, watched) == 0 else { throw .last("epoll_ctl(DEL, \(watched))") }
    }

    /// The events ready now (never blocks).
    func wait(into events: UnsafeMutablePointer<cutover_epoll_event>, capacity: Int) throws(SystemError) -> Int {
        while true {
            let count = cutover_epoll_wait(descriptor, events, Int32(capacity), 0)
            if count >= 0 { return Int(count) }
            let error = SystemError.last("epoll_wait")
            guard error.errno == EINTR else { throw error }
        }
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}

/// One descriptor's entry in the set: the interests registered with the kernel and the watch of
/// each. Confined to its loop.
private final class EpollRegistration {
    let descriptor: Int32
    let generation: UInt32
    var events: UInt32
    private(set) var reader: EpollWatch?
    private(set) var writer: EpollWatch?

    init(descriptor: Int32, generation: UInt32, events: UInt32) {
        self.descriptor = descriptor
        self.generation = generation
        self.events = events
    }

    /// What the kernel hands back with each event: the slot and this registration's generation.
    var token: UInt64 { UInt64(generation) << 32 | UInt64(UInt32(bitPattern: descriptor)) }

    var isEmpty: Bool { reader == nil && writer == nil }

    func watch(for interest: IOInterest) -> EpollWatch? {
        switch interest {
        case .readable: reader
        case .writable: writer
        }
    }

    func attach(_ watch: EpollWatch) {
        switch watch.interest {
        case .readable: reader = watch
        case .writable: writer = watch
        }
    }

    func detach(_ watch: EpollWatch) {
        if reader === watch { reader = nil }
        if writer === watch { writer = nil }
    }
}

/// A watch is a flag on its registration: suspended, resumed, or cancelled. Confined to its loop.
private final class EpollWatch: IOWatch {
    let loop: EpollEventLoop
    let interest: IOInterest
    /// Dropped at `cancel`, as Dispatch drops a cancelled source's handler: what it captures
    /// often holds this watch (a connection, a connect attempt), and the cycle would outlive both.
    private var handler: (@Sendable () -> Void)?
    fileprivate var registration: EpollRegistration?
    fileprivate var kickPending = false
    private var suspended = true
    private var cancelled = false
    /// An event arrived before the first resume; later resumes kick unconditionally.
    private var sawEvent = false
    private var resumedBefore = false

    init(loop: EpollEventLoop, interest: IOInterest, handler: @escaping @Sendable () -> Void) {
        self.loop = loop
        self.interest = interest
        self.handler = handler
    }

    /// The kernel reported readiness (or a resume asks to look): run the handler if resumed.
    func ready() {
        guard !cancelled, let handler else { return }
        guard !suspended else {
            sawEvent = true
            return
        }
        handler()
    }

    func resume() {
        loop.preconditionOnLoop()
        guard suspended, !cancelled else { return }
        suspended = false
        // Before the first resume every edge since registration was seen; after it, the handler
        // may have stopped with input or room left, which no new edge will announce.
        if resumedBefore || sawEvent { loop.kick(self) }
        resumedBefore = true
    }

    func suspend() {
        loop.preconditionOnLoop()
        suspended = true
    }

    func cancel(completion: @escaping @Sendable () -> Void) {
        loop.preconditionOnLoop()
        if !cancelled {
            cancelled = true
            suspended = true
            handler = nil
            loop.unregister(self)
        }
        // No handler runs after this point; the completion still waits a turn, as Dispatch's
        // cancel handlers do, so the caller finishes what it is doing first.
        loop.execute(completion)
    }
}

/// A timer in its loop's heap. Confined to its loop.
private final class EpollTimer: ScheduledWork, TimerHeapEntry {
    private let loop: EpollEventLoop
    let deadline: UInt64
    let sequence: UInt64
    var heapIndex = -1
    var work: (@Sendable () -> Void)?

    init(loop: EpollEventLoop, deadline: UInt64, sequence: UInt64, work: @escaping @Sendable () -> Void) {
        self.loop = loop
        self.deadline = deadline
        self.sequence = sequence
        self.work = work
    }

    func cancel() {
        loop.cancel(self)
    }
}
#endif
