import ArgumentParser
import CutoverWebhooks
import Foundation

struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Translate webhook bodies through the canonical model, offline.",
        discussion: """
            Reads each FILE (or standard input for -) as one webhook body, or as JSON lines with one \
            body per line, and writes one translated JSON document per line: one body per input body \
            for onprem and cloud, one CloudEvent per line for canonical. Translating to the input's own \
            API gives back an equal JSON value.
            """
    )

    @Option(help: "Output shape: onprem, cloud or canonical.")
    var to: WebhookOutputFormat

    @Option(help: "Input shape: auto, cloud or onprem.")
    var from: WebhookInputFormat = .auto

    @Option(name: .customLong("phone-number-id"), help: "Business phone number id (On-Prem bodies carry none).")
    var phoneNumberID: String?

    @Option(name: .customLong("display-phone-number"), help: "Business display phone number.")
    var displayPhoneNumber: String?

    @Option(name: .customLong("waba-id"), help: "WhatsApp Business Account id.")
    var wabaID: String?

    @Option(help: "What to do with notifications the target API has no concept for: unknownMessage, drop or passThrough.")
    var unsupported: UnsupportedPolicy = .defaultPolicy

    @Option(help: "onprem: a user with no phone number (business-scoped user id only): dead_letter (report, exit 1) or user_id (BSUID as wa_id).")
    var phoneless: PhonelessPolicy = .defaultPolicy

    @Argument(help: "Webhook body files; - or nothing reads standard input.")
    var files: [String] = []

    func run() throws {
        let business = BusinessIdentity(phoneNumberID: phoneNumberID, displayPhoneNumber: displayPhoneNumber, wabaID: wabaID)
        let override = business.isEmpty ? nil : business
        let decoder = WebhookDecoder()
        let output = FileHandle.standardOutput
        var failures = 0
        for file in files.isEmpty ? ["-"] : files {
            for (index, body) in try Self.bodies(in: file).enumerated() {
                let label = files.isEmpty || file == "-" ? "stdin" : file
                do {
                    let events = try decoder.decode(body, api: from, business: override)
                    let documents: [[UInt8]]
                    if to == .canonical {
                        documents = events.map { $0.serialized() }
                    } else {
                        let outcome = WebhookRenderer.render(
                            events: events, as: to, business: override, unsupported: unsupported, phoneless: phoneless
                        )
                        for dropped in outcome.dropped {
                            FileHandle.standardError.write(Data("\(label): not rendered \(dropped.eventID): \(dropped.reason)\n".utf8))
                        }
                        // A notification that must reach the endpoint and cannot is a failure, not a filter.
                        failures += outcome.dropped.filter(\.deadLetter).count
                        documents = outcome.body.map { [$0] } ?? []
                    }
                    for document in documents { output.write(Data(document + [UInt8(ascii: "\n")])) }
                } catch {
                    failures += 1
                    FileHandle.standardError.write(Data("\(label)#\(index + 1): \(error)\n".utf8))
                }
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// One body per file, or one per line when the file is JSON lines.
    static func bodies(in file: String) throws -> [[UInt8]] {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            data = contents
        }
        let bytes = [UInt8](data)
        if (try? JSONValue.parse(bytes)) != nil { return [bytes] }
        let lines = bytes.split(separator: UInt8(ascii: "\n")).map(Array.init).filter { line in
            line.contains { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }
        }
        return lines.isEmpty ? [bytes] : lines
    }
}

extension WebhookOutputFormat: ExpressibleByArgument {}
extension WebhookInputFormat: ExpressibleByArgument {}
extension UnsupportedPolicy: ExpressibleByArgument {}
extension PhonelessPolicy: ExpressibleByArgument {}
