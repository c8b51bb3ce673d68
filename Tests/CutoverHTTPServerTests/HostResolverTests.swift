import CutoverHTTP
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverLocking
import CutoverSockets
import CutoverTestSupport
import Dispatch
import Foundation
import HTTPTypes
import Testing

/// A lookup a test controls: names it was asked for, answers 127.0.0.1 for every host except
/// those told to hang, which block until `release()`.
final class ScriptedLookup: @unchecked Sendable {
    // Invariant: `condition` is only used to wait for and announce `asked` changes; the rest is immutable or `Locked`.
    private let asked = Locked<[String]>([])
    private let hanging: Set<String>
    private let gate = DispatchSemaphore(value: 0)
    private let failing: Set<String>
    private let condition = NSCondition()

    init(hanging: Set<String> = [], failing: Set<String> = []) {
        self.hanging = hanging
        self.failing = failing
    }

    var lookups: [String] { asked.withLock { $0 } }

    /// Waits until `host` has been asked for; false after `timeout` seconds.
    func waitUntilAsked(_ host: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !lookups.contains(host) {
            if !condition.wait(until: deadline) { return lookups.contains(host) }
        }
        return true
    }

    /// Lets every hanging lookup finish (with 127.0.0.1); call it once per hanging lookup started.
    func release(_ count: Int = 1) {
        for _ in 0..<count { gate.signal() }
    }

    var lookup: AddressLookup {
        { [self] host, port throws(AddressError) in
            asked.withLock { $0.append(host) }
            condition.lock()
            condition.broadcast()
            condition.unlock()
            if hanging.contains(host) { gate.wait() }
            if failing.contains(host) { throw AddressError(host: host, reason: "scripted failure") }
            return try SocketAddress.resolve(host: "127.0.0.1", port: port)
        }
    }
}

/// Waits for one answer of `resolver`; throws when none comes within `timeout` seconds.
func resolve(_ resolver: HostResolver, _ host: String, port: UInt16 = 80, timeout: TimeInterval = 10) throws -> Result<[SocketAddress], HTTPClientError> {
    let answer = Locked<Result<[SocketAddress], HTTPClientError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    resolver.resolve(host: host, port: port) { result in
        answer.withLock { $0 = result }
        done.signal()
    }
    guard done.wait(timeout: .now() + timeout) == .success else { throw TestFailure("no answer for \(host) within \(timeout) s") }
    return answer.withLock { $0! }
}

@Suite struct HostResolverTests {
    let loops = TestLoops.make(count: 1, label: "test.dns.loop")

