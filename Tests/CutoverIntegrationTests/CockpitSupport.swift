import CutoverTestSupport
import Foundation
import Testing

/// Headless Chromium (Debian's `chromium`), started by the test and driven over the DevTools
/// protocol by `scripts/cockpit/cdp.py`, one run per step. Killed with its process group when the
/// test lets go of it.
final class HeadlessChromium: Sendable {
    let process: PeerProcess
    let devToolsPort: Int
    private let profile: TemporaryDirectory
    private let python: String

    init() throws {
        python = try Repo.cockpitPython.get()
        profile = try TemporaryDirectory(prefix: "cutover-chromium")
        process = try PeerProcess(
            "/usr/bin/chromium",
            [
                "--headless=new", "--no-sandbox", "--remote-debugging-port=0", "--user-data-dir=\(profile.path)", "--no-first-run",
                "--no-default-browser-check", "--disable-gpu", "--hide-scrollbars", "--disable-extensions", "--window-size=1400,1000", "about:blank",
            ])
        let marker = "DevTools listening on ws://127.0.0.1:"
        let line = try process.waitForLine(.stderr, timeout: 60) { $0.contains(marker) }
        guard let port = Int(line[line.range(of: marker)!.upperBound...].prefix { $0.isNumber }) else {
            throw TestFailure("chromium printed \(line)")
        }
        devToolsPort = port
    }

    func stop() { process.kill() }

    @discardableResult
    private func cdp(_ arguments: [String]) throws -> CommandResult {
        try runCommand(python, [Repo.path("scripts/cockpit/cdp.py"), String(devToolsPort)] + arguments, timeout: 90)
    }

    func navigate(_ url: String) throws {
        let result = try cdp(["navigate", url])
        guard result.status == 0 else { throw TestFailure("navigate \(url): \(result.output)\(result.error)") }
    }

    /// The expression's value (JSON-decoded).
    func evaluate(_ expression: String) throws -> Any? {
        let result = try cdp(["eval", expression])
        guard result.status == 0 else { throw TestFailure("eval \(expression): \(result.output)\(result.error)") }
        return try JSONSerialization.jsonObject(with: Data(result.output.utf8), options: [.fragmentsAllowed])
    }

    /// Polls the expression until its value is truthy (a DOM condition with a deadline); throws
    /// with the last value when it never is.
    @discardableResult
    func wait(_ what: String, _ expression: String, timeout: Double = 30) throws -> Any? {
        let result = try cdp(["wait", expression, String(timeout)])
        guard result.status == 0 else {
            throw TestFailure("the page never showed \(what) within \(timeout) s; last value \(result.output) \(result.error)")
        }
        return try JSONSerialization.jsonObject(with: Data(result.output.utf8), options: [.fragmentsAllowed])
    }

    /// A PNG of the element into `.build/cockpit-screenshots/NAME.png`, for a person to look at.
    func screenshot(_ selector: String, name: String) throws {
        let folder = Repo.url(".build/cockpit-screenshots")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("\(name).png").path
        let result = try cdp(["screenshot", selector, path])
        guard result.status == 0 else { throw TestFailure("screenshot \(selector): \(result.output)\(result.error)") }
        print("cockpit screenshot: \(path)")
    }

    /// Logs in through the page's own form, as an operator would.
    func logIn(admin: String, token: String) throws {
        try navigate(admin + "/cockpit")
        try wait("the login form", "!!document.getElementById('token')")
        _ = try evaluate(
            "document.getElementById('token').value = \(Self.literal(token)); document.querySelector('form').submit(); true")
        try wait("the cockpit after logging in", "document.title === 'Cutover cockpit' && Number(document.body.dataset.refreshes || 0) >= 1")
    }

    /// `text` as a JavaScript string literal.
    static func literal(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// `cutover serve` with the admin listener and the destinations a cockpit test needs.
struct CockpitRelay {
    static let token = "cockpit-admin-token-0123456789abcdef"
    static let appSecret = "cockpit-app-secret"
    static let phoneNumberID = "106540352242922"

    let directory: TemporaryDirectory
    let cutover: CutoverServer
    let admin: String

    /// `destinations` is the YAML list under `destinations:`.
    init(destinations: String, delivery: String = "") throws {
        directory = try TemporaryDirectory()
        let config = directory.url.appendingPathComponent("cutover.yml")
        try """
        admin:
          listen: 127.0.0.1:0
          token: {env: CUTOVER_TEST_ADMIN_TOKEN}
        cloud:
          app_secrets: [{env: CUTOVER_TEST_APP_SECRET}]
        onprem:
          routes:
            - name: default
              phone_number_id: "\(Self.phoneNumberID)"
              display_phone_number: "15550783881"
              waba_id: "102290129340398"
        destinations:
        \(destinations)
        \(delivery)
        """.write(to: config, atomically: true, encoding: .utf8)
        cutover = try Self.serve(directory)
        admin = try cutover.adminURL()
    }

    /// `cutover serve` on the directory's config and spool (again, after a restart).
    static func serve(_ directory: TemporaryDirectory) throws -> CutoverServer {
        try CutoverServer(
            spool: directory.path("spool"), arguments: ["--config", directory.path("cutover.yml")],
            environment: ["CUTOVER_TEST_ADMIN_TOKEN": token, "CUTOVER_TEST_APP_SECRET": appSecret])
    }

    var bearer: [String] { ["-H", "Authorization: Bearer \(Self.token)"] }

    /// A Cloud text message for the On-Prem route's number, signed with the app secret as Meta signs.
    func postCloudText(id: String) throws -> Int {
        let body = Data(
            """
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{\
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\(Self.phoneNumberID)"},\
            "contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"16315551234"}],"messages":[{"from":"16315551234","id":"\(id)",\
            "timestamp":"1700000000","type":"text","text":{"body":"hello \(id)"}}]}}]}]}
            """.utf8)
        let signature = try pythonSignature(body: body, secret: Self.appSecret)
        let file = directory.url.appendingPathComponent("body-\(UUID().uuidString).json")
        try body.write(to: file)
        return try curl([
            "-X", "POST", cutover.base + "/cloud", "-H", "Content-Type: application/json", "-H", "X-Hub-Signature-256: \(signature)",
            "--data-binary", "@\(file.path)",
        ]).status
    }
}
