import CutoverHTTPServer
import CutoverLocking
import Dispatch
import HTTPTypes

/// Holds each request until `open()`, and says when one has arrived.
package final class GateHandler: HTTPServerHandler {
    package init() {}

    private let held = Locked<[@Sendable (ServerResponse) -> Void]>([])
    private let arrived = DispatchSemaphore(value: 0)

    package func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        let body = request.body.count
        held.withLock { $0.append { _ in respond(.text(.ok, "ok \(body)")) } }
        arrived.signal()
    }

    /// Waits for the next request to reach the handler.
    package func nextArrival(timeout: Double = 20) -> Bool { arrived.wait(timeout: .now() + timeout) == .success }

    /// Answers every request held so far.
    package func open() {
        for respond in held.withLock({ held in defer { held.removeAll() }; return held }) {
            respond(.text(.ok, ""))
        }
    }
}

/// Every value of the in-flight gauge and each closed connection, with waits on both.
package final class BudgetObserver: HTTPServerObserver {
    package init() {}

    private let values = Locked<[Int]>([])
    private let changed = DispatchSemaphore(value: 0)
    private let closed = DispatchSemaphore(value: 0)

    package func connectionOpened() {}
    package func connectionClosed() { closed.signal() }
    package func requestRejected(status: HTTPResponse.Status, reason: String, remoteAddress: String) {}
    package func bodyBytesInFlight(_ bytes: Int) {
        values.withLock { $0.append(bytes) }
        changed.signal()
    }

    package var highest: Int { values.withLock { $0.max() ?? 0 } }

    package func nextClose(timeout: Double = 20) -> Bool { closed.wait(timeout: .now() + timeout) == .success }

    /// Waits until the gauge reports a value for which `condition` holds.
    package func waitForValue(timeout: Double = 20, _ condition: (Int) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + timeout
        while true {
            if values.withLock({ $0.contains(where: condition) }) { return true }
            guard changed.wait(timeout: deadline) == .success else { return false }
        }
    }
}
