import HTTPTypes
import Testing

@testable import CutoverHTTP

/// `keptBodyBytes`: a delivery keeps only a prefix of each response body, so the decoder keeps no
/// more than that, reads the rest off the connection (which stays usable), and still refuses a
/// body over `maxBodyBytes`.
struct KeptResponseBodyTests {
    private func decode(_ input: String, kept: Int, limits: HTTP1Limits = .responseDefaults, feed: Int = 7) -> DecodeTranscript<HTTP1Response> {
        var decoder = HTTP1ResponseDecoder(limits: limits, keptBodyBytes: kept)
        var transcript = DecodeTranscript<HTTP1Response>()
        // In small pieces: the bound must hold across reads, not just within one.
        let all = bytes(input)
        var start = 0
        while start < all.count {
            decoder.append(Array(all[start..<min(all.count, start + feed)]))
            decoder.drain(into: &transcript)
            start += feed
        }
        if let response = try? decoder.finishOnEOF() { transcript.outputs.append(response) }
        return transcript
    }

    @Test func aContentLengthBodyKeepsItsPrefixAndTheNextResponseStillDecodes() throws {
        let long = String(repeating: "x", count: 1000)
        let transcript = decode(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1012\r\n\r\nshadow broke\(long)HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            kept: 12)
        #expect(transcript.error == nil)
        #expect(transcript.outputs.map(\.body) == [bytes("shadow broke"), bytes("ok")])
    }

    @Test func aChunkedBodyKeepsItsPrefix() throws {
        let transcript = decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n", kept: 6)
        #expect(transcript.outputs.first?.body == bytes("Wikipe"))
        #expect(transcript.outputs.first?.keepAlive == true)
    }

    @Test func aCloseDelimitedBodyKeepsItsPrefix() throws {
        let transcript = decode("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world", kept: 5)
        #expect(transcript.outputs.first?.body == bytes("hello"))
    }

    @Test func zeroKeepsNothing() throws {
        let transcript = decode("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", kept: 0)
        #expect(transcript.outputs.first?.body == [])
    }

    @Test func theBodyLimitStillCountsWhatWasDropped() throws {
        var limits = HTTP1Limits.responseDefaults
        limits.maxBodyBytes = 8
        let chunked = decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", kept: 2, limits: limits)
        #expect(chunked.error != nil && chunked.outputs.isEmpty)
        let untilClose = decode("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world", kept: 2, limits: limits)
        #expect(untilClose.error != nil && untilClose.outputs.isEmpty)
    }
}
