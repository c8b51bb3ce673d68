public import CutoverHTTP
public import CutoverSockets
import CutoverTLS
import Dispatch
import HTTPTypes
import Synchronization

/// An HTTP/1.1 client (http and https) with a keep-alive pool per destination, over the socket layer.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    private let loops: [DispatchEventLoop]
    private let pool = Mutex(Pool())
    /// The context for https requests without one of their own, built on first use.
    private let defaultTLS = Mutex<TLSContext?>(nil)

    private struct Pool {
        var idle: [PoolKey: [HTTP1ClientConnection]] = [:]
        var nextLoop = 0
        var isShutDown = false
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

    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration(), loops: [DispatchEventLoop]) {
        precondition(!loops.isEmpty, "an HTTP client needs at least one event loop")
        self.configuration = configuration
        self.loops = loops
        Socket.ignoreBrokenPipeSignal()
    }

    /// Sends `request` and calls `completion` once, from any thread, with the response or why
    /// there is none. Resolves host names on the calling thread: keep it off an event loop.
    public func execute(_ request: ClientRequest, completion: @escaping @Sendable (Result<HTTP1Response, HTTPClientError>) -> Void) {
        var tls: TLSContext?
        if request.url.scheme == .https {
            switch request.tls.map({ .success($0) }) ?? defaultTLSContext() {
            case .success(let context): tls = context
            case .failure(let error):
                completion(.failure(.tls(error)))
                return
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + request.body.count)
        HTTP1RequestEncoder.encode(
            HTTPRequest(
                method: request.method, scheme: nil, authority: request.url.authority, path: request.url.target,
                headerFields: request.headerFields
            ),
            body: request.body, into: &bytes
        )
        let key = PoolKey(host: request.url.host, port: request.url.port, tls: tls.map(ContextIdentity.init))
        send(bytes, method: request.method, key: key, retryOnStale: true, completion: completion)
    }

    /// Closes every pooled connection; later requests fail.
    public func shutdown() {
        let idle = pool.withLock { pool in
            pool.isShutDown = true
            defer { pool.idle.removeAll() }
            return pool.idle.values.flatMap { $0 }
        }
        for connection in idle { connection.closeIdle() }
    }

    private func send(
        _ bytes: [UInt8], method: HTTPRequest.Method, key: PoolKey, retryOnStale: Bool,
        completion: @escaping @Sendable (Result<HTTP1Response, HTTPClientError>) -> Void
    ) {
        if let reused = pool.withLock({ $0.idle[key]?.popLast() }) {
            reused.send(bytes, method: method) { [self] result in
                // A pooled connection the server closed meanwhile: try once more on a fresh one.
                if case .failure(.connectionClosed) = result, retryOnStale {
                    send(bytes, method: method, key: key, retryOnStale: false, completion: completion)
                } else {
                    completion(result)
                }
            }
            return
        }
        let address: SocketAddress
        do {
            // resolve() throws rather than return an empty list.
            address = try SocketAddress.resolve(host: key.host, port: key.port)[0]
        } catch {
            completion(.failure(.resolve(error)))
            return
        }
        let loop = pool.withLock { pool in
            pool.nextLoop = (pool.nextLoop + 1) % loops.count
            return loops[pool.nextLoop]
        }
        HTTP1ClientConnection.connect(
            to: address, tls: key.tls.map { ($0.context, key.host) }, loop: loop, configuration: configuration,
            onIdle: { [self] connection in returnToPool(connection, key: key) },
            onClose: { [self] connection in removeFromPool(connection, key: key) }
        ) { result in
            switch result {
            case .success(let connection): connection.send(bytes, method: method, completion: completion)
            case .failure(let error): completion(.failure(error))
            }
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
}
