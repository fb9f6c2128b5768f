//! The frozen database (`testdata/frozen/modelwatch.sqlite`, written by older code; see
//! `testdata/frozen/README.md`) must open with the current code and answer with the
//! values it was made from: its models, counts, metrics, reference, drift, alerting
//! definitions, alert history and tokens; and it must take new data.
//!
//! Every test works on a copy. Never regenerate the frozen file to make this pass: a new
//! schema needs a migration that reads the old one.

mod common;

#[path = "../../core/tests/support/drift_compare.rs"]
mod drift_compare;
#[path = "../../core/tests/support/metrics_compare.rs"]
mod metrics_compare;

use std::path::PathBuf;

use common::TestServer;
use modelwatch_core::alert::baseline::ReferenceChunks;
use modelwatch_server::auth::AuthMode;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The frozen tokens' secrets (see the generator, `examples/freeze_database.rs`).
const ADMIN_SECRET: &str = "mw_frozen_admin_0000000000000000000000000000";
const READ_SECRET: &str = "mw_frozen_read_credit_00000000000000000000000";

fn testdata(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path)
}

fn json_file(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(testdata(path)).unwrap()).unwrap()
}

/// A server with tokens required, on a copy of the frozen database.
async fn frozen_server() -> (TestServer, tempfile::TempDir) {
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(
        testdata("frozen/modelwatch.sqlite"),
        modelwatch_store::database_path(copy.path()),
    )
    .unwrap();
    let data_dir = copy.path().to_path_buf();
    let server = TestServer::start_with(move |config| {
        config.data_dir = data_dir;
        config.auth = AuthMode::Required;
    })
    .await;
    (server, copy)
}

