import CutoverConfiguration
import CutoverSpool
import CutoverWebhooks
import Foundation

/// One stored or captured request to replay.
package struct ReplayRecord: Sendable {
    /// Where it came from, for progress and errors: `capture.jsonl:12`, `request:7`, `bodies/a.json`.
    package var label: String
    package var request: CapturedRequest
    /// The canonical events the spool stored for this request (already deduplicated and
    /// filtered by delivery status): replayed as they were delivered. Nil: decode the body.
    package var storedEvents: [[UInt8]]?
    /// Why this record cannot be replayed (a capture line that is not JSON): counted as failed.
    package var problem: String?

    package init(label: String, request: CapturedRequest, storedEvents: [[UInt8]]? = nil, problem: String? = nil) {
        self.label = label
        self.request = request
        self.storedEvents = storedEvents
        self.problem = problem
    }
}

/// Records in replay order. Read by one task; sources hold files or a spool.
package protocol ReplaySource: AnyObject {
    /// The next record, or nil at the end.
    func next() throws -> ReplayRecord?
    /// How many records there are (before filters), when known: for the progress bar's ETA.
    var estimatedCount: Int? { get }
}

package struct ReplaySourceError: Error, CustomStringConvertible, Sendable {
    package let description: String
    package init(_ description: String) { self.description = description }
}

// MARK: Files

/// A file of one webhook body, or JSON lines of bodies or capture envelopes.
package final class JSONLinesSource: ReplaySource {
    private let name: String
    private let data: [UInt8]
    private let modified: Double?
    private var offset = 0
    private var lineNumber = 0
    private var single: Bool
    package let estimatedCount: Int?

    /// `path` `-` reads standard input.
    package convenience init(path: String) throws {
        if path == "-" {
            self.init(name: "stdin", bytes: [UInt8](FileHandle.standardInput.readDataToEndOfFile()), modified: nil)
            return
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw ReplaySourceError("cannot read \(path)") }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970
        self.init(name: path, bytes: [UInt8](data), modified: modified)
    }

    package init(name: String, bytes: [UInt8], modified: Double? = nil) {
        self.name = name
        data = bytes
        self.modified = modified
        // A pretty-printed body spans lines: a file that is one JSON document is one record.
        single = (try? JSONValue.parse(bytes)) != nil
        if single {
            estimatedCount = 1
        } else {
            var lines = 0
            var blank = true
            for byte in bytes {
                if byte == UInt8(ascii: "\n") {
                    if !blank { lines += 1 }
                    blank = true
                } else if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\r") && byte != UInt8(ascii: "\t") {
                    blank = false
                }
            }
            estimatedCount = lines + (blank ? 0 : 1)
        }
    }

    package func next() throws -> ReplayRecord? {
        if single {
            single = false
            offset = data.count
            return record(data, label: name, fileTime: modified)
        }
        while offset < data.count {
            let end = data[offset...].firstIndex(of: UInt8(ascii: "\n")) ?? data.count
            let line = Array(data[offset..<end])
            offset = end + 1
            lineNumber += 1
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }) else {
                continue
            }
            return record(line, label: "\(name):\(lineNumber)", fileTime: nil)
        }
        return nil
    }

    private func record(_ bytes: [UInt8], label: String, fileTime: Double?) -> ReplayRecord {
        do {
            var request = try CapturedRequest.parse(line: bytes)
            if request.receivedAt == nil { request.receivedAt = fileTime }
            return ReplayRecord(label: label, request: request)
        } catch {
            return ReplayRecord(
                label: label, request: CapturedRequest(receivedAt: nil, route: nil, headers: [], body: bytes), problem: "\(error)"
            )
        }
    }
}

