import CutoverConfiguration
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a relay under swift-service-lifecycle: SIGTERM/SIGINT shut it down gracefully (the
/// service group's signals), SIGHUP reloads its configuration without dropping connections.
package struct RelayService: Service {
    private let relay: Relay
    private let logger: Logger
    private let loadSettings: @Sendable () throws -> RelaySettings

    /// - Parameter loadSettings: re-reads the configuration (file, environment, flags) on SIGHUP.
    package init(relay: Relay, logger: Logger, loadSettings: @escaping @Sendable () throws -> RelaySettings) {
        self.relay = relay
        self.logger = logger
        self.loadSettings = loadSettings
    }

    package func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                try relay.reload(loadSettings())
            } catch {
                // A bad edit must not take down a running proxy: keep the old configuration.
                logger.error("reload failed, keeping the running configuration", metadata: ["error": "\(error)"])
            }
        }
        logger.notice("shutting down: finishing in-flight requests and deliveries")
        await relay.shutdownGracefully()
        logger.notice("stopped")
    }
}
