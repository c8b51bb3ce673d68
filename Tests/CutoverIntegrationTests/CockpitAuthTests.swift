import CutoverTestSupport
import Foundation
import Testing

/// The cockpit's doors: without the token (bearer or session cookie) the page, its files and every
/// endpoint it reads answer 401; the login form's cookie is HttpOnly, SameSite=Strict, Path=/admin
/// and not the token; a change made with the cookie needs the page's header; scripts keep the bearer.
@Suite struct CockpitAuthTests {
    static let readPaths = [
        "/cockpit", "/cockpit.js", "/cockpit.css", "/numbers", "/destinations", "/events/some-event", "/comparison", "/stats",
        "/deliveries?state=dead",
    ]

    @Test func everyPathAnswers401WithoutTheToken() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let relay = try CockpitRelay(destinations: "  - {name: legacy, url: \"\(downstream.url)\", format: onprem}")
        defer { relay.cutover.kill() }

        for path in Self.readPaths {
            #expect(try curl([relay.admin + path]).status == 401, "GET \(path) without a token")
            #expect(try curl([relay.admin + path, "-H", "Authorization: Bearer wrong-token-of-the-same-length-000"]).status == 401)
            #expect(try curl([relay.admin + path, "-H", "Cookie: cutover_admin=00ff"]).status == 401, "GET \(path) with a made-up cookie")
        }
        #expect(try curl(["-X", "POST", "-d", "all=true", relay.admin + "/retry"]).status == 401)
        let login = try exchange([relay.admin + "/cockpit"])
        #expect(login.status == 401)
        #expect(login.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(login.body.contains(#"<form method="post" action="/admin/session">"#), "the 401 page is the login form")
        #expect(login.headers["content-security-policy"]?.contains("default-src 'none'") == true)
        for path in Self.readPaths {
            #expect(try curl([relay.admin + path] + relay.bearer).status != 401, "GET \(path) with the bearer token")
        }
    }

    @Test func theLoginFormsCookieOpensThePageAndChangesNeedThePagesHeader() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let relay = try CockpitRelay(destinations: "  - {name: legacy, url: \"\(downstream.url)\", format: onprem}")
        defer { relay.cutover.kill() }

        let wrong = try exchange(["-X", "POST", "--data-urlencode", "token=not-the-token", relay.admin + "/session"])
        #expect(wrong.status == 401)
        #expect(wrong.headers["set-cookie"] == nil)
        #expect(wrong.body.contains("wrong token"))

        let right = try exchange(["-X", "POST", "--data-urlencode", "token=\(CockpitRelay.token)", relay.admin + "/session"])
        #expect(right.status == 303)
        #expect(right.headers["location"] == "/admin/cockpit")
        let setCookie = try #require(right.headers["set-cookie"])
        let attributes = setCookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict") && attributes.contains("Path=/admin"))
        #expect(!attributes.contains("Secure"), "plain HTTP: a Secure cookie would never come back")
        let cookie = try #require(attributes.first { $0.hasPrefix("cutover_admin=") })
        #expect(!cookie.contains(CockpitRelay.token), "the cookie is derived from the token, not the token")
        let withCookie = ["-H", "Cookie: \(cookie)"]

        let page = try exchange([relay.admin + "/cockpit"] + withCookie)
        #expect(page.status == 200)
        #expect(page.body.contains(#"<script src="/admin/cockpit.js" defer></script>"#))
        let policy = try #require(page.headers["content-security-policy"])
        for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
            #expect(policy.contains(directive), "CSP: \(directive)")
        }
        #expect(!policy.contains("unsafe-inline"))
        #expect(try curl([relay.admin + "/numbers"] + withCookie).status == 200)

        let forged = try curl(["-X", "POST", "-d", "all=true", relay.admin + "/retry"] + withCookie)
        #expect(forged.status == 403, "a cookie alone cannot change anything: \(forged.body)")
        let fromThePage = try curl(["-X", "POST", "-d", "all=true", "-H", "X-Cutover-Cockpit: 1", relay.admin + "/retry"] + withCookie)
        #expect(fromThePage.status == 200)
        #expect(fromThePage.body.contains(#""revived":0"#))
        #expect(try curl(["-X", "POST", "-d", "all=true", relay.admin + "/retry"] + relay.bearer).status == 200, "scripts keep the bearer token")

        // A restart makes a new key: the old cookie opens nothing.
        relay.cutover.kill()
        let restarted = try CockpitRelay.serve(relay.directory)
        defer { restarted.kill() }
        #expect(try curl([try restarted.adminURL() + "/numbers"] + withCookie).status == 401)
    }

    @Test func loggingOutEndsTheSessionItWasSentWith() throws {
        let downstream = try Downstream()
        defer { downstream.stop() }
        let relay = try CockpitRelay(destinations: "  - {name: legacy, url: \"\(downstream.url)\", format: onprem}")
        defer { relay.cutover.kill() }
        func logIn() throws -> String {
            let login = try exchange(["-X", "POST", "--data-urlencode", "token=\(CockpitRelay.token)", relay.admin + "/session"])
            #expect(login.status == 303)
            return try #require(login.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
        }
        let leaving = try logIn()
        let staying = try logIn()
        #expect(leaving != staying, "each login opens a session of its own")

        let withoutHeader = try curl(["-X", "POST", relay.admin + "/logout", "-H", "Cookie: \(leaving)"])
        #expect(withoutHeader.status == 403, "logging out is a change: the page's header is needed")
        let logout = try exchange(["-X", "POST", relay.admin + "/logout", "-H", "Cookie: \(leaving)", "-H", "X-Cutover-Cockpit: 1"])
        #expect(logout.status == 200)
        #expect(logout.body.contains(#""logged_out":true"#))
        #expect(logout.headers["set-cookie"]?.contains("Max-Age=0") == true, "the browser is told to drop the cookie")
        #expect(try curl([relay.admin + "/numbers", "-H", "Cookie: \(leaving)"]).status == 401, "a kept copy of the cookie opens nothing")
        #expect(try curl([relay.admin + "/numbers", "-H", "Cookie: \(staying)"]).status == 200, "other sessions stay open")
        #expect(relay.cutover.process.stderr.wait { $0.contains { $0.contains("cockpit session closed") } } != nil)
        #expect(try curl(["-X", "POST", relay.admin + "/logout"] + relay.bearer).status == 200, "a script may call it: nothing to end")
        #expect(try curl([relay.admin + "/numbers", "-H", "Cookie: \(staying)"]).status == 200)
    }

    @Test func aReloadedTokenEndsTheSessionsOfTheOldOne() throws {
        let directory = try TemporaryDirectory()
        let tokenFile = directory.path("admin-token")
        let oldToken = "cockpit-old-token-0123456789abcdef"
        let newToken = "cockpit-new-token-0123456789abcdef"
        try oldToken.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let config = directory.path("cutover.yml")
        try "admin:\n  listen: 127.0.0.1:0\n  token: {file: \(tokenFile)}\n".write(toFile: config, atomically: true, encoding: .utf8)
        let cutover = try CutoverServer(spool: directory.path("spool"), arguments: ["--config", config])
        defer { cutover.kill() }
        let admin = try cutover.adminURL()

        let login = try exchange(["-X", "POST", "--data-urlencode", "token=\(oldToken)", admin + "/session"])
        let cookie = try #require(login.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
        #expect(try curl([admin + "/numbers", "-H", "Cookie: \(cookie)"]).status == 200)

        try newToken.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        cutover.process.signal(SIGHUP)
        #expect(cutover.process.stderr.wait { $0.contains { $0.contains("configuration reloaded") } } != nil)
        #expect(try curl([admin + "/numbers", "-H", "Cookie: \(cookie)"]).status == 401, "the old token's cookie opens nothing")
        #expect(try curl([admin + "/numbers", "-H", "Authorization: Bearer \(newToken)"]).status == 200)
        let again = try exchange(["-X", "POST", "--data-urlencode", "token=\(newToken)", admin + "/session"])
        #expect(again.status == 303)
    }

    @Test func overTLSTheSessionCookieIsSecure() throws {
        let directory = try TemporaryDirectory()
        let cutover = try CutoverServer.withAdminOverTLS(token: CockpitRelay.token, in: directory)
        defer { cutover.kill() }
        let admin = try cutover.adminURL(tls: true)
        let login = try exchange([
            "--cacert", TestCertificates.shared.caCertificate, "-X", "POST", "--data-urlencode", "token=\(CockpitRelay.token)", admin + "/session",
        ])
        #expect(login.status == 303)
        let attributes = (login.headers["set-cookie"] ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(attributes.contains("Secure") && attributes.contains("HttpOnly"), "\(attributes)")
    }
}
