import CutoverTestSupport
import Foundation
import Testing

/// The cockpit page in headless Chromium against a real `cutover serve`, real signed webhooks and
/// real downstreams: the DOM is read back over the DevTools protocol, and each view is saved as a
/// PNG under .build/cockpit-screenshots/ for a person to look at.
@Suite(.serialized) struct CockpitPageTests {
    static let destinationSecret = "cockpit-destination-secret"

    /// `[data-destination="NAME"] .CLASS` in the destinations table, as text.
    static func destinationCell(_ name: String, _ column: String) -> String {
        "(document.querySelector('#destinations tr[data-destination=\"\(name)\"] .\(column)') || {}).textContent"
    }

    static let numberRow = "#numbers tr[data-number=\"\(CockpitRelay.phoneNumberID)\"]"

    @Test func countersMoveAndOneEventShowsAsEachDestinationReceivedIt() throws {
        let legacy = try Downstream()
        defer { legacy.stop() }
        let cloudy = try Downstream(arguments: ["--app-secret", Self.destinationSecret])
        defer { cloudy.stop() }
        let relay = try CockpitRelay(
            destinations: """
                  - {name: legacy, url: "\(legacy.url)", format: onprem}
                  - {name: cloudy, url: "\(cloudy.url)", format: cloud, app_secret: "\(Self.destinationSecret)"}
                """)
        defer { relay.cutover.kill() }
        let browser = try HeadlessChromium()
        defer { browser.stop() }
        try browser.logIn(admin: relay.admin, token: CockpitRelay.token)

        // The On-Prem route's number is listed before any traffic, at zero.
        try browser.wait("the route's number at 0 events", "(document.querySelector('\(Self.numberRow) .events-total') || {}).textContent === '0'")
        for index in 0..<2 { #expect(try relay.postCloudText(id: "wamid.cockpit-text-\(index)") == 200) }
        try browser.wait("2 events for the number", "document.querySelector('\(Self.numberRow) .events-total').textContent === '2'")
        let arrivesFrom = try browser.evaluate("document.querySelector('\(Self.numberRow) .arrives-from').textContent") as? String
        #expect(arrivesFrom == "/cloud (cloud)")

        // An On-Prem voice note, for the same number through its route.
        let voice = try curl(["-X", "POST", relay.cutover.base + "/onprem/default", "--data-binary", "@" + Repo.path("fixtures/onprem/meta-doc-inbound-voice.json")])
        #expect(voice.status == 200)
        try browser.wait("3 events for the number", "document.querySelector('\(Self.numberRow) .events-total').textContent === '3'")
        #expect(try browser.evaluate("document.querySelector('\(Self.numberRow) .arrives-from').textContent") as? String == "/cloud, /onprem/default (cloud, onprem)")
        #expect(try browser.evaluate("!!document.querySelector('\(Self.numberRow) [data-type=\"com.whatsapp.message.received\"]')") as? Bool == true)
        for name in ["legacy", "cloudy"] {
            try browser.wait("3 deliveries to \(name)", "\(Self.destinationCell(name, "delivered")) === '3'")
            try browser.wait("3 2xx responses from \(name)", "(\(Self.destinationCell(name, "responses")) || '').startsWith('2xx 3 ')")
            #expect(try browser.evaluate(Self.destinationCell(name, "circuit")) as? String == "closed")
            #expect(try browser.evaluate(Self.destinationCell(name, "latency")) as? String != "—", "a latency once responses came")
        }
        try browser.screenshot("#numbers", name: "numbers")
        try browser.screenshot("#destinations", name: "destinations")

        // The voice note side by side, opened from the number's "last event" button.
        let legacyReceived = try #require(legacy.waitForRequests(3))
        let cloudyReceived = try #require(cloudy.waitForRequests(3))
        let legacyVoice = try #require(legacyReceived.first { String(decoding: $0.body, as: UTF8.self).contains("\"voice\"") })
        let eventID = try #require(legacyVoice.eventID)
        let cloudyVoice = try #require(cloudyReceived.first { $0.eventID == eventID })
        _ = try browser.evaluate("document.querySelector('\(Self.numberRow) button.inspect').click(); true")
        let legacySide = "#event-view [data-destination=\"legacy\"] .sent-body"
        let cloudySide = "#event-view [data-destination=\"cloudy\"] .sent-body"
        try browser.wait("the event's sides", "!!document.querySelector('\(cloudySide)') && document.getElementById('event-id').value === \(HeadlessChromium.literal(eventID))")
        let onPremType = try browser.evaluate("JSON.parse(document.querySelector('\(legacySide)').textContent).messages[0].type") as? String
        #expect(onPremType == "voice", "the On-Prem destination's side shows a voice message")
        let cloudMessage = try browser.evaluate(
            "JSON.parse(document.querySelector('\(cloudySide)').textContent).entry[0].changes[0].value.messages[0]") as? [String: Any]
        #expect(cloudMessage?["type"] as? String == "audio")
        #expect((cloudMessage?["audio"] as? [String: Any])?["voice"] as? Bool == true, "the Cloud destination's side shows audio.voice")
        let rawType = try browser.evaluate("JSON.parse(document.querySelector('#event-view .raw-body').textContent).messages[0].type") as? String
        #expect(rawType == "voice", "the raw request as received")
        #expect(try browser.evaluate("!!document.querySelector('#event-view .canonical-body')") as? Bool == true)

        // What the page shows is what the downstream received: the same builder, byte for byte.
        let shownSignature = try browser.evaluate(
            "[...document.querySelectorAll('#event-view [data-destination=\"cloudy\"] .signature')].map(e => e.textContent).join('\\n')") as? String
        let receivedSignature = try #require(cloudyVoice.headers["x-hub-signature-256"])
        #expect(shownSignature?.contains("X-Hub-Signature-256: \(receivedSignature)") == true, "the signature header the endpoint checked")
        let view = try json(relay.admin + "/events/" + eventID, relay.bearer)
        let sides = try #require(view["destinations"] as? [[String: Any]])
        let cloudySent = try #require(sides.first { $0["name"] as? String == "cloudy" })
        #expect(cloudySent["body"] as? String == String(decoding: cloudyVoice.body, as: UTF8.self))
        let legacySent = try #require(sides.first { $0["name"] as? String == "legacy" })
        #expect(legacySent["body"] as? String == String(decoding: legacyVoice.body, as: UTF8.self))
        try browser.screenshot("#event", name: "event-side-by-side")
    }

    @Test func aDeadLetterRetriedFromThePageReachesTheDownstream() throws {
        let refusing = try Downstream(arguments: ["--status", "410"])
        let port = refusing.port
        let relay = try CockpitRelay(destinations: "  - {name: legacy, url: \"\(refusing.url)\", format: onprem}")
        defer { relay.cutover.kill() }
        #expect(try relay.postCloudText(id: "wamid.cockpit-dead-letter") == 200)
        #expect(refusing.waitForRequests(1) != nil)

        let browser = try HeadlessChromium()
        defer { browser.stop() }
        try browser.logIn(admin: relay.admin, token: CockpitRelay.token)
        let row = "#dead-letters tr[data-delivery-id]"
        try browser.wait("the dead letter", "!!document.querySelector('\(row)')")
        let deliveryID = try #require(try browser.evaluate("document.querySelector('\(row)').dataset.deliveryId") as? String)
        let reason = try browser.evaluate("document.querySelector('\(row) .reason').textContent") as? String
        #expect(reason?.hasPrefix("HTTP 410") == true, "the reason: \(reason ?? "none")")
        #expect(try browser.evaluate("document.querySelector('\(row) .last-status').textContent") as? String == "410")
        try browser.wait("the destination's dead count", "\(Self.destinationCell("legacy", "dead")) === '1'")
        try browser.screenshot("#dead-letters", name: "dead-letters")

        // The endpoint is fixed (a downstream that accepts, on the same port), then the retry.
        refusing.stop()
        let accepting = try Downstream(port: port)
        defer { accepting.stop() }
        _ = try browser.evaluate("document.querySelector('\(row) button.retry').click(); true")
        try browser.wait("the confirmation", "!document.getElementById('retry-confirm').hidden")
        #expect((try browser.evaluate("document.getElementById('retry-question').textContent") as? String)?.contains("dead letter \(deliveryID)") == true)
        #expect(accepting.requests.isEmpty, "nothing is sent before the confirmation")
        try browser.screenshot("#dead-letters", name: "dead-letters-confirm")
        _ = try browser.evaluate("document.getElementById('retry-yes').click(); true")
        try browser.wait("the revived notice", "document.getElementById('retry-result').textContent.startsWith('Revived 1 ')")
        let received = try #require(accepting.waitForRequests(1), "the retried delivery reaches the downstream")
        #expect(received[0].eventID != nil)
        try browser.wait("the dead letter leaving the list", "!document.querySelector('#dead-letters tr[data-delivery-id=\"\(deliveryID)\"]')")
        try browser.wait("the destination's delivered count", "\(Self.destinationCell("legacy", "delivered")) === '1'")
        try browser.screenshot("#dead-letters", name: "dead-letters-after-retry")
    }

    @Test func theLogOutButtonEndsTheSessionAndShowsTheLoginForm() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let relay = try CockpitRelay(destinations: "  - {name: legacy, url: \"\(downstream.url)\", format: onprem}")
        defer { relay.cutover.kill() }
        let browser = try HeadlessChromium()
        defer { browser.stop() }
        try browser.logIn(admin: relay.admin, token: CockpitRelay.token)
        _ = try browser.evaluate("document.getElementById('log-out').click(); true")
        try browser.wait("the login form after logging out", "!!document.getElementById('token')")
        #expect(relay.cutover.process.stderr.wait { $0.contains { $0.contains("cockpit session closed") } } != nil, "ended on the server")
        try browser.navigate(relay.admin + "/cockpit")
        try browser.wait("the login form again: the browser holds no session", "!!document.getElementById('token')")
    }

