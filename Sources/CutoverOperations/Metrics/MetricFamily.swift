import CutoverLocking

/// Up to three label values: the key of one series in a `MetricFamily`. Unused positions are "".
struct LabelValues: Hashable, Sendable {
    var first: String
    var second: String
    var third: String

    init(_ first: String, _ second: String = "", _ third: String = "") {
        self.first = first
        self.second = second
        self.third = third
    }

    var values: [String] { [first, second, third] }
}

/// One metric name with labels: a handle per label set, made once and cached, so the hot path is a
/// dictionary lookup under an uncontended lock (no registry lock, no allocation) instead of
/// registering a series per call.
///
/// The number of series is capped: label values come partly from what senders post (event types),
/// and a flood of new values must not grow the registry without bound. Past `maxSeries`, new label
/// sets share one series whose values are all `other`.
final class MetricFamily<Metric: Sendable>: Sendable {
    let name: String
    let labelNames: [String]
    let maxSeries: Int
    private let make: @Sendable (_ name: String, _ dimensions: [(String, String)]) -> Metric
    private let series = Locked<[LabelValues: Metric]>([:])

    static var overflowValue: String { "other" }

    init(
        _ name: String, labels: [String], maxSeries: Int = 500,
        make: @escaping @Sendable (_ name: String, _ dimensions: [(String, String)]) -> Metric
    ) {
        precondition((1...3).contains(labels.count), "a metric family has one to three labels")
        self.name = name
        labelNames = labels
        self.maxSeries = maxSeries
        self.make = make
    }

    /// The handle for these label values (as many as the family has labels), made on first use.
    func callAsFunction(_ first: String, _ second: String = "", _ third: String = "") -> Metric {
        var key = LabelValues(first, second, third)
        if let existing = series.withLock({ $0[key] }) { return existing }
        let full = series.withLock { $0.count >= maxSeries }
        if full {
            key = LabelValues(
                Self.overflowValue, labelNames.count > 1 ? Self.overflowValue : "", labelNames.count > 2 ? Self.overflowValue : "")
            if let existing = series.withLock({ $0[key] }) { return existing }
        }
        let dimensions = Array(zip(labelNames, key.values.prefix(labelNames.count)))
        // Made outside our lock; the registry returns the same series to a racing maker.
        let metric = make(name, dimensions)
        return series.withLock { series in
            if let existing = series[key] { return existing }
            series[key] = metric
            return metric
        }
    }

    /// The label sets made so far.
    var labelSets: [LabelValues] { series.withLock { Array($0.keys) } }
}
