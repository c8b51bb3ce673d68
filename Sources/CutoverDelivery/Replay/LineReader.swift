import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Lines of a file or pipe, read in chunks into a buffer that never holds much more than one
/// line: a capture of many gigabytes replays in the memory of its longest allowed line. A line
/// longer than `maxLineBytes` is skipped (its length reported), not read whole.
package final class LineReader {
    package enum Line: Equatable, Sendable {
        /// One line, without its newline.
        case text([UInt8])
        /// A line longer than the limit, skipped: how long it was, newline excluded.
        case tooLong(bytes: Int)
    }

    package let name: String
    package let maxLineBytes: Int
    /// -1 for bytes given in memory.
    private let descriptor: Int32
    private let closesDescriptor: Bool
    /// The bytes read and not yet dropped: `storage[0..<count]`. Raw memory moved with memmove
    /// and memchr, so a debug build reads as fast as the disk gives.
    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var count = 0
    /// The first byte not yet handed out.
    private var start = 0
    /// Bytes after `start` already searched for a newline.
    private var searched = 0
    private var atEnd = false
    /// How much one read asks for.
    static let chunkBytes = 64 * 1024

    /// Opens `path` for reading.
    package init(path: String, maxLineBytes: Int) throws {
        precondition(maxLineBytes > 0)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ReplaySourceError("cannot open \(path): \(String(cString: strerror(errno)))") }
        self.descriptor = descriptor
        closesDescriptor = true
        name = path
        self.maxLineBytes = maxLineBytes
        capacity = 2 * Self.chunkBytes
        storage = .allocate(capacity: capacity)
    }

    /// Reads an open descriptor (standard input) and leaves it open.
    package init(descriptor: Int32, name: String, maxLineBytes: Int) {
        precondition(maxLineBytes > 0)
        self.descriptor = descriptor
        closesDescriptor = false
        self.name = name
        self.maxLineBytes = maxLineBytes
        capacity = 2 * Self.chunkBytes
        storage = .allocate(capacity: capacity)
    }

    /// Lines of bytes already in memory.
    package init(bytes: [UInt8], name: String, maxLineBytes: Int) {
        precondition(maxLineBytes > 0)
        descriptor = -1
        closesDescriptor = false
        self.name = name
        self.maxLineBytes = maxLineBytes
        capacity = max(1, bytes.count)
        storage = .allocate(capacity: capacity)
        bytes.withUnsafeBufferPointer { if let base = $0.baseAddress { _ = memcpy(storage, base, $0.count) } }
        count = bytes.count
        atEnd = true
    }

    deinit {
        storage.deallocate()
        if closesDescriptor { close(descriptor) }
    }

    /// `storage[range]` as an array, copied with memcpy.
    private func bytes(_ range: Range<Int>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            if range.count > 0 { memcpy(buffer.baseAddress!, storage + range.lowerBound, range.count) }
            initialized = range.count
        }
    }

    /// The whole rest of the input when it is at most `limit` bytes, without consuming it (the
    /// lines are still there to read); nil when it is longer.
    package func peekRest(limit: Int) throws -> [UInt8]? {
        while !atEnd, count - start <= limit {
            try fill()
        }
        return count - start <= limit ? bytes(start..<count) : nil
    }

    /// The next line, or nil at the end. The last line needs no newline.
    package func next() throws -> Line? {
        while true {
            if let newline = firstNewline() {
                let length = newline - start
                defer {
                    start = newline + 1
                    searched = 0
                }
                return length > maxLineBytes ? .tooLong(bytes: length) : .text(bytes(start..<newline))
            }
            searched = count - start
            if searched > maxLineBytes { return .tooLong(bytes: try skipLine()) }
            if atEnd {
                guard start < count else { return nil }
                defer {
                    start = count
                    searched = 0
                }
                return .text(bytes(start..<count))
            }
            try fill()
        }
    }

    /// Lines left that hold something besides spaces, tabs and carriage returns, read to the end
    /// without keeping any: what a progress bar needs as a total.
    package func countNonBlankLines() throws -> Int {
        var lines = 0
        // Whether the current line has shown a byte other than blank space yet.
        var seenText = false
        while true {
            var index = start
            while index < count {
                if !seenText {
                    switch storage[index] {
                    case UInt8(ascii: "\n"), UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                        index += 1
                        continue
                    default:
                        seenText = true
                    }
                }
                // The rest of a line with text is skipped at memchr's speed.
                guard let found = memchr(storage + index, Int32(UInt8(ascii: "\n")), count - index) else {
                    index = count
                    break
                }
                lines += 1
                seenText = false
                index = storage.distance(to: found.assumingMemoryBound(to: UInt8.self)) + 1
            }
            start = count
            searched = 0
            if atEnd { return lines + (seenText ? 1 : 0) }
            try fill()
        }
    }

    private func firstNewline() -> Int? {
        let from = start + searched
        guard from < count else { return nil }
        return memchr(storage + from, Int32(UInt8(ascii: "\n")), count - from).map {
            storage.distance(to: $0.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Drops the line being read, reading on to its newline (or the end); its length.
    private func skipLine() throws -> Int {
        var length = 0
        while true {
            if let newline = firstNewline() {
                length += newline - start
                start = newline + 1
                searched = 0
                return length
            }
            length += count - start
            start = count
            searched = 0
            if atEnd { return length }
            try fill()
        }
    }

    /// Appends one read to the buffer, first dropping what was handed out (and growing it when a
    /// line fills it); sets `atEnd` at the end.
    private func fill() throws {
        if start > 0 {
            memmove(storage, storage + start, count - start)
            count -= start
            start = 0
        }
        if capacity - count < Self.chunkBytes {
            // Doubling: a line of n bytes costs O(n) copies; never more than the longest line kept.
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: 2 * capacity)
            memcpy(grown, storage, count)
            storage.deallocate()
            storage = grown
            capacity *= 2
        }
        var got: Int
        repeat {
            got = read(descriptor, storage + count, capacity - count)
        } while got < 0 && errno == EINTR
        if got < 0 { throw ReplaySourceError("cannot read \(name): \(String(cString: strerror(errno)))") }
        if got == 0 { atEnd = true }
        count += got
    }
}
