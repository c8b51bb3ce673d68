import CutoverTestSupport
import Foundation
import Testing

/// `cutover translate`, run as a user would, on the fixtures.
struct TranslateCommandTests {
    static let cloudFixtures = ["cloud/msg_audio_voice.json", "cloud/msg_text.json", "cloud/status_failed_131049.json"]
    static let onpremFixtures = ["onprem/meta-doc-inbound-voice.json", "onprem/meta-doc-status-failed-470-outside-window.json"]

    private func translate(_ arguments: [String]) throws -> [Any] {
        let result = try runCommand(cutoverBinary, ["translate"] + arguments)
        guard result.status == 0 else { throw TestFailure("translate failed: \(result.error)") }
        return try result.output.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) }
    }

    private func fixtureJSON(_ path: String) throws -> NSObject {
        try JSONSerialization.jsonObject(with: Repo.fixture(path)) as! NSObject
    }

    @Test(arguments: cloudFixtures + onpremFixtures)
    func translatingToTheSameAPIGivesBackAnEqualValue(path: String) throws {
        let target = path.hasPrefix("cloud/") ? "cloud" : "onprem"
        let output = try translate(["--to", target, Repo.path("fixtures/\(path)")])
        #expect(output.count == 1)
        // NSObject equality compares dictionaries by content, so key order does not matter.
        #expect((output.first as? NSObject) == (try fixtureJSON(path)))
    }

    @Test func cloudPushToTalkTranslatesToOnPremVoice() throws {
        let output = try translate(["--to", "onprem", Repo.path("fixtures/cloud/msg_audio_voice.json")])
        let body = try #require(output.first as? [String: Any])
        let message = try #require((body["messages"] as? [[String: Any]])?.first)
        #expect(message["type"] as? String == "voice")
        #expect(message["voice"] != nil)
    }

    @Test func onPremVoiceTranslatesToCloudAudioWithTheGivenIdentity() throws {
        let output = try translate([
            "--to", "cloud", "--phone-number-id", "106540352242922", "--display-phone-number", "15550783881",
            "--waba-id", "102290129340398", "-",
        ], stdin: try Repo.fixture("onprem/meta-doc-inbound-voice.json"))
        let body = try #require(output.first as? [String: Any])
        let entry = try #require((body["entry"] as? [[String: Any]])?.first)
        #expect(entry["id"] as? String == "102290129340398")
        let value = try #require(((entry["changes"] as? [[String: Any]])?.first)?["value"] as? [String: Any])
        #expect((value["metadata"] as? [String: Any])?["phone_number_id"] as? String == "106540352242922")
        let message = try #require((value["messages"] as? [[String: Any]])?.first)
        #expect((message["audio"] as? [String: Any])?["voice"] as? Bool == true)
    }

    @Test func canonicalWritesOneCloudEventPerLine() throws {
        let output = try translate(["--to", "canonical", Repo.path("fixtures/cloud/msg_text.json")])
        let event = try #require(output.first as? [String: Any])
        #expect(event["specversion"] as? String == "1.0")
        #expect(event["type"] as? String == "com.whatsapp.message.received")
        #expect(event["whatsappapi"] as? String == "cloud")
    }

    @Test func unparseableInputFailsWithANonZeroExit() throws {
        let result = try runCommand(cutoverBinary, ["translate", "--to", "cloud", "-"], stdin: Data("{not json".utf8))
        #expect(result.status != 0)
        #expect(result.error.contains("invalid JSON"))
    }

    private func translate(_ arguments: [String], stdin: Data) throws -> [Any] {
        let result = try runCommand(cutoverBinary, ["translate"] + arguments, stdin: stdin)
        guard result.status == 0 else { throw TestFailure("translate failed: \(result.error)") }
        return try result.output.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) }
    }
}
