import Foundation

/// The checkout the tests run from: the directory holding `Package.swift`, found from this file's
/// path, and what lives under it.
package enum Repo {
    package static let root: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) { return directory }
            directory.deleteLastPathComponent()
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    /// `root/relative` as a URL.
    package static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// `root/relative` as a path.
    package static func path(_ relative: String) -> String { url(relative).path }

    /// The committed webhook samples (`fixtures/`).
    package static let fixtures: URL = url("fixtures")

    /// The bytes of `fixtures/<relative>`.
    package static func fixture(_ relative: String) throws -> Data {
        try Data(contentsOf: fixtures.appendingPathComponent(relative))
    }

    /// `python3` from PATH.
    package static let systemPython: String = {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(directory)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return "/usr/bin/python3"
    }()

    /// The consumers venv's python (pywa, cloudevents, standardwebhooks, prometheus_client), made once
    /// per `.build` by `scripts/consumers/setup-venv.sh`, which serializes concurrent callers with
    /// `flock`. A failure carries the script's output.
    package static let consumersPython: Result<String, TestFailure> = venvPython(set: "consumers")

    /// The venv with pywa's current major (4.x), which cannot share a venv with the 3.9 above; made
    /// the same way (`setup-venv.sh ROOT pywa4`).
    package static let pywa4Python: Result<String, TestFailure> = venvPython(set: "pywa4")

    /// The deploy/ checkers' venv (hadolint, kubernetes-validate, the Compose schema), made by
    /// `scripts/deploy/setup-venv.sh` (the same machinery, set `deploy`).
    package static let deployPython: Result<String, TestFailure> = venvPython(script: "scripts/deploy/setup-venv.sh", set: nil)

    /// The cockpit tests' venv (websocket-client, for scripts/cockpit/cdp.py), made the same way
    /// (`setup-venv.sh ROOT cockpit`).
    package static let cockpitPython: Result<String, TestFailure> = venvPython(set: "cockpit")

    private static func venvPython(script: String = "scripts/consumers/setup-venv.sh", set: String?) -> Result<String, TestFailure> {
        let name = [script, set].compactMap { $0 }.joined(separator: " ")
        do {
            let result = try runCommand("/bin/bash", [path(script), root.path] + [set].compactMap { $0 }, timeout: 900)
            let python = result.output.split(separator: "\n").last.map(String.init) ?? ""
            guard result.status == 0, FileManager.default.isExecutableFile(atPath: python) else {
                return .failure(TestFailure("\(name) failed (status \(result.status)):\n\(result.output)\(result.error)"))
            }
            return .success(python)
        } catch {
            return .failure(TestFailure("cannot run \(name): \(error)"))
        }
    }
}
