@testable import CutoverConfiguration
@testable import CutoverDelivery
@testable import CutoverOperations
import CutoverLocking
import Dispatch
import Foundation
import Logging
import Testing

struct LoggingTests {
    final class Lines: Sendable {
        private let lines = Locked<[[UInt8]]>([])
        func append(_ line: [UInt8]) { lines.withLock { $0.append(line) } }
        func withLock<T>(_ body: ([[UInt8]]) throws -> T) rethrows -> T { try lines.withLock { try body($0) } }
    }

    /// A logger whose JSON lines are collected instead of written to standard error.
    private func collectingLogger(metadataProvider: Logger.MetadataProvider? = nil) -> (Logger, Lines) {
        let lines = Lines()
        let output = LogOutput { bytes in lines.append(bytes) }
        var logger = Logger(label: "cutover") { label in
            JSONLogHandler(label: label, metadataProvider: metadataProvider, output: output)
        }
        logger.logLevel = .debug
        return (logger, lines)
    }

    private func parse(_ line: [UInt8]) throws -> [String: Any] {
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().contains(UInt8(ascii: "\n")) == false, "one line per entry")
        return try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
    }

    @Test func oneJSONObjectPerLineWithEverythingEscaped() throws {
        let (logger, lines) = collectingLogger()
        let awkward = "quote \" backslash \\ newline \n tab \t cr \r bell \u{07} del \u{7f} unicode é 😀 slash /"
        logger.warning(
            "\(awkward)",
            metadata: [
                "text": "\(awkward)", "list": ["a", "b\"c"], "nested": ["inner": "value\n"],
                "number": .stringConvertible(42),
            ])
        let entry = try parse(try #require(lines.withLock { $0.first }))
        #expect(entry["message"] as? String == awkward)
        #expect(entry["level"] as? String == "warning")
        #expect(entry["label"] as? String == "cutover")
        let metadata = try #require(entry["metadata"] as? [String: Any])
        #expect(metadata["text"] as? String == awkward)
        #expect(metadata["list"] as? [String] == ["a", "b\"c"])
        #expect((metadata["nested"] as? [String: String])?["inner"] == "value\n")
        #expect(metadata["number"] as? String == "42")
        let raw = String(decoding: try #require(lines.withLock { $0.first }), as: UTF8.self)
        #expect(raw.contains("slash /"), "slashes are not escaped, so URLs stay greppable")
    }

    @Test func timestampIsRFC3339UTCWithMilliseconds() throws {
        var out: [UInt8] = []
        JSONLogHandler.appendTimestamp(Date(timeIntervalSince1970: 1_700_000_000.123_9), to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "2023-11-14T22:13:20.123Z")
        out.removeAll()
        JSONLogHandler.appendTimestamp(Date(timeIntervalSince1970: 0), to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "1970-01-01T00:00:00.000Z")
    }

    @Test func emptyMetadataIsLeftOut() throws {
        let (logger, lines) = collectingLogger()
        logger.info("plain")
        let entry = try parse(try #require(lines.withLock { $0.first }))
        #expect(entry["metadata"] == nil)
        #expect(Set(entry.keys) == ["timestamp", "level", "label", "message"])
    }

    @Test func theRequestIDBoundToTheContextIsInEveryLine() throws {
        let (logger, lines) = collectingLogger(metadataProvider: RequestContext.metadataProvider)
        RequestContext.withRequestID("req-7") {
            logger.notice("inside", metadata: ["route": "/cloud"])
        }
        logger.notice("outside")
        let entries = try lines.withLock { $0 }.map(parse)
        #expect((entries[0]["metadata"] as? [String: String]) == ["request_id": "req-7", "route": "/cloud"])
        #expect(entries[1]["metadata"] == nil)
    }

    /// The binding is this thread's, for the closure's extent: nested bindings restore the outer
    /// one, and another thread sees none.
    @Test func aBoundRequestIDIsScopedToItsClosureAndThread() {
        #expect(RequestContext.requestID == nil)
        RequestContext.withRequestID("outer") {
            #expect(RequestContext.requestID == "outer")
            RequestContext.withRequestID("inner") { #expect(RequestContext.requestID == "inner") }
            RequestContext.withRequestID(nil) { #expect(RequestContext.requestID == nil) }
            #expect(RequestContext.requestID == "outer")
            let seen = Locked<String??>(nil)
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                seen.withLock { $0 = .some(RequestContext.requestID) }
                done.signal()
            }
            #expect(done.wait(timeout: .now() + 10) == .success)
            #expect(seen.withLock { $0 } == .some(nil), "another thread sees no binding")
        }
        #expect(RequestContext.requestID == nil)
    }

    @Test func logLevelIsHonoured() {
        var (logger, lines) = collectingLogger()
        logger.logLevel = .warning
        logger.info("dropped")
        logger.error("kept")
        #expect(lines.withLock { $0.count } == 1)
    }

    @Test func incomingRequestIDsAreKeptOnlyWhenSane() {
        #expect(RequestID.resolve(incoming: "abc-123_x.y:z") == "abc-123_x.y:z")
        #expect(RequestID.resolve(incoming: "0f8fad5b-d9cb-469f-a165-70867728950e") == "0f8fad5b-d9cb-469f-a165-70867728950e")
        for insane in ["", "has space", "quote\"", "new\nline", "{json}", "é", String(repeating: "a", count: 129)] {
            let resolved = RequestID.resolve(incoming: insane)
            #expect(resolved != insane)
            #expect(RequestID.isSane(resolved))
        }
        #expect(RequestID.resolve(incoming: nil) != RequestID.resolve(incoming: nil), "generated ids are unique")
    }

    @Test func generatedIDsAreTheProcessPrefixAndACounterInHex() throws {
        let first = RequestID.generate(), second = RequestID.generate()
        let parts = [first, second].map { $0.split(separator: "-").map(String.init) }
        #expect(parts.allSatisfy { $0.count == 2 && $0[0].utf8.count == 16 })
        #expect(parts[0][0] == parts[1][0], "one prefix per process")
        let counters = try parts.map { try #require(UInt64($0[1], radix: 16)) }
        #expect(counters[1] > counters[0], "other tests may take ids in between")
        #expect(parts.allSatisfy { $0[1] == String(UInt64($0[1], radix: 16)!, radix: 16) }, "no leading zeros")
    }
}

/// A stderr pipe nobody reads must not stall the threads that log (loops, the spool writer).
struct StandardErrorWriterTests {
    @Test(.timeLimit(.minutes(1)))
    func aFullPipeNeitherBlocksTheCallerNorLosesLinesSilently() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let writer = StandardErrorWriter(descriptor: writeEnd, maxBacklogBytes: 4096)
        // 1 MiB into a 64 KiB pipe that nobody reads: every call returns, past the backlog lines drop.
        for index in 0..<1024 {
            writer.write(Array("\(index) \(String(repeating: "x", count: 1000))\n".utf8))
        }
        #expect(writer.droppedLines > 0)

        let collected = Locked<[UInt8]>([])
        let readerDone = DispatchSemaphore(value: 0)
        let reader = Thread {
            defer { readerDone.signal() }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = read(readEnd, &buffer, buffer.count)
                if count <= 0 { break }
                collected.withLock { $0.append(contentsOf: buffer[0..<count]) }
            }
        }
        reader.start()
        writer.write(Array("last\n".utf8))
        writer.flush()
        close(writeEnd)
        // The reader ends at end of file, which closing the only write end gives it.
        #expect(readerDone.wait(timeout: .now() + 30) == .success)
        close(readEnd)

        let lines = collected.withLock { String(decoding: $0, as: UTF8.self) }.split(separator: "\n")
        #expect(lines.last == "last")
        let numbered = lines.compactMap { line in line.split(separator: " ").first.flatMap { Int($0) } }
        #expect(numbered.first == 0)
        #expect(numbered == numbered.sorted(), "lines stay in order")
        #expect(lines.allSatisfy { $0 == "last" || $0.contains("log lines dropped") || $0.hasSuffix(String(repeating: "x", count: 1000)) }, "lines stay whole")
        let reports = lines.filter { $0.contains("log lines dropped") }
        #expect(!reports.isEmpty, "the drop is reported as a line of its own")
        #expect(numbered.count + reports.count + 1 == lines.count)
        // Every line is written or counted: what the reports add up to is exactly what is missing.
        let reportedCount = reports.compactMap { report in
            report.split(separator: "\"").first { $0.hasSuffix(" log lines dropped: standard error was not keeping up") }
                .flatMap { Int($0.prefix { $0.isNumber }) }
        }.reduce(0, +)
        #expect(reportedCount == 1024 - numbered.count)
    }
}
