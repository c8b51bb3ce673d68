import CutoverPostgres

/// The PostgreSQL spool's schema, versioned in `cutover_schema`: migration N takes the database from
/// version N-1 to N. Append new migrations; never edit a shipped one.
///
/// Several instances may start at once: `migrate` runs in one transaction holding a transaction-level
/// advisory lock, so the first migrates and the others, waiting on the lock, find the latest version.
enum PostgresSchema {
    static let migrations: [(version: Int, sql: String)] = [(1, v1), (2, v2), (3, v3), (4, v4), (5, v5)]

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// The advisory lock key: any fixed 64-bit number other applications are unlikely to take ("CUTOVER" in ASCII).
    static let migrationLockKey: Int64 = 0x43_5554_4f56_4552
    /// Taken (try, transaction-level) by the instance folding the count changes into the totals
    /// ("CUTOVEC"): one at a time, the others skip their turn.
    static let countCompactionLockKey: Int64 = 0x43_5554_4f56_4543

    /// v1, the SQLite schema's v5 in PostgreSQL terms, plus leases.
    /// - `events.id` is UNIQUE across every instance: the dedup key.
    /// - `deliveries.id` ascends with ingest (a sequence), so it is the arrival order of per-contact ordering.
    /// - An `inflight` delivery carries the instance that claimed it (`claimed_by`) and when that
    ///   claim lapses (`lease_expires_at`, unix seconds): after it, another instance may take it over.
    /// - `counters` holds lifetime totals (dedup hits, pruned and purged rows), as in SQLite v3.
    static let v1 = """
        CREATE TABLE requests (
            id                BIGSERIAL PRIMARY KEY,
            received_at       DOUBLE PRECISION NOT NULL,
            route             TEXT NOT NULL,
            headers           BYTEA NOT NULL,
            body              BYTEA NOT NULL,
            status            TEXT NOT NULL CHECK (status IN ('accepted', 'quarantined')),
            quarantine_reason TEXT
        );
        CREATE INDEX requests_received_at ON requests (received_at);
        CREATE INDEX requests_quarantined ON requests (id) WHERE status = 'quarantined';

        CREATE TABLE events (
            seq         BIGSERIAL PRIMARY KEY,
            id          TEXT NOT NULL UNIQUE,
            request_id  BIGINT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
            type        TEXT NOT NULL,
            contact_key TEXT NOT NULL,
            payload     BYTEA NOT NULL,
            created_at  DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX events_request ON events (request_id);
        CREATE INDEX events_created_at ON events (created_at);

        CREATE TABLE deliveries (
            id               BIGSERIAL PRIMARY KEY,
            event_seq        BIGINT NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
            destination      TEXT NOT NULL,
            state            TEXT NOT NULL CHECK (state IN ('pending', 'inflight', 'delivered', 'dead')),
            attempts         INTEGER NOT NULL DEFAULT 0,
            next_attempt_at  DOUBLE PRECISION NOT NULL,
            last_error       TEXT,
            last_status      INTEGER,
            contact_key      TEXT NOT NULL,
            created_at       DOUBLE PRECISION NOT NULL,
            updated_at       DOUBLE PRECISION NOT NULL,
            claimed_by       TEXT,
            lease_expires_at DOUBLE PRECISION,
            UNIQUE (event_seq, destination)
        );
        -- Per-contact ordering and claiming: the open deliveries of a (destination, contact), in arrival order.
        CREATE INDEX deliveries_open_by_contact ON deliveries (destination, contact_key, id)
            WHERE state IN ('pending', 'inflight');
        CREATE INDEX deliveries_open_by_due ON deliveries (destination, next_attempt_at, id)
            WHERE state IN ('pending', 'inflight');
        CREATE INDEX deliveries_dead ON deliveries (destination, id) WHERE state = 'dead';
        CREATE INDEX deliveries_event ON deliveries (event_seq);

        CREATE TABLE attempts (
            id          BIGSERIAL PRIMARY KEY,
            delivery_id BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
            attempt     INTEGER NOT NULL,
            at          DOUBLE PRECISION NOT NULL,
            outcome     TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
            status      INTEGER,
            error       TEXT
        );
        CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt);

        CREATE TABLE counters (
            name  TEXT PRIMARY KEY,
            value BIGINT NOT NULL
        );
        CREATE TABLE spool_identity (
            id TEXT NOT NULL
        );
        INSERT INTO spool_identity (id) VALUES (md5(random()::text || clock_timestamp()::text));
        """

