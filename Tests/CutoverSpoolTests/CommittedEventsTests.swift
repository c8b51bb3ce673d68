import CutoverTestSupport
import Dispatch
import Testing

@testable import CutoverSpool

/// `Spool.committedEvents`: what the ingress may answer a retry with 200 for, without a write.
/// Only committed ids count: from the in-memory index, else from the read-only connection.
struct CommittedEventsTests {
    @Test func anIdInABatchNotYetCommittedIsNotCommitted() throws {
        try withSpool { spool, _ in
            spool._suspendWriter()
            let done = DispatchSemaphore(value: 0)
            spool.submit(request([event("pending-1")])) { _ in done.signal() }
            #expect(spool.committedEvents(["pending-1"]) == [false], "queued, not committed: the retry must wait")
            spool._resumeWriter()
            done.wait()
            #expect(spool.committedEvents(["pending-1", "other"]) == [true, false])
        }
    }

    @Test func anIdInsideAnOpenWriteTransactionIsNotCommitted() throws {
        try withSpool { spool, _ in
            _ = try spool.ingest([request([event("first")])])
            try spool._insideWriteTransaction {
                // The held transaction inserted a request row; an event id written now would be invisible too.
                #expect(spool.committedEvents(["first", "never"]) == [true, false])
            }
        }
    }

    @Test func idsTheIndexNoLongerHoldsAreFoundInTheDatabase() throws {
        try withSpool(options: SpoolOptions(dedupIndexCapacity: 2)) { spool, _ in
            _ = try spool.ingest([request([event("a"), event("b"), event("c")])])
            #expect(spool.committedIndex.count == 2, "bounded: the oldest id is forgotten")
            #expect(spool.committedEvents(["a", "b", "c", "d"]) == [true, true, true, false])
        }
    }

    @Test func aReopenedSpoolKnowsWhatWasCommittedBefore() throws {
        try withTemporaryDirectory { directory in
            let first = try Spool.open(directory: directory)
            _ = submitAndWait(first, [request([event("kept")])])
            first.close()
            let second = try Spool.open(directory: directory)
            defer { second.close() }
            #expect(second.committedIndex.count == 0)
            #expect(second.committedEvents(["kept"]) == [true])
            #expect(second.committedIndex.count == 1, "a database hit is remembered")
        }
    }

    @Test func prunedIdsAreNoLongerCommitted() throws {
        try withSpool { spool, _ in
            let day = 86_400.0
            _ = try spool.ingest([request([event("old", destinations: [])], at: 1_000 * day)])
            #expect(spool.committedEvents(["old"]) == [true])
            let report = try spool.prune(now: 1_010 * day, policy: RetentionPolicy(dedupWindow: 7 * day, rawRetention: 7 * day))
            #expect(report.events == 1)
            #expect(spool.committedEvents(["old"]) == [false], "a retry of a pruned id is a new event again")
        }
    }

    @Test func aClosedSpoolAndTooManyMissesGiveNoAnswer() throws {
        try withTemporaryDirectory { directory in
            let spool = try Spool.open(directory: directory)
            let many = (0...Spool.maxCommittedLookups).map { "new-\($0)" }
            #expect(spool.committedEvents(many) == nil, "a body of many new ids is not looked up one by one")
            #expect(spool.committedEvents(Array(many.dropLast())) == Array(repeating: false, count: many.count - 1))
            #expect(spool.committedEvents([]) == nil)
            spool.close()
            #expect(spool.committedEvents(["x"]) == nil)
        }
    }

    @Test func duplicatesAnsweredWithoutAWriteReachTheTotals() throws {
        try withTemporaryDirectory { directory in
            let spool = try Spool.open(directory: directory)
            _ = submitAndWait(spool, [request([event("a")])])
            spool.recordCommittedDuplicates(2)
            #expect(try spool.stats().totals.duplicateEvents == 0, "not written on their own")
            _ = submitAndWait(spool, [request([event("b"), event("a")])])
            #expect(try spool.stats().totals.duplicateEvents == 3, "carried by the next commit")
            spool.recordCommittedDuplicates(1)
            spool.close()
            let reopened = try Spool.open(directory: directory)
            defer { reopened.close() }
            #expect(try reopened.stats().totals.duplicateEvents == 4, "and the rest at close")
        }
    }

    @Test func committedDuplicatesOfARequestAreCountedAsDuplicates() throws {
        try withSpool { spool, _ in
            var mixed = request([event("fresh")])
            mixed.committedDuplicates = 2
            let receipts = try spool.ingest([mixed])
            #expect(receipts.first?.duplicateEvents == 2)
            #expect(receipts.first?.newEvents == 1)
            #expect(try spool.stats().totals.duplicateEvents == 2)
        }
    }
}

/// The index alone: a hit is an exact id, never a neighbour of the same length and prefix, and the
/// ring forgets the oldest first.
struct CommittedEventIndexTests {
    @Test func onlyTheIdsPutInAreFoundAndTheOldestAreForgottenFirst() {
        let index = CommittedEventIndex(capacity: 4_000)
        let stored = (0..<4_000).map { "msg:wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQz\(String($0 + 10_000))" }
        index.insert(stored)
        #expect(index.count == 4_000)
        #expect(stored.allSatisfy { index.containsAll([$0]) })
        let neighbours = (0..<4_000).map { "msg:wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQz\(String($0 + 20_000))" }
        #expect(!neighbours.contains { index.containsAll([$0]) }, "same length and prefix, other ids")
        #expect(!index.containsAll([stored[0], neighbours[0]]))
        var known = [Bool](repeating: false, count: 3)
        _ = index.lookup([neighbours[1], stored[1], stored[2] + "x"], into: &known)
        #expect(known == [false, true, false])

        index.insert(neighbours[..<1_000])
        #expect(index.count == 4_000)
        #expect(!stored[..<1_000].contains { index.containsAll([$0]) }, "the first thousand made room")
        #expect(stored[1_000...].allSatisfy { index.containsAll([$0]) })
        #expect(neighbours[..<1_000].allSatisfy { index.containsAll([$0]) })
        index.insert([stored[1_500]])
        #expect(index.count == 4_000, "an id already in is not added twice")
    }
}
