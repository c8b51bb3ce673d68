import HTTPTypes
import Testing

@testable import CutoverHTTP

struct BodyLimitTests {
    static let maxBody = 4 * 1024 * 1024

    /// Feeds a head and `bodyLength` body bytes in 64 KiB reads, as a socket would.
    private func decodeContentLength(_ bodyLength: Int, declared: Int) -> DecodeTranscript<HTTP1RequestDecoder.Output> {
        var decoder = HTTP1RequestDecoder()
        var transcript = DecodeTranscript<HTTP1RequestDecoder.Output>()
        decoder.append(bytes("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: \(declared)\r\n\r\n"))
        decoder.drain(into: &transcript)
        let read = [UInt8](repeating: 0x61, count: 64 * 1024)
        var sent = 0
        while sent < bodyLength, transcript.error == nil {
            let count = min(read.count, bodyLength - sent)
            read.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            sent += count
            decoder.drain(into: &transcript)
        }
        return transcript
    }

    @Test func contentLengthBodyOfExactlyFourMiB_IsAccepted() {
        let transcript = decodeContentLength(Self.maxBody, declared: Self.maxBody)
        #expect(transcript.error == nil)
        #expect(transcript.requests.first?.body.count == Self.maxBody)
    }

    @Test func contentLengthOfFourMiBPlusOne_Is413() {
        let transcript = decodeContentLength(0, declared: Self.maxBody + 1)
        #expect(transcript.error?.status == .contentTooLarge)
    }

    private func chunkedBody(total: Int, chunk: Int) -> [UInt8] {
        var out = bytes("POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        var remaining = total
        while remaining > 0 {
            let size = min(chunk, remaining)
            out += bytes(String(size, radix: 16) + "\r\n")
            out += [UInt8](repeating: 0x62, count: size)
            out += bytes("\r\n")
            remaining -= size
        }
        out += bytes("0\r\n\r\n")
        return out
    }

    @Test func chunkedBodyOfExactlyFourMiB_IsAccepted() {
        let transcript = decodeRequests([chunkedBody(total: Self.maxBody, chunk: 100_000)])
        #expect(transcript.error == nil)
        #expect(transcript.requests.first?.body.count == Self.maxBody)
    }

    @Test func chunkedBodyOfFourMiBPlusOne_Is413() {
        let transcript = decodeRequests([chunkedBody(total: Self.maxBody + 1, chunk: 100_000)])
        #expect(transcript.error?.status == .contentTooLarge)
        #expect(transcript.requests.isEmpty)
    }

    @Test func hugeChunkSize_Is413AsSoonAsItIsRead() {
        var decoder = HTTP1RequestDecoder()
        decoder.append(bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n400001\r\n"))
        let error = #expect(throws: HTTP1DecodeError.self) { try decoder.next() }
        #expect(error?.status == .contentTooLarge)
    }
}
