import Foundation

/// Appends one JSON document per line to a local file; `synchronize()` makes what was appended
/// durable, and the worker calls it before it records those deliveries as done.
final class JSONLinesSink {
    private let handle: FileHandle

    init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw SinkError("cannot create sink file \(path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw SinkError("cannot open sink file \(path)") }
        try handle.seekToEnd()
        self.handle = handle
    }

    func append(_ document: [UInt8]) throws {
        var line = document
        line.append(UInt8(ascii: "\n"))
        try handle.write(contentsOf: line)
    }

    func synchronize() throws {
        try handle.synchronize()
    }

    func close() {
        try? handle.close()
    }
}

struct SinkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
