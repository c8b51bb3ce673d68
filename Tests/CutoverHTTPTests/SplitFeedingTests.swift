import HTTPTypes
import Testing

@testable import CutoverHTTP

/// Inputs whose decoding must not depend on how the bytes are split into reads.
let splitCorpus: [String] = [
    // Three pipelined requests: fixed body, no body, chunked with extensions and trailers.
    "POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"k\":\"v1\"}"
        + "GET /b HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
        + "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n",
    // Expect: 100-continue followed by another request.
    "POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"
        + "POST /f HTTP/1.0\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi",
    // Leading empty line, absolute-form, then a request that ends in an error.
    "\r\nGET http://h.example/x HTTP/1.1\r\nHost: h.example\r\n\r\n"
        + "GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n",
    // An error in a chunked body after a complete request.
    "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"
        + "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcdX\r\n0\r\n\r\n",
    // Bare LF partway through.
    "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\nX-B: 2\r\n\r\n",
    // Version error.
    "GET / HTTP/3.0\r\nHost: h\r\n\r\n",
]

private func withoutContinues(
    _ transcript: DecodeTranscript<HTTP1RequestDecoder.Output>
) -> DecodeTranscript<HTTP1RequestDecoder.Output> {
    DecodeTranscript(outputs: transcript.outputs.filter { $0 != .continueExpected }, error: transcript.error)
}

/// `.continueExpected` may appear (depending on the split) only right before the request it
/// belongs to, and at most once.
private func continuesAreWellPlaced(_ transcript: DecodeTranscript<HTTP1RequestDecoder.Output>) -> Bool {
    var previousWasContinue = false
    for output in transcript.outputs {
        if output == .continueExpected {
            if previousWasContinue { return false }
            previousWasContinue = true
        } else {
            previousWasContinue = false
        }
    }
    return true
}

struct SplitFeedingTests {
    @Test(arguments: splitCorpus.indices)
    func splittingAtEveryByteBoundary_GivesTheSameResult(_ index: Int) {
        let input = bytes(splitCorpus[index])
        let reference = decodeRequests([input])
        #expect(reference.requests.count >= 1 || reference.error != nil)
        for cut in 0...input.count {
            let split = decodeRequests([Array(input[..<cut]), Array(input[cut...])])
            #expect(withoutContinues(split) == withoutContinues(reference), "split at \(cut)")
            #expect(continuesAreWellPlaced(split), "split at \(cut)")
        }
    }

    @Test(arguments: splitCorpus.indices)
    func feedingOneByteAtATime_GivesTheSameResult(_ index: Int) {
        let input = bytes(splitCorpus[index])
        let reference = decodeRequests([input])
        let trickled = decodeRequests(input.map { [$0] })
        #expect(withoutContinues(trickled) == withoutContinues(reference))
        #expect(continuesAreWellPlaced(trickled))
    }

    @Test func expectContinue_FedByteByByte_EmitsExactlyOneContinue() {
        let input = "POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"
        let transcript = decodeRequests(bytes(input).map { [$0] })
        #expect(transcript.outputs.first == .continueExpected)
        #expect(transcript.continueCount == 1)
        #expect(transcript.requests.first?.body == bytes("hello"))
    }

    @Test func splittingAtEveryPairOfBoundaries_GivesTheSameResult() {
        // Three pieces, every pair of cut points, on the first corpus entry's chunked request.
        let input = bytes("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n0\r\nT: 1\r\n\r\n")
        let reference = decodeRequests([input])
        #expect(reference.requests.first?.body == bytes("abc"))
        for first in 0...input.count {
            for second in first...input.count {
                let pieces = [Array(input[..<first]), Array(input[first..<second]), Array(input[second...])]
                #expect(decodeRequests(pieces) == reference)
            }
        }
    }
}
