import Foundation
@testable import CutoverWebhooks

/// Locates `fixtures/` by walking up from this file to the directory holding `Package.swift` and
/// `fixtures` (works whether the compiler reports the sandbox symlink path or the real path).
enum Fixtures {
    static let root: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let fm = FileManager.default
        while dir.path != "/" {
            if fm.fileExists(atPath: dir.appendingPathComponent("Package.swift").path),
               fm.fileExists(atPath: dir.appendingPathComponent("fixtures").path) {
                return dir.appendingPathComponent("fixtures")
            }
            dir.deleteLastPathComponent()
        }
        fatalError("fixtures directory not found above \(#filePath)")
    }()

    static func names(_ api: WebhookAPI) -> [String] {
        let dir = root.appendingPathComponent(api.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }

    static func bytes(_ api: WebhookAPI, _ name: String) -> [UInt8] {
        let url = root.appendingPathComponent(api.rawValue).appendingPathComponent(name)
        guard let data = try? Data(contentsOf: url) else { fatalError("cannot read \(url.path)") }
        return [UInt8](data)
    }

    static func json(_ api: WebhookAPI, _ name: String) throws -> JSONValue {
        try JSONValue.parse(bytes(api, name))
    }

    static var all: [(WebhookAPI, String)] {
        WebhookAPI.allCases.flatMap { api in names(api).map { (api, $0) } }
    }
}

/// Deterministic PRNG for the garbage tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func decode(_ api: WebhookAPI, _ name: String, as input: WebhookInputFormat? = nil, business: BusinessIdentity? = nil,
            route: String? = nil) throws -> [CanonicalEvent] {
    try WebhookDecoder().decode(Fixtures.bytes(api, name), api: input ?? (api == .cloud ? .cloud : .onprem),
                                business: business, route: route)
}

func render(_ events: [CanonicalEvent], _ format: WebhookOutputFormat, business: BusinessIdentity? = nil,
            policy: UnsupportedPolicy = .unknownMessage) throws -> (JSONValue?, RenderOutcome) {
    let out = WebhookRenderer.render(events: events, as: format, business: business, unsupported: policy)
    guard let body = out.body else { return (nil, out) }
    return (try JSONValue.parse(body), out)
}

extension JSONValue {
    /// Follows a path of object keys and array indices.
    func at(_ path: Any...) -> JSONValue? {
        var v: JSONValue? = self
        for p in path {
            if let k = p as? String { v = v?[k] } else if let i = p as? Int, case .array(let a)? = v, a.indices.contains(i) { v = a[i] } else { return nil }
        }
        return v
    }
}
