import CutoverWebhooks
import Foundation

/// One received request as a capture file holds it, one JSON object per line:
///
/// ```
/// {"received_at":"2025-06-01T12:00:00.123Z","route":"cloud","headers":{"content-type":"application/json",...},"body":"{\"object\":..."}
/// ```
///
/// `body` is the exact received text as a JSON string (so signatures over the bytes still hold);
/// a body that is not UTF-8 is `body_base64` instead. `replay` also reads `body` given as a JSON
/// value, `received_at` as Unix seconds, and a line that is just a webhook body.
public struct CapturedRequest: Sendable {
    /// Unix seconds; nil when the source does not say (a bare body).
    public var receivedAt: Double?
    /// `cloud` or `onprem/<route>`, as the spool names routes; nil when unknown.
    public var route: String?
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(receivedAt: Double?, route: String?, headers: [(name: String, value: String)], body: [UInt8]) {
        self.receivedAt = receivedAt
        self.route = route
        self.headers = headers
        self.body = body
    }

    /// Headers never written to a capture: credentials.
    public static let excludedHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie"]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    // MARK: Writing

    /// The capture line, without its newline. Header names are lowercased; repeated headers are
    /// joined with `, `; credentials are left out.
    public func jsonLine() -> [UInt8] {
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
            object.append("body_base64", .string(Data(body).base64EncodedString()))
        }
        return JSONValue.object(object).serialized()
    }

    // MARK: Reading

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// One capture line: an envelope (an object with `body` or `body_base64`) or a bare webhook body.
    public static func parse(line: [UInt8]) throws(ParseError) -> CapturedRequest {
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
            guard let encoded = object["body_base64"]?.stringValue, let data = Data(base64Encoded: encoded) else {
                throw ParseError(description: "body_base64: not base64")
            }
            request.body = [UInt8](data)
        default:
            throw ParseError(description: "body: expected a string (the exact text) or a JSON object")
        }
        return request
    }
}

/// RFC 3339 times in UTC with milliseconds, without a formatter (captures write one per request).
public enum RFC3339 {
    public static func format(_ seconds: Double) -> String {
        var whole = time_t(seconds.rounded(.down))
        var millis = Int(((seconds - Double(whole)) * 1000).rounded())
        if millis >= 1000 {
            whole += 1
            millis -= 1000
        }
        var parts = tm()
        gmtime_r(&whole, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let date = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
        let time = "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))"
        return date + "T" + time + "Z"
    }

    /// `2025-06-01T12:00:00Z`, `2025-06-01T12:00:00.5+02:00`, `2025-06-01 12:00:00z`; nil otherwise.
    public static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + digits] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += digits
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect("Tt "), let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2), expect(":"), let minutes = number(2) else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Double(timegm(&parts)) - Double(offset) + fraction
    }
}