    /// A delivery worker's queue hands a request for a host whose lookup hangs to the client, then
    /// one for another host, then runs a timer: the other host is answered and the timer fires
    /// while the lookup still hangs; the hung request fails with a timeout, not a stalled queue.
    @Test func aHangingLookupDelaysNeitherOtherHostsNorTheCallersQueue() throws {
        let server = HTTPServer(configuration: .init(), handler: EchoHandler(), observer: RecordingObserver(), loops: loops)
        let address = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0))
        defer { server.shutdown() }
        let scripted = ScriptedLookup(hanging: ["hang.test"])
        defer { scripted.release() }
        let resolver = HostResolver(configuration: .init(timeout: .seconds(60)), lookup: scripted.lookup)
        let client = HTTPClient(loops: loops, resolver: resolver)
        defer { client.shutdown() }
        let hungURL = try #require(DestinationURL("http://hang.test:\(address.port)/a"))
        let otherURL = try #require(DestinationURL("http://fast.test:\(address.port)/b"))

        let worker = DispatchQueue(label: "test.delivery.worker")
        let events = Locked<[String]>([])
        let progressed = DispatchGroup()
        progressed.enter()
        progressed.enter()
        worker.async {
            client.execute(ClientRequest(url: hungURL, body: Array("hung".utf8))) { _ in events.withLock { $0.append("hung answered") } }
            client.execute(ClientRequest(url: otherURL, body: Array("other".utf8))) { result in
                let status = (try? result.get().head.status.code).map(String.init) ?? "\(result)"
                events.withLock { $0.append("other \(status)") }
                progressed.leave()
            }
            worker.asyncAfter(deadline: .now() + .milliseconds(10)) {
                events.withLock { $0.append("timer") }
                progressed.leave()
            }
        }
        #expect(progressed.wait(timeout: .now() + 20) == .success, "events so far: \(events.withLock { $0 })")
        #expect(Set(events.withLock { $0 }) == ["other 200", "timer"])
        #expect(scripted.lookups.sorted() == ["fast.test", "hang.test"])
    }

    @Test func aLookupThatOutlivesItsTimeoutFailsTheRequestAndIsStillCached() throws {
        let scripted = ScriptedLookup(hanging: ["slow.test"])
        let outcomes = Locked<[HostResolver.Outcome]>([])
        let resolver = HostResolver(
            configuration: .init(timeout: .milliseconds(200)), lookup: scripted.lookup, observe: { outcome in outcomes.withLock { $0.append(outcome) } }
        )
        let result = try resolve(resolver, "slow.test")
        guard case .failure(.timedOut(let what)) = result else {
            Issue.record("expected a timeout, got \(result)")
            scripted.release()
            return
        }
        #expect(what.contains("resolving slow.test"))
        // A second request joins the lookup still running instead of starting another.
        let joined = Locked<Result<[SocketAddress], HTTPClientError>?>(nil)
        let answered = DispatchSemaphore(value: 0)
        resolver.resolve(host: "slow.test", port: 80) { result in
            joined.withLock { $0 = $0 ?? result }
            answered.signal()
        }
        scripted.release()
        #expect(answered.wait(timeout: .now() + 10) == .success)
        #expect((try? joined.withLock { $0 }?.get())?.first?.description == "127.0.0.1:80")
        #expect(scripted.lookups == ["slow.test"], "one lookup per host however many wait")
        #expect((try? resolve(resolver, "slow.test").get())?.isEmpty == false)
        #expect(scripted.lookups == ["slow.test"], "the late answer was cached")
        // One outcome per request, for cutover_dns_resolutions_total.
        #expect(outcomes.withLock { $0 } == [.timedOut, .answered, .cached])
    }

    @Test func anAnswerIsReusedWithinItsLifetimeAndAskedForAgainAfter() throws {
        let clock = Locked(1000.0)
        let scripted = ScriptedLookup()
        let resolver = HostResolver(
            configuration: .init(cacheLifetime: .seconds(60)), lookup: scripted.lookup, now: { clock.withLock { $0 } }
        )
        _ = try resolve(resolver, "cached.test").get()
        clock.withLock { $0 += 59 }
        _ = try resolve(resolver, "cached.test").get()
        #expect(scripted.lookups == ["cached.test"], "reused within its lifetime")
        _ = try resolve(resolver, "cached.test", port: 443).get()
        #expect(scripted.lookups == ["cached.test", "cached.test"], "another port is another entry")
        clock.withLock { $0 += 2 }
        _ = try resolve(resolver, "cached.test").get()
        #expect(scripted.lookups.count == 3, "refreshed once expired")

        let uncached = HostResolver(configuration: .init(cacheLifetime: .zero), lookup: scripted.lookup)
        _ = try resolve(uncached, "again.test").get()
        _ = try resolve(uncached, "again.test").get()
        #expect(scripted.lookups.filter { $0 == "again.test" }.count == 2, "a zero lifetime caches nothing")
    }

    @Test func aFailedLookupIsAnErrorAndNotCached() throws {
        let scripted = ScriptedLookup(failing: ["nowhere.test"])
        let resolver = HostResolver(lookup: scripted.lookup)
        for _ in 0..<2 {
            guard case .failure(.resolve(let error)) = try resolve(resolver, "nowhere.test") else {
                Issue.record("expected a resolve failure")
                return
            }
            #expect(error.description == "cannot resolve nowhere.test: scripted failure")
        }
        #expect(scripted.lookups.count == 2)
    }

    @Test func lookupsBeyondTheLimitWaitForAThread() throws {
        let scripted = ScriptedLookup(hanging: ["one.test"])
        let resolver = HostResolver(configuration: .init(timeout: .seconds(60), maxConcurrentLookups: 1), lookup: scripted.lookup)
        let answers = DispatchSemaphore(value: 0)
        resolver.resolve(host: "one.test", port: 80) { _ in answers.signal() }
        resolver.resolve(host: "two.test", port: 80) { _ in answers.signal() }
        // two.test is queued behind the one lookup thread: it has not been asked for.
        #expect(scripted.waitUntilAsked("one.test"))
        #expect(scripted.lookups == ["one.test"])
        scripted.release()
        #expect(answers.wait(timeout: .now() + 10) == .success)
        #expect(answers.wait(timeout: .now() + 10) == .success)
        #expect(scripted.lookups == ["one.test", "two.test"])
    }
}
