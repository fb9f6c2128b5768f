//! Correlations over HTTP (issue 17 item 4): the answer equals numpy on the data of
//! `testdata/correlations/oracle.json` (missing values pairwise-complete, windows
//! merged, the reference's correlations and the change), the scatter sample, late
//! regression labels (pending and joined) equal inline ones, and `correlation_change`
//! rules are accepted.

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

const COLUMNS: [&str; 5] = ["a", "b", "c", "d", "e"];

fn oracle() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/correlations/oracle.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An hour ago, so every event is well inside retention and not in the future.
fn base_ms() -> i64 {
    let now = modelwatch_core::time::now_ms();
    now - now % 60_000 - 3_600_000
}

/// One event per oracle row: features a–e, the score, a prediction from the score.
fn events(rows: &Value, prefix: &str, with_ids: bool) -> Vec<Value> {
    let base = base_ms();
    rows.as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let row = row.as_array().unwrap();
            let features: Map<String, Value> = COLUMNS
                .iter()
                .zip(row)
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect();
            let score = row[5].as_f64().unwrap();
            let mut event = json!({
                "features": features,
                "score": score,
                "prediction": if score >= 0.5 { "1" } else { "0" },
                // Three minutes: the answer merges three windows.
                "timestamp": base + (i as i64 % 3) * 60_000 + i as i64,
            });
            if with_ids {
                event["id"] = json!(format!("{prefix}{i}"));
            }
            event
        })
        .collect()
}

fn ndjson(events: &[Value]) -> Vec<u8> {
    events
        .iter()
        .map(|e| e.to_string() + "\n")
        .collect::<String>()
        .into_bytes()
}

fn close(ours: &Value, numpy: &Value) -> bool {
    match (ours.as_f64(), numpy.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * y.abs().max(1.0),
        (None, None) => ours.is_null() && numpy.is_null(),
        _ => false,
    }
}

fn assert_matrix(name: &str, ours: &Value, numpy: &Value) {
    let (ours, numpy) = (ours.as_array().unwrap(), numpy.as_array().unwrap());
    assert_eq!(ours.len(), numpy.len(), "{name}");
    for (i, (a, b)) in ours.iter().zip(numpy).enumerate() {
        for (j, (x, y)) in a
            .as_array()
            .unwrap()
            .iter()
            .zip(b.as_array().unwrap())
            .enumerate()
        {
            assert!(close(x, y), "{name}[{i}][{j}]: ours {x}, numpy {y}");
        }
    }
}

