import HTTPTypes
import Testing

@testable import CutoverHTTP

struct ResponseEncoderTests {
    @Test func errorResponse_ExactBytes() {
        var out: [UInt8] = []
        HTTP1ResponseEncoder.encodeError(HTTP1DecodeError(status: .badRequest, reason: "invalid header name"), into: &out)
        let expected = "HTTP/1.1 400 Bad Request\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\n"
            + "Connection: close\r\n"
            + "Content-Length: 20\r\n"
            + "\r\n"
            + "invalid header name\n"
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test func okResponse_WithHeadersAndBody() {
        var response = HTTPResponse(status: .ok)
        response.headerFields[.contentType] = "application/json"
        response.headerFields[.contentLength] = "999"  // replaced by the real length
        response.headerFields[.transferEncoding] = "chunked"  // dropped
        var out: [UInt8] = []
        HTTP1ResponseEncoder.encode(response, body: bytes("{}"), into: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    }

    @Test func closeConnection_ReplacesConnectionField() {
        var response = HTTPResponse(status: .accepted)
        response.headerFields[.connection] = "keep-alive"
        var out: [UInt8] = []
        HTTP1ResponseEncoder.encode(response, closeConnection: true, into: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == "HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func extraField_FollowsTheFieldsUnderTheSameRules() {
        let fields: HTTPFields = [.contentType: "text/plain"]
        let requestID = HTTPField(name: HTTPField.Name("X-Request-Id")!, value: "abc-1")
        func encoded(_ extra: HTTPField, close: Bool = false) -> String {
            var out: [UInt8] = []
            bytes("ok").withUnsafeBytes { body in
                HTTP1ResponseEncoder.encode(status: .ok, headerFields: fields, extraField: extra, body: body, closeConnection: close, into: &out)
            }
            return String(decoding: out, as: UTF8.self)
        }
        #expect(encoded(requestID) == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-Id: abc-1\r\nContent-Length: 2\r\n\r\nok")
        #expect(encoded(requestID, close: true).contains("X-Request-Id: abc-1\r\nConnection: close\r\n"))
        // Framing stays the encoder's own, as for any field.
        #expect(!encoded(HTTPField(name: .contentLength, value: "9")).contains("9"))
        #expect(!encoded(HTTPField(name: .connection, value: "keep-alive"), close: true).contains("keep-alive"))
        #expect(fields.count == 1, "the shared fields are not touched")
    }

    @Test func noContentAndNotModified_HaveNoLengthOrBody() {
        for status in [HTTPResponse.Status.noContent, .notModified] {
            var out: [UInt8] = []
            HTTP1ResponseEncoder.encode(HTTPResponse(status: status), body: bytes("ignored"), into: &out)
            #expect(String(decoding: out, as: UTF8.self) == "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n\r\n")
        }
    }

    @Test func statusWithoutReasonPhrase_GetsTheStandardOne() {
        var out: [UInt8] = []
        HTTP1ResponseEncoder.encode(HTTPResponse(status: 503), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        out = []
        HTTP1ResponseEncoder.encode(HTTPResponse(status: 299), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n")
    }

    @Test func continueResponse_Bytes() {
        #expect(HTTP1ResponseEncoder.continueResponse == bytes("HTTP/1.1 100 Continue\r\n\r\n"))
    }

    @Test func encodedResponse_AppendsToExistingOutput() {
        var out = bytes("prefix")
        HTTP1ResponseEncoder.encode(HTTPResponse(status: .ok), body: [UInt8](repeating: 0x41, count: 1234), into: &out)
        #expect(out.starts(with: bytes("prefixHTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nAAA")))
        #expect(out.count == 6 + 41 + 1234)
    }

    @Test func encodedResponse_RoundTripsThroughTheDecoder() throws {
        var response = HTTPResponse(status: .created)
        response.headerFields[.location] = "/items/1"
        var out: [UInt8] = []
        HTTP1ResponseEncoder.encode(response, body: bytes("done"), into: &out)
        var decoder = HTTP1ResponseDecoder()
        decoder.append(out)
        let decoded = try #require(try decoder.next())
        #expect(decoded.head.status == .created)
        #expect(decoded.head.headerFields[.location] == "/items/1")
        #expect(decoded.body == bytes("done"))
        #expect(decoded.keepAlive)
    }
}

struct RequestEncoderTests {
    @Test func postRequest_ExactBytes() {
        var request = HTTPRequest(method: .post, scheme: "https", authority: "hooks.example:8443", path: "/in?id=1")
        request.headerFields[.contentType] = "application/json"
        request.headerFields[.xHubSignature] = "sha256=00"
        request.headerFields[.contentLength] = "1"  // replaced
        var out: [UInt8] = []
        HTTP1RequestEncoder.encode(request, body: bytes("{\"a\":1}"), into: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == "POST /in?id=1 HTTP/1.1\r\nHost: hooks.example:8443\r\nContent-Type: application/json\r\n"
            + "X-Hub-Signature-256: sha256=00\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
    }

    @Test func getRequest_HasNoContentLength() {
        var out: [UInt8] = []
        HTTP1RequestEncoder.encode(HTTPRequest(method: .get, scheme: nil, authority: "h", path: "/x"), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    @Test func emptyPost_HasZeroContentLength() {
        var out: [UInt8] = []
        HTTP1RequestEncoder.encode(HTTPRequest(method: .post, scheme: nil, authority: "h", path: nil), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func unsafePathBytes_ArePercentEncoded() {
        var out: [UInt8] = []
        HTTP1RequestEncoder.encode(HTTPRequest(method: .get, scheme: nil, authority: "h", path: "/a b/é"), into: &out)
        #expect(String(decoding: out, as: UTF8.self).hasPrefix("GET /a%20b/%C3%A9 HTTP/1.1\r\n"))
    }

    @Test func encodedRequest_RoundTripsThroughTheDecoder() throws {
        var request = HTTPRequest(method: .put, scheme: nil, authority: "a.example", path: "/p")
        request.headerFields[.xTrace] = "t"
        var out: [UInt8] = []
        HTTP1RequestEncoder.encode(request, body: bytes("body"), into: &out)
        let decoded = try decodeOne(String(decoding: out, as: UTF8.self))
        #expect(decoded.head.method == .put)
        #expect(decoded.head.authority == "a.example")
        #expect(decoded.head.path == "/p")
        #expect(decoded.head.headerFields[.xTrace] == "t")
        #expect(decoded.body == bytes("body"))
    }
}
