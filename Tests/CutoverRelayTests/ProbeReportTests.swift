import CutoverProbe
import CutoverWebhooks
import HTTPTypes
import Testing

/// `cutover probe`'s plan (filters, marker header, the one outbound builder) and its output: the
/// table, the JSON document and the exit status, from results made by hand.
struct ProbeReportTests {
    private let results = [
        ProbeResult(name: "message.text", api: .cloud, eventID: "msg:wamid.A", outcome: .accepted, status: 200, milliseconds: 1.26),
        ProbeResult(
            name: "message.voice", api: .onprem, eventID: "msg:wamid.B", outcome: .refused, status: 422, milliseconds: 12.04,
            detail: "voice notes are not supported"),
        ProbeResult(name: "field.flows", api: .cloud, eventID: "flows:sha256:C", outcome: .skipped, detail: "not representable in onprem"),
    ]

    @Test func theTableHasARowPerTypeWithAlignedColumnsAndASummary() throws {
        let report = ProbeReport(url: "http://127.0.0.1:9/hook", format: .onprem, results: results)
        let lines = report.table.split(separator: "\n").map(String.init)
        #expect(lines.first == "probe http://127.0.0.1:9/hook as onprem")
        #expect(lines[1].hasPrefix("TYPE"))
        let statusColumn = try #require(lines[1].firstRange(of: "HTTP")).lowerBound.utf16Offset(in: lines[1])
        #expect(lines[2] == "message.text   cloud   200   1.3 ms   accepted")
        #expect(lines[3].hasPrefix("message.voice  onprem  422   12.0 ms  refused   voice notes are not supported"))
        #expect(lines[4].hasPrefix("field.flows    cloud   -     -        skipped   not representable in onprem"))
        #expect(lines[3].dropFirst(statusColumn).hasPrefix("422"), "columns line up under their headers")
        #expect(lines.last == "3 types: 1 accepted, 1 refused, 1 skipped")
    }

    @Test func theExitStatusIsOneForARefusalZeroWhenOnlySkippedAndThreeWhenUnreachable() {
        #expect(ProbeReport(url: "u", format: .cloud, results: results).exitStatus == 1)
        let fine = results.filter { $0.outcome != .refused }
        #expect(ProbeReport(url: "u", format: .cloud, results: fine).exitStatus == 0)
        var deadLetter = fine
        deadLetter.append(ProbeResult(name: "status.delivered.phoneless", api: .cloud, eventID: "s", outcome: .deadLetter, detail: "no phone"))
        #expect(ProbeReport(url: "u", format: .onprem, results: deadLetter).exitStatus == 0, "the destination's own policy, not a refusal")
        var noAnswer = fine
        noAnswer.append(ProbeResult(name: "status.read", api: .cloud, eventID: "s", outcome: .noAnswer, detail: "timed out"))
        #expect(ProbeReport(url: "u", format: .cloud, results: noAnswer).exitStatus == 1)
        let down = ProbeReport(url: "u", format: .cloud, results: [], unreachable: "connection refused")
        #expect(down.exitStatus == 3)
        #expect(down.table.contains("cannot reach u: connection refused"))
    }

    @Test func theJSONDocumentCarriesEveryResult() throws {
        let report = ProbeReport(url: "http://h/x", format: .canonical, results: results)
        let json = try JSONValue.parse(report.json.jsonString)
        #expect(json["format"]?.stringValue == "canonical")
        #expect(json["exit_status"]?.integerValue == 1)
        #expect(json["summary"]?["refused"]?.integerValue == 1)
        #expect(json["summary"]?["accepted"]?.integerValue == 1)
        let rows = try #require(json["results"]?.arrayValue)
        #expect(rows.count == 3)
        #expect(rows[1]["type"]?.stringValue == "message.voice")
        #expect(rows[1]["status"]?.integerValue == 422)
        #expect(rows[1]["latency_ms"]?.numberText == "12.0")
        #expect(rows[1]["detail"]?.stringValue == "voice notes are not supported")
        #expect(rows[2]["status"] == nil && rows[2]["outcome"]?.stringValue == "skipped")
    }

