import HTTPTypes

/// Decides, while nghttp2 parses, whether a request stream may have its body kept: the server's
/// route and credential check, and its memory budget. Asked from inside `receive` (the bytes that
/// follow may be in the same buffer), so an answer only decides and never calls into the session.
package protocol HTTP2StreamAdmission: AnyObject {
    /// A request head is complete and a body follows (`contentLength` when declared): a refusal
    /// (status, reason) answers the stream at once and discards its body unread.
    func http2Session(_ session: HTTP2Session, admit head: HTTP2Message, contentLength: Int?) -> HTTP2Refusal?
    /// The stream needs `bytes` more of body memory; false refuses it with 503.
    func http2Session(_ session: HTTP2Session, reserveBody bytes: Int, on streamID: Int32) -> Bool
    /// Body memory of a stream given back: its request was refused, or the stream closed.
    func http2Session(_ session: HTTP2Session, releaseBody bytes: Int, on streamID: Int32)
}

/// Why a stream is refused before its body is read, and the status it is answered with.
package struct HTTP2Refusal: Sendable {
    package var status: HTTPResponse.Status
    package var reason: String

    package init(status: HTTPResponse.Status, reason: String) {
        self.status = status
        self.reason = reason
    }
}
