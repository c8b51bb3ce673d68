import CutoverConfiguration
import CutoverLocking
import CutoverOperations
import CutoverWebhooks
import Dispatch
import Foundation
import HTTPTypes
import Logging
import Synchronization

/// Records every authenticated request (raw body and headers, never credentials) to a JSON-lines
/// file that `cutover replay` reads, rotating it by size: `path` is written, `path.1` is the
/// previous file, up to `path.<keep>`.
///
/// Capture never slows or fails a request: `record` encodes the line and hands it to a background
/// queue. A write error is logged (once until writing works again) and counted
/// (`cutover_capture_errors_total`); when the backlog passes `maxPendingBytes` (the disk cannot keep
/// up) lines are dropped and counted (`cutover_capture_dropped_total`).
package final class CaptureWriter: Sendable {
    package let settings: CaptureSettings
    private let metrics: RelayMetrics
    private let logger: Logger
    private let queue = DispatchQueue(label: "cutover.capture")
    private let state: Locked<FileState>
    private let pendingBytes = Atomic<Int>(0)
    /// Bytes encoded but not yet written, beyond which new lines are dropped.
    package let maxPendingBytes: Int

    /// Touched only on `queue` (the mutex makes that checkable, and costs nothing uncontended).
    private struct FileState {
        var descriptor: Int32 = -1
        var size = 0
        var failing = false
        var closed = false
    }

    package init(settings: CaptureSettings, metrics: RelayMetrics, logger: Logger, maxPendingBytes: Int = 64 * 1024 * 1024) {
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self.maxPendingBytes = maxPendingBytes
        state = Locked(FileState())
    }

    /// Whether requests on `route` (`cloud`, `onprem/<name>`) are captured.
    package func captures(route: String) -> Bool {
        settings.routes.isEmpty || settings.routes.contains(route)
    }

    /// Queues one request for the capture file. Never blocks on I/O, never throws.
    /// `maxPendingBytes` bounds the queued bodies (each counted as its size plus 512 for headers).
    package func record(receivedAt: Double, route: String, headers: HTTPFields, body: [UInt8]) {
        guard captures(route: route) else { return }
        // Encoding (escaping a body of megabytes) happens on the capture queue too.
        let size = body.count + 512
        guard pendingBytes.add(size, ordering: .relaxed).newValue <= maxPendingBytes else {
            pendingBytes.subtract(size, ordering: .relaxed)
            metrics.countCaptureDropped(reason: "backlog")
            return
        }
        queue.async { [self] in
            let request = CapturedRequest(
                receivedAt: receivedAt, route: route,
                headers: headers.map { (name: $0.name.canonicalName, value: $0.value) }, body: body
            )
            write(request.jsonLine() + [UInt8(ascii: "\n")])
            pendingBytes.subtract(size, ordering: .relaxed)
        }
    }

    /// Waits until every line queued so far is written.
    package func flush() async {
        await onQueue {}
    }

    /// Writes what is queued, then closes the file; later records are dropped.
    package func close() async {
        await onQueue { [self] in
            state.withLock { state in
                if state.descriptor >= 0 { _ = Foundation.close(state.descriptor) }
                state.descriptor = -1
                state.closed = true
            }
        }
    }

    /// Runs `body` on the capture queue after every line queued before it, suspending (not blocking
    /// a thread) until it has.
    private func onQueue(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                body()
                continuation.resume()
            }
        }
    }

    // MARK: On the queue

    private func write(_ line: [UInt8]) {
        let outcome: Result<Bool, CaptureError> = state.withLock { state in
            guard !state.closed else { return .success(false) }
            do throws(CaptureError) {
                if state.descriptor < 0 { try open(&state) }
                var rotated = false
                if state.size > 0, state.size + line.count > settings.maxBytes {
                    try rotate(&state)
                    rotated = true
                }
                try writeAll(line, to: state.descriptor)
                state.size += line.count
                return .success(rotated)
            } catch {
                // Reopen next time: the directory may come back, a full disk may be freed.
                if state.descriptor >= 0 { _ = Foundation.close(state.descriptor) }
                state.descriptor = -1
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let rotated):
            metrics.countCaptureLine(bytes: line.count, rotated: rotated)
            let recovered = state.withLock { state in
                defer { state.failing = false }
                return state.failing
            }
            if recovered { logger.notice("capture writing again", metadata: ["path": "\(settings.path)"]) }
        case .failure(let error):
            metrics.countCaptureError()
            let first = state.withLock { state in
                defer { state.failing = true }
                return !state.failing
            }
            if first {
                logger.error("capture write failed; requests are still accepted", metadata: ["path": "\(settings.path)", "error": "\(error)"])
            }
        }
    }

    private func open(_ state: inout FileState) throws(CaptureError) {
        let directory = (settings.path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw CaptureError("cannot create \(directory): \(error)")
            }
        }
        // Captures hold message content: readable by the owner only.
        let descriptor = Foundation.open(settings.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw CaptureError("cannot open \(settings.path): \(String(cString: strerror(errno)))") }
        var info = stat()
        state.size = fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
        state.descriptor = descriptor
    }

    /// `path` becomes `path.1`, `path.1` becomes `path.2`, ...; `path.<keep>` is deleted.
    private func rotate(_ state: inout FileState) throws(CaptureError) {
        _ = Foundation.close(state.descriptor)
        state.descriptor = -1
        let path = settings.path
        if settings.keep == 0 {
            unlink(path)
        } else {
            unlink("\(path).\(settings.keep)")
            if settings.keep > 1 {
                for index in (1..<settings.keep).reversed() { rename("\(path).\(index)", "\(path).\(index + 1)") }
            }
            guard rename(path, "\(path).1") == 0 else {
                throw CaptureError("cannot rotate \(path): \(String(cString: strerror(errno)))")
            }
        }
        try open(&state)
    }

    private func writeAll(_ bytes: [UInt8], to descriptor: Int32) throws(CaptureError) {
        let result: Int32 = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return 0
        }
        guard result == 0 else { throw CaptureError("cannot write \(settings.path): \(String(cString: strerror(result)))") }
    }
}

struct CaptureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
