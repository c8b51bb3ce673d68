/// Wall-clock Unix seconds, the time base of every time the spool stores (`received_at`,
/// `created_at`, `next_attempt_at`, ...). Taken through one injectable function so a test can pin
/// it; waiting and scheduling use `Duration` and a `Clock` instead.
package struct WallClock: Sendable {
    package var now: @Sendable () -> Double

    package init(now: @escaping @Sendable () -> Double) { self.now = now }

    package static let system = WallClock { Clock.now() }
}
