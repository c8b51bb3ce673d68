import Foundation

/// Where the running relay keeps its spool, with the password resolved: what `Relay`, `cutover
/// spool` and `cutover replay` open.
package enum SpoolSettings: Sendable, Equatable {
    case directory(String)
    case postgres(Postgres)

    package struct Postgres: Sendable, Equatable {
        package var url: String
        /// nil: libpq finds one itself (PGPASSWORD, ~/.pgpass), or the server asks for none.
        package var password: String?
        package var leaseSeconds: Double
        /// nil: a fresh id per run.
        package var instanceID: String?
    }

    package init(_ location: SpoolLocation, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) {
        switch location {
        case .directory(let path):
            self = .directory(path)
        case .postgres(let section):
            self = .postgres(
                Postgres(
                    url: section.url.text, password: try section.password?.resolve(environment: environment), leaseSeconds: section.leaseSeconds,
                    instanceID: section.instanceID))
        }
    }

    /// What a `--spool` argument names: a `postgresql://` URL (its password from the config's
    /// `spool.postgres` when that names the same database, else libpq's own) or a directory.
    package init(argument: String, config: CutoverConfig?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) {
        guard PostgresURL.hasScheme(argument) else {
            self = .directory(argument)
            return
        }
        guard let url = PostgresURL(configText: argument) else { throw ConfigError("--spool: expected \(PostgresURL.expectation)") }
        let given = SpoolLocation.postgres(PostgresSpoolSection(url: url))
        try self.init(config.map { given.refined(by: $0.spool) } ?? given, environment: environment)
    }

    package var directory: String? {
        if case .directory(let path) = self { path } else { nil }
    }
}
