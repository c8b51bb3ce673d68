import CutoverHTTPServer
import HTTPTypes
import Logging

/// Logs and counts what the HTTP server rejects on its own.
package struct ServerLogObserver: HTTPServerObserver {
    let logger: Logger
    let metrics: RelayMetrics

    package init(logger: Logger, metrics: RelayMetrics) {
        self.logger = logger
        self.metrics = metrics
    }

    package func connectionOpened() {
        metrics.connectionOpened()
    }

    package func connectionClosed() {
        metrics.connectionClosed()
    }

    package func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {
        metrics.countRejected(status: status.code)
        logger.warning("request rejected", metadata: ["status": "\(status.code)", "reason": "\(reason)", "remote": "\(remoteAddress)"])
    }

    package func tlsHandshakeFailed(reason: String, remoteAddress: String) {
        metrics.countTLSHandshakeFailure()
        logger.warning("TLS handshake failed", metadata: ["reason": "\(reason)", "remote": "\(remoteAddress)"])
    }

    package func connectionAborted(limit: String, reason: String, remoteAddress: String) {
        metrics.countConnectionAborted(limit: limit)
        logger.warning("connection aborted", metadata: ["limit": "\(limit)", "reason": "\(reason)", "remote": "\(remoteAddress)"])
    }

    package func bodyBytesInFlight(_ bytes: Int) {
        metrics.recordBodyBytesInFlight(bytes)
    }
}

/// Logs what the admin listener rejects on its own (its connections are not webhook traffic, so
/// they stay out of the connection metrics).
package struct AdminLogObserver: HTTPServerObserver {
    let logger: Logger

    package init(logger: Logger) { self.logger = logger }

    package func connectionOpened() {}

    package func connectionClosed() {}

    package func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {
        logger.warning("admin request rejected", metadata: ["status": "\(status.code)", "reason": "\(reason)", "remote": "\(remoteAddress)"])
    }
}
