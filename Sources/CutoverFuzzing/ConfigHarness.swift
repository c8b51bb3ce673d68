import CutoverConfiguration

/// Any YAML text loads or fails with an error; it never traps. No environment: the input alone decides.
/// Settings are not built: they read the files a config names (secrets, TLS), and the input could name /dev/zero.
enum ConfigHarness {
    static func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) {
        do {
            _ = try ConfigFile.load(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yml", environment: [:])
        } catch {
            if "\(error)".isEmpty { throw FuzzFailure("an error without a message: \(type(of: error))") }
        }
    }
}
