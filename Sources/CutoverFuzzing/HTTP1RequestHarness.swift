import CutoverHTTP

/// The request decoder must not care where reads split the stream: the same requests and the same
/// final error whether the payload arrives whole or in the fuzzer's pieces; a body never exceeds
/// the limit; an error is final. Flag 0 picks small limits, so every limit's path is reachable.
enum HTTP1RequestHarness {
    struct Outcome: Equatable {
        var requests: [HTTP1Request] = []
        var continues = 0
        var error: HTTP1DecodeError?
    }

    static func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) {
        let input = FuzzInput(bytes)
        let limits = input.flag(0) ? HTTP1Limits.fuzzSmall : .requestDefaults
        let whole = try decode(input.whole, limits: limits)
        let split = try decode(input.pieces, limits: limits)
        if whole.requests != split.requests || whole.error?.status != split.error?.status {
            throw FuzzFailure("whole input gave \(whole), split input gave \(split)")
        }
    }

    static func decode(_ pieces: [UnsafeRawBufferPointer], limits: HTTP1Limits) throws(FuzzFailure) -> Outcome {
        var decoder = HTTP1RequestDecoder(limits: limits)
        var outcome = Outcome()
        do throws(HTTP1DecodeError) {
            for piece in pieces {
                decoder.append(piece)
                while let output = try decoder.next() {
                    switch output {
                    case .continueExpected: outcome.continues += 1
                    case .request(let request): outcome.requests.append(request)
                    }
                }
            }
        } catch {
            outcome.error = error
            try checkFinal(error, &decoder)
        }
        for request in outcome.requests where request.body.count > limits.maxBodyBytes {
            throw FuzzFailure("a body of \(request.body.count) bytes passed a limit of \(limits.maxBodyBytes)")
        }
        if outcome.continues > outcome.requests.count + 1 {
            throw FuzzFailure("\(outcome.continues) 100-continues for \(outcome.requests.count) requests")
        }
        return outcome
    }

    private static func checkFinal(_ error: HTTP1DecodeError, _ decoder: inout HTTP1RequestDecoder) throws(FuzzFailure) {
        guard decoder.bufferedByteCount == 0 else { throw FuzzFailure("a failed decoder still buffers \(decoder.bufferedByteCount) bytes") }
        let again: Result<HTTP1RequestDecoder.Output?, HTTP1DecodeError> = Result { () throws(HTTP1DecodeError) in try decoder.next() }
        guard case .failure(let repeated) = again, repeated == error else {
            throw FuzzFailure("a failed decoder gave \(again) after \(error)")
        }
    }
}

extension HTTP1Limits {
    /// Limits a few hundred bytes of input can cross.
    static var fuzzSmall: HTTP1Limits {
        HTTP1Limits(maxRequestLineLength: 64, maxHeaderBytes: 256, maxHeaderCount: 8, maxBodyBytes: 256, maxChunkLineLength: 16)
    }
}
