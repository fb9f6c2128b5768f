//! Store tests on a real SQLite database in a temporary directory.

use std::sync::Arc;

use modelwatch_core::event::{LabelRecord, PredictionEvent, Score, Target};
use modelwatch_core::{Granularity, Model, ModelDefinition};
use modelwatch_store::{ModelEntry, PutModelOutcome, SqliteStore, Storage, StoreOptions};
use serde_json::json;

fn model(json: serde_json::Value) -> Model {
    Model::new(
        "credit",
        serde_json::from_value::<ModelDefinition>(json).unwrap(),
    )
    .unwrap()
}

fn event(id: &str, ts: i64, prediction: &str, label: Option<&str>) -> PredictionEvent {
    PredictionEvent {
        id: id.into(),
        timestamp_ms: ts,
        version: "v1".into(),
        features: vec![],
        unknown_features: 0,
        prediction: Some(Target::Class(prediction.into())),
        score: Some(Score::Positive(if prediction == "1" { 0.8 } else { 0.3 })),
        label: label.map(|l| Target::Class(l.into())),
        latency_ms: Some(10.0),
        error: false,
    }
}

async fn created(store: &SqliteStore, definition: serde_json::Value) -> Arc<ModelEntry> {
    match store.put_model(model(definition), 100, 1).await.unwrap() {
        PutModelOutcome::Created(entry) => entry,
        other => panic!("{other:?}"),
    }
}

const DAY: i64 = 86_400_000;

#[tokio::test]
async fn ingest_labels_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let entry = {
        let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
        let entry = created(&store, json!({"task": "binary_classification"})).await;
        // A label that arrives before its prediction waits for it.
        let early = store
            .ingest_labels(
                entry.clone(),
                vec![LabelRecord {
                    id: "c".into(),
                    label: Target::Class("1".into()),
                }],
                5,
            )
            .await
            .unwrap();
        assert_eq!((early.matched, early.pending), (0, 1));
        let outcome = store
            .ingest(
                entry.clone(),
                modelwatch_store::prepare(
                    &entry.model,
                    vec![
                        event("a", DAY + 1, "1", Some("1")),
                        event("b", DAY + 2, "1", None),
                        event("a", DAY + 3, "0", None),
                        event("c", 2 * DAY, "1", None),
                    ],
                    None,
                ),
                10,
            )
            .await
            .unwrap();
        assert_eq!(outcome.accepted, 3);
        assert_eq!(outcome.duplicates, vec![2]);
        assert_eq!(outcome.joined_pending_labels, 1);
        let late = store
            .ingest_labels(
                entry.clone(),
                vec![
                    LabelRecord {
                        id: "b".into(),
                        label: Target::Class("0".into()),
                    },
                    LabelRecord {
                        id: "b".into(),
                        label: Target::Class("1".into()),
                    },
                ],
                20,
            )
            .await
            .unwrap();
        assert_eq!(late.matched, 1);
        assert_eq!(late.rejected.len(), 1);
        assert_eq!(late.rejected[0].0, 1);
        entry
    };
    // Reopen: everything acknowledged is there, and the profiles agree with it.
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    let models = store.load_models().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].id, entry.id);
    let counts = store.counts(entry.id).unwrap();
    assert_eq!(
        (counts.predictions, counts.labelled, counts.pending_labels),
        (3, 3, 0)
    );
    assert_eq!(counts.newest_event_ms, Some(2 * DAY));
    for granularity in Granularity::ALL {
        let profiles = store
            .load_profiles(entry.id, granularity, None, None, None)
            .unwrap();
        let total: u64 = profiles.iter().map(|(_, p)| p.count).sum();
        let labelled: u64 = profiles.iter().map(|(_, p)| p.labelled_count).sum();
        assert_eq!((total, labelled), (3, 3), "{granularity:?}");
    }
    let first_day = store
        .load_profiles(
            entry.id,
            Granularity::Day,
            Some(DAY),
            Some(2 * DAY),
            Some("v1"),
        )
        .unwrap();
    assert_eq!(first_day.len(), 1);
    // a: (1, 1) inline; b: predicted 1, late label 0.
    let confusion = &first_day[0].1.classification.confusion;
    assert_eq!(confusion["1"].get("1"), Some(&1));
    assert_eq!(confusion["0"].get("1"), Some(&1));
    assert!(
        store
            .load_profiles(entry.id, Granularity::Day, None, None, Some("v9"))
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn schema_changes_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    let entry = created(
        &store,
        json!({"task": "regression", "features": [{"name": "x", "type": "numeric"}]}),
    )
    .await;
    let added = store
        .put_model(
            model(json!({"task": "regression", "features": [{"name": "x", "type": "numeric"}, {"name": "y", "type": "categorical"}]})),
            100,
            2,
        )
        .await
        .unwrap();
    assert!(
        matches!(added, PutModelOutcome::Updated(ref e) if e.id == entry.id && e.created_ms == 1)
    );
    let conflict = store
        .put_model(
            model(
                json!({"task": "regression", "features": [{"name": "x", "type": "categorical"}]}),
            ),
            100,
            3,
        )
        .await
        .unwrap();
    assert!(matches!(conflict, PutModelOutcome::Conflict(ref e) if e.field == "features[0].type"));
    assert!(store.delete_model("credit").await.unwrap());
    assert!(!store.delete_model("credit").await.unwrap());
    assert!(store.load_models().unwrap().is_empty());
    // Ingest into a deleted model is refused rather than leaving orphan rows.
    let err = store
        .ingest(
            entry.clone(),
            modelwatch_store::prepare(&entry.model, vec![], None),
            4,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, modelwatch_store::StoreError::ModelNotFound));
    let again = created(&store, json!({"task": "regression"})).await;
    assert_ne!(again.id, entry.id);
}

