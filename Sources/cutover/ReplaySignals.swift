import CutoverDelivery
import CutoverLocking
import Dispatch
import Foundation

/// SIGINT and SIGTERM during `cutover replay`: the first stops the replay (nothing more is sent,
/// the requests in flight are waited for, the summary is printed), a second stops the waiting.
/// The signals are ignored while this is installed so the process is not killed by them; they
/// arrive on a dispatch source instead.
final class ReplaySignals: @unchecked Sendable {
    // Invariant: `sources` is set in init and never changes; a dispatch source may be cancelled from any thread.
    private let sources: [any DispatchSourceSignal]
    private let first = FirstSignal()

    /// The first signal number, shared with the handlers before `self` exists.
    private final class FirstSignal: Sendable {
        let number = Locked<Int32?>(nil)
    }

    init(interruption: ReplayInterruption) {
        let queue = DispatchQueue(label: "cutover.replay.signals")
        var sources: [any DispatchSourceSignal] = []
        let first = first
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let repeated = first.number.withLock { received -> Bool in
                    defer { if received == nil { received = number } }
                    return received != nil
                }
                if repeated {
                    FileHandle.standardError.write(Data("\n\(name) again: no longer waiting for the requests in flight\n".utf8))
                    interruption.abandon(name)
                } else {
                    FileHandle.standardError.write(
                        Data("\ninterrupted by \(name): sending nothing more, waiting for the requests in flight (again to stop waiting)\n".utf8))
                    interruption.interrupt(name)
                }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// The first signal received, if any.
    var received: Int32? { first.number.withLock { $0 } }

    /// Restores the signals' default actions.
    func cancel() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
