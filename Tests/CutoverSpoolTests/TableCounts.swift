import Testing

@testable import CutoverSpool

/// What the counted stats must equal: the tables counted row by row.
struct TableCounts: Sendable, Equatable {
    var deliveries: [String: SpoolStats.DeliveryCounts] = [:]
    var requests = 0
    var quarantined = 0
    var events = 0
    var destinations: [String] = []

    init(counting spool: Spool) throws {
        self = try spool.withReader("count tables") { database throws(SpoolError) in
            var counts = TableCounts()
            let deliveries = try database.rows(
                "SELECT destination, state, count(*) FROM deliveries GROUP BY destination, state", "count deliveries"
            ) { row in (row.string(0), row.string(1), row.int(2)) }
            for (destination, state, count) in deliveries {
                counts.deliveries[destination, default: SpoolStats.DeliveryCounts()][DeliveryState(rawValue: state)!] = count
            }
            counts.requests = try database.firstRow("SELECT count(*) FROM requests", "") { $0.int(0) } ?? 0
            counts.quarantined =
                try database.firstRow("SELECT count(*) FROM requests WHERE status = 'quarantined'", "") { $0.int(0) } ?? 0
            counts.events = try database.firstRow("SELECT count(*) FROM events", "") { $0.int(0) } ?? 0
            counts.destinations = try database.rows("SELECT DISTINCT destination FROM deliveries ORDER BY 1", "") {
                $0.string(0)
            }
            return counts
        }
    }

    init(_ stats: SpoolStats, destinations: [String]) {
        deliveries = stats.deliveries
        requests = stats.requests
        quarantined = stats.quarantined
        events = stats.events
        self.destinations = destinations
    }

    private init() {}
}

/// The counted stats (`spool stats`, the gauges) equal the tables counted row by row.
func expectCountsMatch(_ spool: Spool, _ step: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let counted = TableCounts(try spool.stats(), destinations: try spool.destinations())
    #expect(counted == (try TableCounts(counting: spool)), "after \(step)", sourceLocation: sourceLocation)
}
