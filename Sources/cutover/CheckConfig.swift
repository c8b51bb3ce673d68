import ArgumentParser
import CutoverConfiguration
import CutoverRelay

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a config file (and that its secrets resolve) without starting anything.",
        discussion: "Errors name the file, line, column and key. CUTOVER_* environment overrides are applied first."
    )

    @Option(help: "YAML config file.")
    var config: String?

    func run() throws {
        let config = try ConfigFile.load(path: config)
        let settings = try RelaySettings(config: config)
        let listeners = [settings.listen.map { "http://\($0)" }, settings.tls.map { "https://\($0.listen)" }].compactMap { $0 }
        print(
            "config OK: listening on \(listeners.joined(separator: " and ")), \(settings.onpremRoutes.count) On-Prem route(s), "
                + "\(settings.destinations.count) destination(s)"
        )
    }
}
