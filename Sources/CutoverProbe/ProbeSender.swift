import CutoverHTTP
import CutoverHTTPClient
import CutoverSockets
import CutoverTLS
import CutoverWebhooks
import Dispatch
import HTTPTypes

/// What the endpoint made of one request.
package enum ProbeAnswer: Sendable, Equatable {
    /// A response: its status and the start of its body (at most `ProbeSender.bodyExcerptBytes`).
    case response(status: Int, body: [UInt8])
    /// None: why, and whether the endpoint could not be reached at all (no name, no connection).
    case noAnswer(reason: String, unreachable: Bool)
}

/// POSTs probe requests to one URL, one at a time, over Cutover's own HTTP client (the one
/// delivery uses: keep-alive, HTTP/2 over TLS when the endpoint offers it).
package final class ProbeSender: Sendable {
    package static let bodyExcerptBytes = 512

    package let url: DestinationURL
    private let client: HTTPClient
    private let tls: TLSContext?

    /// `tls` is the destination's own client TLS (a config's `ca_file`, client certificate).
    package init(url: DestinationURL, timeoutSeconds: Double, tls: TLSContext? = nil) {
        self.url = url
        self.tls = tls
        let timeout = Duration.milliseconds(Int(timeoutSeconds * 1000))
        client = HTTPClient(
            configuration: HTTPClientConfiguration(connectTimeout: timeout, requestTimeout: timeout),
            loops: DispatchEventLoop.makeGroup(count: 1, label: "cutover.probe")
        )
    }

    /// The answer and the time from handing the request to the client to its outcome.
    package func send(_ request: OutboundRequest) async -> (answer: ProbeAnswer, milliseconds: Double) {
        let clientRequest = ClientRequest(url: url, method: .post, headerFields: request.headers, body: request.body, tls: tls)
        let started = DispatchTime.now().uptimeNanoseconds
        let answer = await withCheckedContinuation { (continuation: CheckedContinuation<ProbeAnswer, Never>) in
            client.execute(clientRequest) { result in
                switch result {
                case .success(let response):
                    continuation.resume(returning: .response(
                        status: response.head.status.code, body: Array(response.body.prefix(Self.bodyExcerptBytes))))
                case .failure(let error):
                    continuation.resume(returning: .noAnswer(reason: error.description, unreachable: Self.isUnreachable(error)))
                }
            }
        }
        return (answer, Double(DispatchTime.now().uptimeNanoseconds &- started) / 1e6)
    }

    /// No name, no connection, or no TLS session: nothing reached the endpoint's HTTP layer.
    private static func isUnreachable(_ error: HTTPClientError) -> Bool {
        switch error {
        case .resolve, .connect, .tls: true
        case .io, .timedOut, .connectionClosed, .malformedResponse, .http2: false
        }
    }

    package func shutdown() { client.shutdown() }
}
