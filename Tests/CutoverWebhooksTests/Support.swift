import CutoverTestSupport
import Foundation
@testable import CutoverWebhooks

/// The committed fixtures, by API and name. A name is a file of `fixtures/<api>/`, or, for the
/// later sets of that API's bodies (`fixtures/cloud-2026/`), `<set>/<file>`.
enum Fixtures {
    static let root: URL = Repo.fixtures

    /// Directories of bodies beside `fixtures/<api>/`.
    static let laterSets: [WebhookAPI: [String]] = [.cloud: ["cloud-2026"], .onprem: []]

    /// Only bodies the API sent: `onprem_expected_*` files are what an endpoint should receive.
    static func isBody(_ file: String) -> Bool { file.hasSuffix(".json") && !file.hasPrefix("onprem_expected_") }

    static func files(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(directory).path)) ?? []
        return names.filter(isBody).sorted()
    }

    static func names(_ api: WebhookAPI) -> [String] {
        files(in: api.rawValue) + (laterSets[api] ?? []).flatMap { set in files(in: set).map { "\(set)/\($0)" } }
    }

    static func url(_ api: WebhookAPI, _ name: String) -> URL {
        name.contains("/") ? root.appendingPathComponent(name) : root.appendingPathComponent(api.rawValue).appendingPathComponent(name)
    }

    /// The SOURCES.md that gives the fixture's provenance.
    static func sources(_ api: WebhookAPI, _ name: String) -> URL {
        url(api, name).deletingLastPathComponent().appendingPathComponent("SOURCES.md")
    }

    static func bytes(_ api: WebhookAPI, _ name: String) -> [UInt8] {
        let url = url(api, name)
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
