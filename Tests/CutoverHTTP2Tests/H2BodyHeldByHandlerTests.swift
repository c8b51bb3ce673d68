import CutoverHTTPServer
import CutoverSockets
import CutoverTestSupport
import Foundation
import Testing

@Suite struct H2BodyHeldByHandlerTests {
    let loops = TestLoops.make(count: 2, label: "test.h2.held")

    /// A stream reset (or a connection closed) while its handler still decodes the body: the
    /// bytes are in memory until the handler answers, so the budget keeps them until then.
    @Test(arguments: [false, true])
    func aBodyStaysReservedPastItsStreamsResetUntilTheHandlerAnswers(closeConnection: Bool) throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxInflightBodyBytes = 8 << 20
        let handler = GateHandler()
        let observer = BudgetObserver()
        let server = HTTPServer(configuration: configuration, handler: handler, observer: observer, loops: loops)
        defer { server.shutdown() }
        let port = try server.listen(on: HostAndPort(host: "127.0.0.1", port: 0)).port
        let connection = try RawConnection(port: port)
        connection.sendPreface()
        connection.send(FlowControlledClient.postHead(streamID: 1))
        connection.send(RawFrame.encode(type: RawFrame.data, flags: 0x1, streamID: 1, payload: [UInt8](repeating: 0x78, count: 16_000)))
        #expect(handler.nextArrival())
        let held = server.bodyBudget.reservedBytes
        #expect(held >= 16_000)
        if closeConnection {
            connection.abort()
            #expect(observer.nextClose())
        } else {
            connection.send(RawFrame.encode(type: RawFrame.rstStream, streamID: 1, payload: [0, 0, 0, 8]))
            // Frames are taken in order: once the PING is answered, the reset was handled.
            connection.send(RawFrame.encode(type: RawFrame.ping, payload: [UInt8](repeating: 7, count: 8)))
            #expect(connection.readFrames { $0.type == RawFrame.ping && $0.flags & 1 != 0 }.ended == false)
        }
        #expect(server.bodyBudget.reservedBytes == held)
        handler.open()
        #expect(observer.waitForValue { $0 == 0 })
        #expect(server.bodyBudget.reservedBytes == 0)
    }
}
