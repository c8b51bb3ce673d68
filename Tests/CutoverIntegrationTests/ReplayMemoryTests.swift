import CutoverTestSupport
import Foundation
import Testing

/// `cutover replay` reads a capture a line at a time: a capture several times larger than the
/// bound replays with its peak resident set under the bound. A memory assertion, not a timing one.
@Suite(.serialized)
struct ReplayMemoryTests {
    /// Peak resident set the replay may reach, whatever the capture's size.
    private static let boundBytes = 64 << 20

    /// Runs `cutover` with `arguments`, its standard output to /dev/null, and returns its exit
    /// status, standard error and peak resident set in bytes: the child's `ru_maxrss`, which the
    /// kernel keeps as the high-water mark of its RSS (the VmHWM of /proc/<pid>/status, read at
    /// its exit instead of by polling while it runs).
    private func peakResidentSet(_ arguments: [String]) throws -> (status: Int32, error: String, peak: Int) {
        let script = """
            import resource, subprocess, sys
            child = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            sys.stderr.buffer.write(child.stderr[-4000:])
            print(child.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            """
        let result = try runCommand("/usr/bin/env", ["python3", "-c", script, cutoverBinary] + arguments, timeout: 120)
        let fields = result.output.split(whereSeparator: \.isWhitespace)
        guard result.status == 0, fields.count == 2, let status = Int32(fields[0]), let kilobytes = Int(fields[1]) else {
            throw TestFailure("the measuring wrapper failed: \(result.output) \(result.error)")
        }
        return (status, result.error, kilobytes * 1024)
    }

    @Test func aCaptureMuchLargerThanTheBoundReplaysUnderIt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("capture.jsonl")
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw TestFailure("cannot create \(path)")
        }
        // Records of 64 KiB (bodies the replay parses and renders) and, between them, lines of
        // 40 MiB, over --max-record-bytes: each must fail as one record without being read whole.
        let body = String(repeating: "a", count: 64 << 10)
        let record = Data(#"{"route":"cloud","headers":{"content-type":"application/json"},"body":"\#(body)"}"#.utf8 + Array("\n".utf8))
        let records = (0..<64).reduce(into: Data()) { chunk, _ in chunk.append(record) }
        let oversized = Data(repeating: UInt8(ascii: "x"), count: 4 << 20)
        let blocks = 8
        var written = 0
        var recordCount = 0
        for _ in 0..<blocks {
            file.write(records)
            written += records.count
            recordCount += 64
            for _ in 0..<10 { file.write(oversized) }
            file.write(Data("\n".utf8))
            written += 10 * oversized.count + 1
        }
        try file.close()
        #expect(written > 3 * Self.boundBytes, "the capture is much larger than the bound")

        let run = try peakResidentSet(["replay", path, "--dry-run", "--format", "raw", "--max-record-bytes", String(1 << 20)])
        #expect(run.status == 1, "the oversized lines are failed records: \(run.error)")
        #expect(
            run.error.contains("dry run: \(recordCount) requests rendered, nothing sent; failed \(blocks), skipped 0 (\(recordCount + blocks) read"),
            "\(run.error)")
        #expect(run.error.contains("a line of \(10 * oversized.count) bytes, longer than the largest record (1048576 bytes"))
        // Under a sanitizer the peak is mostly shadow memory and quarantine; `make test` checks the bound.
        if Sanitizer.current == nil {
            #expect(run.peak < Self.boundBytes, "peak RSS \(run.peak >> 20) MiB for a capture of \(written >> 20) MiB")
        }
    }
}
