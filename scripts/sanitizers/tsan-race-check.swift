// Built by check-tsan.sh with -sanitize=thread, together with Sources/CutoverLocking/Locked.swift and
// the CSystemShims annotations, to show what ThreadSanitizer reports in each case (one per run):
//   unlocked  two threads increment a counter with no lock: a real race, TSan must report it
//   locked    the same under `Locked`, contended: TSan must stay quiet, and no increment is lost
//   outside   one thread under `Locked`, the other bypassing it: TSan must still report it
//   mutex     the same as `locked` under a bare Synchronization.Mutex: TSan reports a race that is
//             not there (the false positive `Locked` exists for); only shown, not required
import Glibc
import Synchronization

/// Deliberately unsynchronized shared state: the races below are the point of this program.
final class Counter: @unchecked Sendable {
    var value = 0
}

let iterations = 200_000

/// Runs `body(0)` and `body(1)` on two threads of their own, joined with pthread_join (which TSan
/// sees), so the final read needs no more synchronization than the threads' own.
func onTwoThreads(_ body: @escaping @Sendable (Int) -> Void) {
    final class Job {
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) { self.body = body; self.index = index }
    }
    var threads: [pthread_t] = []
    for index in 0..<2 {
        var thread = pthread_t()
        let job = Unmanaged.passRetained(Job(body, index)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            job.body(job.index)
            return nil
        }, job)
        precondition(rc == 0, "pthread_create: \(rc)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// A bare Mutex in a class, so the escaping thread bodies can share it.
final class BareMutex: Sendable {
    let mutex = Mutex(())
}

/// Runs one scenario; returns the exit status.
func run(_ scenario: String) -> Int32 {
    let counter = Counter()
    switch scenario {
    case "unlocked":
        onTwoThreads { _ in for _ in 0..<iterations { counter.value += 1 } }
    case "locked":
        let lock = Locked(())
        onTwoThreads { _ in for _ in 0..<iterations { lock.withLock { _ in counter.value += 1 } } }
        guard counter.value == 2 * iterations else {
            print("locked: lost increments: \(counter.value) of \(2 * iterations)")
            return 1
        }
    case "outside":
        let lock = Locked(())
        onTwoThreads { index in
            for _ in 0..<iterations {
                if index == 0 { lock.withLock { _ in counter.value += 1 } } else { counter.value += 1 }
            }
        }
    case "mutex":
        let lock = BareMutex()
        onTwoThreads { _ in for _ in 0..<iterations { lock.mutex.withLock { _ in counter.value += 1 } } }
    default:
        print("usage: tsan-race-check unlocked|locked|outside|mutex")
        return 2
    }
    print("\(scenario): \(counter.value)")
    return 0
}

@main enum TSanRaceCheck {
    static func main() { exit(run(CommandLine.arguments.dropFirst().first ?? "")) }
}
