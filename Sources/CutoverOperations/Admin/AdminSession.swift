import CutoverLocking
import CutoverWebhooks
import Dispatch
import HTTPTypes

/// The cockpit's browser session. A browser cannot send a bearer header when it navigates, so
/// `POST /admin/session` with the token sets a cookie instead: HttpOnly (no script reads it),
/// SameSite=Strict and Path=/admin (no other site's page sends it along), Secure when the admin
/// listener has TLS. A request authenticated by the cookie that changes something (any POST) must
/// also carry `X-Cutover-Cockpit: 1`, which a form on another site cannot add.
///
/// The cookie's value is `ISSUED.ID.MAC`: when the login happened (seconds of this process's
/// monotonic clock), a random session id, and an HMAC of the token, ISSUED and ID under a key made
/// at start-up. Nothing about the token can be learnt from it; a restart ends every session, and a
/// reloaded token no longer matches. The server itself refuses a session past `lifetimeSeconds`
/// (the cookie's Max-Age is only the browser's promise), and `POST /admin/logout` ends the session
/// it is sent with, even for a copy of its cookie kept elsewhere.
struct AdminSession: Sendable {
    static let cookieName = "cutover_admin"
    static let csrfHeader = HTTPField.Name("X-Cutover-Cockpit")!
    /// Half a working day: the page polls, so an operator who leaves it open logs in again tomorrow.
    static let lifetimeSeconds = 12 * 3600
    /// Logged-out sessions remembered (each until it would have expired). Past this many, the key
    /// is replaced instead, which ends every session: memory stays bounded and no logged-out
    /// session comes back.
    static let maxLoggedOut = 10_000

    private struct State {
        var key: HMACSHA256Key
        /// Ids of logged-out sessions, with when each would have expired.
        var loggedOut: [String: Int] = [:]
    }

    private let state: Locked<State>
    let secure: Bool
    /// Seconds of a clock that only moves forward (the system's uptime); tests pass their own.
    private let now: @Sendable () -> Int

    init(secure: Bool, clock: @escaping @Sendable () -> Int = { Int(DispatchTime.now().uptimeNanoseconds / 1_000_000_000) }) {
        state = Locked(State(key: Self.newKey()))
        self.secure = secure
        now = clock
    }

    private static func newKey() -> HMACSHA256Key {
        var generator = SystemRandomNumberGenerator()
        return HMACSHA256Key(key: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// A new session's `Set-Cookie` for a browser that presented `token`; nil only when OpenSSL fails.
    func setCookie(token: [UInt8]) -> String? {
        var generator = SystemRandomNumberGenerator()
        let id = WebhookSignature.hex((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let issued = now()
        guard let mac = mac(token: token, issued: issued, id: id, key: state.withLock { $0.key }) else { return nil }
        return "\(Self.cookieName)=\(issued).\(id).\(mac); Path=/admin; Max-Age=\(Self.lifetimeSeconds); HttpOnly; SameSite=Strict"
            + (secure ? "; Secure" : "")
    }

    var clearCookie: String {
        "\(Self.cookieName)=; Path=/admin; Max-Age=0; HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")"
    }

    /// Whether `presented` (a cookie value) is a session of `token` that is still open: made under
    /// the current key, younger than `lifetimeSeconds`, and not logged out.
    func isOpen(_ presented: String, token: [UInt8]) -> Bool { openSession(presented, token: token) != nil }

    /// Ends the session `presented` names, when it is open (and says so); later requests with it get 401.
    @discardableResult
    func logOut(_ presented: String, token: [UInt8]) -> Bool {
        guard let session = openSession(presented, token: token) else { return false }
        let current = now()
        state.withLock { state in
            if state.loggedOut.count >= Self.maxLoggedOut { state.loggedOut = state.loggedOut.filter { $0.value > current } }
            guard state.loggedOut.count < Self.maxLoggedOut else {
                state.key = Self.newKey()
                state.loggedOut = [:]
                return
            }
            state.loggedOut[session.id] = session.issued + Self.lifetimeSeconds
        }
        return true
    }

    private func openSession(_ presented: String, token: [UInt8]) -> (issued: Int, id: String)? {
        let parts = presented.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let issued = Int(parts[0]), parts[1].utf8.count == 32 else { return nil }
        let age = now() - issued
        guard age >= 0, age < Self.lifetimeSeconds else { return nil }
        let id = String(parts[1])
        let (key, loggedOut) = state.withLock { ($0.key, $0.loggedOut[id] != nil) }
        guard !loggedOut, let expected = mac(token: token, issued: issued, id: id, key: key),
            ConstantTime.equals(parts[2].utf8, expected.utf8)
        else { return nil }
        return (issued, id)
    }

    /// The MAC (hex) binding a session to the token it was opened with.
    private func mac(token: [UInt8], issued: Int, id: String, key: HMACSHA256Key) -> String? {
        (try? key.mac(token + [0] + Array("\(issued).\(id)".utf8))).map { WebhookSignature.hex($0) }
    }

    /// The session cookie's value among the request's cookies.
    static func presented(_ fields: HTTPFields) -> String? {
        for field in fields where field.name == .cookie {
            for pair in field.value.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == cookieName else { continue }
                return String(trimmed[trimmed.index(after: equals)...])
            }
        }
        return nil
    }
}
