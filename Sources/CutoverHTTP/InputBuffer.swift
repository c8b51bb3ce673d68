#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes a decoder has received but not yet consumed.
///
/// Bytes are appended at the end and consumed from `readIndex`. The consumed prefix is dropped
/// lazily on the next append, and only when it is at least as long as what remains, so each byte
/// is moved at most about once (amortised O(1)); when everything was consumed the storage is just
/// emptied, keeping its capacity unless that grew past `retainedCapacityLimit`.
///
/// Line scanning resumes where it stopped: `lineScanned` counts the bytes of the current,
/// unterminated line already searched for LF, so a header trickling in byte by byte costs O(n).
struct InputBuffer {
    static let retainedCapacityLimit = 256 * 1024

    var bytes: [UInt8] = []
    var readIndex = 0
    var lineScanned = 0

    var readableCount: Int { bytes.count - readIndex }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        guard !chunk.isEmpty else { return }
        compact()
        bytes.append(contentsOf: chunk.assumingMemoryBound(to: UInt8.self))
    }

    mutating func compact() {
        guard readIndex > 0 else { return }
        if readIndex == bytes.count {
            if bytes.capacity > Self.retainedCapacityLimit {
                bytes = []
            } else {
                bytes.removeAll(keepingCapacity: true)
            }
            readIndex = 0
        } else if readIndex >= bytes.count - readIndex {
            bytes.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    /// Drops everything, storage included (after a failure or when a decoder is reset).
    mutating func release() {
        bytes = []
        readIndex = 0
        lineScanned = 0
    }
}

enum LineScan {
    /// A CRLF-terminated line: `start..<end` excludes the CRLF, the next line starts at `end + 2`.
    case line(start: Int, end: Int)
    /// No LF yet, and not over the limit.
    case incomplete
    /// The line (without CRLF) is longer than the limit, terminated or not.
    case tooLong
    /// An LF not preceded by CR. RFC 9112 §2.2 lets a recipient accept a bare LF as a line
    /// terminator; this codec rejects it instead, because accepting it where another parser in the
    /// path does not is a request-smuggling vector.
    case bareLF
}

extension InputBuffer {
    /// Finds the end of the line starting at `readIndex` in `storage` (which is `bytes`), scanning only
    /// bytes not scanned before. Does not consume the line: call `consumeLine(end:)`.
    @inline(__always)
    mutating func scanLine(in storage: UnsafeBufferPointer<UInt8>, limit: Int) -> LineScan {
        // Look no further than `limit` bytes plus CRLF, so the verdict for a given byte stream
        // never depends on how it was split into appends.
        let start = readIndex
        let window = max(0, limit + 2)
        let from = start + lineScanned
        let end = min(storage.count, start + window)
        if from < end, let lf = Self.firstLF(in: storage, from: from, to: end) {
            guard lf > start, storage[lf - 1] == ASCII.cr else { return .bareLF }
            return .line(start: start, end: lf - 1)
        }
        lineScanned = end - start
        if lineScanned >= window { return .tooLong }
        return .incomplete
    }

    /// The index of the first LF in `from..<to` (a non-empty range), searched with libc's
    /// vectorised `memchr` where there is one.
    @inline(__always)
    static func firstLF(in storage: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
        let base = storage.baseAddress!
        guard let found = memchr(base + from, Int32(ASCII.lf), to - from) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        #else
        var i = from
        while i < to {
            if storage[i] == ASCII.lf { return i }
            i += 1
        }
        return nil
        #endif
    }

    @inline(__always)
    mutating func consumeLine(end: Int) {
        readIndex = end + 2
        lineScanned = 0
    }
}
