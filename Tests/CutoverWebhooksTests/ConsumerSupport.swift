import CutoverTestSupport
import Foundation
import Testing
@testable import CutoverWebhooks

/// Why a consumer run failed: the tests record it with the tool's own output.
struct ConsumerFailure: Error, CustomStringConvertible {
    var description: String
}

/// The consumer scripts (`scripts/consumers/`), run on the fidelity tests' output.
enum External {
    /// Runs `scripts/consumers/<script>` with the venv's python; throws with the script's output
    /// when it exits non-zero.
    static func consumer(_ script: String, lines: [JSONValue], arguments: [String] = [], python: String? = nil) throws -> String {
        let interpreter = try python ?? Repo.consumersPython.get()
        var input: [UInt8] = []
        for line in lines {
            input.append(contentsOf: line.serialized())
            input.append(0x0A)
        }
        let r = try runCommand(interpreter, [Repo.path("scripts/consumers/\(script)")] + arguments, stdin: Data(input))
        guard r.status == 0 else {
            throw ConsumerFailure(description: "\(script) rejected the output (status \(r.status)):\n\(r.output)\(r.error)")
        }
        return r.output
    }
}

extension JSONValue {
    /// UTF-8 text of the compact serialization.
    var text: String { String(decoding: serialized(), as: UTF8.self) }
}

/// Every JSON field path of a body, array indices collapsed to `[]` (the paths docs/mapping.md lists).
/// Cloud: envelope keys as `entry[].…`; a `messages` change's value relative to the value; any other
/// change's value prefixed with its field name. On-Prem: relative to the body. Leaves only (scalars,
/// empty arrays, empty objects).
enum FieldPaths {
    static func of(_ body: JSONValue, api: WebhookAPI) -> Set<String> {
        var out = Set<String>()
        guard api == .cloud, case .object(let root) = body else {
            walk(body, "", &out)
            return out
        }
        for m in root where m.key != "entry" { walk(m.value, m.key, &out) }
        for entry in root["entry"]?.arrayValue ?? [] {
            guard case .object(let e) = entry else { continue }
            for m in e where m.key != "changes" { walk(m.value, "entry[]." + m.key, &out) }
            for change in e["changes"]?.arrayValue ?? [] {
                guard case .object(let c) = change else { continue }
                for m in c where m.key != "value" { walk(m.value, "entry[].changes[]." + m.key, &out) }
                let field = c["field"]?.stringValue ?? ""
                if let value = c["value"] { walk(value, field == "messages" ? "" : field, &out) }
            }
        }
        return out
    }

    static func walk(_ v: JSONValue, _ prefix: String, _ out: inout Set<String>) {
        switch v {
        case .object(let o):
            if o.isEmpty, !prefix.isEmpty { out.insert(prefix) }
            for m in o { walk(m.value, prefix.isEmpty ? m.key : prefix + "." + m.key, &out) }
        case .array(let a):
            if a.isEmpty, !prefix.isEmpty { out.insert(prefix) }
            for e in a { walk(e, prefix + "[]", &out) }
        default:
            if !prefix.isEmpty { out.insert(prefix) }
        }
    }
}

/// fixtures/cloud-2026: the 2026-shaped Cloud bodies (`p*.json`) and the On-Prem bodies Cutover
/// should send for some of them (`onprem_expected_*.json`), with provenance in its SOURCES.md.
enum Cloud2026Fixtures {
    static let directory = Repo.fixtures.appendingPathComponent("cloud-2026")

    static func names(prefix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
    }

    /// The Cloud bodies.
    static var cloudNames: [String] { names(prefix: "p") }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

/// What one destination is sent for one event, as delivery builds it (`OutboundRequestBuilder`,
/// one event per request), or why nothing is sent.
enum DeliveredBody {
    case body(JSONValue)
    /// The delivery becomes a dead letter (e.g. a phone-less item for On-Prem by default).
    case deadLetter(reason: String)
    /// A webhook field (template, account, ... updates) the target API has no body for.
    case managementField(String)
    /// Left out by the `unsupported` policy (a status or message the target has no equivalent of).
    case filtered(reason: String)

    static func of(_ event: CanonicalEvent, as format: DeliveryFormat, phoneless: PhonelessPolicy = .defaultPolicy,
                   business: BusinessIdentity? = nil) throws -> DeliveredBody {
        let builder = OutboundRequestBuilder(format: format, phoneless: phoneless, business: business)
        switch try builder.request(event: event, now: 0) {
        case .send(let request): return .body(try JSONValue.parse(request.body))
        case .deadLetter(let reason): return .deadLetter(reason: reason)
        case .filtered(let reason):
            if case .field(let field) = event.kind { return .managementField(field) }
            return .filtered(reason: reason)
        }
    }
}
