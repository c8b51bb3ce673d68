@testable import CutoverSockets
import Dispatch
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Echoes every byte back and records how the connection ended.
final class EchoDelegate: ConnectionDelegate, @unchecked Sendable {
    // Invariant: only touched on the connection's loop, and read after `closed` is signalled.
    let closed = DispatchSemaphore(value: 0)
    var endedByPeer = false

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        connection.write(Array(bytes))
    }
    func connectionDidReachEndOfInput(_ connection: Connection) {
        endedByPeer = true
        connection.close(afterFlush: true)
    }
    func connectionDidDrainWrites(_ connection: Connection) {}
    func connectionDeadlineDidPass(_ connection: Connection) { connection.close() }
    func connectionDidClose(_ connection: Connection, error: (any Error)?) { closed.signal() }
}

@Suite struct ConnectionTests {
    @Test(arguments: EventLoopKind.allCases) func echoesBytesAndClosesOnPeerEOF(kind: EventLoopKind) throws {
        let loop = try #require(try kind.makeGroup(count: 1, label: "test.echo").first)
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
        let delegate = EchoDelegate()
        let connection = Connection(stream: Socket(descriptor: pair[0]), loop: loop)
        loop.execute { connection.start(delegate: delegate) }

        let message = Array("hello, loop".utf8)
        #expect(write(pair[1], message, message.count) == message.count)
        var received = [UInt8](repeating: 0, count: message.count)
        var total = 0
        while total < message.count {
            let count = read(pair[1], &received[total], message.count - total)
            #expect(count > 0)
            total += count
        }
        #expect(received == message)
        shutdown(pair[1], Int32(SHUT_WR))
        #expect(delegate.closed.wait(timeout: .now() + 5) == .success)
        #expect(delegate.endedByPeer)
        close(pair[1])
    }

    @Test func systemErrorNamesTheCallAndErrno() {
        let error = SystemError("bind(127.0.0.1:80)", errno: EACCES)
        #expect(error.description == "bind(127.0.0.1:80) failed: Permission denied (errno 13)")
    }

    @Test func bindingAPortInUseFailsWithEADDRINUSE() throws {
        let address = try SocketAddress.resolve(host: "127.0.0.1", port: 0)[0]
        let first = try Socket.listening(on: address)
        defer { first.close() }
        let taken = try SocketAddress.resolve(host: "127.0.0.1", port: first.localAddress().port)[0]
        let error = #expect(throws: SystemError.self) { try Socket.listening(on: taken) }
        #expect(error?.errno == EADDRINUSE)
        #expect(error?.call == "bind(\(taken))")
    }

    @Test func aFailedCallKeepsItsErrnoWhileItsNameIsBuilt() {
        errno = EADDRINUSE
        let error = SystemError.last(nameThatChangesErrno())
        #expect(error.errno == EADDRINUSE)
        #expect(error.call == "bind(somewhere)")
    }

    @Test func hostAndPortParsing() {
        #expect(HostAndPort(parsing: "127.0.0.1:8080") == HostAndPort(host: "127.0.0.1", port: 8080))
        #expect(HostAndPort(parsing: "[::1]:443") == HostAndPort(host: "::1", port: 443))
        #expect(HostAndPort(parsing: "nohost") == nil)
        #expect(HostAndPort(parsing: ":80") == nil)
    }
}

/// Stands in for an interpolated address whose description calls into libc.
private func nameThatChangesErrno() -> String {
    errno = EBADF
    return "bind(somewhere)"
}
