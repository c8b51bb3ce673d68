import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// What a connection reports to the protocol above it. Every call arrives on the connection's loop.
package protocol ConnectionDelegate: AnyObject {
    /// Bytes arrived. They are only valid during the call: copy what you keep.
    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer)
    /// The peer finished sending (EOF). Writes may still be possible.
    func connectionDidReachEndOfInput(_ connection: Connection)
    /// Everything written so far has reached the kernel (after write back-pressure).
    func connectionDidDrainWrites(_ connection: Connection)
    /// The deadline set with `setDeadline` passed.
    func connectionDeadlineDidPass(_ connection: Connection)
    /// The connection is closed; `error` is nil for an orderly close.
    func connectionDidClose(_ connection: Connection, error: (any Error)?)
}

/// One connection (TCP, or TLS over TCP) on one event loop: a read watch, a write watch used only under
/// back-pressure, an outbound buffer and one deadline timer.
package final class Connection: @unchecked Sendable {
    // Invariant: every mutable property is read and written only on `loop`; the class is
    // Sendable only so loop handlers (which run on that loop) can capture it.
    package let loop: any EventLoop
    package let stream: any ByteStream
    package let peer: String

    private var delegate: (any ConnectionDelegate)?
    private var readWatch: (any IOWatch)?
    private var writeWatch: (any IOWatch)?
    private var writeWatchActive = false
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var readingPaused = false
    private var closeAfterFlush = false
    private var lingerAfterFlush = false
    /// Write side shut, input discarded until the peer closes: a close that does not reset the
    /// connection (and destroy our last response) while the peer is still sending.
    private var lingering = false
    private var lingerDeadline: DispatchTime?
    private var deadline: DispatchTime?
    private var timer: (any ScheduledWork)?
    private var timerFiresAt: DispatchTime?
    package private(set) var isClosed = false

    /// Read buffers filled per readiness event before yielding to other connections on the loop
    /// (256 KiB with the loops' 64 KiB buffers).
    private static let readBuffersPerEvent = 4

    package init(stream: any ByteStream, loop: any EventLoop, peer: String = "") {
        self.stream = stream
        self.loop = loop
        self.peer = peer
    }

    /// Starts reading. Call on the loop.
    package func start(delegate: any ConnectionDelegate) {
        loop.preconditionOnLoop()
        self.delegate = delegate
        let watch: any IOWatch
        do {
            watch = try loop.watch(stream.descriptor, for: .readable) { [self] in handleReadable() }
        } catch {
            finish(error: error)
            return
        }
        readWatch = watch
        watch.resume()
        comeBackForBufferedInput()
    }

    /// Queues bytes and writes as much as the kernel takes now; the rest waits for writability.
    package func write(_ bytes: [UInt8]) {
        loop.preconditionOnLoop()
        guard !isClosed, !bytes.isEmpty else { return }
        if outbound.isEmpty {
            outbound = bytes
            outboundOffset = 0
        } else {
            outbound.append(contentsOf: bytes)
        }
        flush()
    }

    /// Bytes written but not yet taken by the kernel: the back-pressure signal.
    package var pendingWriteCount: Int { outbound.count - outboundOffset }

    package func pauseReading() {
        loop.preconditionOnLoop()
        guard !readingPaused, !isClosed else { return }
        readingPaused = true
        readWatch?.suspend()
    }

    package func resumeReading() {
        loop.preconditionOnLoop()
        guard readingPaused, !isClosed else { return }
        readingPaused = false
        readWatch?.resume()
        comeBackForBufferedInput()
    }

    /// Sets (or clears, with nil) the single deadline of this connection. Moving a deadline
    /// later costs nothing: the timer re-arms itself when it fires early.
    package func setDeadline(_ deadline: DispatchTime?) {
        loop.preconditionOnLoop()
        self.deadline = deadline
        guard let deadline, !isClosed else { return }
        if let firesAt = timerFiresAt, firesAt <= deadline { return }
        armTimer(at: deadline)
    }

    /// Sets the deadline `duration` from now on the loop's clock.
    package func setDeadline(after duration: Duration) {
        setDeadline(loop.deadline(after: duration))
    }

    /// Closes now, or once queued bytes are written when `afterFlush` is true. With `linger`,
    /// the write side is shut after the flush and unread input is drained for up to
    /// `lingerTimeout` before the descriptor closes (RFC 9112 §9.6: closing with unread input
    /// makes the kernel reset the connection, and the peer may lose the response).
    package func close(afterFlush: Bool = false, linger: Bool = false, lingerTimeout: Duration = .seconds(2)) {
        loop.preconditionOnLoop()
        guard !isClosed else { return }
        if linger {
            lingerAfterFlush = true
            deadline = nil
            let until = loop.deadline(after: lingerTimeout)
            lingerDeadline = until
            armTimer(at: until)
        }
        if afterFlush, pendingWriteCount > 0 || !streamOutputFlushed() {
            closeAfterFlush = true
            if !linger { pauseReading() }
            waitForWritable()
            return
        }
        if linger {
            startLingering()
        } else {
            finish(error: nil)
        }
    }

    private func startLingering() {
        lingering = true
        stream.shutdownWrite()
        resumeReading()
    }

    private func handleReadable() {
        guard !isClosed, !readingPaused else { return }
        let buffer = loop.readBuffer
        var budget = Self.readBuffersPerEvent * buffer.count
        reading: while !isClosed, !readingPaused {
            guard budget > 0 else {
                // The kernel may hold more, and an edge-triggered loop will not say so again.
                loop.execute { [self] in handleReadable() }
                break
            }
            let result: IOResult
            do {
                result = try stream.read(into: buffer)
            } catch {
                finish(error: error)
                return
            }
            switch result {
            case .processed(let count):
                budget -= count
                if lingering || lingerAfterFlush { continue }
                delegate?.connection(self, didRead: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                // A short read emptied the kernel's buffer, unless the stream holds bytes of its own.
                if count < buffer.count, !stream.hasBufferedInput { break reading }
            case .wouldBlock:
                break reading
            case .endOfStream:
                if lingering {
                    finish(error: nil)
                    return
                }
                readingPaused = true
                readWatch?.suspend()
                if !lingerAfterFlush { delegate?.connectionDidReachEndOfInput(self) }
                break reading
            }
        }
        // Reading can make the stream produce output of its own (a TLS handshake reply, a key
        // update); the write watch, when active, sends it along with ours.
        if !isClosed, !writeWatchActive, !streamOutputFlushed() { waitForWritable() }
    }

    /// Input the stream already holds is not announced by readiness: read it in a later turn.
    private func comeBackForBufferedInput() {
        guard stream.hasBufferedInput else { return }
        loop.execute { [self] in handleReadable() }
    }

    /// Sends what the stream holds of its own; false while some waits for writability.
    private func streamOutputFlushed() -> Bool {
        do {
            return try stream.flushPendingOutput()
        } catch {
            finish(error: error)
            return true
        }
    }

    private func flush() {
        while outboundOffset < outbound.count {
            let result: IOResult
            do {
                result = try outbound.withUnsafeBytes { bytes in
                    try stream.write(UnsafeRawBufferPointer(rebasing: bytes[outboundOffset...]))
                }
            } catch {
                finish(error: error)
                return
            }
            switch result {
            case .processed(let count):
                outboundOffset += count
            case .wouldBlock:
                waitForWritable()
                return
            case .endOfStream:
                finish(error: SystemError("send", errno: EPIPE))
                return
            }
        }
        // Dropped, not emptied in place: `write` adopts the caller's array whole, so the buffer is
        // usually still shared here and keeping its capacity would allocate a new one per answer;
        // and the next `write` into an empty queue adopts its own array anyway.
        outbound = []
        outboundOffset = 0
        // Everything went to the stream; a TLS stream may still hold some of it as records.
        guard streamOutputFlushed() else {
            waitForWritable()
            return
        }
        guard !isClosed else { return }
        if writeWatchActive {
            writeWatchActive = false
            writeWatch?.suspend()
        }
        if closeAfterFlush {
            if lingerAfterFlush { startLingering() } else { finish(error: nil) }
            return
        }
        delegate?.connectionDidDrainWrites(self)
    }

    private func waitForWritable() {
        guard !isClosed else { return }
        if writeWatch == nil {
            do {
                writeWatch = try loop.watch(stream.descriptor, for: .writable) { [self] in
                    guard !isClosed else { return }
                    flush()
                    // A read that waited for the stream's own output to leave (a TLS reply that
                    // found its ring full) can go on now.
                    if !isClosed, !readingPaused, stream.hasBufferedInput { handleReadable() }
                }
            } catch {
                finish(error: error)
                return
            }
        }
        if !writeWatchActive {
            writeWatchActive = true
            writeWatch?.resume()
        }
    }

    private func armTimer(at instant: DispatchTime) {
        timer?.cancel()
        timerFiresAt = instant
        timer = loop.schedule(at: instant) { [self] in
            timerFiresAt = nil
            timer = nil
            guard !isClosed else { return }
            let now = loop.now
            if let lingerDeadline {
                if now >= lingerDeadline { finish(error: nil) } else { armTimer(at: lingerDeadline) }
                return
            }
            guard let deadline else { return }
            if now >= deadline {
                self.deadline = nil
                delegate?.connectionDeadlineDidPass(self)
            } else {
                armTimer(at: deadline)
            }
        }
    }

    /// Cancels the watches, and closes the descriptor once the loop can no longer touch it.
    private func finish(error: (any Error)?) {
        guard !isClosed else { return }
        isClosed = true
        timer?.cancel()
        timer = nil
        let stream = stream
        let watches = [readWatch, writeWatch].compactMap { $0 }
        readWatch = nil
        writeWatch = nil
        if watches.isEmpty {
            stream.close()
        } else {
            let remaining = CancelCounter(count: watches.count)
            for watch in watches {
                watch.cancel { if remaining.decrement() { stream.close() } }
            }
        }
        let delegate = delegate
        self.delegate = nil
        delegate?.connectionDidClose(self, error: error)
    }
}

/// Counts cancel handlers, which all run on the same serial loop.
private final class CancelCounter: @unchecked Sendable {
    // Invariant: only touched from cancel handlers, which run on one serial loop.
    private var count: Int
    init(count: Int) { self.count = count }
    func decrement() -> Bool {
        count -= 1
        return count == 0
    }
}