    @Test func aRefusalShowsItsBodysFirstNonEmptyLineBounded() {
        #expect(ProbeResult.firstLine(of: Array("\n  \r\n  bad type: voice  \nmore".utf8)) == "bad type: voice")
        #expect(ProbeResult.firstLine(of: Array(" \n".utf8)) == nil)
        let long = ProbeResult.firstLine(of: Array(String(repeating: "x", count: 500).utf8))
        #expect(long?.count == ProbeResult.detailLimit)
    }

    @Test func typeFiltersTakeANameOrTheNamesUnderIt() throws {
        var plan = ProbePlan(format: .cloud)
        #expect(plan.selects("status.read"))
        plan.types = ["message.interactive", "status.read", "field.*"]
        #expect(plan.selects("message.interactive.list_reply"))
        #expect(plan.selects("status.read"))
        #expect(plan.selects("field.flows"))
        #expect(!plan.selects("message.interactiveX"))
        #expect(!plan.selects("status.sent"))
        let cases = try ProbeCatalog.cases(runID: "r", time: 1)
        plan.types = ["status", "messages.txt"]
        #expect(plan.unmatchedTypes(in: cases) == ["messages.txt"])
    }

    @Test func itemsAreBuiltByTheOutboundBuilderWithTheProbeMarker() throws {
        let cases = try ProbeCatalog.cases(runID: "r", time: 1_750_000_000)
        var plan = ProbePlan(format: .cloud)
        plan.appSecret = "probe-secret"
        plan.headers = [(name: "Authorization", value: "Bearer t")]
        plan.types = ["message.text"]
        let items = plan.items(cases, now: 1_750_000_000)
        let item = try #require(items.first { $0.name == "message.text" })
        guard case .send(let request) = item.step else { Issue.record("message.text not sent: \(item.step)"); return }
        let event = try #require(cases.first { $0.name == "message.text" }).event
        let expected = OutboundRequestBuilder(
            format: .cloud, appSecret: HMACSHA256Key(secret: "probe-secret"),
            headers: [.cutoverProbe: "1", HTTPField.Name("Authorization")!: "Bearer t"]
        )
        #expect(try expected.request(event: event, now: 1_750_000_000) == .send(request), "exactly what delivery builds, plus the marker")
        #expect(request.headers[.cutoverProbe] == "1")
        #expect(request.headers[.cutoverEventID] == item.eventID)
        #expect(request.headers[.xHubSignature256] == (try WebhookSignature.sign(body: request.body, key: HMACSHA256Key(secret: "probe-secret"))))

        plan.format = .onprem
        plan.types = ["field.flows", "message.text.phoneless"]
        let onprem = plan.items(cases, now: 0)
        #expect(onprem.count == 2)
        for item in onprem {
            switch (item.name, item.step) {
            case ("field.flows", .skipped), ("message.text.phoneless", .deadLetter): break
            default: Issue.record("\(item.name): \(item.step)")
            }
        }
    }

    @Test func aJSONDryRunListsEachRequestOrWhyItIsNotSent() throws {
        let cases = try ProbeCatalog.cases(runID: "r", time: 1_750_000_000)
        var plan = ProbePlan(format: .onprem)
        plan.types = ["message.voice", "field.flows", "status.delivered.phoneless"]
        let text = ProbeDryRun.text(plan.items(cases, now: 0), url: "http://h/x", json: true)
        let entries = try #require(try JSONValue.parse(text).arrayValue)
        #expect(entries.count == 3)
        let voice = try #require(entries.first { $0["type"]?.stringValue == "message.voice" })
        #expect(voice["url"]?.stringValue == "http://h/x")
        #expect(voice["headers"]?["X-Cutover-Probe"]?.stringValue == "1")
        #expect(voice["headers"]?["X-Cutover-Event-Id"]?.stringValue == voice["event_id"]?.stringValue)
        #expect(voice["body"]?["messages"]?.arrayValue?.first?["type"]?.stringValue == "voice")
        #expect(entries.first { $0["type"]?.stringValue == "field.flows" }?["skipped"] != nil)
        #expect(entries.first { $0["type"]?.stringValue == "status.delivered.phoneless" }?["dead_letter"]?.stringValue == PhonelessPolicy.reason)
    }
}
