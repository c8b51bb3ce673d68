import CutoverWebhooks

/// What parses serializes to a text that parses back to the same value, and serializing that
/// value again gives the same bytes (the stored canonical form must be a fixed point).
enum JSONHarness {
    static func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) {
        guard let value = try? JSONParser().parse(bytes) else { return }
        for sortedKeys in [false, true] {
            let text = value.serialized(sortedKeys: sortedKeys)
            let reparsed: JSONValue
            do { reparsed = try JSONValue.parse(text) } catch {
                throw FuzzFailure("serialized JSON does not parse (\(error)): \(String(decoding: text, as: UTF8.self))")
            }
            if !sortedKeys, reparsed != value {
                throw FuzzFailure("serialized JSON parses to another value: \(String(decoding: text, as: UTF8.self))")
            }
            if reparsed.serialized(sortedKeys: sortedKeys) != text {
                throw FuzzFailure("serializing twice differs: \(String(decoding: text, as: UTF8.self))")
            }
        }
    }
}
