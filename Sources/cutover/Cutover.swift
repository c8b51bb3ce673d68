import ArgumentParser

@main
struct Cutover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cutover",
        abstract: "Webhook translation proxy for WhatsApp On-Premises API <-> Cloud API migrations.",
        subcommands: [Serve.self, Translate.self, Replay.self, CheckConfig.self, SpoolCommand.self, HealthcheckCommand.self]
    )
}
