import HTTPTypes
import Testing

@testable import CutoverHTTP

struct RequestDecoderTests {
    @Test func getRequest_IsParsed() throws {
        let request = try decodeOne("GET /hello?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n")
        #expect(request.head.method == .get)
        #expect(request.head.scheme == nil)
        #expect(request.head.authority == "example.com:8080")
        #expect(request.head.path == "/hello?x=1&y=%20")
        #expect(request.head.headerFields[.accept] == "*/*")
        #expect(request.version == .http1_1)
        #expect(request.keepAlive)
        #expect(request.body.isEmpty)
    }

    @Test func hostField_IsCarriedAsAuthorityOnly() throws {
        let request = try decodeOne("GET / HTTP/1.1\r\nHost: a.example\r\nX-Trace: 1\r\n\r\n")
        #expect(request.head.headerFields.count == 1)
        #expect(request.head.headerFields[.xTrace] == "1")
    }

    @Test func postWithContentLength_BodyIsRead() throws {
        let request = try decodeOne(
            "POST /webhook HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":\"hello\"}"
        )
        #expect(request.head.method == .post)
        #expect(request.body == bytes("{\"a\":\"hello\"}"))
        #expect(request.head.headerFields[.contentLength] == "13")
        #expect(request.head.headerFields[.contentType] == "application/json")
    }

    @Test func headerValues_AreTrimmedAndKeepInnerWhitespace() throws {
        let request = try decodeOne("GET / HTTP/1.1\r\nHost: h\r\nX-Trace: \t a \t b \t\r\nX-Empty:\r\n\r\n")
        #expect(request.head.headerFields[.xTrace] == "a \t b")
        #expect(request.head.headerFields[HTTPField.Name("x-empty")!] == "")
    }

    @Test func headerNames_AreCaseInsensitive() throws {
        let request = try decodeOne("POST / HTTP/1.1\r\nhOsT: h\r\ncontent-LENGTH: 2\r\nx-hub-signature-256: sha256=ab\r\n\r\nok")
        #expect(request.body == bytes("ok"))
        #expect(request.head.authority == "h")
        #expect(request.head.headerFields[.xHubSignature] == "sha256=ab")
    }

    @Test func obsText_IsAllowedInValues() throws {
        var input = bytes("GET / HTTP/1.1\r\nHost: h\r\nX-Trace: caf")
        input += [0xC3, 0xA9]
        input += bytes("\r\n\r\n")
        let transcript = decodeRequests([input])
        #expect(transcript.error == nil)
        #expect(transcript.requests.first?.head.headerFields[.xTrace] == "café")
    }

    @Test func otherMethods_AreParsed() throws {
        for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "CUSTOM-METHOD"] {
            let request = try decodeOne("\(method) / HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(request.head.method.rawValue == method)
        }
    }

    @Test func absoluteFormTarget_AuthorityComesFromTarget() throws {
        let request = try decodeOne("GET http://Target.example:81/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        #expect(request.head.authority == "Target.example:81")
        #expect(request.head.path == "/p?q=1")
        let bare = try decodeOne("GET https://a.example?q HTTP/1.1\r\nHost: a.example\r\n\r\n")
        #expect(bare.head.path == "/?q")
    }

    @Test func asteriskForm_IsAcceptedForOptions() throws {
        let request = try decodeOne("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(request.head.path == "*")
    }

    @Test func http10_WithoutHost_IsAccepted() throws {
        let request = try decodeOne("GET / HTTP/1.0\r\n\r\n")
        #expect(request.version == .http1_0)
        #expect(request.head.authority == nil)
        #expect(!request.keepAlive)
    }

    @Test func emptyLinesBeforeRequestLine_AreIgnored() throws {
        let request = try decodeOne("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(request.head.path == "/")
    }

    // MARK: Keep-alive

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", true),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ("GET / HTTP/1.0\r\nConnection: foo,  Keep-Alive \r\n\r\n", true),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: close\r\n\r\n", false),
    ])
    func keepAlive_FollowsVersionAndConnection(input: String, expected: Bool) throws {
        #expect(try decodeOne(input).keepAlive == expected)
    }

    // MARK: Pipelining and buffering

    @Test func threePipelinedRequests_ComeOutOneByOne() throws {
        let input = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
            + "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
        var decoder = HTTP1RequestDecoder()
        decoder.append(bytes(input))
        var results: [HTTP1Request] = []
        for _ in 0..<3 {
            guard case .request(let request) = try decoder.next() else {
                Issue.record("expected a request")
                return
            }
            results.append(request)
        }
        #expect(try decoder.next() == nil)
        #expect(results.map(\.head.path) == ["/a", "/b", "/c"])
        #expect(results.map(\.body) == [bytes("abc"), [], bytes("xy")])
        #expect(results.map(\.keepAlive) == [true, true, false])
        #expect(decoder.bufferedByteCount == 0)
        #expect(decoder.isIdle)
    }

