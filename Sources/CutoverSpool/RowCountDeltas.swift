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
    private static let addToDeliveryCountSQL = """
        INSERT INTO delivery_counts (destination, state, count) VALUES (?1, ?2, ?3)
        ON CONFLICT (destination, state) DO UPDATE SET count = count + excluded.count
        """
    private static let addToRowCountSQL = """
        INSERT INTO row_counts (name, count) VALUES (?1, ?2)
        ON CONFLICT (name) DO UPDATE SET count = count + excluded.count
        """

    /// Inside the transaction about to commit: adds what it changed to the stored counts.
    func writeCountDeltas() throws(SpoolError) {
        guard !countDeltas.isEmpty else { return }
        for change in countDeltas.deliveries where change.delta != 0 {
            try run(Self.addToDeliveryCountSQL, "count deliveries of \(change.destination)") { statement throws(SpoolError) in
                try statement.bind(change.destination, at: 1)
                try statement.bind(change.state.rawValue, at: 2)
                try statement.bind(change.delta, at: 3)
            }
        }
        try addToRowCount("requests.accepted", countDeltas.acceptedRequests)
        try addToRowCount("requests.quarantined", countDeltas.quarantinedRequests)
        try addToRowCount("events", countDeltas.events)
        countDeltas.removeAll()
    }

    private func addToRowCount(_ name: String, _ delta: Int) throws(SpoolError) {
        guard delta != 0 else { return }
        try run(Self.addToRowCountSQL, "count \(name)") { statement throws(SpoolError) in
            try statement.bind(name, at: 1)
            try statement.bind(delta, at: 2)
        }
    }
}