    /// v2, the SQLite schema's v6: each attempt's response latency (milliseconds) and the first
    /// bytes of its body (bytea, bounded by `delivery.response_body_keep_bytes`); NULL before.
    static let v2 = """
        ALTER TABLE attempts ADD COLUMN latency_ms DOUBLE PRECISION;
        ALTER TABLE attempts ADD COLUMN body_prefix BYTEA;
        """

    /// v3: the inflight deliveries by lease expiry, so the next due time finds the first lapsing
    /// lease without walking every open delivery (`nextDueTime`). `deliveries_event` goes: the
    /// UNIQUE (event_seq, destination) index serves every lookup by event, and each delivery's
    /// insert and non-HOT update (claim, outcome) wrote an entry into both.
    static let v3 = """
        CREATE INDEX deliveries_inflight_by_lease ON deliveries (destination, lease_expires_at) WHERE state = 'inflight';
        DROP INDEX deliveries_event;
        """

    /// v4: the due index holds pending deliveries only. With inflight ones in it (v1 to v3), a
    /// claim's walk in due order passed every delivery in flight (they keep their due time), the
    /// due bound could not narrow it (the claim's condition was one OR over both states), and
    /// every claim wrote an entry of the claimed row's new version into it; a lapsed lease is
    /// found by `deliveries_inflight_by_lease` instead. Built inside the migration's transaction,
    /// like v3's index: writes to `deliveries` wait while it builds (it reads every delivery kept,
    /// seconds on millions), which start-up accepts for one atomic, lock-serialized migration;
    /// `CREATE INDEX CONCURRENTLY` cannot run in a transaction.
    static let v4 = """
        CREATE INDEX deliveries_pending_by_due ON deliveries (destination, next_attempt_at, id) WHERE state = 'pending';
        DROP INDEX deliveries_open_by_due;
        """

