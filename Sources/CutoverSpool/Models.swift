/// One authenticated HTTP request as the ingress accepted it, with the canonical events normalized
/// from it. The spool treats every field as opaque bytes or strings.
package struct IncomingRequest: Sendable {
    /// Unix seconds.
    package var receivedAt: Double
    package var route: String
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    /// Empty for a quarantined request.
    package var events: [IncomingEvent]
    /// Non-nil: the body could not be normalized; it is kept raw (replayable after a fix) and no
    /// events or deliveries are created, whatever `events` holds.
    package var quarantineReason: String?
    /// Events of the body left out of `events` because the ingress found their ids already
    /// committed (`Spool.committedEvents`): counted as duplicates, neither rendered nor written.
    package var committedDuplicates: Int = 0

    package init(
        receivedAt: Double, route: String, headers: [(name: String, value: String)], body: [UInt8],
        events: [IncomingEvent], quarantineReason: String? = nil
    ) {
        self.receivedAt = receivedAt
        self.route = route
        self.headers = headers
        self.body = body
        self.events = events
        self.quarantineReason = quarantineReason
    }
}

package struct IncomingEvent: Sendable, Hashable {
    /// The canonical event's stable id: the dedup key.
    package var id: String
    package var type: String
    /// Deliveries with the same contact key and destination go out in arrival order, one at a time.
    /// Events that need no ordering (errors, management notifications) should use a key of their own,
    /// such as their id, or they queue behind each other.
    package var contactKey: String
    /// Canonical event JSON bytes.
    package var payload: [UInt8]
    /// Destination names this event is delivered to; none means stored but deliberately not delivered.
    package var destinations: [String]

    package init(id: String, type: String, contactKey: String, payload: [UInt8], destinations: [String]) {
        self.id = id
        self.type = type
        self.contactKey = contactKey
        self.payload = payload
        self.destinations = destinations
    }
}

/// What ingesting one request stored. Returned only after the transaction holding it committed.
package struct IngestReceipt: Sendable, Hashable {
    package var requestID: Int64
    package var quarantined: Bool
    /// Events stored for the first time.
    package var newEvents: Int
    /// Events whose id was already stored (a redelivered notification): not stored again, not delivered again.
    package var duplicateEvents: Int
    /// Delivery rows created for the new events.
    package var deliveriesCreated: Int

    package init(requestID: Int64, quarantined: Bool, newEvents: Int, duplicateEvents: Int, deliveriesCreated: Int) {
        self.requestID = requestID
        self.quarantined = quarantined
        self.newEvents = newEvents
        self.duplicateEvents = duplicateEvents
        self.deliveriesCreated = deliveriesCreated
    }
}

package enum DeliveryState: String, Sendable, Hashable, CaseIterable {
    case pending, inflight, delivered, dead
}

package enum RequestStatus: String, Sendable, Hashable, CaseIterable {
    case accepted, quarantined
}

/// A delivery handed to a worker by `claim`; it stays `inflight` until the worker records the outcome
/// (`markDelivered`, `scheduleRetry`, `deadLetter`) or the process restarts (then it is pending again).
package struct ClaimedDelivery: Sendable, Hashable {
    package var id: Int64
    package var eventID: String
    package var eventType: String
    package var contactKey: String
    package var destination: String
    /// Attempts already made before this one.
    package var attempts: Int
    /// The number this attempt gets in the delivery's history: one past the latest recorded (a
    /// revived dead letter goes on counting) or past `attempts` when that is more (attempts made
    /// before the history existed). Read with the claim, so recording the outcome reads nothing.
    package var attemptNumber: Int
    /// Canonical event JSON bytes.
    package var payload: [UInt8]
    /// The request the event came from.
    package var requestID: Int64
    /// When the delivery was created (the request's receive time): the start of the retry horizon.
    package var createdAt: Double
    /// The body of that request, as received, when claimed `withRequestBody` (what `raw` destinations are sent).
    package var requestBody: [UInt8]?
}

