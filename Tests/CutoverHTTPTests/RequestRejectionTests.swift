import HTTPTypes
import Testing

@testable import CutoverHTTP

/// One malformed input and the status the decoder must answer with.
struct RejectionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var input: String
    var status: Int

    init(_ name: String, _ input: String, _ status: Int) {
        self.name = name
        self.input = input
        self.status = status
    }

    var testDescription: String { "\(name) -> \(status)" }
}

private let head = "POST / HTTP/1.1\r\nHost: h\r\n"

let rejectionCases: [RejectionCase] = [
    // Request line (RFC 9112 §3)
    .init("double space in request line", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("tab separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("trailing space after version", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400),
    .init("missing version", "GET /\r\nHost: h\r\n\r\n", 400),
    .init("method only", "GET\r\n\r\n", 400),
    .init("leading space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("bad method token", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("method with non-ASCII", "G\u{E9}T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("target with space", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("target with pipe", "GET /a|b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("target with fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("target with CTL", "GET /a\u{01} HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("relative target", "GET a HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("authority-form target", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 400),
    .init("asterisk without OPTIONS", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("absolute-form with other scheme", "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("absolute-form with userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    .init("lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400),
    .init("malformed version", "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 400),
    .init("version without minor", "GET / HTTP/1\r\nHost: h\r\n\r\n", 400),
    .init("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    .init("HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505),
    .init("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505),
    .init("too many empty lines first", String(repeating: "\r\n", count: 9) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400),

    // Line endings
    .init("bare LF request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
    .init("bare LF in header", "GET / HTTP/1.1\r\nHost: h\n\r\n", 400),
    .init("bare LF terminator", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400),
    .init("bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400),
    .init("bare CR line end", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\r\n\r\n", 400),

    // Field lines (RFC 9112 §5, RFC 9110 §5.5)
    .init("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    .init("tab before colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A\t: b\r\n\r\n", 400),
    .init("space inside name", "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400),
    .init("separator in name", "GET / HTTP/1.1\r\nHost: h\r\nX(A): x\r\n\r\n", 400),
    .init("empty name", "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", 400),
    .init("no colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A\r\n\r\n", 400),
    .init("NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{00}b\r\n\r\n", 400),
    .init("CTL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{1B}b\r\n\r\n", 400),
    .init("DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{7F}b\r\n\r\n", 400),
    .init("obs-fold with space", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400),
    .init("obs-fold with tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n", 400),
    .init("whitespace-led first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400),

    // Host (RFC 9112 §3.2)
    .init("missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    .init("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    .init("two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    .init("invalid Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    .init("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),

    // Framing (RFC 9112 §6)
    .init("Content-Length and Transfer-Encoding", head + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    .init("Transfer-Encoding and Content-Length", head + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400),
    .init("differing Content-Length fields", head + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    .init("differing Content-Length list", head + "Content-Length: 3, 4\r\n\r\nabcd", 400),
    .init("non-numeric Content-Length", head + "Content-Length: abc\r\n\r\n", 400),
    .init("negative Content-Length", head + "Content-Length: -1\r\n\r\n", 400),
    .init("signed Content-Length", head + "Content-Length: +5\r\n\r\nabcde", 400),
    .init("hex Content-Length", head + "Content-Length: 0x5\r\n\r\nabcde", 400),
    .init("Content-Length with inner space", head + "Content-Length: 1 2\r\n\r\n", 400),
    .init("empty Content-Length", head + "Content-Length: \r\n\r\n", 400),
    .init("overflowing Content-Length", head + "Content-Length: 99999999999999999999999\r\n\r\n", 400),
    .init("Transfer-Encoding gzip only", head + "Transfer-Encoding: gzip\r\n\r\n", 400),
    .init("chunked not final", head + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    .init("chunked twice", head + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
    .init("chunked twice across fields", head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    .init("empty Transfer-Encoding", head + "Transfer-Encoding: \r\n\r\n", 400),
    .init("chunked with parameter", head + "Transfer-Encoding: chunked;q=1\r\n\r\n", 400),
    .init("unknown coding before chunked", head + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    .init("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),

    // Chunked body (RFC 9112 §7.1)
    .init("non-hex chunk size", head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    .init("empty chunk size", head + "Transfer-Encoding: chunked\r\n\r\n\r\n", 400),
    .init("signed chunk size", head + "Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
    .init("chunk size with trailing junk", head + "Transfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", 400),
    .init("overflowing chunk size", head + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", 400),
    .init("chunk data too long", head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", 400),
    .init("chunk data without CRLF", head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400),
    .init("bare LF after chunk size", head + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
    .init("CTL in chunk extension", head + "Transfer-Encoding: chunked\r\n\r\n5;a\u{01}\r\nhello\r\n0\r\n\r\n", 400),
    .init("obs-fold in trailer", head + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n", 400),
    .init("bad trailer name", head + "Transfer-Encoding: chunked\r\n\r\n0\r\nX T: a\r\n\r\n", 400),
    .init("chunk line too long", head + "Transfer-Encoding: chunked\r\n\r\n5;" + String(repeating: "e", count: 1100) + "\r\n", 400),

    // Limits
    .init("Content-Length over limit", head + "Content-Length: 4194305\r\n\r\n", 413),
    .init("request line too long", "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414),
    .init("request line too long without LF", "GET /" + String(repeating: "a", count: 9000), 414),
    .init("too many headers", "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "X-A: b\r\n", count: 100) + "\r\n", 431),
    .init("header section too large", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "b", count: 70_000) + "\r\n\r\n", 431),
]

struct RequestRejectionTests {
    @Test(arguments: rejectionCases)
    func malformedRequest_IsRejectedWithStatus(_ testCase: RejectionCase) {
        let error = requestError(testCase.input)
        #expect(error?.status.code == testCase.status, "\(testCase.name): \(String(describing: error))")
        #expect(error?.reason.isEmpty == false)
    }

    @Test(arguments: rejectionCases)
    func malformedRequest_IsRejectedTheSameWhenFedByteByByte(_ testCase: RejectionCase) {
        let pieces = bytes(testCase.input).map { [$0] }
        #expect(decodeRequests(pieces).error == requestError(testCase.input))
    }

    @Test func contentLengthOverLimit_IsRejectedAtTheHead() {
        // No body bytes sent at all: the head alone is enough to answer 413.
        var decoder = HTTP1RequestDecoder(limits: HTTP1Limits(maxBodyBytes: 100))
        decoder.append(bytes(head + "Content-Length: 101\r\n\r\n"))
        #expect(throws: HTTP1DecodeError(status: .contentTooLarge, reason: "body too large")) { try decoder.next() }
    }

    @Test func oversizedHeaderSection_IsRejectedBeforeItEnds() {
        // No terminating empty line: the limit must trip on buffered bytes alone.
        var decoder = HTTP1RequestDecoder(limits: HTTP1Limits(maxHeaderBytes: 1024))
        decoder.append(bytes("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "b", count: 2000)))
        let error = #expect(throws: HTTP1DecodeError.self) { try decoder.next() }
        #expect(error?.status == .requestHeaderFieldsTooLarge)
    }

    @Test func headerLimits_AreInclusive() throws {
        let fields = String(repeating: "X-A: b\r\n", count: 99)
        let request = try decodeOne("GET / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n")
        #expect(request.head.headerFields.count == 99)

        // Header section is every field line plus the final CRLF: "Host: h\r\n" (9) + "\r\n" (2).
        let exact = HTTP1Limits(maxHeaderBytes: 11)
        #expect(requestError("GET / HTTP/1.1\r\nHost: h\r\n\r\n", limits: exact) == nil)
        let oneLess = HTTP1Limits(maxHeaderBytes: 10)
        #expect(requestError("GET / HTTP/1.1\r\nHost: h\r\n\r\n", limits: oneLess)?.status.code == 431)

        // The request line limit excludes the CRLF.
        let line = "GET /" + String(repeating: "a", count: 100 - 14) + " HTTP/1.1"
        #expect(line.utf8.count == 100)
        let lineLimit = HTTP1Limits(maxRequestLineLength: 100)
        #expect(requestError(line + "\r\nHost: h\r\n\r\n", limits: lineLimit) == nil)
        #expect(requestError("G" + line + "\r\nHost: h\r\n\r\n", limits: lineLimit)?.status.code == 414)
    }

    @Test func tooManyTrailers_Is431() {
        let trailers = String(repeating: "X-T: 1\r\n", count: 3)
        let limits = HTTP1Limits(maxHeaderCount: 2)
        let error = requestError(head + "Transfer-Encoding: chunked\r\n\r\n0\r\n" + trailers + "\r\n", limits: limits)
        #expect(error?.status.code == 431)
    }
}
