import HTTPTypes

/// Why a decoder rejected its input. Once thrown, the decoder stays failed and every later `next()`
/// throws the same error: the connection must be closed (after sending `status`, on the server).
///
/// For the request decoder `status` is the response to send: 400, 413, 414, 431, 501 or 505.
/// For the response decoder every failure is reported as 502 Bad Gateway, with the reason telling
/// what was wrong with the upstream's response.
package struct HTTP1DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status to answer with before closing the connection.
    package var status: HTTPResponse.Status
    /// A short human-readable reason, safe to send as a plain-text response body.
    package var reason: String

    package init(status: HTTPResponse.Status, reason: String) {
        self.status = status
        self.reason = reason
    }

    package var description: String { "\(status.code) \(reason)" }

    static func badRequest(_ reason: String) -> Self { Self(status: .badRequest, reason: reason) }
    static func contentTooLarge(_ reason: String) -> Self { Self(status: .contentTooLarge, reason: reason) }
    static func headersTooLarge(_ reason: String) -> Self {
        Self(status: .requestHeaderFieldsTooLarge, reason: reason)
    }
}
