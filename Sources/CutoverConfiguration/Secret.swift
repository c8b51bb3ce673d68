import Foundation

/// A secret given literally, or by reference to an environment variable or a file.
/// Its value never appears in descriptions, logs or `check-config` output.
package struct Secret: Sendable, Equatable, CustomStringConvertible {
    package enum Source: Sendable, Equatable {
        case literal(String)
        case environment(String)
        case file(String)
    }

    package let source: Source

    package init(_ source: Source) {
        self.source = source
    }

    /// How the config file spells one, for "expected ..." errors.
    package static let expectation = "a string, {env: NAME} or {file: PATH}"

    /// Reads the value now (environment and files can change between reloads).
    package func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> String {
        switch source {
        case .literal(let value):
            return value
        case .environment(let name):
            // Unset and empty are different mistakes (a missing export, an empty secret store entry).
            guard let value = environment[name] else { throw ConfigError("secret environment variable \(name) is not set") }
            guard !value.isEmpty else { throw ConfigError("secret environment variable \(name) is empty") }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError("cannot read secret file \(path)")
            }
            // Files written by editors and secret managers usually end with a newline.
            let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
            guard !value.isEmpty else { throw ConfigError("secret file \(path) is empty") }
            return value
        }
    }

    package var description: String {
        switch source {
        case .literal: "<secret>"
        case .environment(let name): "<secret from $\(name)>"
        case .file(let path): "<secret from \(path)>"
        }
    }
}

package struct ConfigError: Error, Sendable, CustomStringConvertible {
    package let message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
