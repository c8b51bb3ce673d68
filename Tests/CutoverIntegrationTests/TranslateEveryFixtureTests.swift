import CutoverTestSupport
import Foundation
import Testing

/// `cutover translate` over every fixture, in every direction, as a user would run it.
struct TranslateEveryFixtureTests {
    /// Every body under `fixtures/cloud`, `fixtures/cloud-2026` and `fixtures/onprem` (not the
    /// `onprem_expected_*` files: those are what an endpoint should receive).
    static let fixtures: [String] = {
        let root = Repo.fixtures
        return ["cloud", "cloud-2026", "onprem"].flatMap { set in
            ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(set).path)) ?? [])
                .filter { $0.hasSuffix(".json") && !$0.hasPrefix("onprem_expected_") }.sorted().map { "\(set)/\($0)" }
        }
    }()

    static let phonelessReason = "no phone number (business-scoped user id only)"

    @Test func thereAreAtLeastAHundredFixtures() {
        #expect(Self.fixtures.count >= 100)
    }

    @Test(arguments: fixtures)
    func roundTripAndCrossRendering(path: String) throws {
        let file = Repo.path("fixtures/\(path)")
        let origin = path.hasPrefix("onprem/") ? "onprem" : "cloud"
        let other = origin == "cloud" ? "onprem" : "cloud"

        // Same API: an equal JSON value (NSObject equality ignores key order and \/ escaping).
        let same = try runCommand(cutoverBinary, ["translate", "--to", origin, file])
        #expect(same.status == 0, "\(path): \(same.error)")
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? NSObject
        let lines = same.output.split(separator: "\n")
        #expect(lines.count == 1, "\(path): one document per input body")
        let roundTripped = try lines.first.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? NSObject }
        #expect(roundTripped == original, "\(path) round-trips through the canonical model")

        // The other API: what it renders (when the policy keeps anything) is a body of that API. A
        // user with no phone number fails the default On-Prem translation, reported on stderr, and
        // renders with the user id standing in.
        let cross = try runCommand(cutoverBinary, ["translate", "--to", other, "--phone-number-id", "106540352242922", file])
        let phoneless = cross.status == 1 && other == "onprem" && cross.error.contains(Self.phonelessReason)
        #expect(cross.status == 0 || phoneless, "\(path) -> \(other): \(cross.error)")
        let standIn = try runCommand(cutoverBinary, [
            "translate", "--to", other, "--phoneless", "user_id", "--phone-number-id", "106540352242922", file,
        ])
        #expect(standIn.status == 0, "\(path) -> \(other) --phoneless user_id: \(standIn.error)")
        if phoneless { #expect(!standIn.output.isEmpty, "\(path): the user id stands in") }
        for line in (cross.output + standIn.output).split(separator: "\n") {
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
