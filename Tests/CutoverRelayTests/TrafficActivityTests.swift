@testable import CutoverOperations
import Testing

@Suite struct TrafficActivityTests {
    private func observation(_ number: String?, route: String = "/cloud", type: String, id: String) -> TrafficActivity.Observation {
        TrafficActivity.Observation(phoneNumberID: number, displayPhoneNumber: number.map { "+\($0)" }, api: "cloud", route: route, type: type, eventID: id)
    }

    @Test func eachNumberAccumulatesItsEvents() throws {
        let activity = TrafficActivity(startedAt: 100)
        activity.record([observation("111", type: "text", id: "a"), observation("111", type: "status", id: "b")], at: 101)
        activity.record([observation("111", route: "/onprem/default", type: "text", id: "c"), observation(nil, type: "text", id: "d")], at: 102)
        let numbers = Dictionary(uniqueKeysWithValues: activity.snapshot().map { ($0.phoneNumberID ?? "none", $0) })
        let first = try #require(numbers["111"])
        #expect(first.totalsByType == ["text": 2, "status": 1])
        #expect(first.routes == ["/cloud", "/onprem/default"])
        #expect(first.apis == ["cloud"])
        #expect(first.displayPhoneNumber == "+111")
        #expect(first.lastEventID == "c" && first.lastEventType == "text" && first.lastEventAt == 102)
        #expect(first.recentTotals(lastSeconds: 60, at: 102) == ["text": 2, "status": 1])
        let unnamed = try #require(numbers["none"], "an event without a number is kept under its route")
        #expect(unnamed.totalsByType == ["text": 1])
    }
}
