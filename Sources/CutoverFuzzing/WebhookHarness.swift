import CutoverWebhooks

/// The fidelity law on arbitrary bodies: whatever decodes (Cloud or On-Prem, detected as ingress
/// does, with and without a route's business identity) renders to its own API without loss, and
/// that body decodes to the same events; each event survives its stored canonical bytes.
enum WebhookHarness {
    static let routeBusiness = BusinessIdentity(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881", wabaID: "102290129340398")

    static func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) {
        for business in [nil, routeBusiness] {
            guard let events = try? WebhookDecoder().decode(bytes, api: .auto, business: business, route: "fuzz"),
                let api = events.first?.api
            else { continue }
            if events.contains(where: { $0.api != api }) { throw FuzzFailure("one body decoded to events of both APIs") }
            for event in events {
                let stored = event.serialized()
                guard (try? CanonicalEvent(bytes: stored)) == event else {
                    throw FuzzFailure("an event does not survive its canonical bytes: \(String(decoding: stored, as: UTF8.self))")
                }
            }
            let origin: WebhookOutputFormat = api == .cloud ? .cloud : .onprem
            let rendered = WebhookRenderer.render(events: events, as: origin)
            guard let body = rendered.body, rendered.dropped.isEmpty, rendered.substituted.isEmpty else {
                throw FuzzFailure("rendering \(events.count) \(api) events as \(origin) dropped \(rendered.dropped) substituted \(rendered.substituted)")
            }
            let again: [CanonicalEvent]
            do { again = try WebhookDecoder().decode(body, api: .auto, business: business, route: "fuzz") } catch {
                throw FuzzFailure("the rendered body does not decode (\(error)): \(String(decoding: body, as: UTF8.self))")
            }
            if again != events {
                throw FuzzFailure(
                    "decode -> render -> decode changed the events:\n"
                        + events.map { String(decoding: $0.serialized(), as: UTF8.self) }.joined(separator: "\n") + "\nbecame\n"
                        + again.map { String(decoding: $0.serialized(), as: UTF8.self) }.joined(separator: "\n"))
            }
        }
    }
}
