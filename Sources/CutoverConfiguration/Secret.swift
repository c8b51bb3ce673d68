import Foundation

/// A secret given literally, or by reference to an environment variable or a file.
/// Its value never appears in descriptions, logs or `check-config` output.
package struct Secret: Sendable, Equatable, Decodable, CustomStringConvertible {
    package enum Source: Sendable, Equatable {
        case literal(String)
        case environment(String)
        case file(String)
    }

    package let source: Source

    package init(_ source: Source) {
        self.source = source
    }

    package init(from decoder: any Decoder) throws {
        if let literal = try? decoder.singleValueContainer().decode(String.self) {
            source = .literal(literal)
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let name = try container.decodeIfPresent(String.self, forKey: .env) {
            source = .environment(name)
        } else if let path = try container.decodeIfPresent(String.self, forKey: .file) {
            source = .file(path)
        } else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "a secret is a string, {env: NAME} or {file: PATH}")
            )
        }
    }

    private enum CodingKeys: String, CodingKey { case env, file }

    /// Reads the value now (environment and files can change between reloads).
    package func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> String {
        switch source {
        case .literal(let value):
            return value
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw ConfigError("secret environment variable \(name) is not set")
            }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError("cannot read secret file \(path)")
            }
            // Files written by editors and secret managers usually end with a newline.
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
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
