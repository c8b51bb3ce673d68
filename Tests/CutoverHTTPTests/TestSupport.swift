import HTTPTypes
import Testing

@testable import CutoverHTTP

/// What a decoder produced for some input: its outputs, then the error that ended it, if any.
struct DecodeTranscript<Output: Equatable>: Equatable {
    var outputs: [Output] = []
    var error: HTTP1DecodeError?
}

extension HTTP1RequestDecoder {
    /// Calls `next()` until it returns nil or throws, recording everything into `transcript`.
    mutating func drain(into transcript: inout DecodeTranscript<Output>) {
        guard transcript.error == nil else { return }
        do {
            while let output = try next() { transcript.outputs.append(output) }
        } catch {
            transcript.error = error
        }
    }
}

extension HTTP1ResponseDecoder {
    mutating func drain(into transcript: inout DecodeTranscript<HTTP1Response>) {
        guard transcript.error == nil else { return }
        do {
            while let output = try next() { transcript.outputs.append(output) }
        } catch {
            transcript.error = error
        }
    }
}

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

/// Feeds `input` to a fresh request decoder in the given pieces, draining after each.
func decodeRequests(
    _ pieces: [[UInt8]],
    limits: HTTP1Limits = .requestDefaults
) -> DecodeTranscript<HTTP1RequestDecoder.Output> {
    var decoder = HTTP1RequestDecoder(limits: limits)
    var transcript = DecodeTranscript<HTTP1RequestDecoder.Output>()
    for piece in pieces {
        decoder.append(piece)
        decoder.drain(into: &transcript)
    }
    return transcript
}

func decodeRequests(_ input: String, limits: HTTP1Limits = .requestDefaults) -> DecodeTranscript<HTTP1RequestDecoder.Output> {
    decodeRequests([bytes(input)], limits: limits)
}

/// The requests in a transcript, in order.
extension DecodeTranscript<HTTP1RequestDecoder.Output> {
    var requests: [HTTP1Request] {
        outputs.compactMap {
            if case .request(let request) = $0 { return request }
            return nil
        }
    }

    var continueCount: Int { outputs.count(where: { $0 == .continueExpected }) }
}

/// Decodes a single complete request, failing the test otherwise.
func decodeOne(_ input: String, limits: HTTP1Limits = .requestDefaults, sourceLocation: SourceLocation = #_sourceLocation) throws -> HTTP1Request {
    let transcript = decodeRequests(input, limits: limits)
    #expect(transcript.error == nil, sourceLocation: sourceLocation)
    let requests = transcript.requests
    try #require(requests.count == 1, sourceLocation: sourceLocation)
    return requests[0]
}

/// The error a request decoder ends with on this input, if any.
func requestError(_ input: String, limits: HTTP1Limits = .requestDefaults) -> HTTP1DecodeError? {
    decodeRequests(input, limits: limits).error
}

extension HTTPField.Name {
    static let xHubSignature = HTTPField.Name("X-Hub-Signature-256")!
    static let xTrace = HTTPField.Name("X-Trace")!
}
