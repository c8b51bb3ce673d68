import CSystemShims
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// What a connection needs from the thing that runs it: run work, watch a descriptor, set timers,
/// tell the time. Kept small so the loop's mechanism (`EpollEventLoop`, `DispatchEventLoop`) can
/// change without touching HTTP code, and so a test loop can run all of it on one thread with a
/// clock it moves.
package protocol EventLoop: AnyObject, Sendable {
    /// Runs `work` on the loop, after whatever is running now.
    func execute(_ work: @escaping @Sendable () -> Void)
    /// True when the caller runs on this loop.
    var isCurrent: Bool { get }
    /// The loop's clock. Deadlines handed to `schedule` are measured against it, never against
    /// `DispatchTime.now()`, so a loop with manual time decides when a timeout has passed.
    var now: DispatchTime { get }
    /// Watches `descriptor`; the handler runs on the loop each time it is ready. Starts suspended.
    /// Call on the loop. Fails when the descriptor cannot be watched (the kernel refused it).
    func watch(_ descriptor: Int32, for interest: IOInterest, handler: @escaping @Sendable () -> Void) throws(SystemError) -> any IOWatch
    /// Runs `work` on the loop at `deadline` unless cancelled first.
    func schedule(at deadline: DispatchTime, _ work: @escaping @Sendable () -> Void) -> any ScheduledWork
    /// One read buffer per loop, shared by its connections: reads copy out what they keep. Only
    /// touched on the loop.
    var readBuffer: UnsafeMutableRawBufferPointer { get }
}

extension EventLoop {
    /// Crashes in debug builds when called off the loop: the guard of every confined state.
    package func preconditionOnLoop() {
        assert(isCurrent, "called off its event loop")
    }

    /// The instant `duration` from now on the loop's clock.
    package func deadline(after duration: Duration) -> DispatchTime {
        now + duration.dispatchInterval
    }
}

package enum IOInterest: Sendable {
    case readable
    case writable
}

/// A readiness watch on one descriptor. Every method is called on the loop that made it. A handler
/// may be called when the descriptor is not ready after all (it then meets `EAGAIN`), and must
/// read or write until `EAGAIN` or come back by itself (`execute`): a loop may report readiness
/// only when it changes.
package protocol IOWatch: AnyObject {
    func resume()
    func suspend()
    /// Stops the watch; `completion` runs on the loop once no handler can run any more.
    func cancel(completion: @escaping @Sendable () -> Void)
}

/// A timer. `cancel` is called on the loop that made it; after it the work does not run.
package protocol ScheduledWork: AnyObject {
    func cancel()
}

/// An event loop backed by one serial Dispatch queue and Dispatch sources.
package final class DispatchEventLoop: EventLoop, @unchecked Sendable {
    // Invariant: `readBuffer` is only touched by code running on `queue`.
    package let queue: DispatchQueue
    private let key = DispatchSpecificKey<ObjectIdentifier>()

    package let readBuffer: UnsafeMutableRawBufferPointer

    package init(label: String, readBufferSize: Int = 64 * 1024) {
        queue = DispatchQueue(label: label)
        readBuffer = .allocate(byteCount: readBufferSize, alignment: 16)
        queue.setSpecific(key: key, value: ObjectIdentifier(self))
    }

    deinit {
        readBuffer.deallocate()
    }

    /// A small fixed set of loops, about one per core the process may run on.
    package static func makeGroup(count: Int = max(1, System.coreCount), label: String = "cutover.loop") -> [DispatchEventLoop] {
        (0..<count).map { DispatchEventLoop(label: "\(label).\($0)") }
    }

    package func execute(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }

    package var isCurrent: Bool {
        DispatchQueue.getSpecific(key: key) == ObjectIdentifier(self)
    }

    package var now: DispatchTime { .now() }

    package func watch(_ descriptor: Int32, for interest: IOInterest, handler: @escaping @Sendable () -> Void) -> any IOWatch {
        let source: any DispatchSourceProtocol =
            switch interest {
            case .readable: DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
            case .writable: DispatchSource.makeWriteSource(fileDescriptor: descriptor, queue: queue)
            }
        source.setEventHandler(handler: handler)
        return DispatchIOWatch(source: source)
    }

    package func schedule(at deadline: DispatchTime, _ work: @escaping @Sendable () -> Void) -> any ScheduledWork {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: deadline, leeway: .milliseconds(10))
        timer.setEventHandler(handler: work)
        timer.activate()
        return DispatchScheduledWork(timer: timer)
    }
}

/// Dispatch sources must not be released or cancelled while suspended, so the watch tracks it.
private final class DispatchIOWatch: IOWatch {
    private let source: any DispatchSourceProtocol
    private var suspended = true
    private var activated = false

    init(source: any DispatchSourceProtocol) {
        self.source = source
    }

    func resume() {
        guard suspended else { return }
        suspended = false
        if activated { source.resume() } else { activated = true; source.activate() }
    }

    func suspend() {
        guard !suspended else { return }
        suspended = true
        source.suspend()
    }

    func cancel(completion: @escaping @Sendable () -> Void) {
        source.setCancelHandler(handler: completion)
        source.cancel()
        resume()
    }
}

private final class DispatchScheduledWork: ScheduledWork {
    private let timer: any DispatchSourceTimer

    init(timer: any DispatchSourceTimer) {
        self.timer = timer
    }

    func cancel() {
        timer.cancel()
    }
}

package enum System {
    /// The cores this process may run on: its CPU affinity mask (`taskset`, cgroup cpusets), not
    /// the machine's online count, so a server pinned to one core runs one loop. Falls back to the
    /// online count if the mask cannot be read.
    package static var coreCount: Int {
        #if os(Linux)
        if let count = try? affinityCoreCount() { return count }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        1
        #endif
    }

    #if os(Linux)
    /// CPU_COUNT of `sched_getaffinity(0)`.
    package static func affinityCoreCount() throws(SystemError) -> Int {
        let count = cutover_affinity_core_count()
        guard count > 0 else { throw .last("sched_getaffinity") }
        return Int(count)
    }
    #endif
}
