import CutoverTestSupport

@testable import CutoverSpool

/// The random requests, outcomes and subsets the count tests of both backends drive their spools with.
enum RandomSpoolTraffic {
    /// 1 to 4 requests: events with ids from a small pool (so duplicates come), a few contacts,
    /// any of `destinations` (a name twice included); now and then a quarantined request.
    static func requests(now: Double, nextEvent: inout Int, destinations: [String], random: inout SplitMix64) -> [IncomingRequest] {
        (0..<Int.random(in: 1...4, using: &random)).map { _ in
            if Int.random(in: 0..<8, using: &random) == 0 { return request([], at: now, quarantineReason: "not JSON") }
            let events = (0..<Int.random(in: 0...3, using: &random)).map { _ in
                let id: Int
                if nextEvent > 0 && Bool.random(using: &random) {
                    id = Int.random(in: 0..<nextEvent, using: &random)
                } else {
                    id = nextEvent
                    nextEvent += 1
                }
                let targets = (0..<Int.random(in: 0...3, using: &random)).map { _ in destinations.randomElement(using: &random)! }
                return event("e\(id)", contact: "c\(id % 4)", destinations: targets)
            }
            return request(events, at: now)
        }
    }

    static func outcome(for id: Int64, now: Double, random: inout SplitMix64) -> DeliveryResult {
        switch Int.random(in: 0..<3, using: &random) {
        case 0: DeliveryResult(deliveryID: id, result: .delivered(status: 200))
        case 1: DeliveryResult(deliveryID: id, result: .retry(at: now - 1, error: "HTTP 503", status: 503))
        default: DeliveryResult(deliveryID: id, result: .dead(error: "HTTP 410", status: 410))
        }
    }

    /// One outcome of delivery `id` through the single-outcome calls: delivered, a retry due at once,
    /// or a dead letter.
    static func recordOneOutcome(of id: Int64, on spool: any SpoolBackend, now: Double, random: inout SplitMix64) throws {
        switch Int.random(in: 0..<3, using: &random) {
        case 0: try spool.markDelivered(id: id, status: 200, now: now)
        case 1: try spool.scheduleRetry(id: id, at: now - 1, error: "HTTP 503", status: 503, now: now)
        default: try spool.deadLetter(id: id, error: "HTTP 410", status: 410, now: now)
        }
    }

    /// A purge, in batches of 1 to 4: of dead letters (of `destination`, or of all) or of quarantined requests.
    static func purge(_ spool: any SpoolBackend, destination: String, now: Double, random: inout SplitMix64) throws {
        let selection: PurgeSelection =
            Bool.random(using: &random)
            ? .deadLetters(destination: Bool.random(using: &random) ? destination : nil, createdBefore: nil)
            : .quarantined(receivedBefore: nil)
        _ = try spool.purge(selection, asOf: now, batchSize: Int.random(in: 1...4, using: &random))
    }

    /// Retention with a short window, so some events are done and old enough; deleting a request
    /// deletes its events and their deliveries.
    static func prune(_ spool: any SpoolBackend, now: Double, random: inout SplitMix64) throws {
        let policy = RetentionPolicy(dedupWindow: 100, rawRetention: 50, batchSize: Int.random(in: 1...5, using: &random))
        _ = try spool.prune(now: now, policy: policy)
    }

    /// A random subset and the rest.
    static func split(_ ids: [Int64], random: inout SplitMix64) -> ([Int64], [Int64]) {
        var chosen: [Int64] = []
        var rest: [Int64] = []
        for id in ids {
            if Bool.random(using: &random) { chosen.append(id) } else { rest.append(id) }
        }
        return (chosen, rest)
    }
}
