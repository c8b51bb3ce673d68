/// Why a test helper gave up: a peer that did not start, a command that timed out, a missing file.
public struct TestFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
