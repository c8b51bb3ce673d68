#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Request headers as stored in `requests.headers`: a version byte (1), then for every header in
/// order its name and value, each as a little-endian UInt32 byte count followed by UTF-8 bytes.
/// Order and repeats are kept exactly.
enum HeaderCoding {
    static let version: UInt8 = 1

    static func encode(_ headers: [(name: String, value: String)]) -> [UInt8] {
        var size = 1
        for header in headers { size += 8 + header.name.utf8.count + header.value.utf8.count }
        var out: [UInt8] = []
        out.reserveCapacity(size)
        out.append(version)
        for header in headers {
            append(header.name, to: &out)
            append(header.value, to: &out)
        }
        return out
    }

    private static func append(_ string: String, to out: inout [UInt8]) {
        let count = UInt32(truncatingIfNeeded: string.utf8.count)
        withUnsafeBytes(of: count.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: string.utf8)
    }

    static func decode(_ bytes: [UInt8], operation: @autoclosure () -> String) throws(SpoolError)
        -> [(name: String, value: String)]
    {
        func corrupt(_ why: String) -> SpoolError {
            SpoolError(kind: .corrupt, message: "stored headers: \(why)", operation: operation())
        }
        guard let first = bytes.first else { return [] }
        guard first == version else { throw corrupt("unknown encoding version \(first)") }
        var index = 1
        func string() throws(SpoolError) -> String {
            guard bytes.count - index >= 4 else { throw corrupt("truncated length") }
            let count = Int(bytes[index]) | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2]) << 16
                | Int(bytes[index + 3]) << 24
            index += 4
            guard bytes.count - index >= count else { throw corrupt("truncated string") }
            defer { index += count }
            return String(decoding: bytes[index..<index + count], as: UTF8.self)
        }
        var headers: [(name: String, value: String)] = []
        while index < bytes.count {
            let name = try string()
            let value = try string()
            headers.append((name: name, value: value))
        }
        return headers
    }
}

enum FileSystem {
    /// `mkdir -p` with mode 0700 (the spool holds message bodies), then checks the path is a directory.
    static func createDirectory(_ path: String) throws(SpoolError) {
        let operation = "create spool directory \(path)"
        guard !path.isEmpty else {
            throw SpoolError(kind: .io, code: ENOENT, message: "empty path", operation: operation)
        }
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            if mkdir(current, 0o700) != 0 {
                let code = errno
                if code != EEXIST { throw SpoolError(kind: .io, code: code, message: errorText(code), operation: operation) }
            }
        }
        var info = stat()
        if stat(path, &info) != 0 {
            let code = errno
            throw SpoolError(kind: .io, code: code, message: errorText(code), operation: operation)
        }
        if info.st_mode & S_IFMT != S_IFDIR {
            throw SpoolError(kind: .io, code: ENOTDIR, message: errorText(ENOTDIR), operation: operation)
        }
    }

    /// The whole file if it exists (nil for ENOENT), refusing one larger than `limit` bytes.
    static func readSmallFile(path: String, limit: Int, operation: @autoclosure () -> String) throws(SpoolError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { return nil }
            throw SpoolError(kind: .io, code: code, message: errorText(code), operation: operation())
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n == 0 { break }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw SpoolError(kind: .io, code: code, message: errorText(code), operation: operation())
            }
            count += n
        }
        guard count <= limit else {
            throw SpoolError(kind: .io, code: EFBIG, message: "larger than \(limit) bytes", operation: operation())
        }
        return Array(bytes.prefix(count))
    }

    /// Writes `contents` to `path` so that it is whole after a crash: a temporary file, fsync, rename,
    /// fsync of the directory.
    static func writeDurably(path: String, contents: [UInt8], operation: @autoclosure () -> String) throws(SpoolError) {
        func failure(_ code: Int32) -> SpoolError {
            SpoolError(kind: .io, code: code, message: errorText(code), operation: operation())
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure(errno) }
        var written = 0
        while written < contents.count {
            let n = contents.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                close(fd)
                unlink(temporary)
                throw failure(code)
            }
            written += n
        }
        if fsync(fd) != 0 {
            let code = errno
            close(fd)
            unlink(temporary)
            throw failure(code)
        }
        close(fd)
        if rename(temporary, path) != 0 {
            let code = errno
            unlink(temporary)
            throw failure(code)
        }
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let directoryFD = open(directory.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw failure(errno) }
        defer { close(directoryFD) }
        if fsync(directoryFD) != 0 { throw failure(errno) }
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

enum Clock {
    /// Wall-clock unix seconds.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000
    }
}
