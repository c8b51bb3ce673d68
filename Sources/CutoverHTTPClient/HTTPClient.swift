import CutoverHTTP
import CutoverSockets
import CutoverHTTP2
import CutoverTLS
import Dispatch
import HTTPTypes
import CutoverLocking
import Synchronization

/// An HTTP client (http and https) over the socket layer. An https destination whose ALPN picks
/// `h2` gets one multiplexed HTTP/2 connection (more only when the peer's concurrency limit is
/// reached); everything else gets HTTP/1.1 with a keep-alive pool per destination.
package final class HTTPClient: Sendable {
    package let configuration: HTTPClientConfiguration
    private let loops: [any EventLoop]
    private let resolver: HostResolver
    private let pool = Locked(Pool())
    /// The context for https requests without one of their own, built on first use.
    private let defaultTLS = Locked<TLSContext?>(nil)

    private struct Pool {
        var idle: [PoolKey: [HTTP1ClientConnection]] = [:]
        /// HTTP/2 connections per destination and the requests in flight on each.
        var multiplexed: [PoolKey: [(connection: HTTP2ClientConnection, inFlight: Int)]] = [:]
        /// Requests waiting for a TLS connection in progress whose ALPN may pick h2: they go to it
        /// if it does, instead of each opening a connection of its own.
        var waiting: [PoolKey: [Request]] = [:]
        /// Destinations whose ALPN picked HTTP/1.1: no waiting for them.
        var http1Only: Set<PoolKey> = []
        var nextLoop = 0
        var isShutDown = false

        /// An HTTP/2 connection to `key` with a free stream slot, its slot taken; connections
        /// no longer usable are dropped on the way. The entries are moved out of the dictionary
        /// and back, not copied: a copy would share its buffer and be copied again on mutation.
        mutating func claimStream(to key: PoolKey) -> HTTP2ClientConnection? {
            guard var entries = multiplexed.removeValue(forKey: key) else { return nil }
            defer { if !entries.isEmpty { multiplexed[key] = entries } }
            entries.removeAll { !$0.connection.usable.load(ordering: .relaxed) }
            guard let index = entries.firstIndex(where: { $0.inFlight < $0.connection.peerStreamLimit.load(ordering: .relaxed) }) else {
                return nil
            }
            entries[index].inFlight += 1
            return entries[index].connection
        }
    }

    /// One request as both versions need it.
    struct Request: Sendable {
        var head: HTTPRequest
        var body: [UInt8]
        var completion: @Sendable (Result<HTTP1Response, HTTPClientError>) -> Void

        var http1Bytes: [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(256 + body.count)
            var head = head
            head.scheme = nil
            HTTP1RequestEncoder.encode(head, body: body, into: &bytes)
            return bytes
        }
    }

    /// Connections are shared only between requests to the same place with the same TLS
    /// settings: a connection verified against one CA file must not serve another's requests.
    struct PoolKey: Hashable {
        var host: String
        var port: UInt16
        var tls: ContextIdentity?
    }

    /// A context compared by identity; holding it keeps the identity from being reused.
    struct ContextIdentity: Hashable {
        let context: TLSContext
        static func == (lhs: ContextIdentity, rhs: ContextIdentity) -> Bool { lhs.context === rhs.context }
        func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(context)) }
    }

    /// `resolver`: nil resolves with getaddrinfo as `configuration.dns` says; tests give their own.
    package init(configuration: HTTPClientConfiguration = HTTPClientConfiguration(), loops: [any EventLoop], resolver: HostResolver? = nil) {
        precondition(!loops.isEmpty, "an HTTP client needs at least one event loop")
        self.configuration = configuration
        self.loops = loops
        self.resolver = resolver ?? HostResolver(configuration: configuration.dns)
        Socket.ignoreBrokenPipeSignal()
    }

    /// Sends `request` and calls `completion` once, from any thread, with the response or why
    /// there is none. Never blocks the caller: names are resolved by the `HostResolver`.
    package func execute(_ request: ClientRequest, completion: @escaping @Sendable (Result<HTTP1Response, HTTPClientError>) -> Void) {
        var tls: TLSContext?
        if request.url.scheme == .https {
            switch request.tls.map({ .success($0) }) ?? defaultTLSContext() {
            case .success(let context): tls = context
            case .failure(let error):
                completion(.failure(.tls(error)))
                return
            }
        }
        let head = HTTPRequest(
            method: request.method, scheme: request.url.scheme.rawValue, authority: request.url.authority, path: request.url.target,
            headerFields: request.headerFields
        )
        let key = PoolKey(host: request.url.host, port: request.url.port, tls: tls.map(ContextIdentity.init))
        send(Request(head: head, body: request.body, completion: completion), key: key, retryOnStale: true)
    }

    /// Closes every pooled connection; later requests fail.
    package func shutdown() {
        let (idle, multiplexed) = pool.withLock { pool in
            pool.isShutDown = true
            defer {
                pool.idle.removeAll()
                pool.multiplexed.removeAll()
            }
            return (pool.idle.values.flatMap { $0 }, pool.multiplexed.values.flatMap { $0.map(\.connection) })
        }
        for connection in idle { connection.closeIdle() }
        for connection in multiplexed { connection.closeIdle() }
    }

    private enum Route {
        case multiplexed(HTTP2ClientConnection)
        case pooled(HTTP1ClientConnection)
        case wait
        case connect(mayNegotiateH2: Bool)
    }

    private func send(_ request: Request, key: PoolKey, retryOnStale: Bool) {
        let route: Route = pool.withLock { pool in
            // An HTTP/2 connection with a free stream slot first.
            if let connection = pool.claimStream(to: key) { return .multiplexed(connection) }
            if let reused = pool.idle[key]?.popLast() { return .pooled(reused) }
            let mayNegotiateH2 = key.tls.map { $0.context.offersH2 } == true && !pool.http1Only.contains(key)
            guard mayNegotiateH2 else { return .connect(mayNegotiateH2: false) }
            // One connection attempt per destination at a time: the others wait to learn its ALPN.
            if pool.waiting[key] != nil {
                pool.waiting[key]!.append(request)
                return .wait
            }
            pool.waiting[key] = []
            return .connect(mayNegotiateH2: true)
        }
        switch route {
        case .wait:
            return
        case .multiplexed(let connection):
            connection.send(request.head, body: request.body) { [self] result in
                releaseStream(on: connection, key: key)
                // Not processed (refused, or the connection went away first): once more, elsewhere.
                if case .failure(.connectionClosed) = result, retryOnStale {
                    send(request, key: key, retryOnStale: false)
                } else {
                    request.completion(result)
                }
            }
        case .pooled(let reused):
            reused.send(request.http1Bytes, method: request.head.method) { [self] result in
                // A pooled connection the server closed meanwhile: try once more on a fresh one.
                if case .failure(.connectionClosed) = result, retryOnStale {
                    send(request, key: key, retryOnStale: false)
                } else {
                    request.completion(result)
                }
            }
        case .connect(let mayNegotiateH2):
            connect(request, key: key, mayNegotiateH2: mayNegotiateH2)
        }
    }

    private func connect(_ request: Request, key: PoolKey, mayNegotiateH2: Bool) {
        resolver.resolve(host: key.host, port: key.port) { [self] result in
            switch result {
            case .success(let addresses):
                // A lookup throws rather than answer an empty list.
                connect(request, to: addresses[0], key: key, mayNegotiateH2: mayNegotiateH2)
            case .failure(let error):
                connectFailed(request, key: key, mayNegotiateH2: mayNegotiateH2, error: error)
            }
        }
    }

    private func connect(_ request: Request, to address: SocketAddress, key: PoolKey, mayNegotiateH2: Bool) {
        let loop = pool.withLock { pool in
            pool.nextLoop = (pool.nextLoop + 1) % loops.count
            return loops[pool.nextLoop]
        }
        ClientTransport.connect(
            to: address, tls: key.tls.map { ($0.context, key.host) }, loop: loop, configuration: configuration
        ) { [self] result in
            switch result {
            case .failure(let error):
                connectFailed(request, key: key, mayNegotiateH2: mayNegotiateH2, error: error)
            case .success(let (stream, info)):
                if info?.applicationProtocol == "h2" {
                    startMultiplexed(on: stream, loop: loop, address: address, key: key, first: request)
                } else {
                    let connection = HTTP1ClientConnection.start(
                        on: stream, loop: loop, peer: address.description, configuration: configuration,
                        onIdle: { [self] connection in returnToPool(connection, key: key) },
                        onClose: { [self] connection in removeFromPool(connection, key: key) }
                    )
                    connection.send(request.http1Bytes, method: request.head.method, completion: request.completion)
                    if mayNegotiateH2 { releaseWaiters(key: key, http1Only: true) }
                }
            }
        }
    }

    private func connectFailed(_ request: Request, key: PoolKey, mayNegotiateH2: Bool, error: HTTPClientError) {
        request.completion(.failure(error))
        guard mayNegotiateH2 else { return }
        // The waiters would have shared this connection: they share its failure.
        let waiting = pool.withLock { $0.waiting.removeValue(forKey: key) ?? [] }
        for waiter in waiting { waiter.completion(.failure(error)) }
    }

    private func startMultiplexed(on stream: any ByteStream, loop: any EventLoop, address: SocketAddress, key: PoolKey, first: Request) {
        let connection: HTTP2ClientConnection
        do throws(HTTP2Error) {
            connection = try HTTP2ClientConnection.start(
                on: stream, loop: loop, peer: address.description, configuration: configuration,
                onClose: { [self] connection in removeFromPool(connection, key: key) }
            )
        } catch {
            stream.close()
            connectFailed(first, key: key, mayNegotiateH2: true, error: .http2(error))
            return
        }
        let keep = pool.withLock { pool in
            guard !pool.isShutDown else { return false }
            pool.multiplexed[key, default: []].append((connection, 0))
            return true
        }
        guard keep else {
            connection.closeIdle()
            connectFailed(first, key: key, mayNegotiateH2: true, error: .connectionClosed)
            return
        }
        send(first, key: key, retryOnStale: true)
        releaseWaiters(key: key, http1Only: false)
    }

    /// The destination's ALPN is known: the waiting requests go through the normal route now.
    private func releaseWaiters(key: PoolKey, http1Only: Bool) {
        let waiting = pool.withLock { pool in
            if http1Only { pool.http1Only.insert(key) }
            return pool.waiting.removeValue(forKey: key) ?? []
        }
        for waiter in waiting { send(waiter, key: key, retryOnStale: true) }
    }

    private func releaseStream(on connection: HTTP2ClientConnection, key: PoolKey) {
        pool.withLock { pool in
            guard let index = pool.multiplexed[key]?.firstIndex(where: { $0.connection === connection }) else { return }
            pool.multiplexed[key]![index].inFlight -= 1
        }
    }

    /// Built from `configuration.tls` on first use. A failure (an unreadable CA file) is not
    /// kept: the next https request tries again, so fixing the file is enough.
    private func defaultTLSContext() -> Result<TLSContext, TLSError> {
        defaultTLS.withLock { cached in
            if let cached { return .success(cached) }
            do throws(TLSError) {
                let context = try TLSContext(client: configuration.tls)
                cached = context
                return .success(context)
            } catch {
                return .failure(error)
            }
        }
    }

    private func returnToPool(_ connection: HTTP1ClientConnection, key: PoolKey) {
        let keep = pool.withLock { pool in
            guard !pool.isShutDown, pool.idle[key, default: []].count < configuration.maxIdleConnectionsPerHost else {
                return false
            }
            pool.idle[key, default: []].append(connection)
            return true
        }
        if !keep { connection.closeIdle() }
    }

    private func removeFromPool(_ connection: HTTP1ClientConnection, key: PoolKey) {
        pool.withLock { pool in
            pool.idle[key]?.removeAll { $0 === connection }
        }
    }

    private func removeFromPool(_ connection: HTTP2ClientConnection, key: PoolKey) {
        pool.withLock { pool in
            pool.multiplexed[key]?.removeAll { $0.connection === connection }
            if pool.multiplexed[key]?.isEmpty == true { pool.multiplexed[key] = nil }
        }
    }
}

extension TLSContext {
    /// Whether connections made with this client context may negotiate HTTP/2.
    fileprivate var offersH2: Bool {
        guard case .client(let configuration) = role else { return false }
        return configuration.applicationProtocols.contains("h2")
    }
}
