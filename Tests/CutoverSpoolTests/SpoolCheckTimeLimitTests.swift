import CutoverTestSupport
import Foundation
import Testing

@testable import CutoverSpool

@Suite("Spool: the start-up check's time limit")
struct SpoolCheckTimeLimitTests {
    /// A start-up check that would take longer than `checkTimeout` is interrupted: the spool opens
    /// unverified (the report says so, for the log line) and takes webhooks as usual.
    @Test func aCheckPastItsLimitIsInterruptedAndTheSpoolOpensUnverified() throws {
        try withTemporaryDirectory { directory in
            let body = [UInt8](repeating: UInt8(ascii: "x"), count: 2000)
            do {
                let spool = try Spool.open(directory: directory)
                defer { spool.close() }
                for batch in 0..<20 {
                    _ = try spool.ingest((0..<1000).map { request([], at: Double(1_700_000_000 + batch * 1000 + $0), body: body) })
                }
            }
            // Unlimited, the check passes and takes this long on this disk: the limit below is far shorter.
            let unlimited = try Spool.open(directory: directory)
            guard case .passed(let elapsed) = unlimited.openReport.check else {
                unlimited.close()
                Issue.record("\(unlimited.openReport.check)")
                return
            }
            unlimited.close()
            let limit = Duration.microseconds(100)
            #expect(elapsed > limit * 20, "the check took \(elapsed)")

            let spool = try Spool.open(directory: directory, options: SpoolOptions(checkTimeout: limit))
            defer { spool.close() }
            #expect(spool.openReport.check == .timedOut(limit))
            let receipts = try spool.ingest([request([], at: 1_800_000_000, body: body)])
            #expect(receipts.count == 1)
            #expect(try spool.stats().requests == 20_001)
        }
    }
}