async fn get_as(server: &TestServer, secret: &str, path: &str) -> (StatusCode, Value) {
    let response = server
        .client
        .get(server.url(path))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn get(server: &TestServer, path: &str) -> Value {
    let (status, body) = get_as(server, ADMIN_SECRET, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn post(server: &TestServer, path: &str, body: Value) -> Value {
    let response = server
        .client
        .post(server.url(path))
        .bearer_auth(ADMIN_SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

#[tokio::test]
async fn frozen_models_counts_and_metrics_are_read() {
    let (server, _copy) = frozen_server().await;
    let models = get(&server, "/api/v1/models").await;
    let names: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["credit", "drifty"]);

    let credit = get(&server, "/api/v1/models/credit").await;
    assert_eq!(credit["task"], "binary_classification");
    assert_eq!(credit["stats"]["predictions"], 596);
    assert_eq!(credit["stats"]["labelled"], 530);
    assert_eq!(credit["stats"]["pending_labels"], 1);
    assert_eq!(credit["stats"]["newest_event"], "2024-03-13T23:51:52Z");
    assert_eq!(credit["stats"]["reference"], Value::Null);
    let mut versions: Vec<&str> = credit["stats"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    versions.sort();
    assert_eq!(versions, ["v1", "v2"]);

    // The stored profiles give scikit-learn's metrics, over the range and per day.
    let expected = json_file("golden/binary.expected.json");
    let metrics = get(&server, "/api/v1/models/credit/metrics?step=1d").await;
    metrics_compare::assert_metrics(
        "frozen credit summary",
        metrics["summary"].as_object().unwrap(),
        expected["summary"].as_object().unwrap(),
    );
    let series = metrics["series"].as_array().unwrap();
    let days = expected["daily"].as_array().unwrap();
    assert_eq!(series.len(), days.len());
    for (got, want) in series.iter().zip(days) {
        assert_eq!(got["start"], want["start"]);
        metrics_compare::assert_metrics(
            &format!("frozen credit {}", want["start"]),
            got["metrics"].as_object().unwrap(),
            want["metrics"].as_object().unwrap(),
        );
    }
    for (version, want) in expected["by_version"].as_object().unwrap() {
        let metrics = get(
            &server,
            &format!("/api/v1/models/credit/metrics?version={version}"),
        )
        .await;
        metrics_compare::assert_metrics(
            &format!("frozen credit {version}"),
            metrics["summary"].as_object().unwrap(),
            want.as_object().unwrap(),
        );
    }
}

#[tokio::test]
async fn frozen_tokens_still_authorise() {
    let (server, _copy) = frozen_server().await;
    let response = server
        .client
        .get(server.url("/api/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = get_as(&server, "mw_not_a_frozen_token", "/api/v1/models").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The read token is restricted to `credit`.
    let (status, body) = get_as(&server, READ_SECRET, "/api/v1/models/credit/metrics").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["summary"]["count"], 596);
    let (status, body) = get_as(&server, READ_SECRET, "/api/v1/models/drifty").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let response = server
        .client
        .put(server.url("/api/v1/models/credit"))
        .bearer_auth(READ_SECRET)
        .json(&json_file("golden/binary.schema.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn frozen_reference_gives_scipys_drift_and_quality() {
    let (server, _copy) = frozen_server().await;
    let drifty = get(&server, "/api/v1/models/drifty").await;
    assert_eq!(drifty["stats"]["predictions"], 300);
    assert_eq!(drifty["stats"]["reference"]["rows"], 500);
    assert_eq!(drifty["stats"]["reference"]["generation"], 1);
    let reference = get(&server, "/api/v1/models/drifty/reference").await;
    assert_eq!(reference["rows"], 500);
    assert_eq!(reference["generation"], 1);
    let drift = get(&server, "/api/v1/models/drifty/drift").await;
    let quality = get(&server, "/api/v1/models/drifty/quality").await;
    drift_compare::check_answers(
        "frozen drifty",
        &drift,
        &quality,
        &json_file("drift/small.expected.json"),
    );

    // The reference chunks of the alert baselines: 500 rows in five chunks of 100.
    let store = server.store();
    let id = store
        .load_models()
        .unwrap()
        .into_iter()
        .find(|entry| entry.model.name == "drifty")
        .unwrap()
        .id;
    let bytes = store
        .load_reference_chunks(id)
        .unwrap()
        .expect("reference chunks of drifty");
    let chunks = ReferenceChunks::decode(&bytes).unwrap();
    assert_eq!(chunks.chunk_rows, 100);
    assert_eq!(chunks.chunks.len(), 5);
    assert!(chunks.chunks.iter().all(|chunk| chunk.count == 100));
}

#[tokio::test]
async fn frozen_alerting_definitions_and_history_are_read() {
    let (server, _copy) = frozen_server().await;
    let rule = get(&server, "/api/v1/rules/credit-accuracy").await;
    assert_eq!(
        rule,
        json!({"name": "credit-accuracy", "model": "credit", "metric": "accuracy",
               "window": "1d", "every": "1d", "clock": "event",
               "condition": {"op": "<", "threshold": 0.7},
               "min_count": 100, "keep_firing_for": "0s", "severity": "warning",
               "labels": {"team": "risk"},
               "channels": ["ops"]})
    );
    let rules = get(&server, "/api/v1/rules").await;
    assert_eq!(rules["rules"].as_array().unwrap().len(), 1);

    let channel = get(&server, "/api/v1/channels/ops").await;
    assert_eq!(channel["type"], "webhook");
    assert!(channel["url"].as_str().unwrap().ends_with("/hook"));
    assert_eq!(channel["group_wait"], "0ms");
    assert_eq!(channel["repeat_interval"], "4h");
    assert_eq!(channel["group_by"], json!(["alertname", "model"]));

    let silence = get(&server, "/api/v1/silences/drifty-maintenance").await;
    assert_eq!(silence["matchers"], json!({"model": "drifty"}));
    assert_eq!(silence["ends_at"], "2099-01-01T00:00:00Z");
    assert_eq!(silence["comment"], "frozen fixture");

    // Accuracy 0.698 on 2024-03-11 raised the alert; 0.704 on 2024-03-12 resolved it.
    let alerts = get(&server, "/api/v1/alerts?state=all").await;
    let alerts = alerts["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["rule"], "credit-accuracy");
    assert_eq!(alert["model"], "credit");
    assert_eq!(alert["state"], "resolved");
    assert_eq!(alert["starts_at"], "2024-03-12T00:00:00Z");
    assert_eq!(alert["ends_at"], "2024-03-13T00:00:00Z");
    let day_one = json_file("golden/binary.expected.json")["daily"][0]["metrics"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!((alert["value"].as_f64().unwrap() - day_one).abs() < 1e-12);
    assert_eq!(alert["labels"]["team"], "risk");
    assert_eq!(alert["labels"]["alertname"], "credit-accuracy");

    let events = get(&server, "/api/v1/events?model=credit").await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"notified"), "{kinds:?}");
}

#[tokio::test]
async fn frozen_database_takes_new_events_and_joins_its_pending_label() {
    let (server, _copy) = frozen_server().await;
    let answer = post(
        &server,
        "/api/v1/models/credit/predictions",
        json!([{"id": "b-never-sent", "timestamp": "2024-03-13T23:59:00Z", "version": "v2",
                "prediction": "1", "score": 0.9, "features": {"income": 1000.0, "region": "east"}}]),
    )
    .await;
    assert_eq!(answer["accepted"], 1, "{answer}");
    assert_eq!(answer["labels_joined"], 1, "{answer}");
    let credit = get(&server, "/api/v1/models/credit").await;
    assert_eq!(credit["stats"]["predictions"], 597);
    assert_eq!(credit["stats"]["labelled"], 531);
    assert_eq!(credit["stats"]["pending_labels"], 0);
    let metrics = get(&server, "/api/v1/models/credit/metrics").await;
    assert_eq!(metrics["summary"]["count"], 597);
    assert_eq!(metrics["summary"]["labelled_count"], 531);
}
