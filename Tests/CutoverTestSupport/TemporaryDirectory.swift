import Foundation

/// A fresh directory under the system temporary directory, removed when the value is released.
package final class TemporaryDirectory: Sendable {
    package let url: URL

    package init(prefix: String = "cutover-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    package var path: String { url.path }

    /// `path/name`.
    package func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

/// A fresh temporary directory, removed after `body`.
package func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = try TemporaryDirectory()
    return try withExtendedLifetime(directory) { try body(directory.path) }
}
