import CutoverSockets
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Records what a connection reports, for tests that drive it on a `TestEventLoop`.
final class RecordingConnectionDelegate: ConnectionDelegate, @unchecked Sendable {
    // Invariant: touched only on the test loop, which is the test's own thread.
    var received: [UInt8] = []
    var deadlinesPassed = 0
    var reachedEndOfInput = false
    var closed = false
    var closeError: (any Error)?

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        received.append(contentsOf: bytes)
    }
    func connectionDidReachEndOfInput(_ connection: Connection) { reachedEndOfInput = true }
    func connectionDidDrainWrites(_ connection: Connection) {}
    func connectionDeadlineDidPass(_ connection: Connection) { deadlinesPassed += 1 }
    func connectionDidClose(_ connection: Connection, error: (any Error)?) {
        closed = true
        closeError = error
    }
}

/// The other end of a connection under test: a non-blocking descriptor the test reads and writes.
struct Peer {
    let descriptor: Int32

    /// Everything readable now, and whether the other side has shut its write side.
    func readAvailable() -> (bytes: [UInt8], endOfStream: Bool) {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count > 0 {
                bytes += chunk[0..<count]
            } else {
                return (bytes, count == 0)
            }
        }
    }

    func send(_ text: String) -> Int {
        let bytes = Array(text.utf8)
        return Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL))
    }

    func close() {
        _ = Glibc.close(descriptor)
    }
}

/// A connected pair of non-blocking Unix stream sockets: the connection's end and the peer's.
func makeSocketPair() throws -> (Socket, Peer) {
    var pair: [Int32] = [0, 0]
    let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    try #require(socketpair(AF_UNIX, type, 0, &pair) == 0)
    return (Socket(descriptor: pair[0]), Peer(descriptor: pair[1]))
}

/// Deadlines and the lingering close, on a loop whose clock only the test moves.
@Suite struct ConnectionDeadlineTests {
    let loop = TestEventLoop()
    let delegate = RecordingConnectionDelegate()

    private func startConnection() throws -> (Connection, Peer) {
        let (socket, peer) = try makeSocketPair()
        let connection = Connection(stream: socket, loop: loop)
        connection.start(delegate: delegate)
        loop.run()
        return (connection, peer)
    }

    @Test func theDeadlinePassesWhenTheLoopClockReachesItAndOnlyOnce() throws {
        let (connection, peer) = try startConnection()
        defer { peer.close() }
        connection.setDeadline(after: .seconds(30))

        loop.advanceTime(by: .seconds(29) + .milliseconds(999))
        #expect(delegate.deadlinesPassed == 0)
        loop.advanceTime(by: .milliseconds(1))
        #expect(delegate.deadlinesPassed == 1)
        loop.advanceTime(by: .seconds(120))
        #expect(delegate.deadlinesPassed == 1)
        #expect(loop.pendingTimerCount == 0)
        connection.close()
    }

    @Test func aDeadlineMovedLaterPassesAtItsNewInstantNotTheFirst() throws {
        let (connection, peer) = try startConnection()
        defer { peer.close() }
        connection.setDeadline(after: .seconds(10))
        loop.advanceTime(by: .seconds(5))
        // Activity pushes the deadline out; the timer set for the first one must re-arm, not fire.
        connection.setDeadline(after: .seconds(10))

        loop.advanceTime(by: .seconds(5))
        #expect(delegate.deadlinesPassed == 0)
        loop.advanceTime(by: .seconds(4) + .milliseconds(999))
        #expect(delegate.deadlinesPassed == 0)
        loop.advanceTime(by: .milliseconds(1))
        #expect(delegate.deadlinesPassed == 1)
        connection.close()
    }

    @Test func aDeadlineMovedEarlierOrClearedIsHonoured() throws {
        let (connection, peer) = try startConnection()
        defer { peer.close() }
        connection.setDeadline(after: .seconds(60))
        connection.setDeadline(after: .seconds(2))
        loop.advanceTime(by: .seconds(2))
        #expect(delegate.deadlinesPassed == 1)

        connection.setDeadline(after: .seconds(5))
        connection.setDeadline(nil)
        loop.advanceTime(by: .seconds(10))
        #expect(delegate.deadlinesPassed == 1)
        connection.close()
    }

    @Test func aLingeringCloseSendsTheResponseDrainsInputAndClosesAtTheLingerTimeout() throws {
        let (connection, peer) = try startConnection()
        defer { peer.close() }
        connection.setDeadline(after: .seconds(1))
        connection.write(Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))
        connection.close(afterFlush: true, linger: true, lingerTimeout: .seconds(2))
        loop.run()

        let (response, endOfStream) = peer.readAvailable()
        #expect(String(decoding: response, as: UTF8.self) == "HTTP/1.1 400 Bad Request\r\n\r\n")
        #expect(endOfStream, "the write side is shut once the response is out")
        #expect(peer.send("the rest of a request nobody reads") > 0)
        loop.run()
        #expect(delegate.received.isEmpty, "input after the close is drained, not delivered")
        #expect(!delegate.closed)

        loop.advanceTime(by: .seconds(1) + .milliseconds(999))
        #expect(!delegate.closed)
        #expect(delegate.deadlinesPassed == 0, "a linger replaces the connection's own deadline")
        loop.advanceTime(by: .milliseconds(1))
        #expect(delegate.closed)
        #expect(delegate.closeError == nil)
        #expect(loop.activeWatchCount == 0)
        #expect(peer.send("more") < 0, "the descriptor is closed")
    }

    @Test func aLingeringCloseEndsAsSoonAsThePeerCloses() throws {
        let (connection, peer) = try startConnection()
        connection.close(linger: true, lingerTimeout: .seconds(2))
        loop.run()
        #expect(!delegate.closed)
        #expect(shutdown(peer.descriptor, Int32(SHUT_WR)) == 0)
        loop.run()
        #expect(delegate.closed)
        #expect(loop.pendingTimerCount == 0, "the linger timer goes with the connection")
        peer.close()
    }

    @Test func aClosedConnectionReportsNoDeadline() throws {
        let (connection, peer) = try startConnection()
        defer { peer.close() }
        connection.setDeadline(after: .seconds(1))
        connection.close()
        loop.advanceTime(by: .seconds(5))
        #expect(delegate.closed)
        #expect(delegate.deadlinesPassed == 0)
        #expect(loop.pendingTimerCount == 0)
    }
}
