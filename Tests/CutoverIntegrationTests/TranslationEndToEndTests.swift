import CutoverTestSupport
import Foundation
import Testing

/// The real binary between curl and a real downstream: each shape in, the other shape out.
@Suite(.serialized)
struct TranslationEndToEndTests {
    let secret = "test-app-secret"

    @Test func healthzAnswers200() throws {
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: [])
        defer { cutover.kill() }
        let response = try curl([cutover.base + "/healthz"])
        #expect(response.status == 200)
        #expect(response.body.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
    }

    @Test func cloudPushToTalkArrivesAsOnPremVoice() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(
            spool: spool.path, arguments: ["--forward", downstream.url, "--format", "onprem", "--app-secret", secret]
        )
        defer { cutover.kill() }

        let body = try Repo.fixture("cloud/msg_audio_voice.json")
        let signature = try pythonSignature(body: body, secret: secret)
        let bodyFile = spool.url.appendingPathComponent("body.json")
        try body.write(to: bodyFile)
        let response = try curl([
            "-X", "POST", cutover.base + "/cloud", "-H", "Content-Type: application/json",
            "-H", "X-Hub-Signature-256: \(signature)", "--data-binary", "@\(bodyFile.path)",
        ])
        #expect(response.status == 200)

        let received = try #require(downstream.waitForRequests(1)?.first)
        let json = try #require(received.json)
        let message = try #require((json["messages"] as? [[String: Any]])?.first)
        #expect(message["type"] as? String == "voice")
        let voice = try #require(message["voice"] as? [String: Any])
        #expect(voice["id"] as? String == "1908647269898587")
        #expect(voice["mime_type"] as? String == "audio/ogg; codecs=opus")
        #expect(message["audio"] == nil)
        #expect(json["object"] == nil, "On-Prem bodies have no Cloud envelope")
        #expect(received.eventID?.isEmpty == false)
    }

    @Test func onPremVoiceArrivesAsSignedCloudAudio() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(
            spool: spool.path,
            arguments: [
                "--forward", downstream.url, "--format", "cloud", "--app-secret", secret,
                "--onprem-route", "default,phone_number_id=106540352242922,display_phone_number=15550783881,waba_id=102290129340398",
            ]
        )
        defer { cutover.kill() }

        let bodyFile = Repo.url("fixtures/onprem/meta-doc-inbound-voice.json")
        let response = try curl([
            "-X", "POST", cutover.base + "/onprem/default", "-H", "Content-Type: application/json",
            "--data-binary", "@\(bodyFile.path)",
        ])
        #expect(response.status == 200)

        let received = try #require(downstream.waitForRequests(1)?.first)
        #expect(received.headers["x-hub-signature-256"] == (try pythonSignature(body: received.body, secret: secret)))
        let json = try #require(received.json)
        #expect(json["object"] as? String == "whatsapp_business_account")
        let entry = try #require((json["entry"] as? [[String: Any]])?.first)
        #expect(entry["id"] as? String == "102290129340398")
        let change = try #require((entry["changes"] as? [[String: Any]])?.first)
        let value = try #require(change["value"] as? [String: Any])
        let metadata = try #require(value["metadata"] as? [String: Any])
        #expect(metadata["phone_number_id"] as? String == "106540352242922")
        let message = try #require((value["messages"] as? [[String: Any]])?.first)
        #expect(message["type"] as? String == "audio")
        let audio = try #require(message["audio"] as? [String: Any])
        #expect(audio["voice"] as? Bool == true)
        #expect(message["voice"] == nil)
    }

    @Test func wrongSignatureIsRejectedAndNothingIsDelivered() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(
            spool: spool.path, arguments: ["--forward", downstream.url, "--format", "canonical", "--app-secret", secret]
        )
        defer { cutover.kill() }
        let bodyFile = Repo.url("fixtures/cloud/msg_text.json")
        let body = try Data(contentsOf: bodyFile)

        let wrong = try curl([
            "-X", "POST", cutover.base + "/cloud", "-H", "X-Hub-Signature-256: \(try pythonSignature(body: body, secret: "other"))",
            "--data-binary", "@\(bodyFile.path)",
        ])
        #expect(wrong.status == 401)
        let missing = try curl(["-X", "POST", cutover.base + "/cloud", "--data-binary", "@\(bodyFile.path)"])
        #expect(missing.status == 401)

        // A valid request afterwards is the first and only thing the downstream sees: the
        // rejected ones were never stored.
        let other = try Repo.fixture("cloud/msg_image.json")
        let otherFile = spool.url.appendingPathComponent("image.json")
        try other.write(to: otherFile)
        let valid = try curl([
            "-X", "POST", cutover.base + "/cloud", "-H", "X-Hub-Signature-256: \(try pythonSignature(body: other, secret: secret))",
            "--data-binary", "@\(otherFile.path)",
        ])
        #expect(valid.status == 200)
        let received = try #require(downstream.waitForRequests(1))
        let event = try #require(received.first?.json)
        #expect(event["type"] as? String == "com.whatsapp.message.received")
        let data = try #require(event["data"] as? [String: Any])
        #expect((data["message"] as? [String: Any])?["type"] as? String == "image")
        #expect(received.count == 1)
    }

    @Test func verificationHandshakeEchoesTheChallenge() throws {
        let spool = try TemporaryDirectory()
        let cutover = try CutoverServer(spool: spool.path, arguments: ["--verify-token", "let-me-in"])
        defer { cutover.kill() }
        let ok = try curl([cutover.base + "/cloud?hub.mode=subscribe&hub.verify_token=let-me-in&hub.challenge=1158201444"])
        #expect(ok.status == 200)
        #expect(ok.body == "1158201444")
        let wrong = try curl([cutover.base + "/cloud?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444"])
        #expect(wrong.status == 403)
        #expect(!wrong.body.contains("1158201444"))
    }
}
