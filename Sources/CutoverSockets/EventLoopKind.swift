/// Which mechanism drives a process's event loops (`event_loop` in the configuration).
package enum EventLoopKind: String, Sendable, CaseIterable {
    /// `EpollEventLoop`: one edge-triggered epoll set per loop, one Dispatch source for all of it.
    case epoll
    /// `DispatchEventLoop`: one Dispatch source per socket and interest.
    case dispatch

    /// epoll where there is one (Linux), Dispatch sources elsewhere.
    package static var platformDefault: Self {
        #if os(Linux)
        .epoll
        #else
        .dispatch
        #endif
    }

    /// `count` loops of this kind, labelled `label.0`, `label.1`, ...
    package func makeGroup(count: Int = max(1, System.coreCount), label: String = "cutover.loop") throws(SystemError) -> [any EventLoop] {
        switch self {
        case .epoll:
            #if os(Linux)
            try EpollEventLoop.makeGroup(count: count, label: label)
            #else
            throw SystemError("epoll_create1", errno: ENOSYS)
            #endif
        case .dispatch:
            DispatchEventLoop.makeGroup(count: count, label: label)
        }
    }
}
