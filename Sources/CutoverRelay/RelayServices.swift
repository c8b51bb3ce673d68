import CutoverConfiguration
import Logging
import ServiceLifecycle
import UnixSignals

/// A part with nothing to run, only something to stop: waits for the group's graceful shutdown,
/// then runs `stop`, and returns when that is done, which is what lets the group stop the next part.
struct StopOnShutdown: Service {
    let stop: @Sendable () async -> Void

    init(_ stop: @escaping @Sendable () async -> Void) { self.stop = stop }

    func run() async throws {
        // Cancellation (the group torn down without a graceful shutdown) ends the wait as well: the
        // part is stopped whichever way the group ends.
        try? await gracefulShutdown()
        await stop()
    }
}

/// SIGHUP reloads the relay's configuration without dropping connections, until graceful shutdown.
struct ReloadOnHangup: Service {
    let relay: Relay
    let logger: Logger
    let loadSettings: @Sendable () throws -> RelaySettings

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                try relay.reload(loadSettings())
            } catch {
                // A bad edit must not take down a running proxy: keep the old configuration.
                logger.error("reload failed, keeping the running configuration", metadata: ["error": "\(error)"])
            }
        }
    }
}
