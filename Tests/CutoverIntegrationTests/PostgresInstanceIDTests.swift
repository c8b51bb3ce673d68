import CutoverTestSupport
import Foundation
import Testing

/// A configured `instance_id` belongs to one running instance: a second `cutover serve` with it
/// refuses to start and names the id (it would otherwise take over the first one's leases), while
/// `cutover spool` with the same config still reads the spool, and a restart after the holder died
/// starts.
@Suite(.serialized)
struct PostgresInstanceIDTests {
    @Test func aSecondInstanceWithALiveInstancesIDRefusesToStart() throws {
        let relays = try PostgresRelays()
        defer { relays.postgres.stop() }
        let downstream = try Downstream()
        defer { downstream.stop() }
        var first = try relays.start(instance: "shared-id", downstream: downstream)
        defer { first.kill() }

        let config = try relays.config(instance: "shared-id", downstream: downstream)
        let second = try runCommand(
            cutoverBinary, ["serve", "--listen", "127.0.0.1:0", "--config", config],
            environment: ["TEST_APP_SECRET": PostgresRelays.appSecret], timeout: 60)
        #expect(second.status != 0, "the second instance started: \(second.error.suffix(500))")
        #expect(
            second.error.contains("instance_id \"shared-id\" is in use by another running instance"), "\(second.error.suffix(1000))")
        #expect(!second.error.contains("listening on"), "it refused before listening")
        #expect(try curl([first.base + "/readyz"]).status == 200, "the first instance still serves")

        // Inspection opens the spool without taking the id.
        let stats = try runCommand(
            cutoverBinary, ["spool", "stats", "--config", config, "--json"], environment: ["TEST_APP_SECRET": PostgresRelays.appSecret])
        #expect(stats.status == 0 && stats.output.contains("\"events\""), "\(stats.error)")

        // The lock lives with the holder's session: once it is gone, the id starts again.
        first.kill()
        first = try relays.start(instance: "shared-id", downstream: downstream)
        #expect(try curl([first.base + "/readyz"]).status == 200)
    }
}
