import ArgumentParser
import Foundation

@main
struct Cutover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cutover",
        abstract: "Webhook translation proxy for WhatsApp On-Premises API <-> Cloud API migrations.",
        subcommands: [Serve.self, Translate.self, Replay.self, CheckConfig.self, SpoolCommand.self, Probe.self]
    )

    /// ArgumentParser's own `main`, except that `cutover probe` exits 2 on a usage error (scripts
    /// gate a cutover on it: 1 must mean the endpoint refused something).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if CommandLine.arguments.dropFirst().first == Probe._commandName, exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }
}
