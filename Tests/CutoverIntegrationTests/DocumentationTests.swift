import CutoverTestSupport
import Foundation
import Testing

/// The contributor docs name files, folders and test suites; a rename must not leave them pointing
/// at nothing (a review once found docs/mapping.md naming a test that was not where it said).
struct DocumentationTests {
    static let documents = ["README.md", "docs/architecture.md", "docs/mapping.md", "docs/operations.md"]

    static func backticked(_ text: String) -> [String] {
        text.components(separatedBy: "`").enumerated().compactMap { $0.offset % 2 == 1 ? $0.element : nil }
    }

    static func swiftFiles(under folder: String) -> [String] {
        let root = Repo.url(folder)
        let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        return (walker?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }.map(\.path)
    }

    @Test(arguments: documents)
    func everyNamedTestSuiteExists(_ document: String) throws {
        let text = try String(contentsOfFile: Repo.path(document), encoding: .utf8)
        let sources = try (Self.swiftFiles(under: "Tests")).map { try String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n")
        let names = Set(Self.backticked(text).filter { $0.hasSuffix("Tests") && $0.allSatisfy { $0.isLetter || $0.isNumber } })
        for name in names.sorted() where !name.hasPrefix("Cutover") {
            let declared = sources.contains("struct \(name)")
            #expect(declared, "\(document) names \(name), which no test file declares")
        }
    }

    @Test(arguments: documents)
    func everyNamedSwiftFileAndFolderExists(_ document: String) throws {
        let text = try String(contentsOfFile: Repo.path(document), encoding: .utf8)
        let files = Set((Self.swiftFiles(under: "Sources") + Self.swiftFiles(under: "Tests")).map { URL(fileURLWithPath: $0).lastPathComponent })
        for name in Set(Self.backticked(text)).sorted() {
            if name.hasPrefix("Sources/") || name.hasPrefix("Tests/") || name.hasPrefix("scripts/") || name.hasPrefix("deploy/") {
                // `Sources/X/{A,B}.swift` and `Sources/X/` forms: check the folder part.
                let path = String(name.prefix { $0 != "{" && $0 != " " })
                let exists = FileManager.default.fileExists(atPath: Repo.path(path))
                #expect(exists, "\(document) names \(name), which does not exist")
            } else if name.hasSuffix(".swift"), !name.contains("/"), !name.contains(" ") {
                let held = files.contains(name)
                #expect(held, "\(document) names \(name), which no target holds")
            }
        }
    }
}