/// A delivery row as stored, for listing and inspection.
package struct DeliveryRecord: Sendable, Hashable {
    package var id: Int64
    package var eventID: String
    /// The canonical event's type.
    package var eventType: String
    /// The request the event was first stored from.
    package var requestID: Int64
    package var destination: String
    package var state: DeliveryState
    package var attempts: Int
    package var nextAttemptAt: Double
    package var lastError: String?
    package var lastStatus: Int?
    package var contactKey: String
    package var createdAt: Double
    package var updatedAt: Double
}

/// A stored request with its raw bytes, for replay and `spool show`.
package struct StoredRequest: Sendable {
    package var id: Int64
    package var receivedAt: Double
    package var route: String
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    package var status: RequestStatus
    package var quarantineReason: String?
}

/// A stored canonical event.
package struct StoredEvent: Sendable, Hashable {
    package var id: String
    package var requestID: Int64
    package var type: String
    package var contactKey: String
    package var payload: [UInt8]
    package var createdAt: Double
}

package struct SpoolStats: Sendable, Hashable {
    package struct DeliveryCounts: Sendable, Hashable {
        package var pending = 0
        package var inflight = 0
        package var delivered = 0
        package var dead = 0

        package init() {}

        package subscript(state: DeliveryState) -> Int {
            get {
                switch state {
                case .pending: pending
                case .inflight: inflight
                case .delivered: delivered
                case .dead: dead
                }
            }
            set {
                switch state {
                case .pending: pending = newValue
                case .inflight: inflight = newValue
                case .delivered: delivered = newValue
                case .dead: dead = newValue
                }
            }
        }
    }

    /// Delivery counts per destination name.
    package var deliveries: [String: DeliveryCounts]
    package var requests: Int
    package var quarantined: Int
    package var events: Int
    /// Creation time of the oldest pending delivery, if any.
    package var oldestPendingCreatedAt: Double?
    /// `now - oldestPendingCreatedAt`, with the `now` given to `stats(now:)`.
    package var oldestPendingAge: Double?
    /// Creation time of each destination's oldest pending delivery (destinations with none are absent).
    package var oldestPendingCreatedAtByDestination: [String: Double] = [:]
    /// Lifetime totals kept in the database (so every process sees them), since schema v3.
    package var totals = SpoolTotals()

    /// Takes one row of the kept row counts (`row_counts`, both backends): `requests.accepted`,
    /// `requests.quarantined` or `events`; other names are ignored.
    mutating func addRowCount(_ count: Int, named name: String) {
        switch name {
        case "requests.accepted": requests += count
        case "requests.quarantined":
            requests += count
            quarantined = count
        case "events": events = count
        default: break
        }
    }
}

/// Lifetime totals the spool keeps in its `counters` table, each updated in the same transaction as
/// the change it counts.
package struct SpoolTotals: Sendable, Hashable {
    /// Events not stored again because their id was already in the spool (dedup hits).
    package var duplicateEvents = 0
    /// Events removed by retention (`prune`) or by `purge` of delivered data, with their deliveries.
    package var prunedEvents = 0
    /// Raw requests removed by retention (`prune`) or by `purge` of delivered data.
    package var prunedRequests = 0
    /// Dead letters deleted by `purge`.
    package var purgedDeadLetters = 0
    /// Quarantined requests deleted by `purge`.
    package var purgedQuarantined = 0

    package init() {}
}

/// How one recorded attempt ended.
package enum AttemptOutcome: String, Sendable, Hashable, CaseIterable {
    /// 2xx (or otherwise done): the delivery is finished.
    case delivered
    /// Failed; the delivery went back to pending for another attempt.
    case retry
    /// Failed for the last time; the delivery is a dead letter.
    case dead

    /// The attempt that leaves its delivery in `state`.
    package init(recording state: DeliveryState) {
        switch state {
        case .delivered: self = .delivered
        case .dead: self = .dead
        case .pending, .inflight: self = .retry
        }
    }
}

