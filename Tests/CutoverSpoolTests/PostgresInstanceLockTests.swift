import CutoverTestSupport
import Testing

@testable import CutoverSpool

/// The instance id's lock on a real server: one holder at a time, free again when the holder goes,
/// taken back after the server restarted, and not taken by inspection.
@Suite("PostgreSQL spool: one running instance per instance id")
struct PostgresInstanceLockTests {
    private func configuration(_ url: String, _ instance: String) -> PostgresSpoolConfiguration {
        PostgresSpoolConfiguration(url: url, instanceID: instance)
    }

    private func isRefusal(_ error: any Error, naming instance: String) -> Bool {
        guard let error = error as? SpoolError else { return false }
        return error.kind == .refused && error.message.contains("instance_id \"\(instance)\" is in use by another running instance")
    }

    @Test func anIDHasOneHolderAndIsFreeOnceItIsReleased() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let holder = try PostgresInstanceLock.acquire(configuration(url, "one"))
        #expect { try PostgresInstanceLock.acquire(configuration(url, "one")) } throws: { isRefusal($0, naming: "one") }
        let other = try PostgresInstanceLock.acquire(configuration(url, "two"))
        other.release()
        holder.release()
        try PostgresInstanceLock.acquire(configuration(url, "one")).release()
    }

    @Test func theHolderTakesItsIDBackAfterTheServerRestarted() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let holder = try PostgresInstanceLock.acquire(configuration(url, "one"))
        defer { holder.release() }
        server.stop()
        try server.start()
        holder.keep()
        #expect { try PostgresInstanceLock.acquire(configuration(url, "one")) } throws: { isRefusal($0, naming: "one") }
    }

    @Test func aServingSpoolHoldsItsIDAndInspectionDoesNot() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.makeDatabase()
        let serving = try PostgresSpool.open(configuration(url, "one"))
        #expect { try PostgresSpool.open(configuration(url, "one")) } throws: { isRefusal($0, naming: "one") }
        let inspecting = try PostgresSpool.open(configuration(url, "one"), options: SpoolOptions(recoverInflight: false))
        inspecting.close()
        serving.close()
        try PostgresSpool.open(configuration(url, "one")).close()
    }
}
