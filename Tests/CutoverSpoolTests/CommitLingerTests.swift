import CutoverLocking
import CutoverTestSupport
import Dispatch
import Testing

@testable import CutoverSpool

/// `SpoolOptions.commitLinger`: while commits are frequent, a request reaching an idle writer waits
/// for others to share its commit; the first request, or one after a quiet spell, does not wait.
@Suite("Spool: commit linger")
struct CommitLingerTests {
    @Test func whileCommitsAreFrequentRequestsAtAnIdleWriterShareOneCommit() throws {
        // Long enough that twenty submissions from one thread all arrive within it.
        try withSpool(options: SpoolOptions(commitLinger: .seconds(2))) { spool, _ in
            let first = submitAndWait(spool, [request([event("first")])])
            #expect(first.allSatisfy { (try? $0?.get()) != nil })
            #expect(spool.counters.ingestCommits == 1)

            let requests = (0..<20).map { request([event("e\($0)", contact: "c\($0 % 3)")]) }
            let results = submitAndWait(spool, requests)
            #expect(results.allSatisfy { (try? $0?.get()) != nil })
            // Without the linger the first of them starts a commit of its own at once.
            #expect(spool.counters.ingestCommits == 2)
            #expect(spool.counters.largestBatch == 20)
        }
    }

    @Test func theFirstRequestIsWrittenAtOnce() throws {
        try withSpool(options: SpoolOptions(commitLinger: .seconds(600))) { spool, _ in
            let committed = DispatchSemaphore(value: 0)
            let result = Locked<Result<IngestReceipt, SpoolError>?>(nil)
            spool.submit(request([event("lone")])) { outcome in
                result.withLock { $0 = outcome }
                committed.signal()
            }
            // A lingering writer would not start for ten minutes.
            #expect(committed.wait(timeout: .now() + 60) == .success, "committed without lingering")
            #expect((try? result.withLock { $0 }?.get())?.newEvents == 1)
        }
    }

    @Test func closingWritesARequestThatIsStillLingering() throws {
        try withTemporaryDirectory { directory in
            let spool = try Spool.open(directory: directory, options: SpoolOptions(commitLinger: .seconds(1)))
            _ = submitAndWait(spool, [request([event("first")])])
            let result = Locked<Result<IngestReceipt, SpoolError>?>(nil)
            spool.submit(request([event("lingering")])) { outcome in result.withLock { $0 = outcome } }
            spool.close()
            // Answered by the time close returns, and stored.
            #expect((try? result.withLock { $0 }?.get())?.newEvents == 1)
            let reopened = try Spool.open(directory: directory)
            defer { reopened.close() }
            #expect(try reopened.stats().requests == 2)
        }
    }
}
