import CutoverTestSupport
import Foundation
import Testing

/// `cutover translate` over every fixture, in every direction, as a user would run it.
struct TranslateEveryFixtureTests {
    static let fixtures: [String] = {
        let root = Repo.fixtures
        return ["cloud", "onprem"].flatMap { api in
            ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(api).path)) ?? [])
                .filter { $0.hasSuffix(".json") }.sorted().map { "\(api)/\($0)" }
        }
    }()

    @Test func thereAreAtLeastAHundredFixtures() {
        #expect(Self.fixtures.count >= 100)
    }

    @Test(arguments: fixtures)
    func roundTripAndCrossRendering(path: String) throws {
        let file = Repo.path("fixtures/\(path)")
        let origin = path.hasPrefix("cloud/") ? "cloud" : "onprem"
        let other = origin == "cloud" ? "onprem" : "cloud"

        // Same API: an equal JSON value (NSObject equality ignores key order and \/ escaping).
        let same = try runCommand(cutoverBinary, ["translate", "--to", origin, file])
        #expect(same.status == 0, "\(path): \(same.error)")
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? NSObject
        let lines = same.output.split(separator: "\n")
        #expect(lines.count == 1, "\(path): one document per input body")
        let roundTripped = try lines.first.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? NSObject }
        #expect(roundTripped == original, "\(path) round-trips through the canonical model")

        // The other API: what it renders (when the policy keeps anything) is a body of that API.
        let cross = try runCommand(cutoverBinary, ["translate", "--to", other, "--phone-number-id", "106540352242922", file])
        #expect(cross.status == 0, "\(path) -> \(other): \(cross.error)")
        for line in cross.output.split(separator: "\n") {
            let back = try runCommand(cutoverBinary, ["translate", "--from", other, "--to", "canonical", "-"], stdin: Data(line.utf8))
            #expect(back.status == 0, "\(path) -> \(other) is readable as \(other): \(back.error)")
        }

        // Canonical: one CloudEvent per line, each naming its origin API.
        let canonical = try runCommand(cutoverBinary, ["translate", "--to", "canonical", file])
        #expect(canonical.status == 0)
        for line in canonical.output.split(separator: "\n") {
            let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(event?["whatsappapi"] as? String == origin)
        }
    }
}
