/// The spool's schema, versioned with `PRAGMA user_version`: migration N takes the database from
/// version N-1 to N. Append new migrations; never edit a shipped one.
enum Schema {
    struct Migration: Sendable {
        let version: Int32
        let sql: String
    }

    static let migrations: [Migration] = [
        Migration(version: 1, sql: v1),
        Migration(version: 2, sql: v2),
        Migration(version: 3, sql: v3),
        Migration(version: 4, sql: v4),
        Migration(version: 5, sql: v5),
        Migration(version: 6, sql: v6),
        Migration(version: 7, sql: v7),
        Migration(version: 8, sql: v8),
    ]

    static var latestVersion: Int32 { migrations.last?.version ?? 0 }

    /// v1.
    /// - `requests`: every accepted or quarantined request, raw bytes and headers, kept for replay.
    /// - `events`: canonical events; the stable event id is UNIQUE: the dedup key. `seq` (the rowid)
    ///   is what deliveries reference, so their indexes get ascending keys instead of a second random
    ///   text key per row (the random-key index page per row is SQLite's main ingest cost).
    /// - `deliveries`: one row per (event, destination). `id` is ascending (rowid, never reused
    ///   below the current maximum), so it is the arrival order used for per-contact ordering.
    static let v1 = """
        CREATE TABLE requests (
            id                INTEGER PRIMARY KEY,
            received_at       REAL NOT NULL,
            route             TEXT NOT NULL,
            headers           BLOB NOT NULL,
            body              BLOB NOT NULL,
            status            TEXT NOT NULL CHECK (status IN ('accepted', 'quarantined')),
            quarantine_reason TEXT
        ) STRICT;
        CREATE INDEX requests_received_at ON requests (received_at);
        CREATE INDEX requests_quarantined ON requests (id) WHERE status = 'quarantined';

        CREATE TABLE events (
            seq         INTEGER PRIMARY KEY,
            id          TEXT NOT NULL UNIQUE,
            request_id  INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
            type        TEXT NOT NULL,
            contact_key TEXT NOT NULL,
            payload     BLOB NOT NULL,
            created_at  REAL NOT NULL
        ) STRICT;
        CREATE INDEX events_request ON events (request_id);

        CREATE TABLE deliveries (
            id              INTEGER PRIMARY KEY,
            event_seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
            destination     TEXT NOT NULL,
            state           TEXT NOT NULL CHECK (state IN ('pending', 'inflight', 'delivered', 'dead')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error      TEXT,
            last_status     INTEGER,
            contact_key     TEXT NOT NULL,
            created_at      REAL NOT NULL,
            updated_at      REAL NOT NULL,
            UNIQUE (event_seq, destination)
        ) STRICT;
        -- Claiming: due pending deliveries of one destination, earliest first.
        CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at, id)
            WHERE state = 'pending';
        -- Per-contact ordering: is an earlier delivery for this contact still open?
        CREATE INDEX deliveries_open_by_contact ON deliveries (destination, contact_key, id)
            WHERE state IN ('pending', 'inflight');
        -- Listing and retrying dead letters.
        CREATE INDEX deliveries_dead ON deliveries (destination, id) WHERE state = 'dead';
        """
}

extension Schema {
    /// v2: per-contact ordering kept as a flag instead of a query. v1 found the head of each
    /// contact's queue with a NOT EXISTS per candidate row, so one contact with a long backlog made
    /// every claim scan that backlog. Now a pending delivery is `blocked` while an earlier one for
    /// the same contact and destination is open; finishing the head unblocks the next one, and
    /// claiming is an index range scan over unblocked due rows.
    static let v2 = """
        ALTER TABLE deliveries ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1));
        UPDATE deliveries SET blocked = 1
        WHERE state = 'pending' AND EXISTS (
            SELECT 1 FROM deliveries AS earlier
            WHERE earlier.destination = deliveries.destination AND earlier.contact_key = deliveries.contact_key
              AND earlier.state IN ('pending', 'inflight') AND earlier.id < deliveries.id);
        DROP INDEX deliveries_due;
        CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at, id)
            WHERE state = 'pending' AND blocked = 0;
        """
}

