import CutoverLocking
import CutoverTestSupport
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import CutoverOperations
@testable import CutoverSpool

/// `/readyz` under a sick spool: bounded when the checks hang, red when a commit hangs or the spool
/// has a fault.
struct ReadinessStallTests {
    /// Calls `check` and waits (bounded) for its verdict, with how long it took.
    private func answer(_ readiness: Readiness) throws -> (verdict: Readiness.Verdict, seconds: Double) {
        let verdict = Locked<Readiness.Verdict?>(nil)
        let done = DispatchSemaphore(value: 0)
        let started = DispatchTime.now()
        readiness.check { answer in
            verdict.withLock { $0 = answer }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return (try #require(verdict.withLock { $0 }), seconds)
    }

    @Test func aHangingCheckIsAnsweredWithinTheTimeoutAndOnlyOnce() throws {
        try withTemporaryDirectory { directory in
            let spool = try Spool.open(directory: directory)
            defer { spool.close() }
            let readiness = Readiness(spool: spool, answerTimeout: .milliseconds(200))
            readiness.listenersUp()
            let entered = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            let holderDone = DispatchSemaphore(value: 0)
            // The reader connection held, as a read blocked on a frozen file system would hold it.
            Thread.detachNewThread {
                _ = try? spool.withReader("hold the reader") { _ in
                    entered.signal()
                    release.wait()
                }
                holderDone.signal()
            }
            entered.wait()
            let calls = Atomic<Int>(0)
            let first = try answer(readiness)
            #expect(!first.verdict.ready)
            #expect(first.verdict.reason.hasPrefix("spool not answering"), "\(first.verdict.reason)")
            #expect(first.seconds < 5)
            // A second probe while the first check still hangs gets the same bounded answer.
            let second = try answer(readiness)
            #expect(second.verdict.reason.hasPrefix("spool not answering"))
            let answered = DispatchSemaphore(value: 0)
            readiness.check { _ in
                calls.add(1, ordering: .relaxed)
                answered.signal()
            }
            // Answered by its timeout while the check still hangs (the callback runs on another queue).
            #expect(answered.wait(timeout: .now() + 30) == .success)
            release.signal()
            holderDone.wait()
            let recovered = try answer(readiness)
            #expect(recovered.verdict.ready, "\(recovered.verdict.reason)")
            #expect(calls.load(ordering: .relaxed) == 1, "a waiter is answered once: by the check or by its timeout")
        }
    }

    @Test func aCommitRunningPastTheCommitTimeoutIsNotReady() throws {
        try withTemporaryDirectory { directory in
            let spool = try Spool.open(directory: directory, options: SpoolOptions(commitTimeout: .seconds(5)))
            defer { spool.close() }
            let readiness = Readiness(spool: spool)
            readiness.listenersUp()
            let release = spool._stallWriterConnection()
            let committed = DispatchSemaphore(value: 0)
            let batchStarted = DispatchSemaphore(value: 0)
            spool._onBatchStart { batchStarted.signal() }
            spool.submit(request([event("stuck")])) { _ in committed.signal() }
            // The writer is inside the batch now, waiting for the held connection.
            #expect(batchStarted.wait(timeout: .now() + 30) == .success)
            #expect(spool.writerBusyFor() != nil)
            #expect(readiness.checkNow().ready, "a commit in progress for less than the timeout is normal")
            let later = readiness.checkNow(now: .now() + .seconds(6))
            #expect(!later.ready)
            #expect(later.reason.contains("a commit has been running"), "\(later.reason)")
            release()
            #expect(committed.wait(timeout: .now() + 30) == .success)
        }
    }

    @Test func aCorruptFaultIsNotReadyWithItsReason() throws {
        try withTemporaryDirectory { directory in
            let spool = try Spool.open(directory: directory)
            defer { spool.close() }
            let readiness = Readiness(spool: spool)
            readiness.listenersUp()
            #expect(readiness.checkNow().ready)
            // What a statement failing with SQLITE_CORRUPT records.
            _ = try? spool.withReader("read a damaged page") { _ throws(SpoolError) -> Int in
                throw SpoolError(kind: .sqlite, code: 11, message: "database disk image is malformed", operation: "read")
            }
            let verdict = readiness.checkNow()
            #expect(!verdict.ready)
            #expect(verdict.reason.hasPrefix("spool corrupt"), "\(verdict.reason)")
        }
    }
}

private func event(_ id: String) -> IncomingEvent {
    IncomingEvent(id: id, type: "com.whatsapp.message.received", contactKey: "c", payload: Array("{}".utf8), destinations: [])
}

private func request(_ events: [IncomingEvent]) -> IncomingRequest {
    IncomingRequest(receivedAt: 1_700_000_000, route: "cloud", headers: [], body: Array("{}".utf8), events: events)
}
