import CutoverHTTPClient
import CutoverHTTPServer
import CutoverSockets
import CutoverSpool
import Foundation
import HTTPTypes
import Logging

/// A running Cutover: spool, HTTP server, one delivery worker per destination.
public final class Relay: Sendable {
    public let settings: RelaySettings
    public let counters: Counters
    private let logger: Logger
    private let spool: Spool
    private let server: HTTPServer
    private let client: HTTPClient
    private let workers: [DeliveryWorker]
    /// Where the server listens (with the real port when 0 was asked for).
    public let boundAddress: SocketAddress

    /// Opens the spool, starts delivery of anything left from a previous run, then listens.
    public init(settings: RelaySettings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        let counters = Counters()
        self.counters = counters
        let spool = try Spool.open(directory: settings.spoolDirectory)
        self.spool = spool
        let loops = DispatchEventLoop.makeGroup()
        let client = HTTPClient(
            configuration: HTTPClientConfiguration(requestTimeout: .milliseconds(Int(settings.delivery.timeoutSeconds * 1000))),
            loops: loops
        )
        self.client = client
        let policy = RetryPolicy(
            initialDelay: settings.delivery.retryInitialSeconds, maxDelay: settings.delivery.retryMaxSeconds,
            horizon: settings.delivery.retryHorizonSeconds
        )
        let breaker = CircuitBreaker(
            failureThreshold: settings.delivery.breakerFailureThreshold, openDuration: settings.delivery.breakerOpenSeconds,
            maxOpenDuration: settings.delivery.breakerMaxOpenSeconds
        )
        let workers = settings.destinations.map { destination in
            DeliveryWorker(
                destination: destination, spool: spool, client: client, policy: policy, breaker: breaker,
                counters: counters, logger: logger
            )
        }
        self.workers = workers
        let handler = IngressHandler(settings: settings, spool: spool, counters: counters, logger: logger) {
            for worker in workers { worker.poke() }
        }
        server = HTTPServer(
            configuration: settings.server, handler: handler, observer: ServerLogObserver(logger: logger, counters: counters),
            loops: loops
        )
        for worker in workers { worker.poke() }
        boundAddress = try server.listen(on: settings.listen)
    }

    /// Stops accepting, lets in-flight requests and deliveries finish, and closes the spool.
    public func shutdown() {
        server.shutdown()
        let group = DispatchGroup()
        for worker in workers {
            group.enter()
            worker.stop { group.leave() }
        }
        group.wait()
        client.shutdown()
        spool.close()
    }
}

/// Logs and counts what the HTTP server rejects on its own.
struct ServerLogObserver: HTTPServerObserver {
    let logger: Logger
    let counters: Counters

    func connectionOpened() {
        counters.increment("cutover_connections_opened_total")
    }

    func connectionClosed() {
        counters.increment("cutover_connections_closed_total")
    }

    func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {
        counters.increment("cutover_requests_rejected_total", ["status": String(status.code)])
        logger.warning("request rejected", metadata: ["status": "\(status.code)", "reason": "\(reason)", "remote": "\(remoteAddress)"])
    }
}
