import CutoverLocking
import CutoverTestSupport
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import CutoverSpool

/// Submits one request and waits for its completion (bounded, never a sleep).
private func submitOne(_ spool: Spool, _ request: IncomingRequest) -> Result<IngestReceipt, SpoolError>? {
    submitAndWait(spool, [request])[0]
}

private func succeeded(_ result: Result<IngestReceipt, SpoolError>?) -> Bool {
    if case .success = result { return true }
    return false
}

private func isLost(_ result: Result<IngestReceipt, SpoolError>?) -> Bool {
    if case .failure(let error) = result { return error.kind == .lost }
    return false
}

@Suite("Spool: a removed or replaced database is never acknowledged")
struct SpoolIdentityTests {
    @Test func aDeletedDirectoryFailsTheNextBatchAndEverySubmitAfter() throws {
        let directory = try TemporaryDirectory()
        let spool = try Spool.open(directory: directory.path("spool"))
        defer { spool.close() }
        let faults = Locked<[(SpoolFault, Bool)]>([])
        spool.onFault { fault, first in faults.withLock { $0.append((fault, first)) } }
        #expect(succeeded(submitOne(spool, request([event("before")]))))

        try FileManager.default.removeItem(atPath: directory.path("spool"))
        let after = submitOne(spool, request([event("after-1")]))
        #expect(isLost(after), "\(String(describing: after))")
        #expect(spool.fault?.kind == .lost)
        #expect(spool.fault?.reason.contains("was removed") == true, "\(String(describing: spool.fault))")
        #expect(isLost(submitOne(spool, request([event("after-2")]))), "lost stays lost")
        #expect(throws: SpoolError.self) { try spool.ingest([request([event("after-3")])]) }
        let seen = faults.withLock { $0 }
        #expect(seen.filter(\.1).count == 1, "the first fault is reported as first exactly once")
        #expect(seen.count >= 2, "every refusal is reported, to be counted")
    }

    /// A request refused because the spool is lost is counted as failed once; one whose commit
    /// timeout answered it before it reached the spool was counted as timed out, and is not again.
    @Test func aRefusalCountsOnlyRequestsNotAnsweredAlready() throws {
        let directory = try TemporaryDirectory()
        let spool = try Spool.open(directory: directory.path("spool"))
        defer { spool.close() }
        try FileManager.default.removeItem(atPath: directory.path("spool"))
        #expect(isLost(submitOne(spool, request([event("refused")]))))
        let failed = spool.counters.failedRequests
        #expect(failed >= 1)

        let answered = IngestTicket { _ in }
        answered.expire()?(SpoolError(kind: .timeout, message: "test", operation: "submit request"))
        spool.submit(request([event("timed-out")]), ticket: answered) { _ in Issue.record("an answered ticket was completed again") }
        #expect(spool.counters.failedRequests == failed, "counted by its timeout, not by the refusal")
        #expect(isLost(submitOne(spool, request([event("refused-again")]))))
        #expect(spool.counters.failedRequests == failed + 1)
    }

    @Test func aRetryFoundInMemoryIsNotAnsweredOnceTheRemovalIsSeen() throws {
        let directory = try TemporaryDirectory()
        let spool = try Spool.open(directory: directory.path("spool"))
        defer { spool.close() }
        #expect(succeeded(submitOne(spool, request([event("kept")]))))
        #expect(spool.committedInMemory(["kept"]), "committed, and the path names the database")

        try FileManager.default.removeItem(atPath: directory.path("spool"))
        // Within `identityCheckReuse` of the last check the answer may still stand; past it, a
        // new check runs and sees the removal. Waiting for the clock is the behaviour under test.
        let confirmedBefore = DispatchTime.now().uptimeNanoseconds
        while DispatchTime.now().uptimeNanoseconds &- confirmedBefore <= Spool.identityCheckReuse {}
        #expect(!spool.committedInMemory(["kept"]))
        #expect(spool.fault?.kind == .lost)
        #expect(spool.committedEvents(["kept"]) == nil, "lost: nothing is answered as stored")
        #expect(!spool.committedInMemory(["kept"]), "lost stays lost")
    }

