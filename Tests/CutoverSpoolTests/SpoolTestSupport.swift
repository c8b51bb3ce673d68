import CutoverLocking
import CutoverTestSupport
import Dispatch
import Foundation
import Testing

@testable import CutoverSpool

/// Opens a spool in a fresh temporary directory and closes it after `body`.
func withSpool<T>(options: SpoolOptions = SpoolOptions(), _ body: (Spool, String) throws -> T) throws -> T {
    try withTemporaryDirectory { directory in
        let spool = try Spool.open(directory: directory, options: options)
        defer { spool.close() }
        return try body(spool, directory)
    }
}

func event(
    _ id: String, contact: String = "contact-1", destinations: [String] = ["primary"], type: String = "com.whatsapp.message.received"
) -> IncomingEvent {
    IncomingEvent(
        id: id, type: type, contactKey: contact, payload: Array("{\"id\":\"\(id)\"}".utf8), destinations: destinations)
}

func request(
    _ events: [IncomingEvent], at time: Double = 1_700_000_000, route: String = "cloud",
    body: [UInt8] = Array("{\"object\":\"whatsapp_business_account\"}".utf8), quarantineReason: String? = nil
) -> IncomingRequest {
    IncomingRequest(
        receivedAt: time, route: route,
        headers: [(name: "content-type", value: "application/json"), (name: "x-hub-signature-256", value: "sha256=00")],
        body: body, events: events, quarantineReason: quarantineReason)
}

/// Submits every request (from `threads` threads at once) and waits for every completion, without sleeping.
func submitAndWait(
    _ spool: any SpoolBackend, _ requests: [IncomingRequest], threads: Int = 1, beforeWaiting: () -> Void = {}
) -> [Result<IngestReceipt, SpoolError>?] {
    let results = Locked<[Result<IngestReceipt, SpoolError>?]>(Array(repeating: nil, count: requests.count))
    let group = DispatchGroup()
    for _ in requests { group.enter() }
    let perThread = (requests.count + threads - 1) / threads
    DispatchQueue.concurrentPerform(iterations: threads) { thread in
        let start = thread * perThread
        let end = min(requests.count, start + perThread)
        guard start < end else { return }
        for index in start..<end {
            spool.submit(requests[index]) { result in
                results.withLock { $0[index] = result }
                group.leave()
            }
        }
    }
    beforeWaiting()
    let waited = group.wait(timeout: .now() + 120)
    #expect(waited == .success, "every completion must be called")
    return results.withLock { $0 }
}
