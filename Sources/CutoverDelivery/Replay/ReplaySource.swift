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

/// A file of one webhook body, or JSON lines of bodies or capture envelopes, read a line at a
/// time (`LineReader`): memory stays at about the longest line, whatever the file's size. A line
/// longer than `maxRecordBytes` is a failed record, skipped without being read whole.
package final class JSONLinesSource: ReplaySource {
    private let name: String
    private let modified: Double?
    private let maxRecordBytes: Int
    /// Opens the input: on the first `next()` for a file (a directory's files are not all open
    /// at once), at once for standard input.
    private let open: () throws -> LineReader
    private var reader: LineReader?
    /// Whether the input is one JSON document (a pretty-printed body spans lines); nil until known.
    private var single: Bool?
    private var lineNumber = 0
    package let estimatedCount: Int?

    /// The default longest record: twice the default body limit, room for a capture line's
    /// escaping of the largest body the relay accepts.
    package static let defaultMaxRecordBytes = 2 * CutoverConfig.Limits().maxBodyBytes

    /// `path` `-` reads standard input. Files are read once here to count their records (for
    /// the progress bar's ETA), a chunk at a time.
    package convenience init(path: String, maxRecordBytes: Int = defaultMaxRecordBytes) throws {
        if path == "-" {
            let reader = LineReader(descriptor: STDIN_FILENO, name: "stdin", maxLineBytes: maxRecordBytes)
            self.init(name: "stdin", modified: nil, maxRecordBytes: maxRecordBytes, estimatedCount: nil) { reader }
            return
        }
        let surveyed = try LineReader(path: path, maxLineBytes: maxRecordBytes)
        let single = try Self.isSingleDocument(surveyed, maxRecordBytes: maxRecordBytes)
        let count = single ? 1 : try surveyed.countNonBlankLines()
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970
        self.init(name: path, modified: modified, maxRecordBytes: maxRecordBytes, estimatedCount: count) {
            try LineReader(path: path, maxLineBytes: maxRecordBytes)
        }
        self.single = single
    }

    package convenience init(name: String, bytes: [UInt8], modified: Double? = nil, maxRecordBytes: Int = defaultMaxRecordBytes) {
        let count = { () -> Int in
            let reader = LineReader(bytes: bytes, name: name, maxLineBytes: maxRecordBytes)
            // In memory, neither can fail.
            if (try? Self.isSingleDocument(reader, maxRecordBytes: maxRecordBytes)) == true { return 1 }
            return (try? reader.countNonBlankLines()) ?? 0
        }()
        self.init(name: name, modified: modified, maxRecordBytes: maxRecordBytes, estimatedCount: count) {
            LineReader(bytes: bytes, name: name, maxLineBytes: maxRecordBytes)
        }
    }

    private init(name: String, modified: Double?, maxRecordBytes: Int, estimatedCount: Int?, open: @escaping () throws -> LineReader) {
        self.name = name
        self.modified = modified
        self.maxRecordBytes = maxRecordBytes
        self.estimatedCount = estimatedCount
        self.open = open
    }

    /// A file that parses whole is one record; one that does not, or is longer than a record may
    /// be, is JSON lines. Leaves the reader where it was.
    private static func isSingleDocument(_ reader: LineReader, maxRecordBytes: Int) throws -> Bool {
        guard let whole = try reader.peekRest(limit: maxRecordBytes) else { return false }
        return (try? JSONValue.parse(whole)) != nil
    }

    package func next() throws -> ReplayRecord? {
        if reader == nil { reader = try open() }
        let reader = reader!
        if single == nil { single = try Self.isSingleDocument(reader, maxRecordBytes: maxRecordBytes) }
        if single == true {
            single = false
            // Known to fit: the whole input was at most a record's size.
            guard let whole = try reader.peekRest(limit: maxRecordBytes) else { return nil }
            while try reader.next() != nil {}
            return record(whole, label: name, fileTime: modified)
        }
        while let line = try reader.next() {
            lineNumber += 1
            switch line {
            case .tooLong(let bytes):
                return ReplayRecord(
                    label: "\(name):\(lineNumber)", request: CapturedRequest(receivedAt: nil, route: nil, headers: [], body: []),
                    problem: "a line of \(bytes) bytes, longer than the largest record (\(maxRecordBytes) bytes, --max-record-bytes): not read"
                )
            case .text(let text):
                guard text.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }) else {
                    continue
                }
                return record(text, label: "\(name):\(lineNumber)", fileTime: nil)
            }
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
    package static func directory(_ directory: String, maxRecordBytes: Int = JSONLinesSource.defaultMaxRecordBytes) throws -> ChainedSource {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ReplaySourceError("cannot list \(directory): \(error.localizedDescription)")
        }
        let files = names.filter { $0.hasSuffix(".json") || $0.hasSuffix(".jsonl") }.sorted()
        return ChainedSource(try files.map { try JSONLinesSource(path: (directory as NSString).appendingPathComponent($0), maxRecordBytes: maxRecordBytes) })
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

    private let spool: any SpoolBackend
    private let since: Double?
    private let until: Double?
    private let status: Status?
    private let destination: String?
    private var page: [StoredRequest] = []
    private var lastID: Int64 = 0
    private var exhausted = false
    package let estimatedCount: Int?
    /// Requests read per query: what the source holds at once is this many bodies (each at most
    /// `limits.max_body_bytes`), whatever the spool's size.
    private static let pageSize = 16

    /// `until` is exclusive. `destination` narrows `status` delivered/dead to that destination's deliveries.
    package init(spool: any SpoolBackend, since: Double? = nil, until: Double? = nil, status: Status? = nil, destination: String? = nil) throws {
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