    @Test func aReplacedDirectoryKeepsEveryAcknowledgedRequestInTheMovedDatabase() throws {
        let directory = try TemporaryDirectory()
        let live = directory.path("spool")
        let spool = try Spool.open(directory: live)
        #expect(succeeded(submitOne(spool, request([event("kept")]))))
        try FileManager.default.moveItem(atPath: live, toPath: directory.path("moved"))
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: false)
        #expect(isLost(submitOne(spool, request([event("refused")]))))
        #expect(spool.verifyIdentity()?.reason.contains("was removed") == true)
        spool.close()

        let moved = try Spool.open(directory: directory.path("moved"))
        defer { moved.close() }
        #expect(try moved.event(id: "kept") != nil)
        #expect(try moved.event(id: "refused") == nil, "a refused batch is not written into the old file")
    }

    @Test func aDatabaseReplacedByAnotherFileIsLostBeforeTheBatchIsWritten() throws {
        let directory = try TemporaryDirectory()
        let spool = try Spool.open(directory: directory.path("a"))
        defer { spool.close() }
        let other = try Spool.open(directory: directory.path("b"))
        other.close()
        spool._suspendWriter()
        let results = Locked<Result<IngestReceipt, SpoolError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        spool.submit(request([event("queued")])) { result in
            results.withLock { $0 = result }
            done.signal()
        }
        // Swapped while the request waits for its batch: the check runs when the batch is written.
        #expect(rename(directory.path("b") + "/spool.sqlite3", directory.path("a") + "/spool.sqlite3") == 0)
        spool._resumeWriter()
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(isLost(results.withLock { $0 }))
        #expect(spool.fault?.reason.contains("replaced") == true, "\(String(describing: spool.fault))")
    }
}

@Suite("Spool: commit timeout")
struct SpoolCommitTimeoutTests {
    @Test func aQueuedRequestTimesOutAndIsNotWrittenLater() throws {
        try withSpool(options: SpoolOptions(commitTimeout: .milliseconds(100))) { spool, _ in
            spool._suspendWriter()
            let calls = Atomic<Int>(0)
            let result = Locked<Result<IngestReceipt, SpoolError>?>(nil)
            let done = DispatchSemaphore(value: 0)
            spool.submit(request([event("stalled")])) { outcome in
                calls.add(1, ordering: .relaxed)
                result.withLock { $0 = outcome }
                done.signal()
            }
            #expect(done.wait(timeout: .now() + 30) == .success)
            if case .failure(let error) = result.withLock({ $0 }) {
                #expect(error.kind == .timeout)
            } else {
                Issue.record("expected a timeout, got \(String(describing: result.withLock { $0 }))")
            }
            spool._resumeWriter()
            // A submission after the stall goes through and proves the writer ran past the timed-out one.
            #expect(succeeded(submitOne(spool, request([event("next")]))))
            #expect(calls.load(ordering: .relaxed) == 1)
            let stalled = try spool.event(id: "stalled")
            #expect(stalled == nil, "answered 503 before its batch began: never written")
            #expect(spool.counters.timedOutRequests == 1)
        }
    }

    /// One check chain serves every deadline: submissions made one after another while the writer
    /// is stalled each time out, in order, and the timeout check ends once none is waiting.
    @Test func everyQueuedRequestTimesOutInSubmissionOrder() throws {
        try withSpool(options: SpoolOptions(commitTimeout: .milliseconds(50))) { spool, _ in
            spool._suspendWriter()
            let order = Locked<[String]>([])
            let done = DispatchGroup()
            for name in ["first", "second", "third"] {
                done.enter()
                spool.submit(request([event(name)])) { outcome in
                    if case .failure(let error) = outcome, error.kind == .timeout { order.withLock { $0.append(name) } }
                    done.leave()
                }
            }
            #expect(done.wait(timeout: .now() + 30) == .success)
            #expect(order.withLock { $0 } == ["first", "second", "third"])
            #expect(spool.counters.timedOutRequests == 3)
            spool._resumeWriter()
            #expect(succeeded(submitOne(spool, request([event("after")]))), "a later submission has a deadline of its own")
            for name in ["first", "second", "third"] {
                let stored = try spool.event(id: name)
                #expect(stored == nil, "\(name) was never written")
            }
        }
    }

