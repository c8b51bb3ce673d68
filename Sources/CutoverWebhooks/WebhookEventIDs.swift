/// The event ids a body decodes to, without building the events: what the ingress asks the spool's
/// dedup index about before it normalizes and renders anything (a retried webhook whose every id
/// is already stored is answered at once).
///
/// It walks the body the way `decode(json:api:business:route:)` splits it and takes each item's id
/// from the same functions, so for every body that decodes, the ids are the decoded events' ids in
/// order (`WebhookEventIDTests` checks every fixture). Whenever `decode` would throw it returns
/// nil instead, and the caller takes the full path, which reports the error as before.
extension WebhookDecoder {
    package func eventIDs(
        json root: JSONValue, api: WebhookInputFormat, business: BusinessIdentity? = nil, route: String? = nil
    ) -> [String]? {
        guard case .object(let object) = root else { return nil }
        let resolved: WebhookAPI
        switch api {
        case .cloud: resolved = .cloud
        case .onprem: resolved = .onprem
        case .auto:
            guard let detected = WebhookDecoder.detect(object) else { return nil }
            resolved = detected
        }
        do throws(WebhookDecodeError) {
            switch resolved {
            case .cloud:
                guard case .string("whatsapp_business_account")? = object["object"] else { return nil }
                return try cloudIDs(object, fallback: business)
            case .onprem:
                return try onPremIDs(object, business: business ?? BusinessIdentity(), route: route)
            }
        } catch {
            return nil
        }
    }

    /// The item arrays of a messages value or an On-Prem body, as the decoders pick them: the first
    /// member of each item key whose value is a non-empty array of objects.
    private static func itemArrays(_ container: JSONObject) -> [(key: String, items: JSONObjects)] {
        var arrays: [(key: String, items: JSONObjects)] = []
        for member in container where Keys.itemArrays.contains(member.key) {
            if let items = objectArray(member.value), !arrays.contains(where: { $0.key == member.key }) {
                arrays.append((member.key, items))
            }
        }
        return arrays
    }

    private func cloudIDs(_ root: JSONObject, fallback: BusinessIdentity?) throws(WebhookDecodeError) -> [String] {
        guard case .array(let entries)? = root["entry"] else { throw .malformedEnvelope("entry") }
        var ids: [String] = []
        for entryValue in entries {
            guard case .object(let entry) = entryValue, case .array(let changes)? = entry["changes"] else {
                throw .malformedEnvelope("entry")
            }
            for changeValue in changes {
                guard case .object(let change) = changeValue else { throw .malformedEnvelope("change") }
                guard ids.count < maxEvents else { throw .tooManyEvents(limit: maxEvents) }
                let field = change["field"]?.stringValue ?? ""
                let value = change["value"]
                let metadata = value?.objectValue?["metadata"]?.objectValue
                let business = BusinessIdentity(
                    phoneNumberID: metadata?["phone_number_id"]?.scalarText ?? fallback?.phoneNumberID,
                    displayPhoneNumber: metadata?["display_phone_number"]?.scalarText ?? fallback?.displayPhoneNumber,
                    wabaID: entry["id"]?.scalarText ?? fallback?.wabaID)
                let before = ids.count
                if field == "messages", case .object(let messagesValue)? = value {
                    let arrays = Self.itemArrays(messagesValue)
                    guard ids.count + arrays.reduce(0, { $0 + $1.items.count }) <= maxEvents else {
                        throw .tooManyEvents(limit: maxEvents)
                    }
                    try Self.appendItemIDs(arrays, business: business, route: nil, to: &ids)
                }
                if ids.count == before {
                    let name = field.isEmpty ? "unknown_field" : field
                    ids.append(
                        try hashedID(
                            prefix: "\(name):sha256:", business: business, route: nil,
                            parts: [name, entry["time"]?.scalarText ?? ""], item: value ?? .null))
                }
            }
        }
        return ids
    }

    private func onPremIDs(_ root: JSONObject, business: BusinessIdentity, route: String?) throws(WebhookDecodeError) -> [String] {
        let arrays = Self.itemArrays(root)
        guard !arrays.isEmpty else { throw .unrecognizedShape(keys: []) }
        guard arrays.reduce(0, { $0 + $1.items.count }) <= maxEvents else { throw .tooManyEvents(limit: maxEvents) }
        var ids: [String] = []
        try Self.appendItemIDs(arrays, business: business, route: route, to: &ids)
        return ids
    }

    /// Both decoders take an item's id from the item as the sender wrote it (On-Prem statuses before
    /// their mapping to Cloud vocabulary).
    private static func appendItemIDs(
        _ arrays: [(key: String, items: JSONObjects)], business: BusinessIdentity, route: String?, to ids: inout [String]
    ) throws(WebhookDecodeError) {
        for (key, items) in arrays {
            for item in items {
                switch key {
                case "messages": ids.append(try messageEventID(item, business: business, route: route))
                case "statuses": ids.append(try statusEventID(item, business: business, route: route))
                default:
                    ids.append(try hashedID(prefix: "error:sha256:", business: business, route: route, parts: ["error"], item: .object(item)))
                }
            }
        }
    }
}

extension WebhookDecoder {
    /// `parse(_:)` over an array's bytes.
    package func parse(_ body: [UInt8]) throws(WebhookDecodeError) -> JSONValue {
        let result: Result<JSONValue, WebhookDecodeError> = body.withUnsafeBytes { raw in
            do throws(WebhookDecodeError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
