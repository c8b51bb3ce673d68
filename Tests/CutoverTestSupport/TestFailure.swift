/// Why a test helper gave up: a peer that did not start, a command that timed out, a missing file.
package struct TestFailure: Error, CustomStringConvertible, Sendable {
    package let description: String
    package init(_ description: String) { self.description = description }
}