    @Test func leftoverBytes_StayBufferedUntilComplete() throws {
        var decoder = HTTP1RequestDecoder()
        decoder.append(bytes("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHo"))
        guard case .request(let first) = try decoder.next() else {
            Issue.record("expected a request")
            return
        }
        #expect(first.head.path == "/1")
        #expect(try decoder.next() == nil)
        #expect(!decoder.isIdle)
        decoder.append(bytes("st: h\r\n\r\n"))
        guard case .request(let second) = try decoder.next() else {
            Issue.record("expected a request")
            return
        }
        #expect(second.head.path == "/2")
        #expect(try decoder.next() == nil)
    }

    @Test func manyRequestsThroughOneDecoder_BufferStaysSmall() throws {
        var decoder = HTTP1RequestDecoder()
        let request = bytes("POST /w HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789")
        var count = 0
        for round in 0..<2_000 {
            // Split each request at a varying point so partial lines are carried over.
            let cut = round % request.count
            decoder.append(Array(request[..<cut]))
            while let output = try decoder.next() {
                if case .request = output { count += 1 }
            }
            decoder.append(Array(request[cut...]))
            while let output = try decoder.next() {
                if case .request = output { count += 1 }
            }
            #expect(decoder.bufferedByteCount < request.count)
        }
        #expect(count == 2_000)
    }

    // MARK: Chunked

    @Test func chunkedBody_WithExtensionsAndTrailers() throws {
        let request = try decodeOne(
            "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
                + "5;name=value;flag\r\nhello\r\n"
                + "1 ; spaced=\"quoted value\"\r\n,\r\n"
                + "000006\r\n world\r\n"
                + "0;last\r\nX-Checksum: abc\r\nX-Other: def\r\n\r\n"
        )
        #expect(request.body == bytes("hello, world"))
        #expect(request.head.headerFields[.transferEncoding] == "Chunked")
        #expect(request.head.headerFields[HTTPField.Name("X-Checksum")!] == nil)
    }

    @Test func chunkedBody_UpperCaseHex() throws {
        let body = String(repeating: "z", count: 0x1A)
        let request = try decodeOne("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1A\r\n\(body)\r\n0\r\n\r\n")
        #expect(request.body.count == 0x1A)
    }

    @Test func transferEncodingListWithEmptyElements_IsChunked() throws {
        let request = try decodeOne("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked ,\r\n\r\n0\r\n\r\n")
        #expect(request.body.isEmpty)
    }

    @Test func identicalContentLengths_AreAccepted() throws {
        let repeated = try decodeOne("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab")
        #expect(repeated.body == bytes("ab"))
        let list = try decodeOne("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\n\r\nab")
        #expect(list.body == bytes("ab"))
    }

    // MARK: Expect: 100-continue

    @Test func expectContinue_EmitsContinueOnceThenRequest() throws {
        var decoder = HTTP1RequestDecoder()
        decoder.append(bytes("POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n"))
        #expect(try decoder.next() == .continueExpected)
        #expect(try decoder.next() == nil)
        decoder.append(bytes("01234"))
        #expect(try decoder.next() == nil)
        decoder.append(bytes("56789"))
        guard case .request(let request) = try decoder.next() else {
            Issue.record("expected the request")
            return
        }
        #expect(request.body == bytes("0123456789"))
        #expect(try decoder.next() == nil)
    }

    @Test func expectContinue_ChunkedBody() throws {
        var decoder = HTTP1RequestDecoder()
        decoder.append(bytes("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"))
        #expect(try decoder.next() == .continueExpected)
        #expect(try decoder.next() == nil)
        decoder.append(bytes("c\r\n0\r\n\r\n"))
        guard case .request(let request) = try decoder.next() else {
            Issue.record("expected the request")
            return
        }
        #expect(request.body == bytes("abc"))
    }

    @Test func expectContinue_WithBodyAlreadyPresent_EmitsOnlyRequest() {
        let transcript = decodeRequests("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok")
        #expect(transcript.continueCount == 0)
        #expect(transcript.requests.count == 1)
    }

    @Test func expectContinue_WithoutBody_EmitsOnlyRequest() {
        let transcript = decodeRequests("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n")
        #expect(transcript.outputs.count == 1)
        #expect(transcript.continueCount == 0)
    }

    @Test func expectContinue_IsIgnoredForHTTP10() throws {
        var decoder = HTTP1RequestDecoder()
        decoder.append(bytes("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"))
        #expect(try decoder.next() == nil)
    }

    @Test func expectContinue_IsPerRequest() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        let transcript = decodeRequests([bytes(head), bytes("ok" + head), bytes("ok")])
        #expect(transcript.outputs.map { $0 == .continueExpected } == [true, false, true, false])
    }

    // MARK: Failure is final

    @Test func afterAnError_DecoderStaysFailed() {
        var decoder = HTTP1RequestDecoder()
        decoder.append(bytes("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"))
        let first = #expect(throws: HTTP1DecodeError.self) { try decoder.next() }
        decoder.append(bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        let second = #expect(throws: HTTP1DecodeError.self) { try decoder.next() }
        #expect(first == second)
        #expect(first?.status == .badRequest)
        #expect(decoder.bufferedByteCount == 0)
    }
}
