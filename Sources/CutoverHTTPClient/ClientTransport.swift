import CutoverSockets
import CutoverTLS
import Dispatch

/// Opens the byte stream under an outbound connection: TCP, then TLS when asked.
enum ClientTransport {
    /// Connects without blocking: waits for writability on the loop, bounded by the connect
    /// timeout, then (with `tls`) runs the handshake for `host`, bounded by the handshake timeout. The completion runs on `loop`
    /// with the stream and what the handshake agreed on (ALPN picks the HTTP version).
    static func connect(
        to address: SocketAddress, tls: (context: TLSContext, host: String)?, loop: any EventLoop,
        configuration: HTTPClientConfiguration,
        completion: @escaping @Sendable (Result<(stream: any ByteStream, tls: TLSConnectionInfo?), HTTPClientError>) -> Void
    ) {
        let socket: Socket
        let connected: Bool
        do {
            (socket, connected) = try Socket.connecting(to: address)
        } catch {
            completion(.failure(.connect(error)))
            return
        }
        socket.setNoDelay()
        let make: @Sendable () -> Void = {
            guard let tls else {
                completion(.success((socket, nil)))
                return
            }
            let stream: TLSStream
            do throws(TLSError) {
                stream = try tls.context.makeClientStream(socket: socket, host: tls.host)
            } catch {
                socket.close()
                completion(.failure(.tls(error)))
                return
            }
            TLSHandshake.start(stream, on: loop, timeout: tls.context.handshakeTimeout) { result in
                switch result {
                case .success(let info):
                    completion(.success((stream, info)))
                case .failure(let error):
                    stream.close()
                    completion(.failure(.tls(error)))
                }
            }
        }
        if connected {
            loop.execute(make)
            return
        }
        loop.execute {
            let attempt = ConnectAttempt()
            let watch: any IOWatch
            do throws(SystemError) {
                watch = try loop.watch(socket.descriptor, for: .writable) {
                    guard attempt.finish() else { return }
                    attempt.cancelTimer()
                    attempt.cancelWatch {
                        do throws(SystemError) {
                            try socket.finishConnect()
                            make()
                        } catch {
                            socket.close()
                            completion(.failure(.connect(error)))
                        }
                    }
                }
            } catch {
                socket.close()
                completion(.failure(.connect(error)))
                return
            }
            attempt.watch = watch
            attempt.timer = loop.schedule(at: loop.deadline(after: configuration.connectTimeout)) {
                guard attempt.finish() else { return }
                attempt.timer = nil
                attempt.cancelWatch {
                    socket.close()
                    completion(.failure(.timedOut("connecting to \(address)")))
                }
            }
            watch.resume()
        }
    }
}

/// Which of "became writable" and "timed out" came first, for one connect.
private final class ConnectAttempt: @unchecked Sendable {
    // Invariant: only touched on the loop the connect runs on.
    var watch: (any IOWatch)?
    var timer: (any ScheduledWork)?
    private var finished = false

    func finish() -> Bool {
        guard !finished else { return false }
        finished = true
        return true
    }

    func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    /// Cancels the watch and lets go of it: its handler holds this attempt.
    func cancelWatch(then completion: @escaping @Sendable () -> Void) {
        let watch = watch
        self.watch = nil
        watch?.cancel(completion: completion)
    }
}
