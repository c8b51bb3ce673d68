@testable import CutoverHTTP2
import HTTPTypes
import Testing

/// Records what a session reports; used on the test's thread only.
private final class SessionLog: HTTP2SessionDelegate {
    var messages: [HTTP2Message] = []
    var rejections: [Int] = []
    func http2Session(_ session: HTTP2Session, didReceive message: HTTP2Message) { messages.append(message) }
    func http2Session(_ session: HTTP2Session, didReject streamID: Int32, status: HTTPResponse.Status, reason: String) {
        rejections.append(status.code)
    }
    func http2Session(_ session: HTTP2Session, streamDidClose streamID: Int32, errorCode: HTTP2ErrorCode) {}
    func http2Session(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode) {}
    func http2SessionDidReceiveSettings(_ session: HTTP2Session) {}
}

/// Splits a client's output into the preface and whole frames, so they can be fed one at a time.
private struct FrameSplitter {
    private var pending: [UInt8] = []
    private var prefaceSeen = false

    mutating func frames(from bytes: [UInt8]) -> [(type: UInt8, bytes: [UInt8])] {
        pending += bytes
        var frames: [(type: UInt8, bytes: [UInt8])] = []
        if !prefaceSeen, pending.count >= HTTP2Session.clientPreface.count {
            frames.append((0xff, Array(pending.prefix(HTTP2Session.clientPreface.count))))
            pending.removeFirst(HTTP2Session.clientPreface.count)
            prefaceSeen = true
        }
        while prefaceSeen, pending.count >= 9 {
            let length = Int(pending[0]) << 16 | Int(pending[1]) << 8 | Int(pending[2])
            guard pending.count >= 9 + length else { break }
            frames.append((pending[3], Array(pending.prefix(9 + length))))
            pending.removeFirst(9 + length)
        }
        return frames
    }
}

@Suite struct H2SessionBodyTests {
    @Test func aFourMebibyteBodyInSixteenKibibyteDataFramesArrivesIntactAndIsAppendedInPlace() throws {
        let limits = HTTP2Limits(maxBodyBytes: 8 << 20)
        let server = try HTTP2Session(role: .server, limits: limits)
        let client = try HTTP2Session(role: .client, limits: limits)
        let serverLog = SessionLog()
        let clientLog = SessionLog()
        server.delegate = serverLog
        client.delegate = clientLog

        let body = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 ^ ($0 >> 9)) }
        let request = HTTPRequest(method: .post, scheme: "https", authority: "example", path: "/hook")
        let streamID = try client.submitRequest(request, body: body)

        var splitter = FrameSplitter()
        var dataFrames = 0
        var changes = 0
        var lastStorage: UInt?
        while serverLog.messages.isEmpty {
            var toServer: [UInt8] = []
            try client.produceOutput(into: &toServer, limit: 1 << 20)
            for frame in splitter.frames(from: toServer) {
                try frame.bytes.withUnsafeBytes { try server.receive($0) }
                guard frame.type == 0, serverLog.messages.isEmpty else { continue }
                dataFrames += 1
                let storage = try #require(server.receivedBodyStorage(streamID: streamID))
                if storage != lastStorage { changes += 1 }
                lastStorage = storage
            }
            var toClient: [UInt8] = []
            try server.produceOutput(into: &toClient, limit: 1 << 20)
            try toClient.withUnsafeBytes { try client.receive($0) }
            try #require(!toServer.isEmpty || !toClient.isEmpty, "the sessions stopped talking before the body was in")
        }

        #expect(serverLog.rejections.isEmpty)
        #expect(serverLog.messages.count == 1)
        #expect(serverLog.messages.first?.body == body)
        #expect(dataFrames >= (4 << 20) / (16 << 10) - 1)
        // Appended in place, the buffer moves only when it grows (doubling: about a dozen times
        // for 256 frames); copied per frame, it moves on every one.
        #expect(changes <= 16, "body buffer moved \(changes) times over \(dataFrames) DATA frames")
    }
}
