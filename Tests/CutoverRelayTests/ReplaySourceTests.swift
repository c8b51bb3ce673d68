@testable import CutoverDelivery
import CutoverTestSupport
import CutoverWebhooks
import Foundation
import Testing

/// Reading captures a line at a time: lines across chunk boundaries, a line over the limit
/// skipped (and the next one read), the last line without a newline, counting, one document.
struct LineReaderTests {
    private func lines(_ reader: LineReader) throws -> [LineReader.Line] {
        var lines: [LineReader.Line] = []
        while let line = try reader.next() { lines.append(line) }
        return lines
    }

    @Test func linesAcrossChunksAndAnOverlongLineInAFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/lines.jsonl"
        let long = String(repeating: "x", count: 3 * LineReader.chunkBytes + 17)
        let medium = String(repeating: "m", count: LineReader.chunkBytes - 1)
        try "first\n\(medium)\n\(long)\n\n  \r\nlast".write(toFile: path, atomically: true, encoding: .utf8)

        let reader = try LineReader(path: path, maxLineBytes: LineReader.chunkBytes)
        #expect(
            try lines(reader) == [
                .text(Array("first".utf8)), .text(Array(medium.utf8)), .tooLong(bytes: long.utf8.count), .text([]),
                .text(Array("  \r".utf8)), .text(Array("last".utf8)),
            ])
        #expect(try reader.next() == nil)
        #expect(try LineReader(path: path, maxLineBytes: 10).countNonBlankLines() == 4)
    }

    @Test func aLineOverTheLimitIsSkippedToItsNewline() throws {
        let reader = LineReader(bytes: Array("0123456789\nab\n0123456789AB".utf8), name: "memory", maxLineBytes: 10)
        #expect(try lines(reader) == [.text(Array("0123456789".utf8)), .text(Array("ab".utf8)), .tooLong(bytes: 12)])
    }

    @Test func peekingLeavesTheLinesInPlace() throws {
        let reader = LineReader(bytes: Array("a\nb".utf8), name: "memory", maxLineBytes: 10)
        #expect(try reader.peekRest(limit: 2) == nil)
        #expect(try reader.peekRest(limit: 3) == Array("a\nb".utf8))
        #expect(try lines(reader) == [.text(Array("a".utf8)), .text(Array("b".utf8))])
    }

    @Test func aMissingFileIsAnErrorWithItsReason() {
        #expect(throws: ReplaySourceError.self) { try LineReader(path: "/nonexistent/capture.jsonl", maxLineBytes: 10) }
        do {
            _ = try LineReader(path: "/nonexistent/capture.jsonl", maxLineBytes: 10)
        } catch {
            #expect("\(error)" == "cannot open /nonexistent/capture.jsonl: No such file or directory")
        }
    }
}

struct JSONLinesSourceTests {
    private func records(_ source: JSONLinesSource) throws -> [ReplayRecord] {
        var records: [ReplayRecord] = []
        while let record = try source.next() { records.append(record) }
        return records
    }

    @Test func aPrettyPrintedDocumentIsOneRecord() throws {
        let body = "{\n  \"object\": \"whatsapp_business_account\",\n  \"entry\": []\n}\n"
        let source = JSONLinesSource(name: "body.json", bytes: Array(body.utf8), modified: 42)
        #expect(source.estimatedCount == 1)
        let read = try records(source)
        #expect(read.count == 1)
        #expect(read.first?.label == "body.json")
        #expect(read.first?.request.receivedAt == 42, "a whole-file body takes the file's time")
        #expect(read.first?.problem == nil)
    }

    @Test func aLineLongerThanARecordFailsThatRecordOnly() throws {
        let good = #"{"received_at":1700000000,"route":"cloud","headers":{},"body":"{}"}"#
        let long = #"{"body":""# + String(repeating: "a", count: 200) + #""}"#
        let source = JSONLinesSource(name: "capture.jsonl", bytes: Array("\(good)\n\(long)\n\n\(good)\n".utf8), maxRecordBytes: 100)
        #expect(source.estimatedCount == 3)
        let read = try records(source)
        #expect(read.map(\.label) == ["capture.jsonl:1", "capture.jsonl:2", "capture.jsonl:4"])
        #expect(read[0].problem == nil && read[2].problem == nil)
        #expect(read[0].request.route == "cloud")
        #expect(read[1].problem?.contains("a line of \(long.utf8.count) bytes, longer than the largest record (100 bytes") == true)
    }

    @Test func aFileIsCountedAndReadInLines() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/capture.jsonl"
        let line = #"{"route":"cloud","headers":{},"body":"{\"object\":\"whatsapp_business_account\",\"entry\":[]}"}"#
        try String(repeating: line + "\n", count: 5000).write(toFile: path, atomically: true, encoding: .utf8)
        let source = try JSONLinesSource(path: path, maxRecordBytes: 1000)
        #expect(source.estimatedCount == 5000)
        let read = try records(source)
        #expect(read.count == 5000)
        #expect(read.allSatisfy { $0.problem == nil && $0.request.route == "cloud" })
        #expect(read.last?.label == path + ":5000")
    }
}
