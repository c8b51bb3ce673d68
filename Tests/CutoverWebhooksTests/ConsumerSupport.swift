import Foundation
import Testing
@testable import CutoverWebhooks

/// The package root (the directory holding `Package.swift` and `fixtures/`), and what lives under it.
enum Repo {
    static let root: URL = Fixtures.root.deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// Why a consumer run failed: the tests record it with the tool's own output.
struct ConsumerFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs external programs for the consumer tests (Foundation `Process`; input through a temporary
/// file, output through a pipe read to EOF before waiting, so no pipe can deadlock).
enum External {
    struct Result {
        var status: Int32
        var output: String
    }

    static func run(_ executable: String, _ arguments: [String], input: [UInt8] = []) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let inputURL = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-consumer-\(UUID().uuidString).jsonl")
        try Data(input).write(to: inputURL)
        defer { try? FileManager.default.removeItem(at: inputURL) }
        process.standardInput = try FileHandle(forReadingFrom: inputURL)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// `python3` from PATH.
    static let systemPython: String = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return "/usr/bin/python3"
    }()

    /// The consumers venv (`scripts/consumers/setup-venv.sh`), created once per `.build`; the
    /// script serializes concurrent callers with `flock`. A failure carries pip's output.
    static let venvPython: Swift.Result<String, ConsumerFailure> = {
        do {
            let r = try run("/bin/bash", [Repo.path("scripts/consumers/setup-venv.sh"), Repo.root.path])
            let python = r.output.split(separator: "\n").last.map(String.init) ?? ""
            guard r.status == 0, FileManager.default.isExecutableFile(atPath: python) else {
                return .failure(ConsumerFailure(description: "setup-venv.sh failed (status \(r.status)):\n\(r.output)"))
            }
            return .success(python)
        } catch {
            return .failure(ConsumerFailure(description: "cannot run setup-venv.sh: \(error)"))
        }
    }()

    /// Runs `scripts/consumers/<script>` with the venv's python; throws with the script's output
    /// when it exits non-zero.
    static func consumer(_ script: String, lines: [JSONValue], arguments: [String] = [], python: String? = nil) throws -> String {
        let interpreter = try python ?? venvPython.get()
        var input: [UInt8] = []
        for line in lines {
            input.append(contentsOf: line.serialized())
            input.append(0x0A)
        }
        let r = try run(interpreter, [Repo.path("scripts/consumers/\(script)")] + arguments, input: input)
        guard r.status == 0 else { throw ConsumerFailure(description: "\(script) rejected the output (status \(r.status)):\n\(r.output)") }
        return r.output
    }
}

extension JSONValue {
    /// UTF-8 text of the compact serialization.
    var text: String { String(decoding: serialized(), as: UTF8.self) }
}

/// Every JSON field path of a body, array indices collapsed to `[]` (the paths docs/mapping.md lists).
/// Cloud: envelope keys as `entry[].…`; a `messages` change's value relative to the value; any other
/// change's value prefixed with its field name. On-Prem: relative to the body. Leaves only (scalars,
/// empty arrays, empty objects).
enum FieldPaths {
    static func of(_ body: JSONValue, api: WebhookAPI) -> Set<String> {
        var out = Set<String>()
        guard api == .cloud, case .object(let root) = body else {
            walk(body, "", &out)
            return out
        }
        for m in root where m.key != "entry" { walk(m.value, m.key, &out) }
        for entry in root["entry"]?.arrayValue ?? [] {
            guard case .object(let e) = entry else { continue }
            for m in e where m.key != "changes" { walk(m.value, "entry[]." + m.key, &out) }
            for change in e["changes"]?.arrayValue ?? [] {
                guard case .object(let c) = change else { continue }
                for m in c where m.key != "value" { walk(m.value, "entry[].changes[]." + m.key, &out) }
                let field = c["field"]?.stringValue ?? ""
                if let value = c["value"] { walk(value, field == "messages" ? "" : field, &out) }
            }
        }
        return out
    }

    static func walk(_ v: JSONValue, _ prefix: String, _ out: inout Set<String>) {
        switch v {
        case .object(let o):
            if o.isEmpty, !prefix.isEmpty { out.insert(prefix) }
            for m in o { walk(m.value, prefix.isEmpty ? m.key : prefix + "." + m.key, &out) }
        case .array(let a):
            if a.isEmpty, !prefix.isEmpty { out.insert(prefix) }
            for e in a { walk(e, prefix + "[]", &out) }
        default:
            if !prefix.isEmpty { out.insert(prefix) }
        }
    }
}
