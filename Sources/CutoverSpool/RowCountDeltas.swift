/// What one write transaction changed in the counts schema v4 keeps (`delivery_counts`,
/// `row_counts`), gathered by the statements that made the changes and written just before the
/// transaction's COMMIT (`SQLiteDatabase.writeCountDeltas`): one upsert per (destination, state)
/// and per row count that moved, where v4's triggers ran one or two statements per row changed.
/// A rolled-back transaction drops its deltas with it, so the counts stay exact either way.
struct RowCountDeltas {
    struct DeliveryDelta {
        var destination: String
        var state: DeliveryState
        var delta: Int
    }

    /// A linear list, not a dictionary: a transaction touches a handful of (destination, state)
    /// pairs, and the list keeps its capacity from one transaction to the next.
    private(set) var deliveries: [DeliveryDelta] = []
    private(set) var acceptedRequests = 0
    private(set) var quarantinedRequests = 0
    private(set) var events = 0

    var isEmpty: Bool {
        acceptedRequests == 0 && quarantinedRequests == 0 && events == 0 && deliveries.allSatisfy { $0.delta == 0 }
    }

    mutating func addDeliveries(_ count: Int, destination: String, state: DeliveryState) {
        guard count != 0 else { return }
        if let index = deliveries.firstIndex(where: { $0.state == state && $0.destination == destination }) {
            deliveries[index].delta += count
        } else {
            deliveries.append(DeliveryDelta(destination: destination, state: state, delta: count))
        }
    }

    /// `count` deliveries of `destination` changed state from `old` to `new`.
    mutating func moveDeliveries(_ count: Int, destination: String, from old: DeliveryState, to new: DeliveryState) {
        guard old != new else { return }
        addDeliveries(-count, destination: destination, state: old)
        addDeliveries(count, destination: destination, state: new)
    }

    mutating func addRequests(_ count: Int, status: RequestStatus) {
        switch status {
        case .accepted: acceptedRequests += count
        case .quarantined: quarantinedRequests += count
        }
    }

    mutating func addEvents(_ count: Int) { events += count }

    mutating func removeAll() {
        deliveries.removeAll(keepingCapacity: true)
        acceptedRequests = 0
        quarantinedRequests = 0
        events = 0
    }
}

extension SQLiteDatabase {
    /// Most rows one count upsert carries; more changes take several.
    private static let maxRowsPerCountUpsert = 4
    /// `INSERT ... VALUES (?, ?, ?), ... ON CONFLICT DO UPDATE` adding deltas to `delivery_counts`,
    /// indexed by row count - 1: one statement per transaction where each (destination, state) was
    /// one, and every statement run costs its cursors and records their mallocs (Debian's SQLite
    /// has no lookaside).
    private static let addToDeliveryCountsSQL = (1...maxRowsPerCountUpsert).map {
        addToCountsSQL(table: "delivery_counts", keys: ["destination", "state"], rows: $0)
    }
    private static let addToRowCountsSQL = (1...3).map { addToCountsSQL(table: "row_counts", keys: ["name"], rows: $0) }

    private static func addToCountsSQL(table: String, keys: [String], rows: Int) -> String {
        let width = keys.count + 1
        let values = (0..<rows).map { row in
            "(" + (1...width).map { "?\(row * width + $0)" }.joined(separator: ", ") + ")"
        }
        return """
            INSERT INTO \(table) (\(keys.joined(separator: ", ")), count) VALUES \(values.joined(separator: ", "))
            ON CONFLICT (\(keys.joined(separator: ", "))) DO UPDATE SET count = count + excluded.count
            """
    }

    /// Inside the transaction about to commit: adds what it changed to the stored counts, one
    /// statement per table (per `maxRowsPerCountUpsert` deliveries rows).
    func writeCountDeltas() throws(SpoolError) {
        guard !countDeltas.isEmpty else { return }
        let deliveries = countDeltas.deliveries
        var unwritten = deliveries.reduce(0) { $0 + ($1.delta != 0 ? 1 : 0) }
        var next = deliveries.startIndex
        while unwritten > 0 {
            let rows = min(unwritten, Self.maxRowsPerCountUpsert)
            try run(Self.addToDeliveryCountsSQL[rows - 1], "count deliveries") { statement throws(SpoolError) in
                var column: Int32 = 1
                while column <= Int32(rows * 3) {
                    let change = deliveries[next]
                    next += 1
                    guard change.delta != 0 else { continue }
                    try statement.bind(change.destination, at: column)
                    try statement.bind(change.state.rawValue, at: column + 1)
                    try statement.bind(change.delta, at: column + 2)
                    column += 3
                }
            }
            unwritten -= rows
        }
        let accepted = countDeltas.acceptedRequests, quarantined = countDeltas.quarantinedRequests, events = countDeltas.events
        let rows = (accepted != 0 ? 1 : 0) + (quarantined != 0 ? 1 : 0) + (events != 0 ? 1 : 0)
        if rows > 0 {
            try run(Self.addToRowCountsSQL[rows - 1], "count requests and events") { statement throws(SpoolError) in
                var column: Int32 = 1
                func add(_ name: String, _ delta: Int) throws(SpoolError) {
                    guard delta != 0 else { return }
                    try statement.bind(name, at: column)
                    try statement.bind(delta, at: column + 1)
                    column += 2
                }
                try add("requests.accepted", accepted)
                try add("requests.quarantined", quarantined)
                try add("events", events)
            }
        }
        countDeltas.removeAll()
    }
}
