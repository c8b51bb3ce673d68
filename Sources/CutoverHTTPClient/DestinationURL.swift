/// An absolute http(s) URL split into what a connection needs: scheme, host, port, request target.
package struct DestinationURL: Sendable, Hashable, CustomStringConvertible {
    package enum Scheme: String, Sendable { case http, https }

    package var scheme: Scheme
    package var host: String
    package var port: UInt16
    /// Path and query, as sent on the request line.
    package var target: String

    package init?(_ text: String) {
        let lowered = text.lowercased()
        let rest: Substring
        if lowered.hasPrefix("http://") {
            scheme = .http
            rest = text.dropFirst("http://".count)
        } else if lowered.hasPrefix("https://") {
            scheme = .https
            rest = text.dropFirst("https://".count)
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let pathPart = rest[authorityEnd...]
        target = pathPart.isEmpty ? "/" : (pathPart.hasPrefix("?") ? "/" + pathPart : String(pathPart))
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let afterHost = authority[authority.index(after: close)...]
            if afterHost.isEmpty {
                port = scheme == .https ? 443 : 80
            } else {
                guard afterHost.hasPrefix(":"), let parsed = UInt16(afterHost.dropFirst()) else { return nil }
                port = parsed
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let parsed = UInt16(authority[authority.index(after: colon)...]) else { return nil }
            port = parsed
        } else {
            host = String(authority)
            port = scheme == .https ? 443 : 80
        }
        guard !host.isEmpty else { return nil }
    }

    /// The Host header value: the port only when it is not the scheme's default.
    package var authority: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let defaultPort: UInt16 = scheme == .https ? 443 : 80
        return port == defaultPort ? hostPart : "\(hostPart):\(port)"
    }

    package var description: String { "\(scheme.rawValue)://\(authority)\(target)" }
}