    @Test func theDeadlineQueueDropsAnsweredHeadsAndExpiresOnlyWaitingOnes() {
        var queue = DeadlineQueue()
        let start = DispatchTime.now()
        let tickets = (0..<4).map { _ in IngestTicket { _ in } }
        for (index, ticket) in tickets.enumerated() {
            queue.append(start + .milliseconds(index * 10), ticket)
        }
        #expect(tickets[0].answerWithoutCommit())
        #expect(tickets[2].submit { _ in })
        #expect(tickets[2].complete(.failure(.closed("test"))))
        queue.dropAnsweredHead()
        #expect(queue.firstDeadline == start + .milliseconds(10), "the answered head is gone, the waiting second is first")
        let expired = queue.removeExpired(now: start + .milliseconds(25))
        #expect(expired.map(ObjectIdentifier.init) == [ObjectIdentifier(tickets[1])], "the answered third is skipped")
        #expect(queue.firstDeadline == start + .milliseconds(30))
        #expect(queue.removeExpired(now: start + .milliseconds(29)).isEmpty)
        #expect(queue.removeExpired(now: start + .milliseconds(30)).count == 1)
        #expect(queue.firstDeadline == nil)
    }

    /// A ticket is answered once: whichever of the caller, the commit and the timeout comes first.
    @Test func aTicketIsAnsweredOnceByWhicheverComesFirst() throws {
        let timedOut = Atomic<Int>(0)
        let admitted = IngestTicket { _ in timedOut.add(1, ordering: .relaxed) }
        let expiry = try #require(admitted.expire())
        expiry(SpoolError.closed("test"))
        #expect(timedOut.load(ordering: .relaxed) == 1)
        #expect(admitted.isAnswered)
        #expect(!admitted.answerWithoutCommit(), "the timeout answered: the caller must not")
        #expect(!admitted.submit { _ in Issue.record("a timed-out ticket was completed") }, "nor queue it")
        #expect(admitted.expire() == nil)

        let byCaller = IngestTicket { _ in Issue.record("the caller answered first") }
        #expect(byCaller.answerWithoutCommit())
        #expect(byCaller.expire() == nil)

        let completions = Atomic<Int>(0)
        let submitted = IngestTicket { _ in Issue.record("a submitted ticket times out through its completion") }
        #expect(submitted.submit { _ in completions.add(1, ordering: .relaxed) })
        #expect(!submitted.answerWithoutCommit(), "submitted: only the commit or the timeout answers")
        submitted.expire()?(SpoolError.closed("test"))
        #expect(!submitted.complete(.failure(.closed("test"))), "the commit landing after the timeout is not reported")
        #expect(completions.load(ordering: .relaxed) == 1)
    }

