import CutoverLocking

/// What each business number's traffic looks like since the process started: which API and route
/// it arrives from, events per second by type, the last event. Fed by the ingress once a request's
/// commit succeeded (so it counts what was accepted, not what was attempted); read by the admin
/// API's `GET /admin/numbers`. In memory only: Prometheus keeps the history.
package final class TrafficActivity: Sendable {
    /// One accepted event, as the ingress saw it.
    package struct Observation: Sendable {
        package var phoneNumberID: String?
        package var displayPhoneNumber: String?
        package var api: String
        package var route: String
        package var type: String
        package var eventID: String

        package init(phoneNumberID: String?, displayPhoneNumber: String?, api: String, route: String, type: String, eventID: String) {
            self.phoneNumberID = phoneNumberID
            self.displayPhoneNumber = displayPhoneNumber
            self.api = api
            self.route = route
            self.type = type
            self.eventID = eventID
        }
    }

    /// One business number's activity.
    package struct Number: Sendable {
        package var phoneNumberID: String?
        package var displayPhoneNumber: String?
        package var apis: Set<String> = []
        package var routes: Set<String> = []
        package var totalsByType: [String: Int] = [:]
        package var lastEventAt = 0.0
        package var lastEventID = ""
        package var lastEventType = ""
        var recent = PerSecondCounts()

        package func recentTotals(lastSeconds window: Int, at time: Double) -> [String: Int] {
            recent.totals(lastSeconds: window, at: time)
        }
    }

    /// Senders choose the numbers (a Cloud body names its own): past this many, new ones share one row.
    static let maxNumbers = 1000
    static let overflowKey = "(other numbers)"

    private let numbers = Locked<[String: Number]>([:])
    package let startedAt: Double

    package init(startedAt: Double) { self.startedAt = startedAt }

    package func record(_ observations: [Observation], at time: Double) {
        guard !observations.isEmpty else { return }
        numbers.withLock { numbers in
            for observation in observations {
                var key = observation.phoneNumberID ?? "route:" + observation.route
                if numbers[key] == nil, numbers.count >= Self.maxNumbers { key = Self.overflowKey }
                let phoneNumberID = key == Self.overflowKey ? nil : observation.phoneNumberID
                // In place: a copy taken out and stored back would copy each of its sets and
                // dictionaries on the first change, since the dictionary still held the original.
                Self.add(observation, at: time, to: &numbers[key, default: Number(phoneNumberID: phoneNumberID)])
            }
        }
    }

    private static func add(_ observation: Observation, at time: Double, to number: inout Number) {
        if number.displayPhoneNumber == nil { number.displayPhoneNumber = observation.displayPhoneNumber }
        number.apis.insert(observation.api)
        number.routes.insert(observation.route)
        number.totalsByType[observation.type, default: 0] += 1
        number.recent.add(observation.type, at: time)
        number.lastEventAt = time
        number.lastEventID = observation.eventID
        number.lastEventType = observation.type
    }

    package func snapshot() -> [Number] {
        numbers.withLock { Array($0.values) }
    }
}
