// The spool's delivery bookkeeping alone: a backlog of events over many contacts, claimed and
// recorded in batches until every one is delivered, on a real SQLite spool in a temporary
// directory (synchronous=FULL: every commit fsyncs, as in production). No HTTP: a "send" is
// instant, so what is timed is what the spool costs per delivered event.
//
// Built twice by scripts/bench-delivery.sh, against the base commit's CutoverSpool and against
// this tree's; `TURNS` is defined only where `Spool.recordAndClaim` exists, `CLAIMED_RESULTS` only
// where a result is made from its claim (`DeliveryResult(for:)`, as the delivery worker makes them).
//
// usage: spool-bench <events> <contacts> <mode> <batch>
//   mode `separate`: claim(limit: batch), then record(the batch): two transactions per batch.
//   mode `turns`:    recordAndClaim(previous outcomes, limit: batch): one transaction per batch.
import CutoverSpool
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 5, let events = Int(arguments[1]), let contacts = Int(arguments[2]), let batch = Int(arguments[4]) else {
    FileHandle.standardError.write(Data("usage: spool-bench <events> <contacts> separate|turns <batch>\n".utf8))
    exit(2)
}
let mode = arguments[3]

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let directory = NSTemporaryDirectory() + "spool-bench-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
defer { try? FileManager.default.removeItem(atPath: directory) }

do {
    let spool = try Spool.open(directory: directory)
    defer { spool.close() }
    // The backlog, as ingest writes it (one event per request, arrival order), in a few big transactions.
    let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 600)
    var index = 0
    while index < events {
        let chunk = (index..<min(events, index + 1000)).map { n in
            IncomingRequest(
                receivedAt: 1_000, route: "cloud", headers: [], body: [],
                events: [IncomingEvent(id: "wamid.\(n)", type: "com.whatsapp.message.received", contactKey: "c\(n % contacts)", payload: payload, destinations: ["d"])])
        }
        _ = try spool.ingest(chunk)
        index += chunk.count
    }

    func deliveredResults(_ claimed: [ClaimedDelivery]) -> [DeliveryResult] {
        #if CLAIMED_RESULTS
        claimed.map { DeliveryResult(for: $0, result: .delivered(status: 200)) }
        #else
        claimed.map { DeliveryResult(deliveryID: $0.id, result: .delivered(status: 200)) }
        #endif
    }

    let wallStart = DispatchTime.now().uptimeNanoseconds
    let cpuStart = cpuSeconds()
    var delivered = 0
    var transactions = 0
    switch mode {
    case "separate":
        while delivered < events {
            let claimed = try spool.claim(destination: "d", now: 2_000, limit: batch)
            transactions += 1
            if claimed.isEmpty { break }
            try spool.record(deliveredResults(claimed), now: 2_000)
            transactions += 1
            delivered += claimed.count
        }
    case "turns":
        #if TURNS
        var outcomes: [DeliveryResult] = []
        while true {
            let turn = try spool.recordAndClaim(outcomes, destination: "d", now: 2_000, limit: batch)
            transactions += 1
            delivered += outcomes.count
            if turn.claimed.isEmpty { break }
            outcomes = deliveredResults(turn.claimed)
        }
        #else
        print("n/a")
        exit(0)
        #endif
    default:
        FileHandle.standardError.write(Data("unknown mode \(mode)\n".utf8))
        exit(2)
    }
    let wall = Double(DispatchTime.now().uptimeNanoseconds - wallStart) / 1e3
    let cpu = (cpuSeconds() - cpuStart) * 1e6
    let left = try spool.stats().deliveries["d"]?.pending ?? 0
    guard delivered == events, left == 0 else {
        FileHandle.standardError.write(Data("delivered \(delivered) of \(events), \(left) left pending\n".utf8))
        exit(1)
    }
    // µs per delivered event: wall, CPU, and transactions per 100 events.
    print(String(format: "%.1f %.1f %.2f", wall / Double(events), cpu / Double(events), Double(transactions) * 100 / Double(events)))
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}