    /// v5: row counts kept by the database, so stats and every instance's gauges (each 10 s) read a
    /// few rows instead of counting whole tables (`count(*)` reads every row: seconds on a spool of
    /// millions, and as often as there are instances).
    /// - Statement-level triggers with transition tables append one change row per (destination,
    ///   state) or count name a statement moved to `delivery_count_changes` / `row_count_changes`:
    ///   inserts only, so concurrent transactions of any instance never wait for one another on a
    ///   count (one shared total row per count would serialize them, and deadlock in some orders).
    ///   Every write path is counted, cascades and hand-written SQL included.
    /// - A reader sums the totals and the changes in one statement; `compactCounts` folds the
    ///   changes into `delivery_counts` / `row_counts` now and then, in one transaction.
    /// - The triggers exist before the totals are counted, and creating them waits for and then
    ///   blocks writers (the lock CREATE TRIGGER takes) until this migration commits: no write is
    ///   counted twice or missed.
    static let v5 = """
        CREATE TABLE delivery_counts (
            destination TEXT NOT NULL,
            state       TEXT NOT NULL,
            count       BIGINT NOT NULL,
            PRIMARY KEY (destination, state)
        );
        CREATE TABLE row_counts (
            name  TEXT PRIMARY KEY,
            count BIGINT NOT NULL
        );
        CREATE TABLE delivery_count_changes (
            id          BIGSERIAL PRIMARY KEY,
            destination TEXT NOT NULL,
            state       TEXT NOT NULL,
            delta       BIGINT NOT NULL
        );
        CREATE TABLE row_count_changes (
            id    BIGSERIAL PRIMARY KEY,
            name  TEXT NOT NULL,
            delta BIGINT NOT NULL
        );

        CREATE FUNCTION cutover_count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO delivery_count_changes (destination, state, delta)
                    SELECT destination, state, count(*) FROM new_rows GROUP BY destination, state;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO delivery_count_changes (destination, state, delta)
                    SELECT destination, state, -count(*) FROM old_rows GROUP BY destination, state;
            ELSE
                INSERT INTO delivery_count_changes (destination, state, delta)
                    SELECT destination, state, sum(delta) FROM (
                        SELECT destination, state, 1 AS delta FROM new_rows
                        UNION ALL SELECT destination, state, -1 FROM old_rows
                    ) AS moved GROUP BY destination, state HAVING sum(delta) <> 0;
            END IF;
            RETURN NULL;
        END $$;
        CREATE FUNCTION cutover_count_requests() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO row_count_changes (name, delta)
                    SELECT 'requests.' || status, count(*) FROM new_rows GROUP BY status;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO row_count_changes (name, delta)
                    SELECT 'requests.' || status, -count(*) FROM old_rows GROUP BY status;
            ELSE
                INSERT INTO row_count_changes (name, delta)
                    SELECT 'requests.' || status, sum(delta) FROM (
                        SELECT status, 1 AS delta FROM new_rows UNION ALL SELECT status, -1 FROM old_rows
                    ) AS moved GROUP BY status HAVING sum(delta) <> 0;
            END IF;
            RETURN NULL;
        END $$;
        CREATE FUNCTION cutover_count_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO row_count_changes (name, delta) SELECT 'events', count(*) FROM new_rows HAVING count(*) > 0;
            ELSE
                INSERT INTO row_count_changes (name, delta) SELECT 'events', -count(*) FROM old_rows HAVING count(*) > 0;
            END IF;
            RETURN NULL;
        END $$;

        CREATE TRIGGER deliveries_counted_insert AFTER INSERT ON deliveries
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cutover_count_deliveries();
        CREATE TRIGGER deliveries_counted_update AFTER UPDATE ON deliveries
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cutover_count_deliveries();
        CREATE TRIGGER deliveries_counted_delete AFTER DELETE ON deliveries
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cutover_count_deliveries();
        CREATE TRIGGER requests_counted_insert AFTER INSERT ON requests
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cutover_count_requests();
        CREATE TRIGGER requests_counted_update AFTER UPDATE ON requests
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cutover_count_requests();
        CREATE TRIGGER requests_counted_delete AFTER DELETE ON requests
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cutover_count_requests();
        CREATE TRIGGER events_counted_insert AFTER INSERT ON events
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cutover_count_events();
        CREATE TRIGGER events_counted_delete AFTER DELETE ON events
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cutover_count_events();

        INSERT INTO delivery_counts (destination, state, count)
            SELECT destination, state, count(*) FROM deliveries GROUP BY destination, state;
        INSERT INTO row_counts (name, count)
            SELECT 'requests.' || status, count(*) FROM requests GROUP BY status
            UNION ALL SELECT 'events', count(*) FROM events;
        """

    /// Brings the database to `latestVersion` under the advisory lock; the version found before.
    /// Refuses a database a newer build migrated.
    @discardableResult
    static func migrate(_ connection: PostgresConnection) throws(SpoolError) -> Int {
        try PostgresSpoolError.map { () throws(PostgresError) -> Int in
            try connection.execute("BEGIN", "begin migration")
            do throws(PostgresError) {
                try connection.query("SELECT pg_advisory_xact_lock($1)", [.int64(migrationLockKey)], "take the migration lock")
                try connection.execute(
                    "CREATE TABLE IF NOT EXISTS cutover_schema (version INTEGER NOT NULL)", "create the version table")
                let found = try connection.query("SELECT max(version) FROM cutover_schema", [], "read the schema version")
                let version = try found.optionalInt(0, 0) ?? 0
                guard version <= latestVersion else {
                    throw PostgresError(
                        kind: .statement, message: "the spool schema is version \(version), newer than this build's \(latestVersion)",
                        operation: "migrate the spool schema")
                }
                for migration in migrations where migration.version > version {
                    try connection.execute(migration.sql, "apply schema v\(migration.version)")
                    try connection.query(
                        "INSERT INTO cutover_schema (version) VALUES ($1)", [.int64(Int64(migration.version))],
                        "record schema v\(migration.version)")
                }
                try connection.execute("COMMIT", "commit migration")
                return version
            } catch {
                try? connection.execute("ROLLBACK", "roll back migration")
                throw error
            }
        }
    }
}
