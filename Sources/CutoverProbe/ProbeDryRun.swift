import CutoverWebhooks
import HTTPTypes

/// What `--dry-run` prints: each request as it would be sent, or why it would not be.
package enum ProbeDryRun {
    package static func text(_ items: [ProbeItem], url: String, json: Bool) -> String {
        if json {
            let requests: [JSONValue] = items.map { item in
                var o: JSONObject = ["type": .string(item.name), "api": .string(item.api.rawValue), "event_id": .string(item.eventID)]
                switch item.step {
                case .send(let request):
                    o.append("url", .string(url))
                    o.append("headers", .object(JSONObject(request.headers.map { ($0.name.rawName, JSONValue.string($0.value)) })))
                    o.append("body", (try? JSONValue.parse(request.body)) ?? .string(String(decoding: request.body, as: UTF8.self)))
                case .skipped(let reason): o.append("skipped", .string(reason))
                case .deadLetter(let reason): o.append("dead_letter", .string(reason))
                case .failed(let reason): o.append("not_sent", .string(reason))
                }
                return .object(o)
            }
            return JSONValue.array(requests).jsonString + "\n"
        }
        var text = ""
        for item in items {
            switch item.step {
            case .send(let request):
                text += "# \(item.name)  \(item.eventID)\nPOST \(url)\n"
                for header in request.headers { text += "\(header.name.rawName): \(header.value)\n" }
                text += "\n" + String(decoding: request.body, as: UTF8.self) + "\n\n"
            case .skipped(let reason): text += "# \(item.name)  skipped: \(reason)\n\n"
            case .deadLetter(let reason): text += "# \(item.name)  dead letter: \(reason)\n\n"
            case .failed(let reason): text += "# \(item.name)  not sent: \(reason)\n\n"
            }
        }
        return text
    }
}
