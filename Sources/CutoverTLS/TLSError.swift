import COpenSSL

/// A TLS failure: what was being done, and why, in OpenSSL's words (its error queue, plus the
/// certificate verification result when that is what failed).
package struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    package let operation: String
    package let reason: String

    package init(_ operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }

    package var description: String { "TLS \(operation) failed: \(reason)" }

    /// Drains OpenSSL's error queue (per thread) into an error. Call right after the failing call.
    static func openSSL(_ operation: String, fallback: String = "unknown OpenSSL error") -> TLSError {
        let text = queueText()
        return TLSError(operation, reason: text.isEmpty ? fallback : text)
    }

    /// Every queued OpenSSL error, oldest first; empties the queue.
    static func queueText() -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        let count = buffer.count
        buffer.withUnsafeMutableBufferPointer { cutover_openssl_error_queue_text($0.baseAddress, count) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