    @Test func aCommitFinishingAfterItsTimeoutIsNotReportedAgain() throws {
        try withSpool(options: SpoolOptions(commitTimeout: .milliseconds(100))) { spool, _ in
            let calls = Atomic<Int>(0)
            let unanswered = Atomic<Int>(0)
            spool.onUnansweredDeliveries { unanswered.add(1, ordering: .relaxed) }
            let timedOut = DispatchSemaphore(value: 0)
            let release = spool._stallWriterConnection()
            spool.submit(request([event("late")])) { outcome in
                calls.add(1, ordering: .relaxed)
                if case .failure(let error) = outcome, error.kind == .timeout { timedOut.signal() }
            }
            #expect(timedOut.wait(timeout: .now() + 30) == .success, "the timeout answers while the commit hangs")
            #expect(spool.writerBusyFor() != nil, "the writer is inside the stalled batch")
            release()
            // The writer finishes the late batch before this one: its late completion is dropped.
            #expect(succeeded(submitOne(spool, request([event("after")]))))
            #expect(calls.load(ordering: .relaxed) == 1, "exactly one completion")
            let late = try spool.event(id: "late")
            #expect(late != nil, "the late commit landed: a retry is a dedup hit")
            // Its delivery exists though no completion reported it: the observer (which pokes the
            // delivery workers) heard of it once, and not of the answered commit after it.
            #expect(unanswered.load(ordering: .relaxed) == 1)
            #expect(spool.writerBusyFor() == nil)
        }
    }
}