/// One recorded delivery attempt (`spool show`), schema v3 on.
package struct DeliveryAttempt: Sendable, Hashable {
    package var deliveryID: Int64
    /// 1-based over the delivery's whole life: a revived dead letter goes on counting.
    package var attempt: Int
    /// When the outcome was recorded (unix seconds).
    package var at: Double
    package var outcome: AttemptOutcome
    /// The response status, if a response arrived.
    package var status: Int?
    /// At most `DeliveryAttempt.maxErrorBytes` bytes of the error.
    package var error: String?
    /// From handing the request to the HTTP client to the complete response (schema v6 on; nil
    /// before, and for attempts that sent nothing).
    package var latencyMilliseconds: Double? = nil
    /// The first bytes of the response body, as many as `delivery.response_body_keep_bytes`
    /// allowed (schema v6 on; nil before, without a response, or with nothing kept).
    package var bodyPrefix: [UInt8]? = nil

    /// Longest error excerpt stored per attempt, in UTF-8 bytes.
    package static let maxErrorBytes = 512
    /// Attempts kept per delivery; older rows are dropped as new ones are written (the delivery's
    /// `attempts` column still counts them all).
    package static let maxKeptPerDelivery = 100

    /// `text` cut to at most `maxBytes` UTF-8 bytes on a character boundary, ending in "…" when cut.
    package static func excerpt(_ text: String, maxBytes: Int = maxErrorBytes) -> String {
        if text.utf8.count <= maxBytes { return text }
        let ellipsis = "…"
        let budget = max(0, maxBytes - ellipsis.utf8.count)
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > budget { break }
            result.append(character)
            used += size
        }
        return result + ellipsis
    }
}

/// A stored request without its body, for listings.
package struct RequestSummary: Sendable, Hashable {
    package var id: Int64
    package var receivedAt: Double
    package var route: String
    package var bodyBytes: Int
    package var status: RequestStatus
    package var quarantineReason: String?
}

/// In-process counters of the ingest writer, for metrics (average batch = requests / commits).
package struct SpoolCounters: Sendable, Hashable {
    /// Ingest transactions committed (group commits plus synchronous `ingest` calls).
    package var ingestCommits = 0
    /// Requests stored by those commits.
    package var ingestedRequests = 0
    /// Ingest transactions that failed and were rolled back.
    package var failedIngestBatches = 0
    /// Requests whose completion reported an error (failed batches and submits after close).
    package var failedRequests = 0
    /// Largest number of requests committed in one transaction.
    package var largestBatch = 0
    /// Requests completed with `.timeout` because their commit took longer than `commitTimeout`.
    package var timedOutRequests = 0

    package init() {}
}

package struct SpoolOptions: Sendable, Hashable {
    /// Most requests written in one group-commit transaction. 1 turns batching off.
    package var maxBatch: Int
    /// How long a request reaching an idle writer waits for others to share its commit, while
    /// commits are frequent (the last one ended within 4 lingers); `.zero` never waits.
    package var commitLinger: Duration
    /// How long a statement waits for another process's lock before failing with SQLITE_BUSY.
    package var busyTimeoutMilliseconds: Int32
    /// Put deliveries left `inflight` by a crash back to `pending` on open. Only the process that
    /// runs delivery workers should do this; an inspection tool opening the same file should not.
    package var recoverInflight: Bool

    /// A submitted request whose commit has not finished this long after `submit` completes with a
    /// `.timeout` error (the ingress answers 503 and the sender retries); nil waits for ever. A late
    /// commit is not reported again.
    package var commitTimeout: Duration?
    /// What `open` verifies before using an existing database.
    package var check: SpoolCheck
    /// The longest `check` may run; past it the spool opens unverified and says so in `openReport`.
    package var checkTimeout: Duration
    /// Committed event ids kept in memory for `Spool.committedEvents` (about 100 bytes each); older
    /// ones are looked up in the database. 0 keeps none.
    package var dedupIndexCapacity: Int
    /// Whether a delivery worker's turn (outcomes recorded, deliveries claimed) waits for its own
    /// fsync. Off, it becomes durable with the next ingest commit: a process crash loses nothing, and
    /// a power loss can only repeat deliveries recorded in its last moments, which delivery at least
    /// once allows; ingest commits, and so every 200, always fsync.
    package var fsyncDeliveryTurns: Bool

    package static let defaultDedupIndexCapacity = 65_536

    package init(
        maxBatch: Int = 64, commitLinger: Duration = .zero, busyTimeoutMilliseconds: Int32 = 5_000, recoverInflight: Bool = true,
        commitTimeout: Duration? = nil, check: SpoolCheck = .quick, checkTimeout: Duration = .seconds(60),
        dedupIndexCapacity: Int = SpoolOptions.defaultDedupIndexCapacity, fsyncDeliveryTurns: Bool = false
    ) {
        self.dedupIndexCapacity = max(0, dedupIndexCapacity)
        self.fsyncDeliveryTurns = fsyncDeliveryTurns
        self.maxBatch = max(1, maxBatch)
        self.commitLinger = max(.zero, commitLinger)
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.recoverInflight = recoverInflight
        self.commitTimeout = commitTimeout
        self.check = check
        self.checkTimeout = checkTimeout
    }
}

