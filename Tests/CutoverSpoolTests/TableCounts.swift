import CutoverPostgres
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

    /// The same counts of a PostgreSQL spool's tables.
    init(counting tables: PostgresConnection) throws {
        let deliveries = try tables.query("SELECT destination, state, count(*) FROM deliveries GROUP BY destination, state", [], "count deliveries")
        for row in 0..<deliveries.count {
            let state = DeliveryState(rawValue: try deliveries.string(row, 1))!
            self.deliveries[try deliveries.string(row, 0), default: SpoolStats.DeliveryCounts()][state] = try deliveries.int(row, 2)
        }
        let totals = try tables.query(
            """
            SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM requests WHERE status = 'quarantined'),
                   (SELECT count(*) FROM events)
            """, [], "count requests and events")
        requests = try totals.int(0, 0)
        quarantined = try totals.int(0, 1)
        events = try totals.int(0, 2)
        let listed = try tables.query("SELECT DISTINCT destination FROM deliveries ORDER BY 1", [], "list destinations")
        destinations = try (0..<listed.count).map { row throws(PostgresError) in try listed.string(row, 0) }
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