/// Several sources one after the other: rotated captures (`capture.jsonl.2 capture.jsonl.1
/// capture.jsonl`), or the `.json` / `.jsonl` files of a directory in name order.
package final class ChainedSource: ReplaySource {
    private var sources: [any ReplaySource]
    package let estimatedCount: Int?

    package init(_ sources: [any ReplaySource]) {
        self.sources = sources
        estimatedCount = sources.reduce(Optional(0)) { total, source in
            guard let total, let count = source.estimatedCount else { return nil }
            return total + count
        }
    }

    /// The `.json` and `.jsonl` files of `directory` (not recursive), in name order.
    package static func directory(_ directory: String) throws -> ChainedSource {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ReplaySourceError("cannot list \(directory): \(error.localizedDescription)")
        }
        let files = names.filter { $0.hasSuffix(".json") || $0.hasSuffix(".jsonl") }.sorted()
        return ChainedSource(try files.map { try JSONLinesSource(path: (directory as NSString).appendingPathComponent($0)) })
    }

    package func next() throws -> ReplayRecord? {
        while let first = sources.first {
            if let record = try first.next() { return record }
            sources.removeFirst()
        }
        return nil
    }
}

// MARK: Spool

/// Stored requests of a spool, oldest first, by receive time and delivery status.
///
/// Accepted requests replay the canonical events the spool stored for them: each notification
/// once (a redelivered body has no events of its own), with the business identity it was
/// delivered with. Quarantined requests have no events: their raw bodies are decoded again (the
/// point of keeping them: replay after a fix).
package final class SpoolSource: ReplaySource {
    package enum Status: String, Sendable, CaseIterable {
        /// Events with a delivery in state delivered.
        case delivered
        /// Events with a dead-lettered delivery.
        case dead
        /// Quarantined requests.
        case quarantined
    }

    private let spool: Spool
    private let since: Double?
    private let until: Double?
    private let status: Status?
    private let destination: String?
    private var page: [StoredRequest] = []
    private var lastID: Int64 = 0
    private var exhausted = false
    package let estimatedCount: Int?
    private static let pageSize = 100

    /// `until` is exclusive. `destination` narrows `status` delivered/dead to that destination's deliveries.
    package init(spool: Spool, since: Double? = nil, until: Double? = nil, status: Status? = nil, destination: String? = nil) throws {
        self.spool = spool
        self.since = since
        self.until = until
        self.status = status
        self.destination = destination
        var count = 0
        var after: Int64 = 0
        let requestStatus = Self.requestStatus(status)
        while true {
            let summaries = try spool.requestSummaries(afterID: after, limit: 1000, status: requestStatus)
            guard let last = summaries.last else { break }
            after = last.id
            count += summaries.filter { summary in
                since.map { summary.receivedAt >= $0 } ?? true && until.map { summary.receivedAt < $0 } ?? true
            }.count
        }
        estimatedCount = count
    }

    private static func requestStatus(_ status: Status?) -> RequestStatus? {
        switch status {
        case nil: nil
        case .quarantined: .quarantined
        case .delivered, .dead: .accepted
        }
    }

    package func next() throws -> ReplayRecord? {
        while true {
            if page.isEmpty {
                guard !exhausted else { return nil }
                page = try spool.requests(
                    afterID: lastID, limit: Self.pageSize, status: Self.requestStatus(status), since: since, until: until
                )
                if page.count < Self.pageSize { exhausted = true }
                guard let last = page.last else { return nil }
                lastID = last.id
            }
            let stored = page.removeFirst()
            let request = CapturedRequest(receivedAt: stored.receivedAt, route: stored.route, headers: stored.headers, body: stored.body)
            let label = "request:\(stored.id)"
            if stored.status == .quarantined { return ReplayRecord(label: label, request: request) }
            var events = try spool.events(requestID: stored.id)
            if let wanted = status.flatMap({ DeliveryState(rawValue: $0.rawValue) }) {
                events = try events.filter { event in
                    try spool.deliveries(eventID: event.id).contains { delivery in
                        delivery.state == wanted && (destination.map { delivery.destination == $0 } ?? true)
                    }
                }
                if events.isEmpty { continue }
            }
            return ReplayRecord(label: label, request: request, storedEvents: events.map(\.payload))
        }
    }
}