    @Test func aShadowAnswering500ShowsAsADisagreementWithBothResponses() throws {
        let primary = try Downstream()
        defer { primary.stop() }
        let shadow = try Downstream(arguments: ["--status", "500", "--body", "shadow broke"])
        defer { shadow.stop() }
        // 500 dead-letters the shadow's copy at once, so both sides are final and can be compared.
        let relay = try CockpitRelay(
            destinations: """
                  - {name: legacy, url: "\(primary.url)", format: onprem}
                  - {name: newcloud, url: "\(shadow.url)", format: cloud, role: shadow, dead_letter_statuses: [500]}
                """)
        defer { relay.cutover.kill() }
        let browser = try HeadlessChromium()
        defer { browser.stop() }
        try browser.logIn(admin: relay.admin, token: CockpitRelay.token)
        let pair = "#comparison tr[data-pair=\"legacy|newcloud\"]"
        try browser.wait("the configured pair", "!!document.querySelector('\(pair)')")

        for index in 0..<2 { #expect(try relay.postCloudText(id: "wamid.cockpit-shadow-\(index)") == 200) }
        #expect(primary.waitForRequests(2) != nil && shadow.waitForRequests(2) != nil)
        try browser.wait("2 disagreements in the pair's row", "document.querySelector('\(pair) .disagree').textContent === '2'")
        #expect(try browser.evaluate("document.querySelector('\(pair) .primary-accepted').textContent") as? String == "2")
        #expect(try browser.evaluate("document.querySelector('\(pair) .shadow-accepted').textContent") as? String == "0")
        #expect(try browser.evaluate("document.querySelector('\(pair) .agree').textContent") as? String == "0")
        try browser.wait("the disagreements listed", "document.querySelectorAll('#comparison .disagreements tr[data-event-id]').length === 2")
        let rows = try #require(
            try browser.evaluate(
                """
                [...document.querySelectorAll('#comparison .disagreements tr[data-event-id]')].map(row => ({
                  event: row.dataset.eventId, primary: row.querySelector('.primary-response').textContent,
                  primaryBody: row.querySelector('.primary-body').textContent, shadow: row.querySelector('.shadow-response').textContent,
                  shadowBody: row.querySelector('.shadow-body').textContent }))
                """) as? [[String: String]])
        let sentIDs = Set(shadow.requests.compactMap(\.eventID))
        for row in rows {
            #expect(sentIDs.contains(row["event"] ?? ""), "a disagreement names an event both were sent: \(row)")
            #expect(row["primary"]?.hasPrefix("delivered, HTTP 200") == true, "\(row)")
            #expect(row["primaryBody"] == "ok")
            #expect(row["shadow"]?.hasPrefix("dead, HTTP 500") == true, "\(row)")
            #expect(row["shadowBody"] == "shadow broke", "the first bytes of the shadow's body")
        }
        try browser.screenshot("#comparison", name: "primary-vs-shadow")
    }
}
