/// One authenticated HTTP request as the ingress accepted it, with the canonical events normalized
/// from it. The spool treats every field as opaque bytes or strings.
public struct IncomingRequest: Sendable {
    /// Unix seconds.
    public var receivedAt: Double
    public var route: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Empty for a quarantined request.
    public var events: [IncomingEvent]
    /// Non-nil: the body could not be normalized; it is kept raw (replayable after a fix) and no
    /// events or deliveries are created, whatever `events` holds.
    public var quarantineReason: String?

    public init(
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

public struct IncomingEvent: Sendable, Hashable {
    /// The canonical event's stable id: the dedup key.
    public var id: String
    public var type: String
    /// Deliveries with the same contact key and destination go out in arrival order, one at a time.
    /// Events that need no ordering (errors, management notifications) should use a key of their own,
    /// such as their id, or they queue behind each other.
    public var contactKey: String
    /// Canonical event JSON bytes.
    public var payload: [UInt8]
    /// Destination names this event is delivered to; none means stored but deliberately not delivered.
    public var destinations: [String]

    public init(id: String, type: String, contactKey: String, payload: [UInt8], destinations: [String]) {
        self.id = id
        self.type = type
        self.contactKey = contactKey
        self.payload = payload
        self.destinations = destinations
    }
}

/// What ingesting one request stored. Returned only after the transaction holding it committed.
public struct IngestReceipt: Sendable, Hashable {
    public var requestID: Int64
    public var quarantined: Bool
    /// Events stored for the first time.
    public var newEvents: Int
    /// Events whose id was already stored (a redelivered notification): not stored again, not delivered again.
    public var duplicateEvents: Int
    /// Delivery rows created for the new events.
    public var deliveriesCreated: Int

    public init(requestID: Int64, quarantined: Bool, newEvents: Int, duplicateEvents: Int, deliveriesCreated: Int) {
        self.requestID = requestID
        self.quarantined = quarantined
        self.newEvents = newEvents
        self.duplicateEvents = duplicateEvents
        self.deliveriesCreated = deliveriesCreated
    }
}

public enum DeliveryState: String, Sendable, Hashable, CaseIterable {
    case pending, inflight, delivered, dead
}

public enum RequestStatus: String, Sendable, Hashable, CaseIterable {
    case accepted, quarantined
}

/// A delivery handed to a worker by `claim`; it stays `inflight` until the worker records the outcome
/// (`markDelivered`, `scheduleRetry`, `deadLetter`) or the process restarts (then it is pending again).
public struct ClaimedDelivery: Sendable, Hashable {
    public var id: Int64
    public var eventID: String
    public var eventType: String
    public var contactKey: String
    public var destination: String
    /// Attempts already made before this one.
    public var attempts: Int
    /// Canonical event JSON bytes.
    public var payload: [UInt8]
    /// The request the event came from (`Spool.request(id:)` gives its raw body for `raw` destinations).
    public var requestID: Int64
    /// When the delivery was created (the request's receive time): the start of the retry horizon.
    public var createdAt: Double
}

/// A delivery row as stored, for listing and inspection.
public struct DeliveryRecord: Sendable, Hashable {
    public var id: Int64
    public var eventID: String
    /// The canonical event's type.
    public var eventType: String
    /// The request the event was first stored from.
    public var requestID: Int64
    public var destination: String
    public var state: DeliveryState
    public var attempts: Int
    public var nextAttemptAt: Double
    public var lastError: String?
    public var lastStatus: Int?
    public var contactKey: String
    public var createdAt: Double
    public var updatedAt: Double
}

/// A stored request with its raw bytes, for replay and `spool show`.
public struct StoredRequest: Sendable {
    public var id: Int64
    public var receivedAt: Double
    public var route: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var status: RequestStatus
    public var quarantineReason: String?
}

/// A stored canonical event.
public struct StoredEvent: Sendable, Hashable {
    public var id: String
    public var requestID: Int64
    public var type: String
    public var contactKey: String
    public var payload: [UInt8]
    public var createdAt: Double
}

public struct SpoolStats: Sendable, Hashable {
    public struct DeliveryCounts: Sendable, Hashable {
        public var pending = 0
        public var inflight = 0
        public var delivered = 0
        public var dead = 0

        public init() {}

        public subscript(state: DeliveryState) -> Int {
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
    public var deliveries: [String: DeliveryCounts]
    public var requests: Int
    public var quarantined: Int
    public var events: Int
    /// Creation time of the oldest pending delivery, if any.
    public var oldestPendingCreatedAt: Double?
    /// `now - oldestPendingCreatedAt`, with the `now` given to `stats(now:)`.
    public var oldestPendingAge: Double?
    /// Creation time of each destination's oldest pending delivery (destinations with none are absent).
    public var oldestPendingCreatedAtByDestination: [String: Double] = [:]
    /// Lifetime totals kept in the database (so every process sees them), since schema v3.
    public var totals = SpoolTotals()
}

/// Lifetime totals the spool keeps in its `counters` table, each updated in the same transaction as
/// the change it counts.
public struct SpoolTotals: Sendable, Hashable {
    /// Events not stored again because their id was already in the spool (dedup hits).
    public var duplicateEvents = 0
    /// Events removed by retention (`prune`) or by `purge` of delivered data, with their deliveries.
    public var prunedEvents = 0
    /// Raw requests removed by retention (`prune`) or by `purge` of delivered data.
    public var prunedRequests = 0
    /// Dead letters deleted by `purge`.
    public var purgedDeadLetters = 0
    /// Quarantined requests deleted by `purge`.
    public var purgedQuarantined = 0

    public init() {}
}

/// How one recorded attempt ended.
public enum AttemptOutcome: String, Sendable, Hashable, CaseIterable {
    /// 2xx (or otherwise done): the delivery is finished.
    case delivered
    /// Failed; the delivery went back to pending for another attempt.
    case retry
    /// Failed for the last time; the delivery is a dead letter.
    case dead
}

/// One recorded delivery attempt (`spool show`), schema v3 on.
public struct DeliveryAttempt: Sendable, Hashable {
    public var deliveryID: Int64
    /// 1-based over the delivery's whole life: a revived dead letter goes on counting.
    public var attempt: Int
    /// When the outcome was recorded (unix seconds).
    public var at: Double
    public var outcome: AttemptOutcome
    /// The response status, if a response arrived.
    public var status: Int?
    /// At most `DeliveryAttempt.maxErrorBytes` bytes of the error.
    public var error: String?

    /// Longest error excerpt stored per attempt, in UTF-8 bytes.
    public static let maxErrorBytes = 512
    /// Attempts kept per delivery; older rows are dropped as new ones are written (the delivery's
    /// `attempts` column still counts them all).
    public static let maxKeptPerDelivery = 100

    /// `text` cut to at most `maxBytes` UTF-8 bytes on a character boundary, ending in "…" when cut.
    public static func excerpt(_ text: String, maxBytes: Int = maxErrorBytes) -> String {
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
public struct RequestSummary: Sendable, Hashable {
    public var id: Int64
    public var receivedAt: Double
    public var route: String
    public var bodyBytes: Int
    public var status: RequestStatus
    public var quarantineReason: String?
}

/// In-process counters of the ingest writer, for metrics (average batch = requests / commits).
public struct SpoolCounters: Sendable, Hashable {
    /// Ingest transactions committed (group commits plus synchronous `ingest` calls).
    public var ingestCommits = 0
    /// Requests stored by those commits.
    public var ingestedRequests = 0
    /// Ingest transactions that failed and were rolled back.
    public var failedIngestBatches = 0
    /// Requests whose completion reported an error (failed batches and submits after close).
    public var failedRequests = 0
    /// Largest number of requests committed in one transaction.
    public var largestBatch = 0

    public init() {}
}

public struct SpoolOptions: Sendable, Hashable {
    /// Most requests written in one group-commit transaction. 1 turns batching off.
    public var maxBatch: Int
    /// How long a statement waits for another process's lock before failing with SQLITE_BUSY.
    public var busyTimeoutMilliseconds: Int32
    /// Put deliveries left `inflight` by a crash back to `pending` on open. Only the process that
    /// runs delivery workers should do this; an inspection tool opening the same file should not.
    public var recoverInflight: Bool

    public init(maxBatch: Int = 64, busyTimeoutMilliseconds: Int32 = 5_000, recoverInflight: Bool = true) {
        self.maxBatch = max(1, maxBatch)
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.recoverInflight = recoverInflight
    }
}

/// What one delivery attempt came to, for `Spool.record(_:)`.
public struct DeliveryResult: Sendable, Hashable {
    public enum Result: Sendable, Hashable {
        case delivered(status: Int?)
        case retry(at: Double, error: String, status: Int?)
        case dead(error: String, status: Int?)
    }

    public var deliveryID: Int64
    public var result: Result

    public init(deliveryID: Int64, result: Result) {
        self.deliveryID = deliveryID
        self.result = result
    }
}
