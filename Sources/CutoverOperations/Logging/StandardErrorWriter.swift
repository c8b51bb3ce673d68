import Dispatch
import Foundation
import Synchronization

/// Writes log lines to standard error from one serial queue. A slow or full stderr pipe (a stalled
/// log shipper) must never stall a loop or the spool writer, whose completions log: callers only
/// hand the line over. Lines stay whole and in order because one queue writes them. Past
/// `maxBacklogBytes` waiting, new lines are dropped and counted, and the count is written as a line
/// of its own once the pipe takes writes again: dropped, never silently.
package final class StandardErrorWriter: Sendable {
    package static let shared = StandardErrorWriter(descriptor: STDERR_FILENO)

    private let descriptor: Int32
    private let queue = DispatchQueue(label: "cutover.log")
    private let backlog = Atomic<Int>(0)
    private let dropped = Atomic<Int>(0)
    package let maxBacklogBytes: Int

    package init(descriptor: Int32, maxBacklogBytes: Int = 8 * 1024 * 1024) {
        self.descriptor = descriptor
        self.maxBacklogBytes = maxBacklogBytes
    }

    package func write(_ line: [UInt8]) {
        let waiting = backlog.add(line.count, ordering: .relaxed).newValue
        guard waiting <= maxBacklogBytes else {
            backlog.subtract(line.count, ordering: .relaxed)
            dropped.add(1, ordering: .relaxed)
            return
        }
        queue.async { [self] in
            let lost = dropped.exchange(0, ordering: .relaxed)
            if lost > 0 {
                writeAll(Array(#"{"level":"warning","label":"cutover","message":"\#(lost) log lines dropped: standard error was not keeping up"}"#.utf8) + [0x0A])
            }
            writeAll(line)
            backlog.subtract(line.count, ordering: .relaxed)
        }
    }

    /// Waits until every line handed over so far is written: before the process exits.
    package func flush() {
        queue.sync {}
    }

    /// Lines dropped and not yet reported.
    package var droppedLines: Int { dropped.load(ordering: .relaxed) }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    // Nowhere left to report a failing stderr: the line is lost, the process goes on.
                    return
                }
                offset += written
            }
        }
    }
}