#[tokio::test]
async fn refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(modelwatch_store::database_path(dir.path()), b"this is not sqlite, just text padding it out ....................................................................................").unwrap();
    assert!(SqliteStore::open(dir.path(), StoreOptions::default()).is_err());
}

#[tokio::test]
async fn retention_deletes_old_raw_events_and_fine_profiles_but_keeps_days() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        retention: modelwatch_store::Retention {
            raw_events_ms: 10 * DAY,
            minute_profiles_ms: 2 * DAY,
            hour_profiles_ms: 5 * DAY,
            pending_labels_ms: 30 * DAY,
            ..modelwatch_store::Retention::default()
        },
        ..StoreOptions::default()
    };
    let store = SqliteStore::open(dir.path(), options).unwrap();
    let entry = created(&store, json!({"task": "binary_classification"})).await;
    // One event at noon of each of 20 days.
    let events: Vec<_> = (0..20)
        .map(|d| event(&format!("e{d}"), d * DAY + DAY / 2, "1", Some("1")))
        .collect();
    store
        .ingest(
            entry.clone(),
            modelwatch_store::prepare(&entry.model, events, None),
            1,
        )
        .await
        .unwrap();
    let outcome = store.apply_retention().await.unwrap();
    // Newest event: day 19 noon. Raw events before day 9 noon go: days 0..=8.
    assert_eq!(outcome.events, 9);
    assert_eq!(store.counts(entry.id).unwrap().predictions, 11);
    let count = |g| {
        store
            .load_profiles(entry.id, g, None, None, None)
            .unwrap()
            .len()
    };
    assert_eq!(count(Granularity::Minute), 3, "minutes of days 17, 18, 19");
    assert_eq!(count(Granularity::Hour), 6, "hours of days 14..=19");
    assert_eq!(count(Granularity::Day), 20, "days are kept");
    let total: u64 = store
        .load_profiles(entry.id, Granularity::Day, None, None, None)
        .unwrap()
        .iter()
        .map(|(_, p)| p.count)
        .sum();
    assert_eq!(total, 20);
    // An event older than the retained raw rows cannot be checked for duplicates: refused.
    let again = store
        .ingest(
            entry.clone(),
            modelwatch_store::prepare(&entry.model, vec![event("e0", DAY / 2, "1", None)], None),
            2,
        )
        .await
        .unwrap();
    assert_eq!((again.accepted, again.too_old.clone()), (0, vec![0]));
    // A second pass finds nothing more to delete.
    assert_eq!(
        store.apply_retention().await.unwrap(),
        modelwatch_store::RetentionOutcome::default()
    );
}

