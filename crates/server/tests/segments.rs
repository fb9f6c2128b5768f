//! Segments and fairness over HTTP: each segment value's metrics equal the metrics of a
//! model fed only that value's events; fairness (with half the labels late, joined by
//! the store) equals fairlearn 0.15 on `testdata/fairness`; rules on a segment and on
//! `fairness.<feature>.<name>` (the four-fifths rule) fire.

mod common;

use common::{TestServer, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn rows() -> Vec<(String, String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fairness/rows.csv"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

fn definition(grouped: bool) -> Value {
    let mut definition = json!({
        "task": "binary_classification",
        "features": [
            {"name": "gender", "type": "categorical", "sensitive": grouped},
            {"name": "region", "type": "categorical"},
        ],
    });
    if grouped {
        definition["segments"] = json!(["region"]);
    }
    definition
}

/// Equal JSON, numbers within rounding (sums such as log loss add in another order).
fn assert_same(a: &Value, b: &Value, what: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{what}"
            );
            for (k, v) in x {
                assert_same(v, &y[k], &format!("{what}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{what}");
            for (v, w) in x.iter().zip(y) {
                assert_same(v, w, what);
            }
        }
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "{what}: {x} vs {y}"
            );
        }
        _ => assert_eq!(a, b, "{what}"),
    }
}

fn region_of(i: usize) -> &'static str {
    ["north", "south", "east"][i % 7 % 3]
}

const START_MS: i64 = 1_710_151_200_000;

/// Event `i` of the rows: a region from its index, a timestamp one second apart; the
/// label inline for even `i`.
fn event(i: usize, (group, label, prediction): &(String, String, String)) -> Value {
    let region = region_of(i);
    let mut event = json!({
        "id": format!("e{i}"),
        "timestamp": START_MS + i as i64 * 1000,
        "prediction": prediction,
        "score": if prediction == "1" { 0.8 } else { 0.3 },
        "latency_ms": (i % 50) as f64,
        "features": {"gender": group, "region": region},
    });
    if i.is_multiple_of(2) {
        event["label"] = json!(label);
    }
    event
}

async fn ingest(
    server: &TestServer,
    model: &str,
    events: &[(usize, Value)],
    labels: &[(usize, String)],
) {
    for chunk in events.chunks(1000) {
        let body: Vec<Value> = chunk.iter().map(|(_, e)| e.clone()).collect();
        let (status, answer) = server
            .post(&format!("/api/v1/models/{model}/predictions"), json!(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    for chunk in labels.chunks(1000) {
        let body: Vec<Value> = chunk
            .iter()
            .map(|(i, label)| json!({"id": format!("e{i}"), "label": label}))
            .collect();
        let (status, answer) = server
            .post(&format!("/api/v1/models/{model}/labels"), json!(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

#[tokio::test]
async fn segments_and_fairness_over_http() {
    let server = TestServer::start().await;
    let rows = rows();
    let events: Vec<(usize, Value)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (i, event(i, r)))
        .collect();
    let late: Vec<(usize, String)> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(i, r)| (i, r.1.clone()))
        .collect();
    let (status, answer) = server.put_model("grouped", definition(true)).await;
    assert!(status.is_success(), "{answer}");
    ingest(&server, "grouped", &events, &late).await;

    let range = format!("from={START_MS}&to={}", START_MS + 2 * 3_600_000);
    let (status, segmented) = server
        .get(&format!(
            "/api/v1/models/grouped/metrics?segment=region&{range}&step=1h"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{segmented}");
    assert_eq!(segmented["segment"], "region");
    let groups = segmented["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    for group in groups {
        let value = group["value"].as_str().unwrap();
        let model = format!("only-{value}");
        server.put_model(&model, definition(false)).await;
        let keep = |i: &usize| region_of(*i) == value;
        let filtered: Vec<(usize, Value)> =
            events.iter().filter(|(i, _)| keep(i)).cloned().collect();
        let filtered_late: Vec<(usize, String)> =
            late.iter().filter(|(i, _)| keep(i)).cloned().collect();
        ingest(&server, &model, &filtered, &filtered_late).await;
        let (_, alone) = server
            .get(&format!("/api/v1/models/{model}/metrics?{range}&step=1h"))
            .await;
        assert_same(&group["summary"], &alone["summary"], value);
        let points: Vec<&Value> = alone["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["metrics"])
            .collect();
        let segment_points: Vec<&Value> = group["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["metrics"])
            .collect();
        assert_eq!(segment_points.len(), points.len());
        for (a, b) in segment_points.iter().zip(&points) {
            assert_same(a, b, value);
        }
    }
    // Largest first.
    let counts: Vec<u64> = groups
        .iter()
        .map(|g| g["summary"]["count"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");

    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/fairness/expected.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let (status, fairness) = server
        .get(&format!(
            "/api/v1/models/grouped/fairness?feature=gender&{range}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{fairness}");
    let close = |got: &Value, want: &Value| {
        let (got, want) = (got.as_f64().unwrap(), want.as_f64().unwrap());
        assert!((got - want).abs() <= 1e-9, "{got} vs {want}");
    };
    for name in [
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equal_opportunity_difference",
    ] {
        close(&fairness["summary"]["metrics"][name], &expected[name]);
    }
    for group in fairness["summary"]["groups"].as_array().unwrap() {
        let want = &expected["groups"][group["value"].as_str().unwrap()];
        for name in [
            "selection_rate",
            "true_positive_rate",
            "false_positive_rate",
        ] {
            close(&group[name], &want[name]);
        }
    }

    // The four-fifths rule and a segment rule; both hold on the planted bias.
    for (name, rule) in [
        (
            "four-fifths",
            json!({"model": "grouped", "metric": "fairness.gender.demographic_parity_ratio", "window": "1h", "condition": {"op": "<", "threshold": 0.8}}),
        ),
        (
            "north-accuracy",
            json!({"model": "grouped", "metric": "accuracy", "segment": {"region": "north"}, "window": "1h", "condition": {"op": "<", "threshold": 0.99}}),
        ),
    ] {
        let response = server
            .client
            .put(server.url(&format!("/api/v1/rules/{name}")))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{name}: {}",
            response.text().await.unwrap()
        );
    }
    for name in ["four-fifths", "north-accuracy"] {
        eventually(30, name, || async {
            let (_, alerts) = server.get("/api/v1/alerts?state=all").await;
            alerts["alerts"]
                .as_array()?
                .iter()
                .any(|a| a["rule"] == name)
                .then_some(())
        })
        .await;
    }
    // The rule shows its segment back.
    let (_, rule) = server.get("/api/v1/rules/north-accuracy").await;
    assert_eq!(rule["segment"], json!({"region": "north"}));
}
