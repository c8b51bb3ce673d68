#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, and the errno it left, read right after the call.
package struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    package let call: String
    package let errno: Int32

    package init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// Captures the current errno for `call`. Call it immediately after the failing call. The
    /// name is built after errno is read: building it (an interpolated address) may call into
    /// libc, which is free to change errno on the way.
    static func last(_ call: @autoclosure () -> String) -> SystemError {
        let error = Glibc.errno
        return SystemError(call(), errno: error)
    }

    package var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The outcome of a non-blocking read or write: progress, "try again when ready", or end of stream.
package enum IOResult: Equatable, Sendable {
    case processed(Int)
    case wouldBlock
    case endOfStream
}