/// Issue 11 (review): the reference and its chunk profiles used to be committed in two
/// transactions, so a failure or a crash between them left the chunks of one reference
/// beside another. Now they are one write: when it fails, neither changes.
#[tokio::test]
async fn a_reference_and_its_chunks_are_written_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    let entry = created(
        &store,
        json!({"task": "binary_classification", "features": [{"name": "x", "type": "numeric"}]}),
    )
    .await;
    let reference = |rows: usize| {
        let mut builder = modelwatch_core::drift::ReferenceBuilder::new(&entry.model);
        for i in 0..rows {
            builder.observe(&entry.model, &event(&format!("r{i}"), 0, "1", Some("1")));
        }
        builder.finish(0).unwrap()
    };
    let chunks = |store: &SqliteStore, id: i64| store.load_reference_chunks(id).unwrap();
    store
        .set_reference(entry.clone(), reference(10), b"first chunks".to_vec(), 5)
        .await
        .unwrap();
    assert_eq!(
        chunks(&store, entry.id).as_deref(),
        Some(&b"first chunks"[..])
    );

    // A write that fails (its model is gone) leaves both as they were.
    let gone = Arc::new(ModelEntry {
        id: entry.id + 1,
        ..(*entry).clone()
    });
    let failed = store
        .set_reference(gone.clone(), reference(20), b"orphan chunks".to_vec(), 6)
        .await;
    assert!(failed.is_err());
    assert_eq!(
        chunks(&store, gone.id),
        None,
        "chunks of a failed reference"
    );
    assert_eq!(
        chunks(&store, entry.id).as_deref(),
        Some(&b"first chunks"[..])
    );
    let (kept, uploaded) = store.load_reference(entry.id).unwrap().unwrap();
    assert_eq!((kept.rows, uploaded), (10, 5));

    store
        .set_reference(entry.clone(), reference(30), b"second chunks".to_vec(), 7)
        .await
        .unwrap();
    assert_eq!(
        chunks(&store, entry.id).as_deref(),
        Some(&b"second chunks"[..])
    );
    assert_eq!(store.load_reference(entry.id).unwrap().unwrap().0.rows, 30);
}

/// An event of `version` at `ts`.
fn versioned(id: &str, ts: i64, version: &str) -> PredictionEvent {
    PredictionEvent {
        version: version.into(),
        ..event(id, ts, "1", None)
    }
}

async fn ingest_all(
    store: &SqliteStore,
    entry: &Arc<ModelEntry>,
    events: Vec<PredictionEvent>,
) -> modelwatch_store::IngestOutcome {
    store
        .ingest(
            entry.clone(),
            modelwatch_store::prepare(&entry.model, events, None),
            modelwatch_core::time::now_ms(),
        )
        .await
        .unwrap()
}

/// 9999-12-31T23:59:00Z, the outlier of issue 13.
const YEAR_9999_MS: i64 = 253_402_300_740_000;

#[tokio::test]
async fn a_watermark_an_outlier_moved_is_recovered_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let now = modelwatch_core::time::now_ms();
    let minute = |ts: i64| ts - ts.rem_euclid(60_000);
    let real = minute(now) - 10 * 60_000 + 5;
    let entry = {
        // Stored as before the bound existed: the store takes what validation passed.
        let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
        let entry = created(&store, json!({"task": "binary_classification"})).await;
        let outcome = ingest_all(
            &store,
            &entry,
            vec![
                event("real", real, "1", None),
                event("outlier", YEAR_9999_MS, "1", None),
            ],
        )
        .await;
        assert_eq!(outcome.accepted, 2);
        assert_eq!(
            store.counts(entry.id).unwrap().newest_event_ms,
            Some(YEAR_9999_MS)
        );
        entry
    };
    // Retention that ran under the outlier's watermark cut the raw events far ahead.
    {
        let conn = rusqlite::Connection::open(modelwatch_store::database_path(dir.path())).unwrap();
        conn.execute(
            "UPDATE models SET raw_kept_from_ms = ?1",
            [YEAR_9999_MS - 30 * DAY],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.newest_event_times().unwrap()["credit"], real);
    // The cut is set back to the end of the newest minute with data: later real events
    // are taken, older ones (which could duplicate deleted rows) are still refused.
    let outcome = ingest_all(
        &store,
        &entry,
        vec![
            event("after", minute(real) + 60_000, "1", None),
            event("before", minute(real) - 1, "1", None),
        ],
    )
    .await;
    assert_eq!((outcome.accepted, outcome.too_old), (1, vec![1]));
    // The outlier's row stays stored; it no longer drives the clock.
    assert_eq!(store.counts(entry.id).unwrap().predictions, 3);
}

