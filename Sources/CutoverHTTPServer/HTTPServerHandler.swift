import CutoverTLS
import HTTPTypes

/// A complete request: head and whole body (webhook signatures cover the exact body bytes).
package struct ServerRequest: Sendable {
    package var head: HTTPRequest
    package var body: [UInt8]
    package var remoteAddress: String
    /// The TLS session the request came over (protocol, ALPN, verified client certificate
    /// subject); nil on a plain connection.
    package var tls: TLSConnectionInfo?

    package init(head: HTTPRequest, body: [UInt8], remoteAddress: String, tls: TLSConnectionInfo? = nil) {
        self.head = head
        self.body = body
        self.remoteAddress = remoteAddress
        self.tls = tls
    }
}

package struct ServerResponse: Sendable {
    package var status: HTTPResponse.Status
    package var headerFields: HTTPFields
    package var body: [UInt8]
    /// One more field, sent after `headerFields` without touching them. An answer built once and
    /// shared (the ingress's `200 ok`) carries each request's id this way: appending it to the
    /// shared fields copied them, one allocation per request.
    package var extraField: HTTPField?

    /// All the fields sent: `headerFields`, then `extraField`.
    package var allHeaderFields: HTTPFields {
        guard let extraField else { return headerFields }
        var fields = headerFields
        fields.append(extraField)
        return fields
    }

    package init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: [UInt8] = []) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }

    /// A short plain-text response, the shape of every error Cutover answers.
    package static func text(_ status: HTTPResponse.Status, _ text: String) -> ServerResponse {
        var body: [UInt8] = []
        body.reserveCapacity(text.utf8.count + 1)
        body.append(contentsOf: text.utf8)
        body.append(UInt8(ascii: "\n"))
        return ServerResponse(status: status, headerFields: plainTextFields, body: body)
    }

    /// Built once: setting a field validates its value, and every error and probe answer has this one.
    private static let plainTextFields: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
}

/// Answers requests. `respond` may be called from any thread, exactly once.
package protocol HTTPServerHandler: Sendable {
    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void)
    /// Looks at a head whose body has not arrived yet (before `100 Continue` is sent, before the
    /// body is buffered): a response refuses the request at once, unread; nil lets the body come.
    /// Runs on the connection's event loop, so it only decides from the head (route, credential
    /// present), never waits. The default admits everything.
    func admit(_ head: HTTPRequest, remoteAddress: String) -> ServerResponse?
}

extension HTTPServerHandler {
    package func admit(_ head: HTTPRequest, remoteAddress: String) -> ServerResponse? { nil }
}

/// Protocol-level events the server itself answers, for logs and metrics.
package protocol HTTPServerObserver: Sendable {
    func connectionOpened()
    func connectionClosed()
    /// A request rejected before it reached the handler (malformed, too large, timed out, over capacity).
    func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String)
    /// A TLS connection closed before HTTP: its handshake failed or timed out (no valid client
    /// certificate, an old protocol version, a client that does not trust our certificate).
    func tlsHandshakeFailed(reason: String, remoteAddress: String)
    /// A connection the server ended for abuse with no status to answer: an HTTP/2 peer past the
    /// header rejections allowed (GOAWAY ENHANCE_YOUR_CALM), or one that left responses unread
    /// for the write timeout. `limit` names the limit, for a metric label.
    func connectionAborted(limit: String, reason: String, remoteAddress: String)
    /// The bytes of request bodies the server holds now changed (see `BodyMemoryBudget`).
    func bodyBytesInFlight(_ bytes: Int)
}

extension HTTPServerObserver {
    package func tlsHandshakeFailed(reason: String, remoteAddress: String) {}
    package func connectionAborted(limit: String, reason: String, remoteAddress: String) {}
    package func bodyBytesInFlight(_ bytes: Int) {}
}
