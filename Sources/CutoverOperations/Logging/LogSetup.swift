import CutoverHTTPClient
import CutoverLocking
import Foundation
import Logging
import Synchronization

/// How `cutover serve` writes its log: JSON lines (the default, for collectors) or swift-log's plain
/// text (the default when standard error is a terminal).
package enum LogFormat: String, Sendable, CaseIterable {
    case json, text

    /// JSON unless standard error is a terminal.
    package static var automatic: LogFormat { isatty(STDERR_FILENO) == 1 ? .text : .json }
}

package enum CutoverLogging {
    /// Bootstraps swift-log once for the process (later calls only make a logger) and returns the
    /// `cutover` logger at `level`. Every handler carries the request-id metadata provider, so a
    /// line logged while an ingress request is handled names that request.
    package static func bootstrap(format: LogFormat?, level: Logger.Level) -> Logger {
        let format = format ?? .automatic
        bootstrapped.withLock { done in
            guard !done else { return }
            done = true
            LoggingSystem.bootstrap(
                { label, provider in
                    var handler: any LogHandler
                    switch format {
                    case .json: handler = JSONLogHandler(label: label, metadataProvider: provider)
                    case .text: handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                    }
                    handler.logLevel = level
                    return handler
                },
                metadataProvider: RequestContext.metadataProvider
            )
        }
        var logger = Logger(label: "cutover")
        logger.logLevel = level
        return logger
    }

    private static let bootstrapped = Locked(false)
}

extension Logger.Level {
    /// Every level's name, for help texts.
    package static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// The request being handled on this thread, for log metadata.
///
/// The ingress binds it while it handles a request synchronously (`RequestContext.withRequestID`);
/// work that completes later (the spool commit) captures the id and passes it explicitly.
///
/// A thread-specific pointer to the caller's own copy of the id, not a `@TaskLocal`: the handlers
/// run on Dispatch queues, outside any task, where binding a task-local allocates its record on
/// every request (two mallocs per request on the hot path, most of which never logs a line).
package enum RequestContext {
    /// nil only if the process ran out of thread-specific keys: log lines then lack the id.
    private static let key: pthread_key_t? = {
        var key = pthread_key_t()
        return pthread_key_create(&key, nil) == 0 ? key : nil
    }()

    /// The id bound on this thread, if any.
    package static var requestID: String? {
        guard let key, let bound = pthread_getspecific(key) else { return nil }
        return bound.assumingMemoryBound(to: String.self).pointee
    }

    /// Runs `body` with `id` bound on this thread (restoring what was bound before).
    package static func withRequestID<Result>(_ id: String?, _ body: () throws -> Result) rethrows -> Result {
        guard let key else { return try body() }
        let outer = pthread_getspecific(key)
        defer { pthread_setspecific(key, outer) }
        guard let id else {
            pthread_setspecific(key, nil)
            return try body()
        }
        return try withUnsafePointer(to: id) { bound in
            // Valid while `body` runs, on this thread only: exactly the scope the binding has.
            pthread_setspecific(key, UnsafeRawPointer(bound))
            return try body()
        }
    }

    /// Adds `request_id` to every log line emitted while one is bound.
    package static let metadataProvider = Logger.MetadataProvider {
        guard let id = requestID else { return [:] }
        return ["request_id": .string(id)]
    }
}

/// Request ids: the sender's `X-Request-Id` when it is sane, else a new one.
package enum RequestID {
    /// A random prefix per process, so ids from different runs and instances do not collide, and a
    /// counter: unique and cheap (no random bytes per request).
    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }()
    private static let counter = Atomic<UInt64>(0)

    package static func generate() -> String {
        let next = counter.wrappingAdd(1, ordering: .relaxed).newValue
        // Written into one allocation: the concatenations made three strings per request.
        let digits = (64 - next.leadingZeroBitCount + 3) / 4
        return String(unsafeUninitializedCapacity: 17 + max(1, digits)) { buffer in
            var index = 0
            for byte in prefix.utf8 {
                buffer[index] = byte
                index += 1
            }
            buffer[index] = UInt8(ascii: "-")
            index += 1
            var shift = (max(1, digits) - 1) * 4
            while shift >= 0 {
                buffer[index] = hexDigits[Int((next >> UInt64(shift)) & 0xF)]
                index += 1
                shift -= 4
            }
            return index
        }
    }
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// At most 128 characters of letters, digits and `-_.:@+=/`: safe in a header, a log line and a
    /// metric-free label, and not a vehicle for log injection.
    package static func isSane(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "+"),
                UInt8(ascii: "="), UInt8(ascii: "/"):
                true
            default:
                false
            }
        }
    }

    /// The incoming id if sane, else a fresh one.
    package static func resolve(incoming: String?) -> String {
        if let incoming, isSane(incoming) { return incoming }
        return generate()
    }
}

extension DestinationURL {
    /// The URL without its query string, for log lines: a query can carry an API key.
    package var withoutQuery: String {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
        return "\(scheme.rawValue)://\(authority)\(path)" + (target.contains("?") ? "?…" : "")
    }
}
