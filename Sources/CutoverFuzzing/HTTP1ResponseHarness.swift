import CutoverHTTP
import HTTPTypes

/// The response decoder, as the request decoder's harness checks it, plus the end of the
/// connection: `finishOnEOF` after the last piece. Flag 0 picks small limits, flag 1 answers a HEAD.
enum HTTP1ResponseHarness {
    struct Outcome: Equatable {
        var responses: [HTTP1Response] = []
        var error: HTTP1DecodeError?
    }

    static func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) {
        let input = FuzzInput(bytes)
        let limits = input.flag(0) ? HTTP1Limits.fuzzSmall : .responseDefaults
        let method: HTTPRequest.Method = input.flag(1) ? .head : .post
        let whole = try decode(input.whole, limits: limits, method: method)
        let split = try decode(input.pieces, limits: limits, method: method)
        if whole.responses != split.responses || whole.error?.status != split.error?.status {
            throw FuzzFailure("whole input gave \(whole), split input gave \(split)")
        }
    }

    static func decode(_ pieces: [UnsafeRawBufferPointer], limits: HTTP1Limits, method: HTTPRequest.Method) throws(FuzzFailure) -> Outcome {
        var decoder = HTTP1ResponseDecoder(requestMethod: method, limits: limits)
        var outcome = Outcome()
        do throws(HTTP1DecodeError) {
            for piece in pieces {
                decoder.append(piece)
                while let response = try decoder.next() { outcome.responses.append(response) }
            }
            if let last = try decoder.finishOnEOF() { outcome.responses.append(last) }
        } catch {
            if error.status != .badGateway { throw FuzzFailure("the response decoder reported \(error), not a 502") }
            if decoder.bufferedByteCount != 0 { throw FuzzFailure("a failed decoder still buffers \(decoder.bufferedByteCount) bytes") }
            outcome.error = error
        }
        for response in outcome.responses {
            if response.body.count > limits.maxBodyBytes {
                throw FuzzFailure("a body of \(response.body.count) bytes passed a limit of \(limits.maxBodyBytes)")
            }
            if response.head.status.code < 200 { throw FuzzFailure("an interim \(response.head.status.code) came out as final") }
        }
        return outcome
    }
}
