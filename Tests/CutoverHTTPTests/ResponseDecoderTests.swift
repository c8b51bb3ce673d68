import HTTPTypes
import Testing

@testable import CutoverHTTP

private func decodeResponses(
    _ input: String,
    method: HTTPRequest.Method = .post,
    limits: HTTP1Limits = .responseDefaults
) -> DecodeTranscript<HTTP1Response> {
    var decoder = HTTP1ResponseDecoder(requestMethod: method, limits: limits)
    var transcript = DecodeTranscript<HTTP1Response>()
    decoder.append(bytes(input))
    decoder.drain(into: &transcript)
    return transcript
}

struct ResponseDecoderTests {
    @Test func contentLengthResponse() throws {
        let transcript = decodeResponses("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
        let response = try #require(transcript.outputs.first)
        #expect(transcript.error == nil)
        #expect(response.head.status.code == 200)
        #expect(response.head.status.reasonPhrase == "OK")
        #expect(response.head.headerFields[.contentType] == "text/plain")
        #expect(response.body == bytes("hello"))
        #expect(response.version == .http1_1)
        #expect(response.keepAlive)
    }

    @Test func chunkedResponse_WithTrailers() throws {
        let transcript = decodeResponses(
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n"
        )
        let response = try #require(transcript.outputs.first)
        #expect(response.body == bytes("Wikipedia"))
        #expect(response.keepAlive)
    }

    @Test func closeDelimitedResponse_EndsAtEOF() throws {
        var decoder = HTTP1ResponseDecoder()
        decoder.append(bytes("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nsomething "))
        #expect(try decoder.next() == nil)
        decoder.append(bytes("broke"))
        #expect(try decoder.next() == nil)
        let response = try #require(try decoder.finishOnEOF())
        #expect(response.head.status == .internalServerError)
        #expect(response.body == bytes("something broke"))
        #expect(!response.keepAlive)
    }

    @Test func closeDelimitedResponse_WithEmptyBody() throws {
        var decoder = HTTP1ResponseDecoder()
        decoder.append(bytes("HTTP/1.0 200 OK\r\n\r\n"))
        #expect(try decoder.next() == nil)
        let response = try #require(try decoder.finishOnEOF())
        #expect(response.body.isEmpty)
        #expect(response.version == .http1_0)
    }

    @Test func eofWhileIdle_IsNil() throws {
        var decoder = HTTP1ResponseDecoder()
        #expect(try decoder.finishOnEOF() == nil)
        decoder.append(bytes("HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(try decoder.next()?.head.status == .noContent)
        #expect(try decoder.finishOnEOF() == nil)
    }

    @Test func eofInsideContentLengthBody_IsAnError() throws {
        var decoder = HTTP1ResponseDecoder()
        decoder.append(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"))
        #expect(try decoder.next() == nil)
        let error = #expect(throws: HTTP1DecodeError.self) { try decoder.finishOnEOF() }
        #expect(error?.status == .badGateway)
    }

    @Test func informationalResponses_AreSkipped() throws {
        let transcript = decodeResponses(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        )
        #expect(transcript.error == nil)
        #expect(transcript.outputs.count == 1)
        #expect(transcript.outputs.first?.head.status == .ok)
        #expect(transcript.outputs.first?.head.headerFields[HTTPField.Name("Link")!] == nil)
        #expect(transcript.outputs.first?.body == bytes("ok"))
    }

    @Test func responseToHead_HasNoBody() throws {
        var decoder = HTTP1ResponseDecoder(requestMethod: .head)
        decoder.append(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
        let first = try #require(try decoder.next())
        #expect(first.body.isEmpty)
        #expect(first.head.headerFields[.contentLength] == "1000")
        decoder.requestMethod = .get
        let second = try #require(try decoder.next())
        #expect(second.head.status == .notFound)
    }

    @Test func noContentAndNotModified_HaveNoBody() throws {
        let transcript = decodeResponses(
            "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nHTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            method: .get
        )
        #expect(transcript.error == nil)
        #expect(transcript.outputs.map(\.head.status.code) == [204, 304])
        #expect(transcript.outputs.allSatisfy { $0.body.isEmpty })
    }

    @Test func keepAlive_ForResponses() throws {
        let cases: [(String, Bool)] = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
            ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false),
            ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
            ("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true),
        ]
        for (input, expected) in cases {
            #expect(decodeResponses(input).outputs.first?.keepAlive == expected, "\(input)")
        }
    }

    @Test func statusLineVariants() throws {
        #expect(decodeResponses("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").outputs.first?.head.status.code == 200)
        #expect(decodeResponses("HTTP/1.1 418 \r\nContent-Length: 0\r\n\r\n").outputs.first?.head.status.code == 418)
        let custom = decodeResponses("HTTP/1.1 299 Very Fine\tIndeed\r\nContent-Length: 0\r\n\r\n").outputs.first
        #expect(custom?.head.status.reasonPhrase == "Very Fine\tIndeed")
    }

    @Test(arguments: [
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n",
    ])
    func malformedResponse_IsRejectedAs502(_ input: String) {
        let error = decodeResponses(input).error
        #expect(error?.status == .badGateway)
    }

    @Test func bodyLimit_AppliesToEveryFraming() {
        let limits = HTTP1Limits(maxBodyBytes: 4)
        #expect(decodeResponses("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", limits: limits).error == nil)
        #expect(decodeResponses("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", limits: limits).error != nil)
        #expect(decodeResponses("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", limits: limits).error != nil)
        #expect(decodeResponses("HTTP/1.1 200 OK\r\n\r\nabcde", limits: limits).error?.reason == "response body too large")
    }

    @Test func pipelinedResponses_SplitAtEveryByte() {
        let input = bytes(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                + "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
                + "HTTP/1.1 503 Service Unavailable\r\n\r\nbusy"
        )
        func run(_ pieces: [[UInt8]]) -> DecodeTranscript<HTTP1Response> {
            var decoder = HTTP1ResponseDecoder()
            var transcript = DecodeTranscript<HTTP1Response>()
            for piece in pieces {
                decoder.append(piece)
                decoder.drain(into: &transcript)
            }
            do {
                if let last = try decoder.finishOnEOF() { transcript.outputs.append(last) }
            } catch {
                transcript.error = error
            }
            return transcript
        }
        let reference = run([input])
        #expect(reference.error == nil)
        #expect(reference.outputs.map(\.body) == [bytes("abc"), bytes("x"), bytes("busy")])
        for cut in 0...input.count {
            #expect(run([Array(input[..<cut]), Array(input[cut...])]) == reference, "split at \(cut)")
        }
        #expect(run(input.map { [$0] }) == reference)
    }
}
