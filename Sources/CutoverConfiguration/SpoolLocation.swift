/// `spool:`: a directory for the embedded SQLite spool, or a PostgreSQL database several instances
/// share. Given as text (`./.cutover`, or a `postgresql://` URL on the command line or in
/// `CUTOVER_SPOOL`) or as a mapping (`{postgres: {url: ..., password: {env: ...}}}`).
package enum SpoolLocation: Sendable, Equatable {
    case directory(String)
    case postgres(PostgresSpoolSection)

    /// The mapping form's one key; setting it makes the location a PostgreSQL one.
    package var postgres: PostgresSpoolSection? {
        get {
            if case .postgres(let section) = self { section } else { nil }
        }
        set {
            if let newValue { self = .postgres(newValue) }
        }
    }

    package var directory: String? {
        if case .directory(let path) = self { path } else { nil }
    }
}

extension SpoolLocation: ConfigValue {
    package init?(configText: String) {
        if PostgresURL.hasScheme(configText) {
            guard let url = PostgresURL(configText: configText) else { return nil }
            self = .postgres(PostgresSpoolSection(url: url))
        } else {
            guard !configText.isEmpty else { return nil }
            self = .directory(configText)
        }
    }

    package var configText: String {
        switch self {
        case .directory(let path): path
        case .postgres(let section): section.url.configText
        }
    }

    package static var expectation: String { "a directory, \(PostgresURL.expectation) or {postgres: {url: ...}}" }
}

extension SpoolLocation: RefinedBySection {
    /// `--spool URL` naming the database the file's `spool.postgres` names keeps its password,
    /// lease and instance id; any other location replaces the file's.
    package func refined(by section: SpoolLocation) -> SpoolLocation {
        guard let given = postgres, let configured = section.postgres, configured.url == given.url else { return self }
        return section
    }
}

extension SpoolLocation: ConfigSection {
    package static var defaults: Self { .directory("./.cutover") }

    package static let fields: [Field<Self>] = [
        .optionalSection("postgres", \.postgres, doc: "a PostgreSQL spool shared by several instances (claims with leases), instead of the directory"),
    ]
}

/// `spool.postgres`: the database, its password, and how this instance holds its claims.
package struct PostgresSpoolSection: ConfigSection, Equatable {
    package var url: PostgresURL
    package var password: Secret?
    package var leaseSeconds = PostgresSpoolSection.defaultLeaseSeconds
    package var instanceID: String?

    /// Renewed every third of it while the instance runs, so only a dead (or cut-off) instance's
    /// claims lapse: their deliveries resume elsewhere within about this long.
    package static let defaultLeaseSeconds = 30.0

    package init(url: PostgresURL, password: Secret? = nil) {
        self.url = url
        self.password = password
    }

    package static var defaults: Self { Self(url: PostgresURL(configText: "postgresql://placeholder.invalid/cutover")!) }

    package static let fields: [Field<Self>] = [
        .required("url", \.url, doc: "postgresql://USER@HOST:PORT/DATABASE (libpq's URL; the password goes in password)"),
        .secret("password", \.password, doc: "the database user's password; absent: libpq's PGPASSWORD or ~/.pgpass"),
        .value("lease_seconds", \.leaseSeconds, .positive, doc: "claimed deliveries stay this instance's while it renews them (every third of it); a dead instance's go to another after it"),
        .optional("instance_id", \.instanceID, .nonEmpty, defaultText: "<host>-<pid>-<random>", doc: "unique per running instance; a restart with the same id takes back its claims at once instead of after the lease"),
    ]
}

/// `postgresql://[USER@]HOST[:PORT]/DATABASE[?PARAMETERS]` (or `postgres://`), with no password in
/// it: the URL is printed by check-config and logged, the password is a secret of its own.
package struct PostgresURL: ConfigValue {
    package let text: String

    package static func hasScheme(_ text: String) -> Bool { schemes.contains { text.hasPrefix($0) } }
    private static let schemes = ["postgresql://", "postgres://"]

    package init?(configText: String) {
        guard let scheme = Self.schemes.first(where: { configText.hasPrefix($0) }) else { return nil }
        let rest = configText.dropFirst(scheme.count)
        guard !rest.isEmpty, !rest.contains(where: { $0.isWhitespace }) else { return nil }
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        if let at = authority.lastIndex(of: "@") {
            let user = authority[..<at]
            guard !user.isEmpty, !user.contains(":") else { return nil }
        }
        let hostAndPort = authority.split(separator: "@").last ?? ""
        if let colon = hostAndPort.lastIndex(of: ":"), !hostAndPort.hasSuffix("]") {
            guard let port = Int(hostAndPort[hostAndPort.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        }
        text = configText
    }

    package var configText: String { text }
    package static var expectation: String { "a postgresql://USER@HOST:PORT/DATABASE URL (no password in it)" }
}
