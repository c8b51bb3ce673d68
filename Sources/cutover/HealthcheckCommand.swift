import ArgumentParser
import CutoverHTTP
import CutoverHTTPClient
import CutoverSockets
import HTTPTypes

/// `cutover healthcheck`: the probe a container's HEALTHCHECK runs. The runtime image has no curl
/// (nor a shell), so the binary checks itself, over the same client it delivers with.
struct HealthcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "GET a health URL of a running Cutover; exit 0 on a 200, 1 otherwise (for HEALTHCHECK and probes).",
        discussion: """
            Prints the status, or why there was none, on one line. Use /healthz (alive) for restarts and \
            /readyz (spool writable, listeners up) for load balancing.
            """
    )

    @Option(help: "The URL to GET.")
    var url: String = "http://127.0.0.1:8080/healthz"

    @Option(help: "Seconds to wait for the answer, connecting included.")
    var timeout: Double = 5

    func validate() throws {
        guard DestinationURL(url) != nil else { throw ValidationError("--url: expected an http:// or https:// URL, got \(url)") }
        guard timeout > 0 else { throw ValidationError("--timeout: expected a positive number of seconds, got \(timeout)") }
    }

    func run() async throws {
        guard let destination = DestinationURL(url) else { throw ValidationError("--url: expected an http:// or https:// URL, got \(url)") }
        let limit = Duration.milliseconds(Int(timeout * 1000))
        let client = HTTPClient(
            configuration: HTTPClientConfiguration(connectTimeout: limit, requestTimeout: limit),
            loops: DispatchEventLoop.makeGroup(count: 1, label: "cutover.healthcheck")
        )
        defer { client.shutdown() }
        let result = await withCheckedContinuation { continuation in
            client.execute(ClientRequest(url: destination, method: .get)) { continuation.resume(returning: $0) }
        }
        switch result {
        case .success(let response) where response.head.status.code == 200:
            print("\(url): 200")
        case .success(let response):
            print("\(url): \(response.head.status.code) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
            throw ExitCode.failure
        case .failure(let error):
            print("\(url): \(error)")
            throw ExitCode.failure
        }
    }
}
