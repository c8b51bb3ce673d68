import CutoverPostgres

/// A primary destination and a shadow destination whose answers to the same events are compared.
package struct ComparisonPair: Sendable, Hashable {
    package var primary: String
    package var shadow: String

    package init(primary: String, shadow: String) {
        self.primary = primary
        self.shadow = shadow
    }
}

/// What the spool says of the events delivered to both sides of a pair, from the deliveries' final
/// states: a side accepted an event when its delivery is `delivered` with a 2xx status; a side is
/// final when its delivery is `delivered` or `dead`.
package struct PairComparison: Sendable, Hashable {
    package var pair: ComparisonPair
    /// Events with a delivery to both sides.
    package var events = 0
    /// Of those, the events each side accepted, whatever the other's state.
    package var primaryAccepted = 0
    package var shadowAccepted = 0
    /// Both sides final: both accepted or both not.
    package var agree = 0
    /// Both sides final, one accepted and the other not (another status, a transport error, dead).
    package var disagree = 0
    /// At least one side still pending, in flight or waiting for a retry.
    package var pending = 0

    /// Events whose two sides are both final.
    package var compared: Int { agree + disagree }

    package init(pair: ComparisonPair) {
        self.pair = pair
    }
}

/// One side of a disagreement: the delivery and the latest attempt's response.
package struct ComparisonSide: Sendable, Hashable {
    package var destination: String
    package var deliveryID: Int64
    package var state: DeliveryState
    package var lastStatus: Int?
    package var lastError: String?
    package var latencyMilliseconds: Double?
    package var bodyPrefix: [UInt8]?
}

/// An event both sides answered for good, one accepting it and the other not.
package struct Disagreement: Sendable, Hashable {
    package var eventSeq: Int64
    package var eventID: String
    package var eventType: String
    /// When the request carrying the event was received (unix seconds).
    package var receivedAt: Double
    package var primary: ComparisonSide
    package var shadow: ComparisonSide
}

/// The comparison's SQL, written once for both backends: only the parameter markers differ
/// (`?1` for SQLite, `$1` for PostgreSQL), and every expression is one both dialects read alike.
enum ComparisonSQL {
    private static func accepted(_ side: String) -> String {
        "(\(side).state = 'delivered' AND coalesce(\(side).last_status, 0) BETWEEN 200 AND 299)"
    }

    private static func final(_ side: String) -> String { "\(side).state IN ('delivered', 'dead')" }

    private static func open(_ side: String) -> String { "\(side).state IN ('pending', 'inflight')" }

    /// The pair's events: each primary delivery with the shadow delivery of the same event (the
    /// unique (event_seq, destination) index finds the second).
    private static func pairJoin(_ parameter: (Int) -> String) -> String {
        """
        FROM deliveries AS p JOIN deliveries AS s ON s.event_seq = p.event_seq AND s.destination = \(parameter(2))
        WHERE p.destination = \(parameter(1))
        """
    }

    /// Parameters: primary, shadow. One row: events, primary accepted, shadow accepted, agree,
    /// disagree, pending.
    static func counts(_ parameter: (Int) -> String) -> String {
        """
        SELECT count(*),
               count(*) FILTER (WHERE \(accepted("p"))),
               count(*) FILTER (WHERE \(accepted("s"))),
               count(*) FILTER (WHERE \(final("p")) AND \(final("s")) AND \(accepted("p")) = \(accepted("s"))),
               count(*) FILTER (WHERE \(final("p")) AND \(final("s")) AND \(accepted("p")) <> \(accepted("s"))),
               count(*) FILTER (WHERE \(open("p")) OR \(open("s")))
        \(pairJoin(parameter))
        """
    }

    private static func latestAttempt(_ alias: String, of side: String) -> String {
        """
        LEFT JOIN attempts AS \(alias) ON \(alias).delivery_id = \(side).id
            AND \(alias).attempt = (SELECT max(attempt) FROM attempts WHERE delivery_id = \(side).id)
        """
    }

