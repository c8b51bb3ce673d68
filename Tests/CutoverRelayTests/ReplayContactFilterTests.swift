import CutoverDelivery
import CutoverTestSupport
import CutoverWebhooks
import Testing

/// `replay --contact`: the subject is the BSUID when there is one (issue 11), and the phone still
/// names the same user.
struct ReplayContactFilterTests {
    @Test func aContactMatchesByPhoneOrByBusinessScopedUserID() throws {
        let event = try #require(try WebhookDecoder().decode(
            Array(Repo.fixture("cloud-2026/p01_text_phone_bsuid_parent_username.json")), api: .cloud).first)
        #expect(event.subject == "US.13491208655302741918")
        #expect(ReplayFilter(contacts: ["16505551234"]).matches(event))
        #expect(ReplayFilter(contacts: ["US.13491208655302741918"]).matches(event))
        #expect(!ReplayFilter(contacts: ["16505550000"]).matches(event))
        // A phone-less message is matched by its BSUID only.
        let phoneless = try #require(try WebhookDecoder().decode(
            Array(Repo.fixture("cloud-2026/p02_text_username_no_phone.json")), api: .cloud).first)
        #expect(ReplayFilter(contacts: ["US.13491208655302741918"]).matches(phoneless))
        #expect(!ReplayFilter(contacts: ["16505551234"]).matches(phoneless))
    }
}
