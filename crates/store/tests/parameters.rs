//! The parameter summaries of model internals on a real SQLite database: stored per
//! version, step and tensor (a second write of the same key replaces it), read back by
//! filter and as the last step per tensor, deleted with their model and by retention.

use modelwatch_core::parameters::summarise;
use modelwatch_core::{Model, ModelDefinition};
use modelwatch_store::{
    ParameterFilter, ParameterRow, ParameterStorage, PutModelOutcome, SqliteStore, Storage,
    StoreError, StoreOptions,
};
use serde_json::json;

const DAY: i64 = 86_400_000;

async fn model_id(store: &SqliteStore, name: &str) -> i64 {
    let model = Model::new(
        name,
        serde_json::from_value::<ModelDefinition>(json!({"task": "regression"})).unwrap(),
    )
    .unwrap();
    match store.put_model(model, 100, 1).await.unwrap() {
        PutModelOutcome::Created(entry) => entry.id,
        other => panic!("{other:?}"),
    }
}

fn row(model_id: i64, version: &str, step: i64, tensor: &str, ts: i64, value: f64) -> ParameterRow {
    ParameterRow {
        model_id,
        version: version.into(),
        step,
        tensor: tensor.into(),
        timestamp_ms: ts,
        summary: summarise(&[value, -value]),
    }
}

fn keys(rows: &[ParameterRow]) -> Vec<(String, String, i64)> {
    rows.iter()
        .map(|r| (r.tensor.clone(), r.version.clone(), r.step))
        .collect()
}

#[tokio::test]
async fn summaries_are_kept_per_version_step_and_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), StoreOptions::default()).unwrap();
    let id = model_id(&store, "net").await;
    let mut rows = Vec::new();
    for step in 0..3 {
        rows.push(row(id, "v1", step, "w", step * 1000, 1.0 + step as f64));
        rows.push(row(id, "v1", step, "b", step * 1000, 0.5));
    }
    rows.push(row(id, "v2", 0, "w", 5000, 9.0));
    assert_eq!(store.put_parameters(rows, 1).await.unwrap(), 7);
    // The same key again replaces its summary.
    store
        .put_parameters(vec![row(id, "v1", 2, "w", 2000, 4.0)], 2)
        .await
        .unwrap();
    let all = store
        .load_parameters(id, &ParameterFilter::default(), 100)
        .unwrap();
    assert_eq!(
        keys(&all),
        [
            ("b", "v1", 0),
            ("b", "v1", 1),
            ("b", "v1", 2),
            ("w", "v1", 0),
            ("w", "v1", 1),
            ("w", "v1", 2),
            ("w", "v2", 0)
        ]
        .map(|(t, v, s)| (t.to_string(), v.to_string(), s))
    );
    assert_eq!(all[5].summary.max, Some(4.0), "replaced");
    let filter = ParameterFilter {
        version: Some("v1".into()),
        tensor: Some("w".into()),
        from_step: Some(1),
        to_step: Some(2),
        ..ParameterFilter::default()
    };
    let steps: Vec<i64> = store
        .load_parameters(id, &filter, 100)
        .unwrap()
        .iter()
        .map(|r| r.step)
        .collect();
    assert_eq!(steps, [1, 2]);
    let last = ParameterFilter {
        last_step_only: true,
        ..ParameterFilter::default()
    };
    assert_eq!(
        keys(&store.load_parameters(id, &last, 100).unwrap()),
        [("b", "v1", 2), ("w", "v1", 2), ("w", "v2", 0)].map(|(t, v, s)| (
            t.to_string(),
            v.to_string(),
            s
        ))
    );
    let in_time = ParameterFilter {
        from_ms: Some(1000),
        to_ms: Some(2000),
        ..ParameterFilter::default()
    };
    assert_eq!(store.load_parameters(id, &in_time, 100).unwrap().len(), 2);
    assert_eq!(
        store
            .load_parameters(id, &ParameterFilter::default(), 3)
            .unwrap()
            .len(),
        3
    );
    // Deleting the model deletes its summaries; writing to it then fails.
    assert!(store.delete_model("net").await.unwrap());
    assert!(
        store
            .load_parameters(id, &ParameterFilter::default(), 100)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .put_parameters(vec![row(id, "v1", 0, "w", 0, 1.0)], 3)
            .await,
        Err(StoreError::ModelNotFound)
    ));
}

#[tokio::test]
async fn retention_keeps_hour_profiles_worth_behind_the_newest_summary() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        retention: modelwatch_store::Retention {
            hour_profiles_ms: 5 * DAY,
            ..modelwatch_store::Retention::default()
        },
        ..StoreOptions::default()
    };
    let store = SqliteStore::open(dir.path(), options).unwrap();
    let (a, b) = (model_id(&store, "a").await, model_id(&store, "b").await);
    // Model a: one summary a day for 10 days; model b: two days long ago.
    let mut rows: Vec<_> = (0..10)
        .map(|d| row(a, "v1", d, "w", d * DAY, 1.0))
        .collect();
    rows.push(row(b, "v1", 0, "w", 0, 1.0));
    rows.push(row(b, "v1", 1, "w", DAY, 1.0));
    store.put_parameters(rows, 1).await.unwrap();
    let outcome = store.apply_retention().await.unwrap();
    // a's newest is day 9: days 0..=3 are older than 5 days before it. b keeps both.
    assert_eq!(outcome.parameters, 4);
    let steps = |id| -> Vec<i64> {
        store
            .load_parameters(id, &ParameterFilter::default(), 100)
            .unwrap()
            .iter()
            .map(|r| r.step)
            .collect()
    };
    assert_eq!(steps(a), [4, 5, 6, 7, 8, 9]);
    assert_eq!(steps(b), [0, 1]);
}
