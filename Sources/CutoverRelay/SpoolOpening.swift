import CutoverConfiguration
import CutoverSpool

/// Opens the spool a location names: the SQLite spool in a directory, or the PostgreSQL spool at a
/// URL. The one place serve, `cutover spool` and `cutover replay` turn settings into a backend.
package enum SpoolOpening {
    package static func open(_ location: SpoolSettings, options: SpoolOptions) throws(SpoolError) -> any SpoolBackend {
        switch location {
        case .directory(let directory):
            return try Spool.open(directory: directory, options: options)
        case .postgres(let postgres):
            return try PostgresSpool.open(configuration(postgres), options: options)
        }
    }

    package static func configuration(_ postgres: SpoolSettings.Postgres) -> PostgresSpoolConfiguration {
        PostgresSpoolConfiguration(
            url: postgres.url, password: postgres.password,
            instanceID: postgres.instanceID ?? PostgresSpoolConfiguration.uniqueInstanceID(), leaseSeconds: postgres.leaseSeconds)
    }
}
