import CutoverSockets
import Foundation

/// The event loops a test runs its servers and clients on: the platform's default kind (the one
/// `cutover serve` uses), or the one `CUTOVER_TEST_EVENT_LOOP` names (`epoll` | `dispatch`), so
/// every suite can be run on either loop.
package enum TestLoops {
    package static var kind: EventLoopKind {
        ProcessInfo.processInfo.environment["CUTOVER_TEST_EVENT_LOOP"].flatMap(EventLoopKind.init(rawValue:)) ?? .platformDefault
    }

    package static func make(count: Int, label: String) -> [any EventLoop] {
        do {
            return try kind.makeGroup(count: count, label: label)
        } catch {
            // Only descriptor exhaustion gets here: nothing in the test could run.
            preconditionFailure("cannot make \(count) \(kind) loops: \(error)")
        }
    }
}
