
/// One received request as a capture file holds it, one JSON object per line:
///
/// ```
/// {"received_at":"2025-06-01T12:00:00.123Z","route":"cloud","headers":{"content-type":"application/json",...},"body":"{\"object\":..."}
/// ```
///
/// `body` is the exact received text as a JSON string (so signatures over the bytes still hold);
/// a body that is not UTF-8 is `body_base64` instead. `replay` also reads `body` given as a JSON
/// value, `received_at` as Unix seconds, and a line that is just a webhook body.
package struct CapturedRequest: Sendable {
    /// Unix seconds; nil when the source does not say (a bare body).
    package var receivedAt: Double?
    /// `cloud` or `onprem/<route>`, as the spool names routes; nil when unknown.
    package var route: String?
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]

    package init(receivedAt: Double?, route: String?, headers: [(name: String, value: String)], body: [UInt8]) {
        self.receivedAt = receivedAt
        self.route = route
        self.headers = headers
        self.body = body
    }

    /// Headers never written to a capture: credentials.
    package static let excludedHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie"]

    package func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    // MARK: Writing

    /// The capture line, without its newline. Header names are lowercased; repeated headers are
    /// joined with `, `; credentials are left out.
    package func jsonLine() -> [UInt8] {
        var object = JSONObject()
        if let receivedAt { object.append("received_at", .string(RFC3339.format(receivedAt))) }
        if let route { object.append("route", .string(route)) }
        var headerObject = JSONObject()
        var seen: [String: Int] = [:]
        var values: [String] = []
        var names: [String] = []
        for header in headers {
            let name = header.name.lowercased()
            guard !Self.excludedHeaders.contains(name) else { continue }
            if let index = seen[name] {
                values[index] += ", " + header.value
            } else {
                seen[name] = names.count
                names.append(name)
                values.append(header.value)
            }
        }
        for (name, value) in zip(names, values) { headerObject.append(name, .string(value)) }
        object.append("headers", .object(headerObject))
        if let text = String(validating: body, as: UTF8.self) {
            object.append("body", .string(text))
        } else {
            object.append("body_base64", .string(Base64.encode(body)))
        }
        return JSONValue.object(object).serialized()
    }

    // MARK: Reading

    package struct ParseError: Error, CustomStringConvertible, Sendable {
        package var description: String
    }

    /// One capture line: an envelope (an object with `body` or `body_base64`) or a bare webhook body.
    package static func parse(line: [UInt8]) throws(ParseError) -> CapturedRequest {
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw ParseError(description: "not JSON: \(error)") }
        guard case .object(let object) = value else { throw ParseError(description: "expected a JSON object") }
        guard object.contains("body") || object.contains("body_base64") else {
            return CapturedRequest(receivedAt: nil, route: nil, headers: [], body: line)
        }
        var request = CapturedRequest(receivedAt: nil, route: object["route"]?.stringValue, headers: [], body: [])
        switch object["received_at"] {
        case .string(let text)?:
            guard let time = RFC3339.parse(text) else { throw ParseError(description: "received_at: not an RFC 3339 time: \(text)") }
            request.receivedAt = time
        case .number(let text)?:
            request.receivedAt = Double(text)
        case nil, .null?:
            break
        default:
            throw ParseError(description: "received_at: expected an RFC 3339 string or Unix seconds")
        }
        switch object["headers"] {
        case .object(let headers)?:
            request.headers = headers.compactMap { member in member.value.scalarText.map { (name: member.key, value: $0) } }
        case .array(let pairs)?:
            request.headers = pairs.compactMap { pair in
                guard let name = pair["name"]?.stringValue, let value = pair["value"]?.scalarText else { return nil }
                return (name: name, value: value)
            }
        default:
            break
        }
        switch object["body"] {
        case .string(let text)?: request.body = Array(text.utf8)
        case .object?, .array?: request.body = object["body"]!.serialized()
        case nil:
            guard let encoded = object["body_base64"]?.stringValue, let data = Base64.decode(encoded) else {
                throw ParseError(description: "body_base64: not base64")
            }
            request.body = data
        default:
            throw ParseError(description: "body: expected a string (the exact text) or a JSON object")
        }
        return request
    }
}
