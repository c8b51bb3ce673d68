import CutoverLocking
@testable import CutoverOperations
import Testing

/// The cockpit's session cookie, with the clock injected: the server ends a session at its
/// lifetime whatever the browser keeps, logging out ends exactly the session logged out, and no
/// altered, foreign or other token's cookie opens anything.
struct AdminSessionTests {
    private let token = Array("cockpit-admin-token-0123456789abcdef".utf8)
    private let clock = Locked(1_000)

    private func session() -> AdminSession { AdminSession(secure: false, clock: { [clock] in clock.withLock { $0 } }) }

    /// The cookie's value from its `Set-Cookie`.
    private func value(_ setCookie: String?) throws -> String {
        let pair = try #require(setCookie?.split(separator: ";").first)
        #expect(pair.hasPrefix("\(AdminSession.cookieName)="))
        return String(pair.dropFirst(AdminSession.cookieName.count + 1))
    }

    @Test func aSessionEndsAtItsLifetimeOnTheServer() throws {
        let sessions = session()
        let cookie = try value(sessions.setCookie(token: token))
        #expect(sessions.isOpen(cookie, token: token))
        clock.withLock { $0 += AdminSession.lifetimeSeconds - 1 }
        #expect(sessions.isOpen(cookie, token: token), "one second before its lifetime")
        clock.withLock { $0 += 1 }
        #expect(!sessions.isOpen(cookie, token: token), "at its lifetime, whatever the browser kept")
    }

    @Test func loggingOutEndsThatSessionOnly() throws {
        let sessions = session()
        let first = try value(sessions.setCookie(token: token))
        let second = try value(sessions.setCookie(token: token))
        #expect(first != second, "every login is a session of its own")
        #expect(sessions.logOut(first, token: token))
        #expect(!sessions.isOpen(first, token: token), "a copy of the logged-out cookie opens nothing")
        #expect(sessions.isOpen(second, token: token))
        #expect(!sessions.logOut(first, token: token), "already closed")
    }

    @Test func alteredForeignAndOtherTokensCookiesAreRefused() throws {
        let sessions = session()
        let cookie = try value(sessions.setCookie(token: token))
        let parts = cookie.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        let otherToken = Array("another-admin-token-0123456789abcdef".utf8)
        let refused = [
            "", "..", cookie + ".", "\(Int(parts[0])! + 1).\(parts[1]).\(parts[2])", "\(parts[0]).\(String(parts[1].reversed())).\(parts[2])",
            "\(parts[0]).\(parts[1]).\(String(parts[2].reversed()))", "\(parts[0]).\(parts[1])", try value(session().setCookie(token: token)),
            try value(sessions.setCookie(token: otherToken)),
        ]
        for presented in refused { #expect(!sessions.isOpen(presented, token: token), "\(presented)") }
        #expect(!sessions.isOpen(cookie, token: otherToken), "a reloaded token ends the old one's sessions")
        clock.withLock { $0 -= 1 }
        #expect(!sessions.isOpen(cookie, token: token), "issued in the future")
    }

    @Test func pastTheLoggedOutLimitEverySessionEnds() throws {
        let sessions = session()
        let kept = try value(sessions.setCookie(token: token))
        for _ in 0..<AdminSession.maxLoggedOut {
            #expect(sessions.logOut(try value(sessions.setCookie(token: token)), token: token))
        }
        #expect(sessions.isOpen(kept, token: token), "at the limit, the rest stay open")
        #expect(sessions.logOut(try value(sessions.setCookie(token: token)), token: token))
        #expect(!sessions.isOpen(kept, token: token), "one more: a new key, and no session survives")
        #expect(sessions.isOpen(try value(sessions.setCookie(token: token)), token: token), "logging in again works")
    }

    @Test func expiredLogOutsAreForgottenBeforeTheLimitCounts() throws {
        let sessions = session()
        for _ in 0..<AdminSession.maxLoggedOut {
            #expect(sessions.logOut(try value(sessions.setCookie(token: token)), token: token))
        }
        clock.withLock { $0 += AdminSession.lifetimeSeconds }
        let fresh = try value(sessions.setCookie(token: token))
        #expect(sessions.logOut(try value(sessions.setCookie(token: token)), token: token))
        #expect(sessions.isOpen(fresh, token: token), "the expired ones were dropped: no new key was needed")
    }
}
