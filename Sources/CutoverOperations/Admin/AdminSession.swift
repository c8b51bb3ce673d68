import CutoverWebhooks
import HTTPTypes

/// The cockpit's browser session. A browser cannot send a bearer header when it navigates, so
/// `POST /admin/session` with the token sets a cookie instead: HttpOnly (no script reads it),
/// SameSite=Strict and Path=/admin (no other site's page sends it along), Secure when the admin
/// listener has TLS. Its value is an HMAC of the token under a key made at start-up: nothing about
/// the token can be learnt from it, a restart ends every session, and a reloaded token no longer
/// matches. A request authenticated by the cookie that changes something (any POST) must also
/// carry `X-Cutover-Cockpit: 1`, which a form on another site cannot add.
struct AdminSession: Sendable {
    static let cookieName = "cutover_admin"
    static let csrfHeader = HTTPField.Name("X-Cutover-Cockpit")!
    /// Half a working day: the page polls, so an operator who leaves it open logs in again tomorrow.
    static let lifetimeSeconds = 12 * 3600

    private let key: HMACSHA256Key
    let secure: Bool

    init(secure: Bool) {
        var generator = SystemRandomNumberGenerator()
        key = HMACSHA256Key(key: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        self.secure = secure
    }

    /// The cookie value a browser holding `token` presents; nil only when OpenSSL fails.
    func cookieValue(token: [UInt8]) -> String? {
        (try? WebhookSignature.sign(body: token, key: key)).map { String($0.dropFirst("sha256=".count)) }
    }

    func setCookie(token: [UInt8]) -> String? {
        cookieValue(token: token).map {
            "\(Self.cookieName)=\($0); Path=/admin; Max-Age=\(Self.lifetimeSeconds); HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")"
        }
    }

    var clearCookie: String {
        "\(Self.cookieName)=; Path=/admin; Max-Age=0; HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")"
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
