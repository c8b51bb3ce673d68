import CutoverHTTPServer
import CutoverLocking
import CutoverWebhooks
import Foundation
import HTTPTypes
import Logging

/// `POST /admin/session` (the cockpit's login form: `token=...`) and `POST /admin/logout`.
extension AdminHandler {
    func logIn(_ request: ServerRequest) -> ServerResponse {
        guard request.head.method == .post else {
            return CockpitPage.login(status: .methodNotAllowed, message: "log in with the form")
        }
        let given: String
        do {
            given = try Parameters(target: request.head.path ?? "/", request: request).first("token") ?? ""
        } catch let error as AdminError {
            return CockpitPage.login(status: error.status, message: error.message)
        } catch {
            return CockpitPage.login(status: .badRequest, message: "\(error)")
        }
        let current = token.withLock { $0 }
        guard ConstantTime.equals(Array(given.utf8), current), let cookie = session.setCookie(token: current) else {
            logger.warning("cockpit login rejected: wrong token", metadata: ["remote": "\(request.remoteAddress)"])
            return CockpitPage.login(status: .unauthorized, message: "wrong token")
        }
        logger.notice("cockpit session opened", metadata: ["remote": "\(request.remoteAddress)"])
        // 303: the browser follows with a GET, so a reload does not post the token again.
        var fields = HTTPFields()
        fields[.location] = "/admin/cockpit"
        fields[.setCookie] = cookie
        fields[.cacheControl] = "no-store"
        return ServerResponse(status: .seeOther, headerFields: fields)
    }

    /// Ends the session whose cookie came with the request (a bearer caller has none to end) and
    /// tells the browser to drop the cookie.
    func logOut(_ request: ServerRequest) -> ServerResponse {
        if let presented = AdminSession.presented(request.head.headerFields), session.logOut(presented, token: token.withLock { $0 }) {
            logger.notice("cockpit session closed", metadata: ["remote": "\(request.remoteAddress)"])
        }
        var response = Self.json(.ok, ["logged_out": true])
        response.headerFields[.setCookie] = session.clearCookie
        return response
    }
}
