import CutoverHTTPServer
import HTTPTypes

/// The cockpit's three files and its login form, compiled into the binary (no build step, nothing
/// fetched from elsewhere), each served with a Content-Security-Policy that allows only this
/// listener's own script, style and JSON: no inline script, no other origin, no framing.
enum CockpitPage {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func asset(_ path: Substring) -> ServerResponse {
        switch path {
        case "/admin/cockpit.js": serve(CockpitScript.text, type: "text/javascript; charset=utf-8")
        case "/admin/cockpit.css": serve(CockpitStyle.text, type: "text/css; charset=utf-8")
        default: serve(CockpitDocument.text, type: "text/html; charset=utf-8")
        }
    }

    /// The answer to a browser without a session: a form that posts the token to `/admin/session`.
    static func login(status: HTTPResponse.Status, message: String?) -> ServerResponse {
        let notice = message.map { "<p role=\"alert\"><strong>\(escaped($0))</strong></p>\n" } ?? ""
        var response = serve(
            """
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><title>Cutover cockpit: log in</title></head>
            <body>
            <h1>Cutover cockpit</h1>
            \(notice)<form method="post" action="/admin/session">
            <p><label>Admin token <input type="password" name="token" id="token" autocomplete="current-password" required></label>
            <button type="submit" id="log-in">Log in</button></p>
            </form>
            <p>Scripts use <code>Authorization: Bearer</code> instead.</p>
            </body>
            </html>

            """, type: "text/html; charset=utf-8")
        response.status = status
        return response
    }

    private static func serve(_ text: String, type: String) -> ServerResponse {
        var fields = HTTPFields()
        fields[.contentType] = type
        fields[.cacheControl] = "no-store"
        fields[.contentSecurityPolicy] = contentSecurityPolicy
        fields[.xContentTypeOptions] = "nosniff"
        fields[.referrerPolicy] = "no-referrer"
        return ServerResponse(status: .ok, headerFields: fields, body: Array(text.utf8))
    }

    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "&": result += "&amp;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}

extension HTTPField.Name {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