async fn binary_model(server: &TestServer) {
    let mut features: Vec<Value> = COLUMNS
        .iter()
        .map(|name| json!({"name": name, "type": "numeric"}))
        .collect();
    features.push(json!({"name": "g", "type": "categorical"}));
    let (status, body) = server
        .put_model(
            "m",
            json!({"task": "binary_classification", "features": features}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn the_answer_equals_numpy_with_the_reference_and_the_change() {
    let server = TestServer::start().await;
    binary_model(&server).await;
    let oracle = oracle();
    // Before any data or reference: the columns, undefined matrices, no reference.
    let (status, empty) = server.get("/api/v1/models/m/correlations").await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty["features"], json!(["a", "b", "c", "d", "e", "score"]));
    assert_eq!(empty["rows"], 0);
    assert_eq!(empty["reference_pearson"], Value::Null);
    assert_eq!(empty["max_abs_change"], Value::Null);

    let reference = events(&oracle["reference_rows"], "r", false);
    let (status, body) = server
        .put_body(
            "/api/v1/models/m/reference",
            "application/x-ndjson",
            ndjson(&reference),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let current = events(&oracle["rows"], "e", true);
    for batch in current.chunks(250) {
        let (status, body) = server
            .post("/api/v1/models/m/predictions", json!(batch))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["accepted"].as_u64(),
            Some(batch.len() as u64),
            "{body}"
        );
    }
    let (status, answer) = server.get("/api/v1/models/m/correlations").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["features"], oracle["columns"]);
    assert_eq!(answer["rows"], 600);
    assert_eq!(answer["left_out"], json!([]));
    assert_eq!(answer["model"], "m");
    assert_matrix("covariance", &answer["covariance"], &oracle["covariance"]);
    assert_matrix("pearson", &answer["pearson"], &oracle["pearson"]);
    assert_matrix(
        "reference_pearson",
        &answer["reference_pearson"],
        &oracle["reference_pearson"],
    );
    assert!(close(&answer["max_abs_change"], &oracle["max_abs_change"]));
    let pairs = answer["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 15);
    assert!(close(
        &pairs[0]["change"].as_f64().unwrap().abs().into(),
        &oracle["max_abs_change"]
    ));

    // The scatter sample: every row is kept (600 < 1,000); points where both are present.
    let (status, sample) = server
        .get("/api/v1/models/m/correlations/sample?x=a&y=c")
        .await;
    assert_eq!(status, StatusCode::OK, "{sample}");
    assert_eq!(
        (sample["rows"].as_u64(), sample["sampled"].as_u64()),
        (Some(600), Some(600))
    );
    assert_eq!(sample["capacity"], 1000);
    let both = oracle["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| !row[0].is_null() && !row[2].is_null())
        .count();
    assert_eq!(sample["points"].as_array().unwrap().len(), both);
    // A version without data: the same columns, nothing in them.
    let (status, none) = server
        .get("/api/v1/models/m/correlations?version=other")
        .await;
    assert_eq!(status, StatusCode::OK, "{none}");
    assert_eq!(none["rows"], 0);
    assert_eq!(none["pearson"][0][1], Value::Null);

    // `correlation_change` is a rule metric.
    let (status, body) = server
        .put_json(
            "/api/v1/rules/correlations",
            json!({"model": "m", "metric": "correlation_change", "window": "1h",
                   "condition": {"op": ">", "threshold": 0.3}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn regression(server: &TestServer, name: &str) {
    let (status, body) = server
        .put_model(
            name,
            json!({"task": "regression", "features": [{"name": "x", "type": "numeric"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn late_labels_count_as_inline_labels_do() {
    let server = TestServer::start().await;
    regression(&server, "inline").await;
    regression(&server, "late").await;
    let base = base_ms();
    let row = |i: i64| {
        let x = i as f64 * 0.37 - 4.0;
        let label = 3.0 * x - 0.2 * (i % 7) as f64;
        (x, x * 2.9 + 1.0, label)
    };
    let event = |i: i64, label: bool| {
        let (x, prediction, y) = row(i);
        let mut event = json!({"id": format!("e{i}"), "timestamp": base + i * 1_000,
            "features": {"x": x}, "prediction": prediction});
        if label {
            event["label"] = json!(y);
        }
        event
    };
    let inline: Vec<Value> = (0..120).map(|i| event(i, i % 5 != 0)).collect();
    let (status, body) = server
        .post("/api/v1/models/inline/predictions", json!(inline))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Labels of e0..e39 wait for their predictions; the others follow them.
    let labels = |range: std::ops::Range<i64>| -> Value {
        range
            .filter(|i| i % 5 != 0)
            .map(|i| json!({"id": format!("e{i}"), "label": row(i).2}))
            .collect()
    };
    let (status, body) = server
        .post("/api/v1/models/late/labels", labels(0..40))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let late: Vec<Value> = (0..120).map(|i| event(i, false)).collect();
    let (status, body) = server
        .post("/api/v1/models/late/predictions", json!(late))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .post("/api/v1/models/late/labels", labels(40..120))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (_, expected) = server.get("/api/v1/models/inline/correlations").await;
    let (_, answer) = server.get("/api/v1/models/late/correlations").await;
    assert_eq!(answer["features"], json!(["x", "prediction", "label"]));
    assert_matrix("pearson", &answer["pearson"], &expected["pearson"]);
    assert_matrix("covariance", &answer["covariance"], &expected["covariance"]);
    // The label is correlated with x (96 labelled rows).
    assert!(answer["pearson"][0][2].as_f64().unwrap() > 0.99, "{answer}");
    let (_, points) = server
        .get("/api/v1/models/late/correlations/sample?x=x&y=label")
        .await;
    assert_eq!(points["points"].as_array().unwrap().len(), 96, "{points}");
}
