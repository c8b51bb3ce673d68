import CutoverSockets
import Dispatch

/// Drives one stream's handshake on its loop from the descriptor's readiness, bounded by a
/// timeout. Only the readiness the handshake waits for is watched (a readable socket during a
/// write wait would otherwise fire again and again). The completion runs on the loop once both
/// watches are cancelled, so the connection that takes the stream over owns the descriptor alone.
package final class TLSHandshake: @unchecked Sendable {
    // Invariant: every mutable property is touched only on `loop`.
    package typealias Completion = @Sendable (Result<TLSConnectionInfo, TLSError>) -> Void

    private let stream: TLSStream
    private let loop: any EventLoop
    private let completion: Completion
    private var readWatch: (any IOWatch)?
    private var writeWatch: (any IOWatch)?
    private var waitingFor: TLSHandshakeProgress?
    private var timer: (any ScheduledWork)?
    private var finished = false
    /// A failed handshake whose alert is on its way: the peer's input is read and dropped until it
    /// closes (or briefly), because closing with unread input makes the kernel reset the
    /// connection, and a reset can destroy the alert before the peer reads it.
    private var lingeringFailure: TLSError?
    private static let lingerTimeout: Duration = .seconds(2)

    private init(stream: TLSStream, loop: any EventLoop, completion: @escaping Completion) {
        self.stream = stream
        self.loop = loop
        self.completion = completion
    }

    /// Starts the handshake of `stream` on `loop`. `completion` runs exactly once, on the loop:
    /// with what was agreed, or with why not (the caller then closes the stream).
    package static func start(
        _ stream: TLSStream, on loop: any EventLoop, timeout: Duration, completion: @escaping Completion
    ) {
        let handshake = TLSHandshake(stream: stream, loop: loop, completion: completion)
        loop.execute {
            handshake.timer = loop.schedule(at: loop.deadline(after: timeout)) {
                handshake.finish(.failure(TLSError("handshake", reason: "not completed within \(timeout)")))
            }
            handshake.step()
        }
    }

    private func step() {
        guard !finished else { return }
        if lingeringFailure != nil {
            drainWhileLingering()
            return
        }
        let progress: TLSHandshakeProgress
        do {
            progress = try stream.handshake()
        } catch {
            linger(after: error)
            return
        }
        switch progress {
        case .complete:
            finish(.success(stream.info!))
        case .needsReadable, .needsWritable:
            wait(for: progress)
        }
    }

    private func wait(for progress: TLSHandshakeProgress) {
        guard waitingFor != progress else { return }
        waitingFor = progress
        do throws(SystemError) {
            if progress == .needsReadable {
                writeWatch?.suspend()
                if readWatch == nil {
                    readWatch = try loop.watch(stream.descriptor, for: .readable) { [self] in step() }
                }
                readWatch?.resume()
            } else {
                readWatch?.suspend()
                if writeWatch == nil {
                    writeWatch = try loop.watch(stream.descriptor, for: .writable) { [self] in step() }
                }
                writeWatch?.resume()
            }
        } catch {
            finish(.failure(TLSError("handshake", reason: "cannot watch the socket: \(error)")))
        }
    }

    private func linger(after error: TLSError) {
        lingeringFailure = error
        stream.socket.shutdownWrite()
        timer?.cancel()
        timer = loop.schedule(at: loop.deadline(after: Self.lingerTimeout)) { [self] in finish(.failure(error)) }
        wait(for: .needsReadable)
        drainWhileLingering()
    }

    private func drainWhileLingering() {
        guard let error = lingeringFailure else { return }
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = scratch.withUnsafeMutableBytes { try? stream.socket.read(into: $0) }
            switch result {
            case .processed?: continue
            case .wouldBlock?: return
            case .endOfStream?, nil:
                finish(.failure(error))
                return
            }
        }
    }

    private func finish(_ result: Result<TLSConnectionInfo, TLSError>) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        timer = nil
        let watches = [readWatch, writeWatch].compactMap { $0 }
        readWatch = nil
        writeWatch = nil
        let completion = completion
        guard !watches.isEmpty else {
            completion(result)
            return
        }
        let remaining = WatchCount(watches.count)
        for watch in watches {
            watch.cancel { if remaining.decrement() { completion(result) } }
        }
    }
}

/// Counts cancel handlers, which all run on the same serial loop.
private final class WatchCount: @unchecked Sendable {
    // Invariant: only touched from cancel handlers, which run on one serial loop.
    private var count: Int
    init(_ count: Int) { self.count = count }
    func decrement() -> Bool {
        count -= 1
        return count == 0
    }
}