#[tokio::test]
async fn versions_beyond_the_model_bound_are_rejected_and_stay_rejected_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        max_versions_per_model: 2,
        ..StoreOptions::default()
    };
    let entry = {
        let store = SqliteStore::open(dir.path(), options.clone()).unwrap();
        let entry = created(&store, json!({"task": "binary_classification"})).await;
        let outcome = ingest_all(
            &store,
            &entry,
            vec![
                versioned("a", DAY, "v1"),
                versioned("b", DAY, "v2"),
                versioned("c", DAY, "v3"),
                versioned("d", DAY, "v1"),
            ],
        )
        .await;
        assert_eq!(
            (outcome.accepted, outcome.version_limit.clone()),
            (3, vec![2])
        );
        entry
    };
    let store = SqliteStore::open(dir.path(), options).unwrap();
    let outcome = ingest_all(
        &store,
        &entry,
        vec![versioned("e", DAY, "v3"), versioned("f", DAY, "v2")],
    )
    .await;
    assert_eq!((outcome.accepted, outcome.version_limit), (1, vec![0]));
    assert_eq!(store.versions(entry.id).unwrap(), vec!["v1", "v2"]);
    // Nothing of the rejected version reached a profile.
    assert!(
        store
            .load_profiles(entry.id, Granularity::Day, None, None, Some("v3"))
            .unwrap()
            .is_empty()
    );
}

/// The definition SQLite keeps of `table`.
fn table_sql(conn: &rusqlite::Connection, table: &str) -> String {
    conn.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |row| row.get(0),
    )
    .unwrap()
}

#[tokio::test]
async fn tables_of_large_blobs_are_rowid_tables_in_fresh_and_migrated_stores() {
    // In a WITHOUT ROWID table every key search walks the blobs' overflow pages.
    let fresh = tempfile::tempdir().unwrap();
    let frozen = tempfile::tempdir().unwrap();
    let frozen_file = modelwatch_store::database_path(frozen.path());
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/frozen/modelwatch.sqlite"
        ),
        &frozen_file,
    )
    .unwrap();
    let count = |conn: &rusqlite::Connection, table: &str| -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .unwrap()
    };
    let before = {
        let conn = rusqlite::Connection::open(&frozen_file).unwrap();
        assert!(table_sql(&conn, "profiles").contains("WITHOUT ROWID"));
        (count(&conn, "profiles"), count(&conn, "feature_profiles"))
    };
    assert!(before.0 > 0 && before.1 > 0);
    for dir in [fresh.path(), frozen.path()] {
        drop(SqliteStore::open(dir, StoreOptions::default()).unwrap());
        let conn = rusqlite::Connection::open(modelwatch_store::database_path(dir)).unwrap();
        for table in [
            "profiles",
            "feature_profiles",
            "model_references",
            "reference_chunks",
        ] {
            let sql = table_sql(&conn, table);
            assert!(!sql.contains("WITHOUT ROWID"), "{table}: {sql}");
        }
    }
    let conn = rusqlite::Connection::open(&frozen_file).unwrap();
    assert_eq!(
        (count(&conn, "profiles"), count(&conn, "feature_profiles")),
        before
    );
}

#[tokio::test]
async fn the_first_window_with_data_sees_through_windows_deleted_by_retention() {
    const HOUR: i64 = 3_600_000;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    let entry = created(&store, json!({"task": "binary_classification"})).await;
    let at = DAY + 10 * HOUR + 30 * 60_000;
    ingest_all(&store, &entry, vec![event("a", at + 7, "1", None)]).await;
    let first = |from: i64, to: i64| store.first_window_with_data(entry.id, from, to).unwrap();
    assert_eq!(first(DAY, 2 * DAY), Some(at));
    assert_eq!(first(at + 60_000, 2 * DAY), None);
    assert_eq!(first(DAY, at), None);
    let conn = rusqlite::Connection::open(modelwatch_store::database_path(dir.path())).unwrap();
    // Retention deleted the minute windows: the hour window stands for them.
    conn.execute("DELETE FROM profiles WHERE granularity = 0", [])
        .unwrap();
    assert_eq!(first(DAY, 2 * DAY), Some(DAY + 10 * HOUR));
    assert_eq!(
        first(DAY + 10 * HOUR + 5 * 60_000, 2 * DAY),
        Some(DAY + 10 * HOUR + 5 * 60_000)
    );
    assert_eq!(first(DAY + 11 * HOUR, 2 * DAY), None);
    // And the hour windows too: the day window stands for them.
    conn.execute("DELETE FROM profiles WHERE granularity = 1", [])
        .unwrap();
    assert_eq!(first(DAY + HOUR, 2 * DAY), Some(DAY + HOUR));
    assert_eq!(first(2 * DAY, 3 * DAY), None);
}
