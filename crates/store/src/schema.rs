//! The SQLite schema and its migrations.
//!
//! `PRAGMA user_version` records the schema version; each migration runs once, in
//! order, inside a transaction.

use rusqlite::Connection;

use crate::error::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: models, raw predictions, pending labels and window profiles.
    "CREATE TABLE models (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        definition TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        newest_event_ms INTEGER
    );
    CREATE TABLE predictions (
        model_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        version TEXT NOT NULL,
        prediction TEXT,
        score TEXT,
        label TEXT,
        latency_ms REAL,
        error INTEGER NOT NULL,
        features TEXT,
        received_ms INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX predictions_by_id ON predictions (model_id, id);
    CREATE TABLE pending_labels (
        model_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        label TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        PRIMARY KEY (model_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE profiles (
        model_id INTEGER NOT NULL,
        granularity INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        version TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (model_id, granularity, start_ms, version)
    ) WITHOUT ROWID;",
    // 2: references, feature profiles and the markers of lazily written windows.
    "CREATE INDEX predictions_by_time ON predictions (model_id, ts);
    CREATE TABLE model_references (
        model_id INTEGER PRIMARY KEY,
        generation INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        uploaded_ms INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE TABLE feature_profiles (
        model_id INTEGER NOT NULL,
        granularity INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        version TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (model_id, granularity, start_ms, version)
    ) WITHOUT ROWID;
    CREATE TABLE lazy_dirty (
        model_id INTEGER NOT NULL,
        granularity INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        version TEXT NOT NULL,
        PRIMARY KEY (model_id, granularity, start_ms, version)
    ) WITHOUT ROWID;",
    // 3: where retention has cut a model's raw events.
    "ALTER TABLE models ADD COLUMN raw_kept_from_ms INTEGER;",
    // 4: alerting: definitions, the evaluator's state, alerts, the event log, the
    // notification groups and the outbox of notifications not yet delivered.
    "CREATE TABLE rules (name TEXT PRIMARY KEY, model TEXT NOT NULL, definition TEXT NOT NULL, updated_ms INTEGER NOT NULL);
    CREATE TABLE channels (name TEXT PRIMARY KEY, definition TEXT NOT NULL, updated_ms INTEGER NOT NULL);
    CREATE TABLE silences (name TEXT PRIMARY KEY, definition TEXT NOT NULL, updated_ms INTEGER NOT NULL);
    CREATE TABLE rule_states (rule TEXT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rule TEXT NOT NULL,
        model TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        starts_at_ms INTEGER NOT NULL,
        ends_at_ms INTEGER,
        detail TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX alerts_by_model ON alerts (model, state);
    CREATE TABLE alert_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        model TEXT,
        rule TEXT,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX alert_events_by_model ON alert_events (model, id);
    CREATE TABLE notify_groups (
        channel TEXT NOT NULL,
        group_key TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (channel, group_key)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE TABLE reference_chunks (model_id INTEGER PRIMARY KEY, data BLOB NOT NULL);",
    // 5: API tokens, as hashes.
    "CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        models TEXT,
        created_ms INTEGER NOT NULL,
        revoked_ms INTEGER
    );",
    // 6: the definition (and model) a rule's state was judged under, so that after a
    // crash a state never outlives its definition: a redefined or deleted rule's open
    // alert is resolved instead of kept firing.
    "ALTER TABLE rule_states ADD COLUMN definition TEXT NOT NULL DEFAULT '';
    ALTER TABLE rule_states ADD COLUMN model TEXT NOT NULL DEFAULT '';",
    // 7: window profiles in rowid tables, their key in an index of its own. In a
    // WITHOUT ROWID table the blobs live in the key's B-tree, so with multi-megabyte
    // blobs every step of a key search walked overflow pages (one writer read 1.48 TB
    // in a few minutes); now a search reads the small index and one blob at most.
    "CREATE TABLE profiles_by_rowid (
        id INTEGER PRIMARY KEY,
        model_id INTEGER NOT NULL,
        granularity INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        version TEXT NOT NULL,
        data BLOB NOT NULL
    );
    INSERT INTO profiles_by_rowid (model_id, granularity, start_ms, version, data)
        SELECT model_id, granularity, start_ms, version, data FROM profiles;
    DROP TABLE profiles;
    ALTER TABLE profiles_by_rowid RENAME TO profiles;
    CREATE UNIQUE INDEX profiles_by_window ON profiles (model_id, granularity, start_ms, version);
    CREATE TABLE feature_profiles_by_rowid (
        id INTEGER PRIMARY KEY,
        model_id INTEGER NOT NULL,
        granularity INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        version TEXT NOT NULL,
        data BLOB NOT NULL
    );
    INSERT INTO feature_profiles_by_rowid (model_id, granularity, start_ms, version, data)
        SELECT model_id, granularity, start_ms, version, data FROM feature_profiles;
    DROP TABLE feature_profiles;
    ALTER TABLE feature_profiles_by_rowid RENAME TO feature_profiles;
    CREATE UNIQUE INDEX feature_profiles_by_window
        ON feature_profiles (model_id, granularity, start_ms, version);",
    // 8: model internals: one summary (JSON) per model, version, step and tensor; `ts`
    // is when the tensors were taken, for range reads, rules and retention.
    "CREATE TABLE parameter_summaries (
        id INTEGER PRIMARY KEY,
        model_id INTEGER NOT NULL,
        version TEXT NOT NULL,
        step INTEGER NOT NULL,
        tensor TEXT NOT NULL,
        ts INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE UNIQUE INDEX parameter_summaries_by_key
        ON parameter_summaries (model_id, version, tensor, step);
    CREATE INDEX parameter_summaries_by_time ON parameter_summaries (model_id, ts);",
    // 9: the raw log records of the served model (`POST .../logs`), newest first by
    // event time for search; their counts per level and template live in the profiles.
    "CREATE TABLE log_records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        version TEXT NOT NULL,
        level INTEGER NOT NULL,
        message TEXT NOT NULL,
        template TEXT NOT NULL,
        instance TEXT,
        record_id TEXT,
        attributes TEXT,
        received_ms INTEGER NOT NULL
    );
    CREATE INDEX log_records_by_time ON log_records (model_id, ts, seq);",
];

/// Opens pragmas for durability and concurrency on a connection.
pub fn configure(conn: &Connection) -> Result<(), StoreError> {
    // WAL lets readers run beside the one writer; synchronous=FULL fsyncs the WAL
    // at every commit, so a commit that returned is on disk.
    // First, so that opening waits for a writer still closing (a restart in-process).
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Brings the schema up to date.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
