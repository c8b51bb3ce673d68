import CutoverWebhooks

/// A probe's outcome: the table an operator reads, the JSON a script reads, the exit status.
package struct ProbeReport: Sendable, Equatable {
    package var url: String
    package var format: DeliveryFormat
    package var results: [ProbeResult]
    /// Why the endpoint could not be reached at all (nothing answered): the first such error.
    package var unreachable: String?

    package init(url: String, format: DeliveryFormat, results: [ProbeResult], unreachable: String? = nil) {
        self.url = url
        self.format = format
        self.results = results
        self.unreachable = unreachable
    }

    /// 0: every type sent was accepted; 1: some type was refused or got no answer; 3: the
    /// endpoint could not be reached (2 is a usage error, before anything is sent).
    package var exitStatus: Int32 {
        if unreachable != nil { return 3 }
        return results.contains { $0.outcome.fails } ? 1 : 0
    }

    package func count(_ outcome: ProbeResult.Outcome) -> Int { results.count { $0.outcome == outcome } }

    /// `12 types: 10 accepted, 1 refused, 1 skipped`; outcomes that did not occur are left out.
    package var summary: String {
        let order: [ProbeResult.Outcome] = [.accepted, .refused, .noAnswer, .skipped, .deadLetter, .notSent]
        let parts = order.compactMap { outcome -> String? in
            let n = count(outcome)
            return n == 0 ? nil : "\(n) \(outcome.rawValue.replacing("_", with: " "))"
        }
        return "\(results.count) type\(results.count == 1 ? "" : "s"): " + parts.joined(separator: ", ")
    }

    /// One row per type, columns aligned, then the summary (and the unreachable endpoint's error).
    package var table: String {
        let header = ["TYPE", "FROM", "HTTP", "LATENCY", "RESULT", "DETAIL"]
        let rows = results.map { r in
            [
                r.name, r.api.rawValue, r.status.map(String.init) ?? "-", r.milliseconds.map(Self.milliseconds) ?? "-",
                r.outcome.rawValue.replacing("_", with: " "), r.detail ?? "",
            ]
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (i, cell) in cells.enumerated() {
                if i == cells.count - 1 { text += cell } else { text += cell + String(repeating: " ", count: widths[i] - cell.count + 2) }
            }
            return String(text.reversed().drop(while: { $0 == " " }).reversed())
        }
        var out = "probe \(url) as \(format.rawValue)\n" + line(header) + "\n"
        for row in rows { out += line(row) + "\n" }
        out += summary + "\n"
        if let unreachable { out += "cannot reach \(url): \(unreachable)\n" }
        return out
    }

    /// `{"url", "format", "exit_status", "summary": {outcome: count}, "unreachable"?, "results": [{type, api, event_id, outcome, status?, latency_ms?, detail?}]}`
    package var json: JSONValue {
        var counts = JSONObject()
        for outcome in [ProbeResult.Outcome.accepted, .refused, .noAnswer, .skipped, .deadLetter, .notSent] {
            counts.append(outcome.rawValue, .int(count(outcome)))
        }
        var root: JSONObject = ["url": .string(url), "format": .string(format.rawValue), "exit_status": .int(exitStatus), "summary": .object(counts)]
        root.appendIfPresent("unreachable", unreachable.map(JSONValue.string))
        root.append("results", .array(results.map { r in
            var o: JSONObject = ["type": .string(r.name), "api": .string(r.api.rawValue), "event_id": .string(r.eventID), "outcome": .string(r.outcome.rawValue)]
            o.appendIfPresent("status", r.status.map(JSONValue.int))
            o.appendIfPresent("latency_ms", r.milliseconds.map { .number(Self.milliseconds($0, unit: false)) })
            o.appendIfPresent("detail", r.detail.map(JSONValue.string))
            return .object(o)
        }))
        return .object(root)
    }

    /// `12.3 ms`: a tenth of a millisecond is finer than a network probe resolves.
    static func milliseconds(_ value: Double) -> String { milliseconds(value, unit: true) }

    static func milliseconds(_ value: Double, unit: Bool) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)" + (unit ? " ms" : "")
    }
}