    /// Parameters: primary, shadow, after (event seq), limit. Columns: the event's seq, id, type and
    /// creation time, then per side (primary, then shadow) the delivery's id, state, last status and
    /// error, and the latest attempt's latency and body prefix.
    static func disagreements(_ parameter: (Int) -> String) -> String {
        """
        SELECT e.seq, e.id, e.type, e.created_at,
               p.id, p.state, p.last_status, p.last_error, pa.latency_ms, pa.body_prefix,
               s.id, s.state, s.last_status, s.last_error, sa.latency_ms, sa.body_prefix
        FROM deliveries AS p JOIN deliveries AS s ON s.event_seq = p.event_seq AND s.destination = \(parameter(2))
        JOIN events AS e ON e.seq = p.event_seq
        \(latestAttempt("pa", of: "p"))
        \(latestAttempt("sa", of: "s"))
        WHERE p.destination = \(parameter(1)) AND p.event_seq > \(parameter(3))
          AND \(final("p")) AND \(final("s")) AND \(accepted("p")) <> \(accepted("s"))
        ORDER BY p.event_seq
        LIMIT \(parameter(4))
        """
    }

    /// Parameters: a delivery's id, another destination. One row when that destination's delivery
    /// of the same event has ended: whether it accepted.
    static func otherSide(_ parameter: (Int) -> String) -> String {
        """
        SELECT \(accepted("o"))
        FROM deliveries AS d JOIN deliveries AS o ON o.event_seq = d.event_seq AND o.destination = \(parameter(2))
        WHERE d.id = \(parameter(1)) AND \(final("o"))
        """
    }

    static let sqliteOtherSide = otherSide { "?\($0)" }
    static let postgresOtherSide = otherSide { "$\($0)" }
    static let sqliteCounts = counts { "?\($0)" }
    static let sqliteDisagreements = disagreements { "?\($0)" }
    static let postgresCounts = counts { "$\($0)" }
    static let postgresDisagreements = disagreements { "$\($0)" }

    /// The first column of each side in `disagreements`.
    static let primaryColumn = 4
    static let shadowColumn = 10
}

extension SQLiteDatabase {
    func comparison(_ pair: ComparisonPair) throws(SpoolError) -> PairComparison {
        var result = PairComparison(pair: pair)
        let row = try firstRow(
            ComparisonSQL.sqliteCounts, "compare \(pair.primary) with \(pair.shadow)",
            bind: { statement throws(SpoolError) in
                try statement.bind(pair.primary, at: 1)
                try statement.bind(pair.shadow, at: 2)
            }
        ) { row in (row.int(0), row.int(1), row.int(2), row.int(3), row.int(4), row.int(5)) }
        if let row {
            (result.events, result.primaryAccepted, result.shadowAccepted, result.agree, result.disagree, result.pending) = row
        }
        return result
    }

    /// Inside the transaction that recorded `outcome`.
    func settledComparisons(_ outcome: DeliveryResult) throws(SpoolError) -> [SettledComparison] {
        guard outcome.isFinal else { return [] }
        var settled: [SettledComparison] = []
        for other in outcome.comparedWith {
            let accepted = try firstRow(
                ComparisonSQL.sqliteOtherSide, "compare delivery \(outcome.deliveryID) with \(other)",
                bind: { statement throws(SpoolError) in
                    try statement.bind(outcome.deliveryID, at: 1)
                    try statement.bind(other, at: 2)
                }
            ) { $0.int(0) != 0 }
            if let accepted { settled.append(SettledComparison(deliveryID: outcome.deliveryID, otherDestination: other, otherAccepted: accepted)) }
        }
        return settled
    }

