import Dispatch

/// A listening socket that hands each accepted connection to `onAccept` on the listener's loop.
package final class Listener: @unchecked Sendable {
    // Invariant: mutable state is touched only on `loop`.
    package let loop: any EventLoop
    package let socket: Socket
    package let address: SocketAddress
    private var watch: (any IOWatch)?
    private var retry: (any ScheduledWork)?
    private let onAccept: @Sendable (Socket) -> Void
    private let onError: @Sendable (SystemError) -> Void

    /// Binds `host:port` (port 0 picks a free port; read it back from `address`).
    package init(
        host: String,
        port: UInt16,
        loop: any EventLoop,
        backlog: Int32 = 1024,
        onAccept: @escaping @Sendable (Socket) -> Void,
        onError: @escaping @Sendable (SystemError) -> Void
    ) throws {
        guard let first = try SocketAddress.resolve(host: host, port: port).first else {
            throw AddressError(host: host, reason: "no addresses")
        }
        socket = try Socket.listening(on: first, backlog: backlog)
        address = try socket.localAddress()
        self.loop = loop
        self.onAccept = onAccept
        self.onError = onError
    }

    package func start() {
        loop.execute { [self] in
            do throws(SystemError) {
                let watch = try loop.watch(socket.descriptor, for: .readable) { [self] in acceptPending() }
                self.watch = watch
                watch.resume()
            } catch {
                onError(error)
            }
        }
    }

    /// Stops accepting and closes the listening socket; established connections are not touched.
    package func stop(completion: @escaping @Sendable () -> Void = {}) {
        loop.execute { [self] in
            retry?.cancel()
            guard let watch else {
                socket.close()
                completion()
                return
            }
            self.watch = nil
            let socket = socket
            watch.cancel {
                socket.close()
                completion()
            }
        }
    }

    private func acceptPending() {
        // Bounded so one busy listener cannot starve the connections sharing its loop.
        for _ in 0..<256 {
            do {
                guard let accepted = try socket.accept() else { return }
                onAccept(accepted)
            } catch {
                // Out of descriptors (EMFILE/ENFILE): stop for a moment instead of spinning.
                onError(error)
                watch?.suspend()
                retry = loop.schedule(at: loop.deadline(after: .milliseconds(100))) { [self] in
                    retry = nil
                    watch?.resume()
                }
                return
            }
        }
        // The rest waits a turn: an edge-triggered loop does not report the backlog again.
        loop.execute { [self] in
            if watch != nil, retry == nil { acceptPending() }
        }
    }
}
