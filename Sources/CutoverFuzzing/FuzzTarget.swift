/// The parsers libFuzzer drives (the `Fuzz/` package links one executable per case) and the
/// normal suite replays (seeds and every input that once crashed, `CutoverFuzzingTests`).
///
/// Public, unlike the rest of the package's API: `Fuzz/` is a package of its own, so that only
/// `swift build --package-path Fuzz -Xswiftc -sanitize=fuzzer` ever links libFuzzer.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `HTTP1RequestDecoder`, fed in fuzzer-chosen pieces.
    case http1Request = "http1-request"
    /// `HTTP1ResponseDecoder`, fed in fuzzer-chosen pieces, then the end of the connection.
    case http1Response = "http1-response"
    /// A server `HTTP2Session` fed the client preface, then the input as frames.
    case http2Server = "http2-server"
    /// `JSONParser`: what parses serializes and parses back to the same value.
    case json
    /// `WebhookDecoder` (Cloud and On-Prem): decode -> render to the same API -> decode gives the same events.
    case webhook
    /// `ConfigFile.load` on YAML text.
    case config

    /// Runs one input. A trap is a bug in the code under test; a thrown `FuzzFailure` is a broken
    /// invariant the harness checked.
    public func run(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        switch self {
        case .http1Request: try HTTP1RequestHarness.run(input)
        case .http1Response: try HTTP1ResponseHarness.run(input)
        case .http2Server: try HTTP2ServerHarness.run(input)
        case .json: try JSONHarness.run(input)
        case .webhook: try WebhookHarness.run(input)
        case .config: try ConfigHarness.run(input)
        }
    }

    public func run(_ input: [UInt8]) throws(FuzzFailure) {
        let result: Result<Void, FuzzFailure> = input.withUnsafeBytes { bytes in
            do throws(FuzzFailure) {
                return .success(try run(bytes))
            } catch { return .failure(error) }
        }
        try result.get()
    }
}

/// An invariant a harness found broken, with what it saw.
public struct FuzzFailure: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}
