import CutoverConfiguration
import CutoverDelivery
import CutoverHTTPClient
import CutoverHTTPServer
import CutoverIngress
import CutoverLocking
import CutoverOperations
import CutoverSockets
import CutoverSpool
import CutoverTLS
import CutoverWebhooks
import Dispatch
import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import UnixSignals

/// A running Cutover: spool, HTTP server (plain and TLS listeners), one delivery worker per destination.
package final class Relay: Sendable {
    package let metrics: RelayMetrics
    private let logger: Logger
    private let spool: any SpoolBackend
    private let server: HTTPServer
    private let client: HTTPClient
    private let ingress: IngressHandler
    private let settings: Locked<RelaySettings>
    private let workers = WorkerRegistry()
    /// The plain listener's address (with the real port when 0 was asked for), if there is one.
    package let boundAddress: SocketAddress?
    /// The TLS listener's address, when one is configured.
    package let boundTLSAddress: SocketAddress?
    /// How many threads serve sockets and how many normalize bodies; both default to the cores
    /// this process may run on (logged at start, so a pinned or cpuset-limited server shows it).
    package let threads: (ioLoops: Int, decodeWorkers: Int)
    private let tlsContext: TLSContext?
    private let janitor: SpoolJanitor
    private let spoolGauges: SpoolGauges
    private let readiness: Readiness
    /// The admin API's own server and handler, when `admin` is configured.
    private let adminServer: HTTPServer?
    private let adminHandler: AdminHandler?
    /// The admin listener's address (with the real port when 0 was asked for).
    package let boundAdminAddress: SocketAddress?
    /// The admin listener's certificate, when `admin.tls` is set: re-read on SIGHUP like the ingress one.
    private let adminTLSContext: TLSContext?

    /// The running delivery workers, by destination name; the ingress wakes them after each commit.
    /// Workers a reload replaced finish their deliveries in flight in the background; shutdown waits
    /// for those too, so nothing records into a closed spool.
    private final class WorkerRegistry: Sendable {
        private struct State {
            var active: [String: DeliveryWorker] = [:]
            /// Stopped workers still finishing what they had in flight.
            var draining = 0
            var drained: [CheckedContinuation<Void, Never>] = []
        }

        private let state = Locked(State())

        var all: [String: DeliveryWorker] { state.withLock { $0.active } }

        func replace(with fresh: [String: DeliveryWorker]) {
            state.withLock { $0.active = fresh }
        }

        func pokeAll() {
            for worker in state.withLock({ Array($0.active.values) }) { worker.poke() }
        }

        /// Stops `worker` claiming; it finishes and records its deliveries in flight meanwhile.
        func retire(_ worker: DeliveryWorker) {
            state.withLock { $0.draining += 1 }
            worker.stop { [self] in
                let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                    state.draining -= 1
                    guard state.draining == 0 else { return [] }
                    defer { state.drained.removeAll() }
                    return state.drained
                }
                for waiter in waiters { waiter.resume() }
            }
        }

        /// Retires every worker and returns once all of them, and any retired before, have recorded
        /// their last outcome. Pokes after this find no worker.
        func stopAll() async {
            let workers = state.withLock { state in
                defer { state.active = [:] }
                return Array(state.active.values)
            }
            for worker in workers { retire(worker) }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state -> Bool in
                    if state.draining == 0 { return true }
                    state.drained.append(continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        }
    }

    private static func report(_ report: SpoolOpenReport, path: String, logger: Logger) {
        let metadata: Logger.Metadata = ["spool_id": "\(report.spoolID)", "path": "\(path)"]
        switch report.check {
        case .newSpool: logger.info("spool created", metadata: metadata)
        case .skipped: logger.warning("spool opened without an integrity check (spool_check: off)", metadata: metadata)
        case .passed(let elapsed): logger.info("spool passed quick_check in \(elapsed)", metadata: metadata)
        case .timedOut(let limit):
            logger.warning(
                "spool quick_check interrupted after \(limit) (spool_check_timeout_seconds); opened unverified",
                metadata: metadata)
        }
        if report.wroteMarker { logger.info("spool marker spool.id written", metadata: metadata) }
    }

    /// Opens the spool, starts delivery of anything left from a previous run, then listens.
    /// - Parameter metrics: where the relay's metrics go; `cutover serve` passes `.processWide`.
    package init(settings: RelaySettings, logger: Logger, metrics: RelayMetrics = RelayMetrics()) throws {
        self.logger = logger
        self.metrics = metrics
        let spool = try SpoolOpening.open(
            settings.spool,
            options: SpoolOptions(
                maxBatch: settings.spoolMaxBatch, commitLinger: settings.spoolCommitLinger, commitTimeout: settings.spoolCommitTimeout,
                check: settings.spoolCheck == .off ? .off : .quick, checkTimeout: settings.spoolCheckTimeout,
                fsyncDeliveryTurns: settings.spoolDeliveryTurnSync == .full))
        if let sqlite = spool as? Spool {
            Self.report(sqlite.openReport, path: sqlite.path, logger: logger)
        } else if let postgres = spool as? PostgresSpool {
            logger.info(
                "PostgreSQL spool opened",
                metadata: [
                    "spool_id": "\(postgres.spoolID)", "location": "\(postgres.location)",
                    "instance_id": "\(postgres.configuration.instanceID)", "lease_seconds": "\(postgres.configuration.leaseSeconds)",
                ])
        }
        spool.onFault { fault, first in
            metrics.countSpoolFault(kind: fault.kind.rawValue)
            if first { logger.critical("spool fault: \(fault.reason)", metadata: ["kind": "\(fault.kind.rawValue)"]) }
        }
        self.spool = spool
        let loops = try settings.eventLoop.makeGroup()
        let dns = HostResolver.Configuration(
            timeout: .milliseconds(Int(settings.delivery.dnsTimeoutSeconds * 1000)),
            cacheLifetime: .milliseconds(Int(settings.delivery.dnsCacheSeconds * 1000)),
            maxConcurrentLookups: settings.delivery.dnsMaxLookups
        )
        var clientConfiguration = HTTPClientConfiguration(requestTimeout: .milliseconds(Int(settings.delivery.timeoutSeconds * 1000)), dns: dns)
        // Deliveries read a response's first bytes only: its error excerpt and the prefix kept for comparisons.
        clientConfiguration.keptResponseBodyBytes = max(settings.delivery.responseBodyKeepBytes, DeliveryWorker.errorExcerptBytes)
        client = HTTPClient(
            configuration: clientConfiguration,
            loops: loops,
            resolver: HostResolver(configuration: dns, observe: { metrics.countResolution(result: $0.rawValue) })
        )
        let workers = workers
        let readiness = Readiness(spool: spool, answerTimeout: settings.readyzTimeout)
        self.readiness = readiness
        let decodedEvents = DecodedEventCache(capacity: settings.delivery.decodedEventsKept)
        let ingress = IngressHandler(
            settings: settings, spool: spool, metrics: metrics, readiness: readiness, logger: logger, decodedEvents: decodedEvents
        ) {
            workers.pokeAll()
        }
        // Weak: the workers hold the spool, so a strong capture here would be a cycle.
        spool.onUnansweredDeliveries { [weak workers] in workers?.pokeAll() }
        self.ingress = ingress
        threads = (loops.count, ingress.decodeWorkers)
        server = HTTPServer(
            configuration: settings.server, handler: ingress, observer: ServerLogObserver(logger: logger, metrics: metrics),
            loops: loops
        )
        let factory = WorkerFactory(spool: spool, client: client, metrics: metrics, logger: logger, decodedEvents: decodedEvents)
        self.factory = factory
        let started = try Dictionary(
            uniqueKeysWithValues: settings.destinations.map { ($0.name, try factory.make($0, settings: settings)) }
        )
        let lockedSettings = Locked(settings)
        self.settings = lockedSettings
        Self.pairWorkers(started, settings.destinations)
        workers.replace(with: started)
        janitor = SpoolJanitor(spool: spool, retention: settings.spoolRetention, metrics: metrics, logger: logger)
        spoolGauges = SpoolGauges(spool: spool, metrics: metrics, destinations: settings.destinations.map(\.name), logger: logger)
        for worker in started.values { worker.poke() }
        let server = server
        boundAddress = try settings.listen.map { try server.listen(on: $0) }
        if let tls = settings.tls {
            let context = try TLSContext(server: tls.configuration)
            tlsContext = context
            boundTLSAddress = try server.listen(on: tls.listen, tls: context)
        } else {
            tlsContext = nil
            boundTLSAddress = nil
        }
        if let admin = settings.admin {
            let handler = AdminHandler(
                spool: spool, token: admin.token, metrics: metrics, logger: logger, secureCookie: admin.tls != nil,
                settings: { lockedSettings.withLock { $0 } }
            ) { workers.pokeAll() }
            var configuration = settings.server
            configuration.maxConnections = 64
            let adminServer = HTTPServer(
                configuration: configuration, handler: handler, observer: AdminLogObserver(logger: logger), loops: loops)
            adminHandler = handler
            self.adminServer = adminServer
            let context = try admin.tls.map { try TLSContext(server: $0) }
            adminTLSContext = context
            let address = try adminServer.listen(on: admin.listen, tls: context)
            boundAdminAddress = address
            logger.notice("admin API at \(context == nil ? "http" : "https")://\(address)/admin (bearer token required)")
        } else {
            adminHandler = nil
            adminServer = nil
            boundAdminAddress = nil
            adminTLSContext = nil
        }
        readiness.listenersUp()
    }

    private let factory: WorkerFactory

    /// Everything a delivery worker shares with the others.
    private struct WorkerFactory: Sendable {
        let spool: any SpoolBackend
        let client: HTTPClient
        let metrics: RelayMetrics
        let logger: Logger
        let decodedEvents: DecodedEventCache

        func make(_ destination: RelaySettings.DestinationSettings, settings: RelaySettings) throws -> DeliveryWorker {
        let policy = RetryPolicy(
            initialDelay: settings.delivery.retryInitialSeconds, maxDelay: settings.delivery.retryMaxSeconds,
            horizon: settings.delivery.retryHorizonSeconds
        )
        let breaker = CircuitBreaker(
            failureThreshold: settings.delivery.breakerFailureThreshold, openDuration: settings.delivery.breakerOpenSeconds,
            maxOpenDuration: settings.delivery.breakerMaxOpenSeconds
        )
        let tls = try destination.tls.map { try TLSContext(client: $0) }
        let turnSpacing = settings.delivery.turnSpacingSeconds ?? (spool is PostgresSpool ? 0 : CutoverConfig.Delivery.defaultTurnSpacingSeconds)
        return DeliveryWorker(
            destination: destination, spool: spool, client: client, tls: tls, policy: policy, breaker: breaker,
            metrics: metrics, logger: logger, responseBodyKeepBytes: settings.delivery.responseBodyKeepBytes,
            decodedEvents: decodedEvents, turnSpacing: .seconds(turnSpacing)
        )
        }
    }

    /// Applies reloaded settings (SIGHUP) without dropping connections: secrets, routes and
    /// destinations change now; certificates are re-read for new connections. Listen addresses,
    /// limits and the spool directory need a restart and are reported, not applied.
    package func reload(_ fresh: RelaySettings) throws {
        let previous = settings.withLock { $0 }
        var workersToStop: [DeliveryWorker] = []
        var workersToStart: [DeliveryWorker] = []
        var next: [String: DeliveryWorker] = [:]
        let current = workers.all
        for destination in fresh.destinations {
            if let existing = current[destination.name], Self.sameDelivery(existing.destination, destination),
                previous.delivery == fresh.delivery
            {
                next[destination.name] = existing
            } else {
                let worker = try factory.make(destination, settings: fresh)
                next[destination.name] = worker
                workersToStart.append(worker)
                if let existing = current[destination.name] { workersToStop.append(existing) }
            }
        }
        workersToStop += current.filter { fresh.destinations.map(\.name).contains($0.key) == false }.map(\.value)
        try tlsContext?.reload()
        try adminTLSContext?.reload()
        ingress.reload(fresh)
        if let token = fresh.admin?.token { adminHandler?.reload(token: token) }
        spoolGauges.setDestinations(fresh.destinations.map(\.name))
        settings.withLock { $0 = fresh }
        Self.pairWorkers(next, fresh.destinations)
        workers.replace(with: next)
        // A replaced worker finishes what it has in flight; claims are atomic, so the new one never
        // takes the same delivery.
        for worker in workersToStop { workers.retire(worker) }
        for worker in workersToStart { worker.poke() }
        // Listeners, limits and the spool are built once at start: name what only a restart applies.
        let needsRestart = fresh.needsRestart(comparedTo: previous)
        logger.notice(
            "configuration reloaded",
            metadata: [
                "destinations": "\(fresh.destinations.map(\.name).joined(separator: ","))",
                "restarted_workers": "\(workersToStart.count)",
                "needs_restart": "\(needsRestart.isEmpty ? "nothing" : needsRestart.joined(separator: ","))",
            ]
        )
    }

    /// Tells each worker the other side of its primary/shadow pairs, for the comparison metrics.
    private static func pairWorkers(_ workers: [String: DeliveryWorker], _ destinations: [RelaySettings.DestinationSettings]) {
        var others: [String: [String]] = [:]
        for pair in AdminComparison.pairs(of: destinations) {
            others[pair.primary, default: []].append(pair.shadow)
            others[pair.shadow, default: []].append(pair.primary)
        }
        for (name, worker) in workers { worker.compare(with: others[name] ?? []) }
    }

    private static func sameDelivery(_ a: RelaySettings.DestinationSettings, _ b: RelaySettings.DestinationSettings) -> Bool {
        "\(a.target)" == "\(b.target)" && a.format == b.format && a.role == b.role && a.match == b.match
            && a.appSecret == b.appSecret && a.signingKey == b.signingKey && a.concurrency == b.concurrency
            && a.deadLetterStatuses == b.deadLetterStatuses && a.unsupported == b.unsupported && a.tls == b.tls
            && a.headers.map({ "\($0.name):\($0.value)" }) == b.headers.map({ "\($0.name):\($0.value)" })
    }

    /// The relay's parts as services, in start order. The group stops them in reverse order, each
    /// only once the one after it has returned, so a graceful shutdown is an ordered drain:
    /// SIGHUP reloads end; the ingress listeners (plain and TLS) stop accepting and finish their
    /// requests in flight (readiness says so first); the admin API finishes its requests; delivery
    /// workers finish and record their deliveries in flight; the capture file is written out and
    /// closed; the janitor and the gauges finish a pass in progress; the spool commits what was
    /// submitted and closes last.
    /// - Parameters:
    ///   - hangups: SIGHUP, trapped by the caller when the process starts.
    ///   - loadSettings: re-reads the configuration (file, environment, flags) on SIGHUP.
    /// How long a listener (ingress, admin) may take to finish its requests in flight at shutdown.
    package static let listenerGracePeriod: Duration = .seconds(10)

    package func services(
        gracePeriod: Duration = Relay.listenerGracePeriod, hangups: UnixSignalsSequence,
        loadSettings: @escaping @Sendable () throws -> RelaySettings
    ) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let (commitTimeout, deliveryTimeout) = settings.withLock { ($0.spoolCommitTimeout, Duration.seconds($0.delivery.timeoutSeconds)) }
        let logger = logger
        let stalledDisk = "the spool's disk has not answered (a frozen or failing filesystem?); every 200 given was committed, and cutover exits once the disk answers"
        var services: [(name: String, service: any Service)] = [
            ("spool", StopOnShutdown(slowAfter: commitTimeout, slowNotice: { waited in
                logger.warning("shutdown: the spool's last commit has not finished after \(waited): \(stalledDisk)")
            }) { [self] in
                await spool.shutdown()
                logger.notice("stopped")
            }),
            ("spool gauges", spoolGauges),
            ("spool janitor", janitor),
        ]
        if let capture = ingress.capture {
            services.append(("capture", StopOnShutdown { await capture.close() }))
        }
        services.append(("delivery", StopOnShutdown(slowAfter: deliveryTimeout + commitTimeout, slowNotice: { waited in
            logger.warning("shutdown: deliveries in flight have not finished after \(waited): the downstream is past its timeout, or \(stalledDisk)")
        }) { [self] in
            await workers.stopAll()
            client.shutdown()
        }))
        if let adminServer {
            services.append(("admin", StopOnShutdown { await adminServer.shutdownGracefully(gracePeriod: gracePeriod) }))
        }
        services.append(("ingress", StopOnShutdown { [self] in
            readiness.shutdownStarted()
            logger.notice("shutting down: finishing in-flight requests and deliveries")
            await server.shutdownGracefully(gracePeriod: gracePeriod)
        }))
        services.append(("reload", ReloadOnHangup(relay: self, hangups: hangups, logger: logger, loadSettings: loadSettings)))
        // A part that ends or fails on its own takes the others down in the same order, not all at once.
        return services.map {
            ServiceGroupConfiguration.ServiceConfiguration(
                service: $0.service, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: $0.name)
        }
    }
}
