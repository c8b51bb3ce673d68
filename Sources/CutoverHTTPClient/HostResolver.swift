import CutoverLocking
import CutoverSockets
import Dispatch
import Foundation

/// A blocking name lookup: getaddrinfo by default; tests give one that hangs or counts.
package typealias AddressLookup = @Sendable (_ host: String, _ port: UInt16) throws(AddressError) -> [SocketAddress]

/// Resolves host names for the client without ever blocking the caller (a delivery worker's
/// queue, an event loop): getaddrinfo runs on a thread of the resolver's own, at most
/// `maxConcurrentLookups` at once, one per host and port however many requests wait for it.
/// Each waiting request gives up after `timeout` with an error (a delivery failure, retried like
/// any other) while the lookup may go on; its answer, when it comes, is still cached.
///
/// getaddrinfo reports no TTL, so an answer is kept for `cacheLifetime` instead: it stands in
/// for the record's TTL (`delivery.dns_cache_seconds`), short enough that a moved destination
/// is followed within a minute by default, long enough that a busy destination costs one lookup a
/// minute. Failures are not cached: the next attempt asks again.
package final class HostResolver: Sendable {
    package struct Configuration: Sendable {
        package var timeout: Duration
        /// How long an answer is reused; zero: every connection resolves again.
        package var cacheLifetime: Duration
        package var maxConcurrentLookups: Int

        package init(timeout: Duration = .seconds(5), cacheLifetime: Duration = .seconds(60), maxConcurrentLookups: Int = 8) {
            precondition(maxConcurrentLookups > 0, "a resolver needs at least one lookup thread")
            self.timeout = timeout
            self.cacheLifetime = cacheLifetime
            self.maxConcurrentLookups = maxConcurrentLookups
        }
    }

    package typealias Completion = @Sendable (Result<[SocketAddress], HTTPClientError>) -> Void

    /// How one request's resolution ended, for a metric.
    package enum Outcome: String, Sendable, CaseIterable {
        case cached, answered, failed
        case timedOut = "timed_out"
    }

    package let configuration: Configuration
    private let lookup: AddressLookup
    private let observe: @Sendable (Outcome) -> Void
    /// Monotonic seconds; tests move it by hand to expire cached answers.
    private let now: @Sendable () -> Double
    private let state = Locked(State())
    /// Runs the per-request timeouts.
    private let timers = DispatchQueue(label: "cutover.dns.timers")

    private struct Key: Hashable {
        var host: String
        var port: UInt16
    }

    private struct Answer {
        var addresses: [SocketAddress]
        var expires: Double
    }

    private struct State {
        var cache: [Key: Answer] = [:]
        /// Lookups asked for, by key: the requests waiting for each.
        var pending: [Key: [Int: Completion]] = [:]
        /// Keys waiting for a free lookup thread, oldest first.
        var queued: [Key] = []
        var running = 0
        var nextWaiter = 0
    }

    package init(
        configuration: Configuration = Configuration(), lookup: @escaping AddressLookup = SocketAddress.resolve,
        now: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 },
        observe: @escaping @Sendable (Outcome) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.lookup = lookup
        self.now = now
        self.observe = observe
    }

    /// The addresses of `host`, to `completion` exactly once: at once from the cache, otherwise
    /// from the lookup thread, or with a timeout error from the resolver's timer queue.
    package func resolve(host: String, port: UInt16, completion answer: @escaping Completion) {
        let observe = observe
        let completion: Completion = { result in
            switch result {
            case .success: observe(.answered)
            case .failure(.timedOut): observe(.timedOut)
            case .failure: observe(.failed)
            }
            answer(result)
        }
        let key = Key(host: host, port: port)
        let time = now()
        enum Step {
            case cached([SocketAddress])
            case wait(id: Int, start: Bool)
        }
        let step = state.withLock { state -> Step in
            if let answer = state.cache[key] {
                if answer.expires > time { return .cached(answer.addresses) }
                state.cache[key] = nil
            }
            let id = state.nextWaiter
            state.nextWaiter += 1
            if state.pending[key] != nil {
                state.pending[key]![id] = completion
                return .wait(id: id, start: false)
            }
            state.pending[key] = [id: completion]
            guard state.running < configuration.maxConcurrentLookups else {
                state.queued.append(key)
                return .wait(id: id, start: false)
            }
            state.running += 1
            return .wait(id: id, start: true)
        }
        switch step {
        case .cached(let addresses):
            observe(.cached)
            answer(.success(addresses))
        case .wait(let id, let start):
            timers.asyncAfter(deadline: .now() + configuration.timeout.dispatchInterval) { [self] in
                let waiter = state.withLock { $0.pending[key]?.removeValue(forKey: id) }
                waiter?(.failure(.timedOut("resolving \(host) (no answer within \(configuration.timeout))")))
            }
            if start { startLookup(key) }
        }
    }

    private func startLookup(_ key: Key) {
        Thread.detachNewThread { [self] in
            let result: Result<[SocketAddress], HTTPClientError>
            do throws(AddressError) {
                result = .success(try lookup(key.host, key.port))
            } catch {
                result = .failure(.resolve(error))
            }
            finished(key, result)
        }
    }

    private func finished(_ key: Key, _ result: Result<[SocketAddress], HTTPClientError>) {
        let time = now()
        let (waiters, next) = state.withLock { state -> ([Completion], Key?) in
            let waiters = state.pending.removeValue(forKey: key).map { Array($0.values) } ?? []
            if case .success(let addresses) = result, configuration.cacheLifetime > .zero {
                // Expired answers go when a new one comes: the cache holds at most the hosts in use.
                state.cache = state.cache.filter { $0.value.expires > time }
                state.cache[key] = Answer(addresses: addresses, expires: time + configuration.cacheLifetime.seconds)
            }
            guard !state.queued.isEmpty else {
                state.running -= 1
                return (waiters, nil)
            }
            return (waiters, state.queued.removeFirst())
        }
        for waiter in waiters { waiter(result) }
        if let next { startLookup(next) }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