extension Schema {
    /// v3: operator history and retention.
    /// - `attempts`: one row per recorded delivery attempt, written in the same transaction as the
    ///   outcome (`markDelivered`, `scheduleRetry`, `deadLetter`). `attempt` numbers a delivery's
    ///   attempts over its whole life (a revived dead letter goes on counting), so it ascends per
    ///   delivery and the index finds the latest at once. Bounded: the error is an excerpt of at most
    ///   512 bytes and only the latest 100 rows of a delivery are kept.
    /// - `counters`: lifetime totals kept in the same transaction as what they count (dedup hits at
    ///   ingest, rows removed by retention and purges), so `spool stats` can show them from any process.
    /// - `events_created_at`: retention walks events by age. Its keys ascend with ingest, so it adds
    ///   an append to a hot page per event, not a random page.
    static let v3 = """
        CREATE TABLE attempts (
            id          INTEGER PRIMARY KEY,
            delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
            attempt     INTEGER NOT NULL,
            at          REAL NOT NULL,
            outcome     TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
            status      INTEGER,
            error       TEXT
        ) STRICT;
        CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt);

        CREATE TABLE counters (
            name  TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;

        CREATE INDEX events_created_at ON events (created_at);
        """
}

extension Schema {
    /// v4: row counts kept current by triggers, so stats and the metrics gauges read a few small rows
    /// instead of counting whole tables (which on a large spool took tens of milliseconds under the
    /// connection's lock every scrape interval).
    /// - `delivery_counts`: deliveries per destination and state.
    /// - `row_counts`: `requests.accepted`, `requests.quarantined` and `events`.
    /// Triggers kept them until v6 (which keeps them from the code, see there). The counts start
    /// from one full count here, once per spool.
    static let v4 = """
        CREATE TABLE delivery_counts (
            destination TEXT NOT NULL,
            state       TEXT NOT NULL,
            count       INTEGER NOT NULL,
            PRIMARY KEY (destination, state)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE row_counts (
            name  TEXT PRIMARY KEY,
            count INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;

        INSERT INTO delivery_counts (destination, state, count)
            SELECT destination, state, count(*) FROM deliveries GROUP BY destination, state;
        INSERT INTO row_counts (name, count) VALUES
            ('requests.accepted', (SELECT count(*) FROM requests WHERE status = 'accepted')),
            ('requests.quarantined', (SELECT count(*) FROM requests WHERE status = 'quarantined')),
            ('events', (SELECT count(*) FROM events));

        CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries BEGIN
            INSERT INTO delivery_counts (destination, state, count) VALUES (new.destination, new.state, 1)
            ON CONFLICT (destination, state) DO UPDATE SET count = count + 1;
        END;
        CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries BEGIN
            UPDATE delivery_counts SET count = count - 1 WHERE destination = old.destination AND state = old.state;
        END;
        CREATE TRIGGER deliveries_count_update AFTER UPDATE OF state, destination ON deliveries
        WHEN old.state IS NOT new.state OR old.destination IS NOT new.destination BEGIN
            UPDATE delivery_counts SET count = count - 1 WHERE destination = old.destination AND state = old.state;
            INSERT INTO delivery_counts (destination, state, count) VALUES (new.destination, new.state, 1)
            ON CONFLICT (destination, state) DO UPDATE SET count = count + 1;
        END;

        CREATE TRIGGER requests_count_insert AFTER INSERT ON requests BEGIN
            UPDATE row_counts SET count = count + 1 WHERE name = 'requests.' || new.status;
        END;
        CREATE TRIGGER requests_count_delete AFTER DELETE ON requests BEGIN
            UPDATE row_counts SET count = count - 1 WHERE name = 'requests.' || old.status;
        END;
        CREATE TRIGGER requests_count_update AFTER UPDATE OF status ON requests
        WHEN old.status IS NOT new.status BEGIN
            UPDATE row_counts SET count = count - 1 WHERE name = 'requests.' || old.status;
            UPDATE row_counts SET count = count + 1 WHERE name = 'requests.' || new.status;
        END;

        CREATE TRIGGER events_count_insert AFTER INSERT ON events BEGIN
            UPDATE row_counts SET count = count + 1 WHERE name = 'events';
        END;
        CREATE TRIGGER events_count_delete AFTER DELETE ON events BEGIN
            UPDATE row_counts SET count = count - 1 WHERE name = 'events';
        END;
        """
}

extension Schema {
    /// v5: the spool's identity, one row made when the schema is created (or upgraded to v5) and
    /// never changed. `spool.id` beside the database records the same id: a database without it
    /// under that marker is one that lost its data (see `SpoolIntegrity`).
    static let v5 = """
        CREATE TABLE spool_identity (
            id         TEXT NOT NULL,
            created_at REAL NOT NULL
        ) STRICT;
        INSERT INTO spool_identity (id, created_at)
            VALUES (lower(hex(randomblob(16))), (julianday('now') - 2440587.5) * 86400.0);
        """
}