@Suite("Spool: start-up checks")
struct SpoolStartupCheckTests {
    /// A spool holding `count` requests of about 1 KiB each, closed (so the WAL is checkpointed away).
    private func filledSpool(_ directory: String, count: Int = 400) throws {
        let spool = try Spool.open(directory: directory)
        defer { spool.close() }
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 1000)
        // No events: nearly every page is a leaf of `requests`, so a page picked by position holds rows.
        _ = try spool.ingest((0..<count).map { request([], at: Double(1_700_000_000 + $0), body: body) })
    }

    private func overwritePage(_ path: String, page: Int, pageSize: Int = 4096) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64((page - 1) * pageSize))
        var generator = SplitMix64(seed: 42)
        handle.write(Data((0..<pageSize).map { _ in UInt8(truncatingIfNeeded: generator.next()) }))
        try handle.synchronize()
    }

    private func pageCount(_ path: String) throws -> Int {
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        return size / 4096
    }

    @Test func aNewSpoolWritesItsMarkerAndReopensWithTheSameID() throws {
        try withTemporaryDirectory { directory in
            let first = try Spool.open(directory: directory)
            #expect(first.openReport.check == .newSpool)
            #expect(first.openReport.wroteMarker)
            let id = first.openReport.spoolID
            first.close()
            let marker = try String(contentsOfFile: directory + "/spool.id", encoding: .utf8)
            #expect(marker.contains("id=\(id)"))
            let second = try Spool.open(directory: directory)
            defer { second.close() }
            #expect(second.openReport.spoolID == id)
            #expect(!second.openReport.wroteMarker)
            if case .passed = second.openReport.check {} else { Issue.record("\(second.openReport.check)") }
        }
    }

    @Test func aTruncatedDatabaseRefusesToStartEmpty() throws {
        try withTemporaryDirectory { directory in
            try filledSpool(directory, count: 10)
            #expect(truncate(directory + "/spool.sqlite3", 0) == 0)
            let error = #expect(throws: SpoolError.self) { try Spool.open(directory: directory) }
            #expect(error?.kind == .refused)
            #expect(error?.message.contains("is empty") == true, "\(String(describing: error))")
            #expect(error?.message.contains("Restore") == true)
            #expect(error?.message.contains("spool.id aside") == true, "names the way to start empty on purpose")
            let again = #expect(throws: SpoolError.self) { try Spool.open(directory: directory) }
            #expect(again?.kind == .refused, "the refusal created no schema: it refuses every time")
            // The named fix works: move the marker aside, and an empty spool starts.
            try FileManager.default.moveItem(atPath: directory + "/spool.id", toPath: directory + "/spool.id.old")
            let fresh = try Spool.open(directory: directory)
            defer { fresh.close() }
            #expect(try fresh.stats().requests == 0)
            #expect(fresh.openReport.wroteMarker)
        }
    }

    @Test func aDeletedDatabaseRefusesToStartEmpty() throws {
        try withTemporaryDirectory { directory in
            try filledSpool(directory, count: 1)
            try FileManager.default.removeItem(atPath: directory + "/spool.sqlite3")
            let error = #expect(throws: SpoolError.self) { try Spool.open(directory: directory) }
            #expect(error?.kind == .refused)
            #expect(error?.message.contains("is empty") == true, "\(String(describing: error))")
        }
    }

    @Test func anotherSpoolsDatabaseIsRefused() throws {
        try withTemporaryDirectory { directory in
            try filledSpool(directory + "/a", count: 1)
            try filledSpool(directory + "/b", count: 1)
            try FileManager.default.removeItem(atPath: directory + "/a/spool.sqlite3")
            try FileManager.default.copyItem(atPath: directory + "/b/spool.sqlite3", toPath: directory + "/a/spool.sqlite3")
            let error = #expect(throws: SpoolError.self) { try Spool.open(directory: directory + "/a") }
            #expect(error?.kind == .refused)
            #expect(error?.message.contains("says this directory held spool") == true, "\(String(describing: error))")
        }
    }

    @Test func aSpoolFromBeforeMarkersGetsOne() throws {
        try withTemporaryDirectory { directory in
            try filledSpool(directory, count: 1)
            try FileManager.default.removeItem(atPath: directory + "/spool.id")
            let spool = try Spool.open(directory: directory)
            defer { spool.close() }
            #expect(spool.openReport.wroteMarker)
            #expect(try spool.stats().requests == 1)
        }
    }

    @Test func aCorruptMiddlePageFailsQuickCheckAndTheSkipFlagStartsAnyway() throws {
        try withTemporaryDirectory { directory in
            try filledSpool(directory)
            let path = directory + "/spool.sqlite3"
            let pages = try pageCount(path)
            #expect(pages > 50)
            try overwritePage(path, page: pages / 2)
            let error = #expect(throws: SpoolError.self) { try Spool.open(directory: directory) }
            #expect(error?.kind == .refused)
            #expect(error?.message.contains("quick_check") == true, "\(String(describing: error))")
            #expect(error?.message.contains("Fix: restore the spool directory from a backup") == true)
            #expect(error?.message.contains("--spool-check off") == true)

            // Skipped: it opens, and reading across the damage turns into a corrupt fault.
            let spool = try Spool.open(directory: directory, options: SpoolOptions(check: .off))
            defer { spool.close() }
            #expect(spool.openReport.check == .skipped)
            let faults = Locked<[SpoolFault]>([])
            spool.onFault { fault, _ in faults.withLock { $0.append(fault) } }
            var afterID: Int64 = 0
            var readError: SpoolError?
            do {
                while true {
                    let page = try spool.requests(afterID: afterID, limit: 50)
                    guard let last = page.last else { break }
                    afterID = last.id
                }
            } catch let error as SpoolError {
                readError = error
            }
            #expect(readError?.isFault == true, "\(String(describing: readError))")
            #expect(spool.fault?.kind == .corrupt)
            #expect(faults.withLock { $0.count } >= 1)
        }
    }

    @Test func aCorruptEarlyPageFailsQuickCheck() throws {
        try withTemporaryDirectory { directory in
            try filledSpool(directory, count: 50)
            try overwritePage(directory + "/spool.sqlite3", page: 2)
            let error = #expect(throws: SpoolError.self) { try Spool.open(directory: directory) }
            #expect(error?.kind == .refused, "\(String(describing: error))")
            #expect(error?.message.contains("Fix:") == true)
        }
    }

    @Test func aGarbledHeaderIsRefusedWithTheFix() throws {
        try withTemporaryDirectory { directory in
            try filledSpool(directory, count: 5)
            try overwritePage(directory + "/spool.sqlite3", page: 1)
            let error = #expect(throws: SpoolError.self) { try Spool.open(directory: directory) }
            #expect(error?.kind == .refused, "\(String(describing: error))")
            #expect(error?.primaryCode == 26, "SQLITE_NOTADB")
        }
    }
}
