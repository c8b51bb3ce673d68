import CutoverConfiguration
import Logging
import ServiceLifecycle
import UnixSignals

/// A part with nothing to run, only something to stop: waits for the group's graceful shutdown,
/// then runs `stop`, and returns when that is done, which is what lets the group stop the next part.
/// A stop that takes longer than `slowAfter` is said once in the log (`slowNotice`), since nothing
/// else tells an operator why the process has not exited (a spool on a frozen disk waits for the thaw).
struct StopOnShutdown: Service {
    let stop: @Sendable () async -> Void
    let slowAfter: Duration?
    let slowNotice: @Sendable (Duration) -> Void

    init(
        slowAfter: Duration? = nil, slowNotice: @escaping @Sendable (Duration) -> Void = { _ in },
        _ stop: @escaping @Sendable () async -> Void
    ) {
        self.stop = stop
        self.slowAfter = slowAfter
        self.slowNotice = slowNotice
    }

    func run() async throws {
        // Cancellation (the group torn down without a graceful shutdown) ends the wait as well: the
        // part is stopped whichever way the group ends.
        try? await gracefulShutdown()
        guard let slowAfter else { return await stop() }
        enum Step { case stopped, slow, quiet }
        await withTaskGroup(of: Step.self) { group in
            group.addTask {
                await stop()
                return .stopped
            }
            group.addTask {
                // Cancelled as soon as the stop is done: no notice then.
                (try? await Task.sleep(for: slowAfter)) == nil ? .quiet : .slow
            }
            while let step = await group.next() {
                switch step {
                case .stopped: group.cancelAll()
                case .slow: slowNotice(slowAfter)
                case .quiet: break
                }
            }
        }
    }
}

/// SIGHUP reloads the relay's configuration without dropping connections, until graceful shutdown.
struct ReloadOnHangup: Service {
    let relay: Relay
    /// Trapped by the caller at process start, so a SIGHUP that comes before this service runs waits.
    let hangups: UnixSignalsSequence
    let logger: Logger
    let loadSettings: @Sendable () throws -> RelaySettings

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            do {
                try relay.reload(loadSettings())
            } catch {
                // A bad edit must not take down a running proxy: keep the old configuration.
                logger.error("reload failed, keeping the running configuration", metadata: ["error": "\(error)"])
            }
        }
    }
}
