import ArgumentParser
import CutoverConfiguration
import CutoverRelay

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a config file (that its secrets resolve and its certificates load) without starting anything.",
        discussion: """
            Errors name the file, line, column and key. CUTOVER_* environment overrides are applied first; \
            a CUTOVER_* variable that looks like an override but matches no key is an error. Prints every \
            value given by the file or the environment, and where it came from.
            """
    )

    @Option(help: "YAML config file.")
    var config: String?

    func run() throws {
        let config = try ConfigFile.load(path: config)
        let settings = try RelaySettings(config: config)
        try settings.checkTLSFiles()
        let listeners = [settings.listen.map { "http://\($0)" }, settings.tls.map { "https://\($0.listen)" }].compactMap { $0 }
        print(
            "config OK: listening on \(listeners.joined(separator: " and ")), \(settings.onpremRoutes.count) On-Prem route(s), "
                + "\(settings.destinations.count) destination(s)"
        )
        for entry in config.entries {
            guard let origin = config.origins[entry.path] else { continue }
            print("  \(entry.path): \(entry.text)  (\(origin)\(entry.reload == .restart ? "; a change needs a restart" : ""))")
        }
    }
}