    func disagreements(_ pair: ComparisonPair, afterSeq: Int64, limit: Int) throws(SpoolError) -> [Disagreement] {
        let operation = "list disagreements of \(pair.primary) and \(pair.shadow)"
        return try rows(
            ComparisonSQL.sqliteDisagreements, operation,
            bind: { statement throws(SpoolError) in
                try statement.bind(pair.primary, at: 1)
                try statement.bind(pair.shadow, at: 2)
                try statement.bind(afterSeq, at: 3)
                try statement.bind(limit, at: 4)
            }
        ) { row throws(SpoolError) in
            func side(_ destination: String, _ first: Int32) throws(SpoolError) -> ComparisonSide {
                guard let state = DeliveryState(rawValue: row.string(first + 1)) else {
                    throw SpoolError(kind: .corrupt, message: "unknown state \(row.string(first + 1))", operation: operation)
                }
                return ComparisonSide(
                    destination: destination, deliveryID: row.int64(first), state: state, lastStatus: row.optionalInt(first + 2),
                    lastError: row.optionalString(first + 3), latencyMilliseconds: row.optionalDouble(first + 4),
                    bodyPrefix: row.isNull(first + 5) ? nil : row.bytes(first + 5))
            }
            return Disagreement(
                eventSeq: row.int64(0), eventID: row.string(1), eventType: row.string(2), receivedAt: row.double(3),
                primary: try side(pair.primary, Int32(ComparisonSQL.primaryColumn)),
                shadow: try side(pair.shadow, Int32(ComparisonSQL.shadowColumn)))
        }
    }
}

extension PostgresStore {
    func comparison(_ pair: ComparisonPair) throws(PostgresError) -> PairComparison {
        var result = PairComparison(pair: pair)
        let row = try connection.query(
            ComparisonSQL.postgresCounts, [.text(pair.primary), .text(pair.shadow)], "compare \(pair.primary) with \(pair.shadow)")
        if row.count == 1 {
            (result.events, result.primaryAccepted, result.shadowAccepted, result.agree, result.disagree, result.pending) = (
                try row.int(0, 0), try row.int(0, 1), try row.int(0, 2), try row.int(0, 3), try row.int(0, 4), try row.int(0, 5)
            )
        }
        return result
    }

    /// Inside the transaction that recorded `outcome`. Two instances finishing the two sides at
    /// once may each miss the other's uncommitted outcome: that pair then goes uncounted.
    func settledComparisons(_ outcome: DeliveryResult) throws(PostgresError) -> [SettledComparison] {
        guard outcome.isFinal else { return [] }
        var settled: [SettledComparison] = []
        for other in outcome.comparedWith {
            let row = try connection.query(
                ComparisonSQL.postgresOtherSide, [.int64(outcome.deliveryID), .text(other)],
                "compare delivery \(outcome.deliveryID) with \(other)")
            if row.count == 1 {
                settled.append(
                    SettledComparison(deliveryID: outcome.deliveryID, otherDestination: other, otherAccepted: try row.int(0, 0) != 0))
            }
        }
        return settled
    }

    func disagreements(_ pair: ComparisonPair, afterSeq: Int64, limit: Int) throws(PostgresError) -> [Disagreement] {
        let operation = "list disagreements of \(pair.primary) and \(pair.shadow)"
        let result = try connection.query(
            ComparisonSQL.postgresDisagreements, [.text(pair.primary), .text(pair.shadow), .int64(afterSeq), .int64(Int64(limit))],
            operation)
        var found: [Disagreement] = []
        for row in 0..<result.count {
            func side(_ destination: String, _ first: Int) throws(PostgresError) -> ComparisonSide {
                guard let state = DeliveryState(rawValue: try result.string(row, first + 1)) else {
                    throw PostgresError(kind: .decoding, message: "unknown delivery state", operation: operation)
                }
                return ComparisonSide(
                    destination: destination, deliveryID: try result.int64(row, first), state: state,
                    lastStatus: try result.optionalInt(row, first + 2), lastError: try result.optionalString(row, first + 3),
                    latencyMilliseconds: try result.optionalDouble(row, first + 4),
                    bodyPrefix: result.isNull(row, first + 5) ? nil : try result.bytes(row, first + 5))
            }
            found.append(
                Disagreement(
                    eventSeq: try result.int64(row, 0), eventID: try result.string(row, 1), eventType: try result.string(row, 2),
                    receivedAt: try result.double(row, 3), primary: try side(pair.primary, ComparisonSQL.primaryColumn),
                    shadow: try side(pair.shadow, ComparisonSQL.shadowColumn)))
        }
        return found
    }
}
