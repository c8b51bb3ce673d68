import Foundation
import Testing

/// The repository root, found from this file's path.
let packageRoot: URL = {
    var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
        directory.deleteLastPathComponent()
    }
    return directory
}()

/// The `cutover` binary under test: $CUTOVER_BINARY (set by `make test`) or the debug build.
let cutoverBinary: String = {
    if let path = ProcessInfo.processInfo.environment["CUTOVER_BINARY"], !path.isEmpty { return path }
    return packageRoot.appendingPathComponent(".build/debug/cutover").path
}()

/// Collects a pipe's output line by line and lets a test wait for a line, with a time limit.
final class LineCollector: @unchecked Sendable {
    // Invariant: `lines`, `partial` and `closed` are only touched while holding `condition`.
    private let condition = NSCondition()
    private var lines: [String] = []
    private var partial = Data()
    private var closed = false

    func attach(to pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            condition.lock()
            defer {
                condition.broadcast()
                condition.unlock()
            }
            if data.isEmpty {
                closed = true
                handle.readabilityHandler = nil
                return
            }
            // Only the new bytes are searched: a multi-megabyte line arrives in many chunks.
            var lineStart = data.startIndex
            for index in data.indices where data[index] == UInt8(ascii: "\n") {
                partial.append(data[lineStart..<index])
                lines.append(String(decoding: partial, as: UTF8.self))
                partial.removeAll(keepingCapacity: true)
                lineStart = index + 1
            }
            partial.append(data[lineStart...])
        }
    }

    var snapshot: [String] {
        condition.lock()
        defer { condition.unlock() }
        return lines
    }

    /// Waits until `predicate` holds for the lines so far; returns them, or nil after `timeout`.
    func wait(timeout: TimeInterval = 30, until predicate: ([String]) -> Bool) -> [String]? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(lines) {
            if closed || !condition.wait(until: deadline) { return predicate(lines) ? lines : nil }
        }
        return lines
    }
}

/// A child process whose stdout and stderr are collected; killed when the test is done with it.
final class TestProcess: @unchecked Sendable {
    // Invariant: `process` is configured before `run()` and only read afterwards.
    let process = Process()
    let stdout = LineCollector()
    let stderr = LineCollector()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        stdout.attach(to: out)
        stderr.attach(to: err)
        try process.run()
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Runs a command to completion and returns its exit status and standard output.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try process.run()
    if let stdin {
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
    }
    // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
    let errorData = ErrorReader(err)
    let outputData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), errorData.text())
}

private final class ErrorReader: @unchecked Sendable {
    // Invariant: `data` is written by the reader thread before `done` is signalled, read after.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        Thread.detachNewThread { [self] in
            data = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A temporary directory removed when the value is released.
final class TemporaryDirectory: @unchecked Sendable {
    // Invariant: immutable after init.
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var path: String { url.path }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