/// The integrity check `Spool.open` runs on an existing database.
package enum SpoolCheck: String, Sendable, Hashable, CaseIterable {
    /// `PRAGMA quick_check`: every page and record is well formed (O(size), no index cross-check).
    case quick
    /// No check: for starting on purpose on a spool known to be damaged, to get what can be read out.
    case off
}

/// What one delivery attempt came to, for `Spool.record(_:)`.
package struct DeliveryResult: Sendable, Hashable {
    package enum Result: Sendable, Hashable {
        case delivered(status: Int?)
        case retry(at: Double, error: String, status: Int?)
        case dead(error: String, status: Int?)
    }

    package var deliveryID: Int64
    package var result: Result
    /// What the attempt's response came to, kept with the attempt for comparisons.
    package var response: AttemptResponse?
    /// The destinations on the other side of this delivery's primary/shadow pairs: when this
    /// outcome is final and theirs already is, `recordAndClaim` reports the pair as settled.
    package var comparedWith: [String] = []

    /// What the claim knew of the delivery, when this result was made from it: the SQLite spool
    /// then records the outcome without reading the delivery's row first. Nil: it reads it.
    package var claim: AttemptClaim?

    package init(deliveryID: Int64, result: Result, response: AttemptResponse? = nil) {
        self.deliveryID = deliveryID
        self.result = result
        self.response = response
    }

    /// The result of the attempt on `delivery`, carrying what its claim read.
    package init(for delivery: ClaimedDelivery, result: Result, response: AttemptResponse? = nil) {
        self.init(deliveryID: delivery.id, result: result, response: response)
        claim = AttemptClaim(destination: delivery.destination, contactKey: delivery.contactKey, number: delivery.attemptNumber)
    }

    /// Delivered with a 2xx: what the comparison calls accepted.
    package var accepted: Bool {
        if case .delivered(let status?) = result { return (200..<300).contains(status) }
        return false
    }

    /// Delivered or dead: no further attempt follows.
    var isFinal: Bool {
        if case .retry = result { return false }
        return true
    }

    /// The delivery's row after this outcome: its state, when it is due again (nil: unchanged), its
    /// last error and status. Both spools record outcomes through it.
    var recorded: (state: DeliveryState, nextAttemptAt: Double?, error: String?, status: Int?) {
        switch result {
        case .delivered(let status): (.delivered, nil, nil, status)
        case .retry(let at, let error, let status): (.pending, at, error, status)
        case .dead(let error, let status): (.dead, nil, error, status)
        }
    }
}

/// The delivery an outcome is for, as its claim left it: its destination (for the counts), its
/// contact (whose next delivery a final outcome unblocks) and the number the attempt gets. Between
/// a claim and its outcome the delivery is inflight and only that outcome records an attempt of
/// it, so the number read at the claim is still the next one.
package struct AttemptClaim: Sendable, Hashable {
    package var destination: String
    package var contactKey: String
    package var number: Int
}

/// What an attempt measured of its response: stored beside the attempt's status and error.
package struct AttemptResponse: Sendable, Hashable {
    package var latencyMilliseconds: Double?
    /// Already cut to the configured bound; empty is stored as NULL.
    package var bodyPrefix: [UInt8]

    package init(latencyMilliseconds: Double?, bodyPrefix: [UInt8]) {
        self.latencyMilliseconds = latencyMilliseconds
        self.bodyPrefix = bodyPrefix
    }

    /// The longest body prefix `delivery.response_body_keep_bytes` may ask for.
    package static let maxBodyPrefixBytes = 4096
}
