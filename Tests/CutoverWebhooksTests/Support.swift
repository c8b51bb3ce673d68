import CutoverTestSupport
import Foundation
@testable import CutoverWebhooks

/// The committed fixtures, by API and name.
enum Fixtures {
    static let root: URL = Repo.fixtures

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