extension Schema {
    /// v6: what each attempt's response came to, for primary-vs-shadow comparisons: the latency
    /// (milliseconds) and the first bytes of the body (a BLOB: bodies need not be UTF-8; bounded by
    /// `delivery.response_body_keep_bytes`). Attempts recorded before stay NULL in both.
    static let v6 = """
        ALTER TABLE attempts ADD COLUMN latency_ms REAL;
        ALTER TABLE attempts ADD COLUMN body_prefix BLOB;
        """
}

extension Schema {
    /// v7: the counts of v4 kept by the code instead of per-row triggers. A trigger ran one or two
    /// statements for every row a statement touched (a delivery turn of 64 outcomes ran about 200),
    /// each growing SQLite's records for a trigger subprogram; now every write path notes what it
    /// changed in `SQLiteDatabase.countDeltas` and the transaction writes one upsert per
    /// (destination, state) and per row count that moved, just before its COMMIT
    /// (`RowCountDeltas`). The counts are exact when this runs (the triggers kept them so), so
    /// nothing is recounted. Every statement that changes `requests`, `events` or `deliveries`
    /// must note its change; `SpoolCountTests` compares the counts with the tables after random
    /// mixes of every operation.
    static let v7 = """
        DROP TRIGGER deliveries_count_insert;
        DROP TRIGGER deliveries_count_delete;
        DROP TRIGGER deliveries_count_update;
        DROP TRIGGER requests_count_insert;
        DROP TRIGGER requests_count_delete;
        DROP TRIGGER requests_count_update;
        DROP TRIGGER events_count_insert;
        DROP TRIGGER events_count_delete;
        """
}

extension Schema {
    /// v8: the CHECKs on `deliveries.state` and `attempts.outcome` as comparisons instead of `IN`
    /// lists. SQLite evaluates a CHECK `IN` of three or more values by building an ephemeral table
    /// on every insert or update of the column (about 5 µs: three times per delivery), comparisons
    /// cost nothing of the kind. Both spell the same constraint and no stored row changes, which is
    /// the case SQLite documents for editing `sqlite_schema` in place (writable_schema, "making
    /// other kinds of table schema changes"); rebuilding the tables would copy every row and, with
    /// foreign keys on, a dropped `deliveries` would cascade into `attempts`. `RESET` makes this
    /// connection parse the new text; others parse it when they open.
    static let v8 = """
        PRAGMA writable_schema = ON;
        UPDATE sqlite_schema
        SET sql = replace(sql, 'CHECK (state IN (''pending'', ''inflight'', ''delivered'', ''dead''))',
                          'CHECK (state = ''pending'' OR state = ''inflight'' OR state = ''delivered'' OR state = ''dead'')')
        WHERE type = 'table' AND name = 'deliveries';
        UPDATE sqlite_schema
        SET sql = replace(sql, 'CHECK (outcome IN (''delivered'', ''retry'', ''dead''))',
                          'CHECK (outcome = ''delivered'' OR outcome = ''retry'' OR outcome = ''dead'')')
        WHERE type = 'table' AND name = 'attempts';
        PRAGMA writable_schema = RESET;
        """
}

extension SQLiteDatabase {
    /// Brings the schema to the latest version. Each migration runs in its own IMMEDIATE transaction
    /// together with its `user_version` bump, and the version is read inside that transaction, so two
    /// processes opening the same file at once cannot both apply it.
    func migrate(_ migrations: [Schema.Migration] = Schema.migrations) throws(SpoolError) {
        let latest = migrations.last?.version ?? 0
        let found = try userVersion()
        if found > latest { throw newerSchema(found, latest) }
        if found == latest { return }
        for migration in migrations {
            try transaction("migrate schema to v\(migration.version)") { () throws(SpoolError) in
                let current = try userVersion()
                if current > latest { throw newerSchema(current, latest) }
                guard current == migration.version - 1 else { return }
                try execute(migration.sql, "migrate schema to v\(migration.version)")
                try execute("PRAGMA user_version = \(migration.version)", "set user_version to \(migration.version)")
            }
        }
    }

    private func newerSchema(_ found: Int32, _ latest: Int32) -> SpoolError {
        SpoolError(
            kind: .unsupportedSchema,
            message: "database schema v\(found) is newer than this build's v\(latest)",
            operation: "open \(path)")
    }

    func userVersion() throws(SpoolError) -> Int32 {
        let version = try firstRow("PRAGMA user_version", "read user_version") { $0.int64(0) } ?? 0
        return Int32(truncatingIfNeeded: version)
    }
}
