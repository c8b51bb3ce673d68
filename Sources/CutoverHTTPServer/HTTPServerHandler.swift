public import HTTPTypes

/// A complete request: head and whole body (webhook signatures cover the exact body bytes).
public struct ServerRequest: Sendable {
    public var head: HTTPRequest
    public var body: [UInt8]
    public var remoteAddress: String

    public init(head: HTTPRequest, body: [UInt8], remoteAddress: String) {
        self.head = head
        self.body = body
        self.remoteAddress = remoteAddress
    }
}

public struct ServerResponse: Sendable {
    public var status: HTTPResponse.Status
    public var headerFields: HTTPFields
    public var body: [UInt8]

    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: [UInt8] = []) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }

    /// A short plain-text response, the shape of every error Cutover answers.
    public static func text(_ status: HTTPResponse.Status, _ text: String) -> ServerResponse {
        var fields = HTTPFields()
        fields[.contentType] = "text/plain; charset=utf-8"
        return ServerResponse(status: status, headerFields: fields, body: Array((text + "\n").utf8))
    }
}

/// Answers requests. `respond` may be called from any thread, exactly once.
public protocol HTTPServerHandler: Sendable {
    func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void)
}

/// Protocol-level events the server itself answers, for logs and metrics.
public protocol HTTPServerObserver: Sendable {
    func connectionOpened()
    func connectionClosed()
    /// A request rejected before it reached the handler (malformed, too large, timed out, over capacity).
    func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String)
}
