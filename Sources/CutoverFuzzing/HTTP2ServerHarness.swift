import CutoverHTTP2
import HTTPTypes

/// A server session fed the client preface (unless flag 1 says the fuzzer writes its own), then
/// the payload's frames in the fuzzer's pieces, answering every request and rejection as the server
/// does and draining its output after each read. What comes out stays within the limits (flag 0
/// picks small ones); nghttp2's protocol errors end the session, never the process.
enum HTTP2ServerHarness {
    static let smallLimits = HTTP2Limits(
        maxConcurrentStreams: 4, maxHeaderListSize: 256, maxHeaderCount: 8, maxBodyBytes: 256,
        initialStreamWindowSize: 16 * 1024, connectionWindowSize: 65_535
    )

    static func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) {
        let input = FuzzInput(bytes)
        let limits = input.flag(0) ? smallLimits : HTTP2Limits()
        let session: HTTP2Session
        do { session = try HTTP2Session(role: .server, limits: limits) } catch { throw FuzzFailure("no session: \(error)") }
        let responder = Responder()
        session.delegate = responder
        var pieces = input.pieces
        if !input.flag(1) {
            HTTP2Session.clientPreface.withUnsafeBytes { preface in
                do { try session.receive(preface) } catch { responder.failures.append("the preface was refused: \(error)") }
            }
        }
        // At most the output of one read waits: a peer that never reads is the server's business.
        var output: [UInt8] = []
        output.reserveCapacity(64 * 1024)
        while !pieces.isEmpty, responder.failures.isEmpty {
            do {
                try session.receive(pieces.removeFirst())
                output.removeAll(keepingCapacity: true)
                try session.produceOutput(into: &output, limit: 64 * 1024)
            } catch {
                break
            }
            if session.isFinished { break }
        }
        for message in responder.messages {
            if message.body.count > limits.maxBodyBytes {
                throw FuzzFailure("a body of \(message.body.count) bytes passed a limit of \(limits.maxBodyBytes)")
            }
            if message.fields.count > limits.maxHeaderCount {
                throw FuzzFailure("\(message.fields.count) fields passed a limit of \(limits.maxHeaderCount)")
            }
        }
        if let failure = responder.failures.first { throw FuzzFailure(failure) }
    }

    /// Answers what the session reports, from after `receive` returns as the server connection does.
    private final class Responder: HTTP2SessionDelegate {
        var messages: [HTTP2Message] = []
        var failures: [String] = []

        func http2Session(_ session: HTTP2Session, didReceive message: HTTP2Message) {
            messages.append(message)
            let status: HTTPResponse.Status = (try? message.request()) == nil ? .badRequest : .ok
            respond(session, message.streamID, status)
        }

        func http2Session(_ session: HTTP2Session, didReject streamID: Int32, status: HTTPResponse.Status, reason: String) {
            if ![413, 431].contains(status.code) { failures.append("stream \(streamID) rejected with \(status.code): \(reason)") }
            respond(session, streamID, status)
        }

        func http2Session(_ session: HTTP2Session, streamDidClose streamID: Int32, errorCode: HTTP2ErrorCode) {}
        func http2Session(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode) {}
        func http2SessionDidReceiveSettings(_ session: HTTP2Session) {}

        private func respond(_ session: HTTP2Session, _ streamID: Int32, _ status: HTTPResponse.Status) {
            do {
                try session.submitResponse(streamID: streamID, HTTPResponse(status: status), body: Array("ok\n".utf8))
            } catch {
                // nghttp2 refuses a response on a stream the peer already closed; that is not a bug.
            }
        }
    }
}
