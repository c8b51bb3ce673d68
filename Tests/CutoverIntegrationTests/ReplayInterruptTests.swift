import CutoverTestSupport
import Foundation
import Testing

/// Ctrl-C during `cutover replay`, the real binary, against a downstream that holds its answers:
/// nothing more is sent, the requests in flight are waited for (or, on a second signal, given up
/// on), the summary says what was not sent, and the exit code is 128 + the signal.
@Suite(.serialized)
struct ReplayInterruptTests {
    private static let records = 10

    /// A capture of `records` Cloud bodies, one request each in raw replay.
    private func capture(in directory: TemporaryDirectory) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Repo.path("fixtures/cloud/legacy_msg_text.json"))))
        let body = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]), as: UTF8.self)
        let line = #"{"route":"cloud","headers":{},"body":\#(body)}"#
        let path = directory.path("capture.jsonl")
        try String(repeating: line + "\n", count: Self.records).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Prepared-but-unsent requests plus unread records: everything the replay did not send.
    private func notSent(_ output: String) -> Int? {
        guard let match = output.firstMatch(of: /not sent (\d+) prepared, (\d+) records unread/) else { return nil }
        return Int(match.1)! + Int(match.2)!
    }

    /// A replay of the capture with two requests in flight: they reached the downstream, which
    /// holds their answers.
    private func replayHoldingTwo(in directory: TemporaryDirectory, downstream: Downstream) throws -> PeerProcess {
        let replay = try PeerProcess(
            cutoverBinary, ["replay", try capture(in: directory), "--to", downstream.url, "--format", "raw", "--concurrency", "2"]
        )
        guard downstream.waitForRequests(2) != nil else { throw TestFailure("no two requests in flight: \(replay.stderr.text)") }
        return replay
    }

    @Test func ctrlCWaitsForTheRequestsInFlightAndPrintsTheSummary() throws {
        let downstream = try Downstream(arguments: ["--hold"])
        defer { downstream.stop() }
        let directory = try TemporaryDirectory()
        let replay = try replayHoldingTwo(in: directory, downstream: downstream)
        replay.signal(SIGINT)
        _ = try replay.waitForLine(.stderr) { $0.contains("interrupted by SIGINT: sending nothing more") }
        #expect(replay.termination == nil, "the replay waits for its requests in flight")
        #expect(try curl(["-X", "POST", "http://127.0.0.1:\(downstream.port)/release"]).status == 204)

        let ended = replay.waitForExit(timeout: 30)
        #expect(ended == .exited(130), "stderr: \(replay.stderr.text)")
        // The exit can be seen before the reader drained the pipe: read stdout once it ended.
        #expect(replay.stdout.waitForEnd(timeout: 30))
        let output = replay.stdout.text
        #expect(output.contains("replay to \(downstream.url): sent 2, 2xx 2, failed 0"), "\(output)")
        #expect(output.contains("interrupted by SIGINT"))
        #expect(notSent(output) == Self.records - 2, "\(output)")
        #expect(downstream.requests.count == 2, "nothing was sent after the signal")
    }

    @Test func aSecondSignalStopsWaitingForTheRequestsInFlight() throws {
        let downstream = try Downstream(arguments: ["--hold"])
        defer { downstream.stop() }
        let directory = try TemporaryDirectory()
        let replay = try replayHoldingTwo(in: directory, downstream: downstream)
        replay.signal(SIGTERM)
        _ = try replay.waitForLine(.stderr) { $0.contains("interrupted by SIGTERM") }
        replay.signal(SIGTERM)

        let ended = replay.waitForExit(timeout: 30)
        #expect(ended == .exited(143), "stderr: \(replay.stderr.text)")
        // The exit can be seen before the reader drained the pipe: read stdout once it ended.
        #expect(replay.stdout.waitForEnd(timeout: 30))
        let output = replay.stdout.text
        #expect(output.contains("sent 2, 2xx 0, failed 2"), "\(output)")
        #expect(output.contains("interrupted by SIGTERM"))
        #expect(notSent(output) == Self.records - 2, "\(output)")
        #expect(replay.stderr.text.contains("interrupted before an answer arrived"))
    }
}
