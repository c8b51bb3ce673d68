import CutoverTestSupport
import HTTPTypes
import Testing

@testable import CutoverHTTP

/// Random and mutated input must only ever produce outputs, nil or errors: never a trap.
struct RandomInputTests {
    /// Fragments that steer random input into deeper parser states than uniform bytes would.
    static let fragments: [[UInt8]] = [
        "GET ", "POST ", "/", "/a?b=c", " HTTP/1.1", " HTTP/1.0", "\r\n", "\r\n\r\n", "\r", "\n", " ", "\t", ":",
        "Host: h", "Content-Length: ", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked",
        "Connection: close", "Expect: 100-continue", "0", "5", "ff", "FFFFFFFFFFFFFFFFFFFF", ";ext=1", "hello",
        "HTTP/1.1 200 OK", "HTTP/1.1 100 Continue", "X-A: b", "\u{00}", "\u{7F}", "\u{FF}", ",",
    ].map { Array($0.utf8) }

    static func randomInput(_ rng: inout SplitMix64) -> [UInt8] {
        var out: [UInt8] = []
        let parts = Int.random(in: 0..<40, using: &rng)
        for _ in 0..<parts {
            if Bool.random(using: &rng) {
                out += fragments.randomElement(using: &rng)!
            } else {
                for _ in 0..<Int.random(in: 1..<8, using: &rng) { out.append(UInt8.random(in: 0...255, using: &rng)) }
            }
        }
        return out
    }

    static func randomPieces(_ input: [UInt8], _ rng: inout SplitMix64) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var start = 0
        while start < input.count {
            let end = min(input.count, start + Int.random(in: 1...32, using: &rng))
            pieces.append(Array(input[start..<end]))
            start = end
        }
        return pieces
    }

    static let smallLimits = HTTP1Limits(
        maxRequestLineLength: 64, maxHeaderBytes: 128, maxHeaderCount: 4, maxBodyBytes: 64, maxChunkLineLength: 16
    )

    @Test func randomBytes_NeverTrapTheRequestDecoder() {
        var rng = SplitMix64(seed: 0xC0FFEE)
        for iteration in 0..<3_000 {
            let input: [UInt8]
            if iteration % 3 == 0 {
                input = (0..<Int.random(in: 0..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                input = Self.randomInput(&rng)
            }
            let limits = iteration % 2 == 0 ? HTTP1Limits.requestDefaults : Self.smallLimits
            let whole = decodeRequests([input], limits: limits)
            let pieces = decodeRequests(Self.randomPieces(input, &rng), limits: limits)
            // Split-independence holds for arbitrary input too (ignoring 100-continue placement).
            #expect(whole.requests == pieces.requests)
            #expect(whole.error == pieces.error)
        }
    }

    @Test func mutatedValidRequests_NeverTrap() {
        let valid = bytes(splitCorpus[0])
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            var input = valid
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let index = Int.random(in: 0..<input.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: input[index] = UInt8.random(in: 0...255, using: &rng)
                case 1: input.remove(at: index)
                default: input.insert(UInt8.random(in: 0...255, using: &rng), at: index)
                }
            }
            _ = decodeRequests(Self.randomPieces(input, &rng))
        }
    }

    @Test func randomBytes_NeverTrapTheResponseDecoder() {
        var rng = SplitMix64(seed: 7)
        for iteration in 0..<3_000 {
            let input = Self.randomInput(&rng)
            let method: HTTPRequest.Method = iteration % 5 == 0 ? .head : .post
            var decoder = HTTP1ResponseDecoder(
                requestMethod: method, limits: iteration % 2 == 0 ? .responseDefaults : Self.smallLimits
            )
            var transcript = DecodeTranscript<HTTP1Response>()
            for piece in Self.randomPieces(input, &rng) {
                decoder.append(piece)
                decoder.drain(into: &transcript)
            }
            _ = try? decoder.finishOnEOF()
        }
    }
}
