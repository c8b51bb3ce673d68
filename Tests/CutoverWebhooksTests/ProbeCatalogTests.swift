import CutoverWebhooks
import HTTPTypes
import Testing

/// The examples `cutover probe` sends: one per type of the vocabulary Cutover knows, each a
/// recognized notification, sendable through the outbound builder in every format.
struct ProbeCatalogTests {
    private let cases: [ProbeCase]

    init() throws {
        cases = try ProbeCatalog.cases(runID: "t1", time: 1_750_000_000)
    }

    /// What the catalog covers, by the vocabulary's own names: a new type in `WebhookVocabulary`
    /// fails `everyKnownTypeHasAnExample` until an example of it is added.
    private struct Coverage {
        var messageTypes: Set<String> = []
        var interactiveTypes: Set<String> = []
        var systemTypes: Set<String> = []
        var statuses: Set<String> = []
        var statusTypes: Set<String> = []
        var fields: Set<String> = []

        init(_ cases: [ProbeCase]) {
            for probe in cases {
                let event = probe.event
                // On-Prem's own names (`voice`, its system types) are what decoding renamed.
                let undo = event.batch?["undo"]?.objectValue
                switch event.kind {
                case .message:
                    let message = event.message
                    messageTypes.formUnion([message?["type"]?.stringValue, undo?["type"]?.stringValue].compactMap { $0 })
                    interactiveTypes.formUnion([message?["interactive"]?["type"]?.stringValue].compactMap { $0 })
                    systemTypes.formUnion([message?["system"]?["type"]?.stringValue, undo?["system"]?["type"]?.stringValue].compactMap { $0 })
                case .status:
                    statuses.formUnion([event.status?["status"]?.stringValue].compactMap { $0 })
                    statusTypes.formUnion([event.status?["type"]?.stringValue].compactMap { $0 })
                case .error:
                    break
                case .field(let field):
                    fields.insert(field)
                    // Calls report their statuses in the `calls` field, not in `messages`.
                    for status in event.value?["statuses"]?.arrayValue ?? [] {
                        statusTypes.formUnion([status["type"]?.stringValue].compactMap { $0 })
                    }
                }
            }
        }
    }

    @Test func everyKnownTypeHasAnExample() {
        let covered = Coverage(cases)
        #expect(WebhookVocabulary.messageTypes.subtracting(covered.messageTypes).isEmpty, "message types without an example")
        #expect(WebhookVocabulary.cloudInteractiveTypes.subtracting(covered.interactiveTypes).isEmpty, "interactive types without an example")
        #expect(WebhookVocabulary.systemTypes.subtracting(covered.systemTypes).isEmpty, "system types without an example")
        #expect(WebhookVocabulary.statuses.subtracting(covered.statuses).isEmpty, "statuses without an example")
        #expect(WebhookVocabulary.statusTypes.subtracting(covered.statusTypes).isEmpty, "status types without an example")
        #expect(WebhookVocabulary.cloudFields.subtracting(covered.fields).isEmpty, "webhook fields without an example")
        #expect(cases.contains { $0.event.kind == .error && $0.event.api == .cloud })
        #expect(cases.contains { $0.event.kind == .error && $0.event.api == .onprem })
    }

    @Test func everyExampleIsARecognizedNotificationWithItsOwnNameAndID() {
        for probe in cases { #expect(probe.event.unrecognized == nil, "\(probe.name): \(probe.event.unrecognized ?? "")") }
        #expect(Set(cases.map(\.name)).count == cases.count, "names are unique")
        #expect(Set(cases.map(\.event.id)).count == cases.count, "event ids are unique")
    }

    @Test func theRunIDMakesASecondProbeNoRepeat() throws {
        let second = try ProbeCatalog.cases(runID: "t2", time: 1_750_000_000)
        let messageIDs = Set(cases.filter { $0.event.kind == .message }.map(\.event.id))
        #expect(second.filter { $0.event.kind == .message }.allSatisfy { !messageIDs.contains($0.event.id) })
    }

    @Test func theVoiceNotesAreVoiceNotesInBothAPIs() throws {
        let cloud = try #require(cases.first { $0.name == "message.audio.voice" })
        let onprem = try #require(cases.first { $0.name == "message.voice" })
        #expect(cloud.event.api == .cloud && onprem.event.api == .onprem)
        for probe in [cloud, onprem] {
            #expect(probe.event.message?["audio"]?["voice"]?.boolValue == true, "canonical: audio with voice: true")
            let rendered = WebhookRenderer.render(events: [probe.event], as: .onprem).document
            #expect(rendered?["messages"]?.arrayValue?.first?["type"]?.stringValue == "voice", "\(probe.name) as On-Prem")
        }
    }

    @Test func aBusinessOverrideReachesEveryEvent() throws {
        let business = BusinessIdentity(phoneNumberID: "555000111", displayPhoneNumber: "15550001111", wabaID: "777")
        let overridden = try ProbeCatalog.cases(business: business, runID: "t1", time: 1_750_000_000)
        for probe in overridden {
            #expect(probe.event.business == business, "\(probe.name)")
        }
        #expect(overridden.filter { $0.event.kind == .message }.allSatisfy { $0.event.source == "whatsapp:555000111" })
    }

    @Test func everyExampleGoesThroughTheOutboundBuilderInEveryFormat() throws {
        for format in [DeliveryFormat.onprem, .cloud, .canonical] {
            let builder = OutboundRequestBuilder(format: format, phoneless: .userID)
            var sent = 0
            for probe in cases {
                if case .send(let request) = try builder.request(event: probe.event, now: 1_750_000_000) {
                    sent += 1
                    #expect(request.headers[.cutoverEventID] == probe.event.id)
                }
            }
            // Canonical carries everything; the two APIs at least every message.
            #expect(sent >= cases.filter { $0.event.kind == .message }.count, "\(format)")
            if format == .canonical { #expect(sent == cases.count) }
        }
    }

    @Test func phonelessExamplesFollowThePolicy() throws {
        let phoneless = cases.filter { $0.name.hasSuffix(".phoneless") }
        #expect(phoneless.count == 2)
        for probe in phoneless {
            let refused = try OutboundRequestBuilder(format: .onprem).request(event: probe.event, now: 0)
            #expect(refused == .deadLetter(reason: PhonelessPolicy.reason), "\(probe.name)")
            guard case .send(let request) = try OutboundRequestBuilder(format: .onprem, phoneless: .userID).request(event: probe.event, now: 0) else {
                Issue.record("\(probe.name) is not sent under user_id")
                continue
            }
            #expect(request.headers[.cutoverPhoneless] == PhonelessPolicy.userID.rawValue)
        }
    }
}
