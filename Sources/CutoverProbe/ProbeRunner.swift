import CutoverHTTPClient
import CutoverWebhooks

/// Sends the plan's requests one at a time, so each latency is the endpoint's alone, and stops at
/// the first request that cannot reach the endpoint before any answered: the rest would fail alike.
package enum ProbeRunner {
    package static func run(_ items: [ProbeItem], format: DeliveryFormat, sender: ProbeSender) async -> ProbeReport {
        var results: [ProbeResult] = []
        var unreachable: String?
        var answered = false
        for item in items {
            var result = ProbeResult(name: item.name, api: item.api, eventID: item.eventID, outcome: .notSent)
            switch item.step {
            case .skipped(let reason):
                result.outcome = .skipped
                result.detail = reason
            case .deadLetter(let reason):
                result.outcome = .deadLetter
                result.detail = reason
            case .failed(let reason):
                result.detail = reason
            case .send(let request):
                if let unreachable {
                    result.detail = "not sent: \(unreachable)"
                    break
                }
                let (answer, milliseconds) = await sender.send(request)
                result.milliseconds = milliseconds
                switch answer {
                case .response(let status, let body):
                    answered = true
                    result.status = status
                    result.outcome = (200..<300).contains(status) ? .accepted : .refused
                    if result.outcome == .refused { result.detail = ProbeResult.firstLine(of: body) }
                case .noAnswer(let reason, let isUnreachable):
                    result.outcome = .noAnswer
                    result.detail = reason
                    if isUnreachable, !answered { unreachable = reason }
                }
            }
            results.append(result)
        }
        return ProbeReport(url: sender.url.description, format: format, results: results, unreachable: unreachable)
    }
}
