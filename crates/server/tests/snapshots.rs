//! Byte-for-byte snapshots of every API answer on the golden data sets: models, ingest,
//! labels, metrics, references, drift, quality, the report in its three formats, the
//! alerting resources, errors and the model series of `/metrics`. They pin the wire
//! format through refactors; a change to them is a change to the contract and must be
//! deliberate (`INSTA_UPDATE=always cargo test -p modelwatch-server --test snapshots`,
//! then review the diff).
//!
//! Only wall-clock times (creation, upload, generation and log times) are masked: every
//! other byte is compared.

mod common;

#[path = "support/wall_clock.rs"]
mod wall_clock;

use std::path::PathBuf;

use common::{TestServer, eventually};
use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::{Model, ModelDefinition};
use serde_json::{Value, json};
use wall_clock::mask_wall_clock;

fn testdata(path: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata")
            .join(path),
    )
    .unwrap()
}

fn schema(path: &str) -> Value {
    serde_json::from_slice(&testdata(path)).unwrap()
}

/// The rows of a CSV as the JSON events a client would send.
fn events(schema_path: &str, csv_path: &str) -> Vec<Value> {
    let model = Model::new(
        "m",
        serde_json::from_value::<ModelDefinition>(schema(schema_path)).unwrap(),
    )
    .unwrap();
    let csv = testdata(csv_path);
    CsvRecords::new(csv.as_slice(), &model)
        .unwrap()
        .map(|(_, r)| Value::Object(r.unwrap()))
        .collect()
}

/// Records every answer, status line first, as one snapshot each.
struct Recorder<'a> {
    server: &'a TestServer,
}

impl Recorder<'_> {
    async fn send(&self, name: &str, request: reqwest::RequestBuilder) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response.text().await.unwrap();
        let text = format!(
            "{} {content_type}\n{}",
            status.as_u16(),
            mask_wall_clock(&body)
        );
        insta::assert_snapshot!(name, text);
    }

    async fn get(&self, name: &str, path: &str) {
        self.send(name, self.server.client.get(self.server.url(path)))
            .await;
    }

    async fn delete(&self, name: &str, path: &str) {
        self.send(name, self.server.client.delete(self.server.url(path)))
            .await;
    }

    async fn json(&self, name: &str, method: reqwest::Method, path: &str, body: &Value) {
        self.send(
            name,
            self.server
                .client
                .request(method, self.server.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    }

    async fn put_json(&self, name: &str, path: &str, body: &Value) {
        self.json(name, reqwest::Method::PUT, path, body).await;
    }

    async fn post_json(&self, name: &str, path: &str, body: &Value) {
        self.json(name, reqwest::Method::POST, path, body).await;
    }

    async fn put_csv(&self, name: &str, path: &str, csv: Vec<u8>) {
        self.send(
            name,
            self.server
                .client
                .put(self.server.url(path))
                .header("content-type", "text/csv")
                .body(csv),
        )
        .await;
    }
}

/// The golden binary data with a third of its labels held back (sent later), a
/// duplicate and an invalid record.
fn binary_events() -> (Vec<Value>, Vec<Value>) {
    let mut rows = events("golden/binary.schema.json", "golden/binary.csv");
    let mut late = Vec::new();
    for (i, row) in rows.iter_mut().enumerate() {
        if i % 3 == 0
            && let Some(label) = row.as_object_mut().unwrap().remove("label")
        {
            late.push(json!({"id": row["id"], "label": label}));
        }
    }
    let duplicate = rows[0].clone();
    rows.push(duplicate);
    rows.push(json!({"id": "bad-1", "prediction": "7", "timestamp": "2024-03-11T10:00:00Z"}));
    (rows, late)
}

async fn wait_for_alert(server: &TestServer, rule: &str) {
    eventually(30, rule, || async {
        let (_, alerts) = server.get("/api/v1/alerts?state=all").await;
        alerts["alerts"]
            .as_array()?
            .iter()
            .any(|a| a["rule"] == rule)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn every_answer_is_byte_for_byte_what_it_was() {
    // Drift gauges on the few rows here too, so that their format stays pinned (the
    // minimum itself is tested in prometheus.rs).
    let server = TestServer::start_with(|config| config.metrics.drift_min_rows = 1).await;
    let r = Recorder { server: &server };

    r.get("healthz", "/healthz").await;
    r.get("models_empty", "/api/v1/models").await;

    // Models of the three tasks, and one for the drift data set.
    let binary = schema("golden/binary.schema.json");
    r.put_json("model_created", "/api/v1/models/b", &binary)
        .await;
    r.put_json("model_updated", "/api/v1/models/b", &binary)
        .await;
    for (name, path) in [
        ("m", "golden/multiclass.schema.json"),
        ("r", "golden/regression.schema.json"),
        ("d", "drift/small.schema.json"),
    ] {
        let (status, _) = server.put_model(name, schema(path)).await;
        assert!(status.is_success());
    }

    // Ingest: the binary data with rejections, labels late; the others whole.
    let (rows, late) = binary_events();
    r.post_json(
        "ingest_binary",
        "/api/v1/models/b/predictions",
        &Value::Array(rows),
    )
    .await;
    let mut labels = late;
    labels.push(json!({"id": "not-yet", "label": 1}));
    labels.push(json!({"id": "b-000002", "label": "maybe"}));
    r.post_json(
        "labels_binary",
        "/api/v1/models/b/labels",
        &Value::Array(labels),
    )
    .await;
    for (name, task) in [("m", "multiclass"), ("r", "regression")] {
        let rows = events(
            &format!("golden/{task}.schema.json"),
            &format!("golden/{task}.csv"),
        );
        let (status, body) = server
            .post(
                &format!("/api/v1/models/{name}/predictions"),
                Value::Array(rows),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    let ndjson: String = events("drift/small.schema.json", "drift/small.current.csv")
        .iter()
        .map(|e| format!("{e}\n"))
        .collect();
    r.send(
        "ingest_ndjson",
        server
            .client
            .post(server.url("/api/v1/models/d/predictions"))
            .header("content-type", "application/x-ndjson")
            .body(ndjson),
    )
    .await;

    // Metrics.
    for model in ["b", "m", "r"] {
        r.get(
            &format!("metrics_{model}"),
            &format!("/api/v1/models/{model}/metrics"),
        )
        .await;
        r.get(
            &format!("metrics_{model}_daily"),
            &format!("/api/v1/models/{model}/metrics?step=1d"),
        )
        .await;
    }
    r.get(
        "metrics_b_hourly_v2_range",
        "/api/v1/models/b/metrics?step=6h&version=v2&from=2024-03-11T00:00:00Z&to=2024-03-12T12:00:00Z",
    )
    .await;

    // References, drift, quality.
    r.get("drift_without_reference", "/api/v1/models/d/drift")
        .await;
    r.get("quality_without_reference", "/api/v1/models/d/quality")
        .await;
    r.put_csv(
        "reference_put",
        "/api/v1/models/d/reference",
        testdata("drift/small.reference.csv"),
    )
    .await;
    r.get("reference_get", "/api/v1/models/d/reference").await;
    r.put_csv(
        "reference_put_binary",
        "/api/v1/models/b/reference",
        testdata("golden/binary.csv"),
    )
    .await;
    r.get("drift_d", "/api/v1/models/d/drift").await;
    r.get("quality_d", "/api/v1/models/d/quality").await;
    r.get(
        "drift_d_range",
        "/api/v1/models/d/drift?from=2024-03-11T00:00:00Z&to=2024-03-11T12:00:00Z",
    )
    .await;
    r.get("drift_d_daily", "/api/v1/models/d/drift?step=1d")
        .await;
    r.get("quality_d_daily", "/api/v1/models/d/quality?step=1d")
        .await;
    r.get("drift_b", "/api/v1/models/b/drift").await;
    r.get("quality_b_v2", "/api/v1/models/b/quality?version=v2")
        .await;
    r.get("quality_m", "/api/v1/models/m/quality").await;
    // Correlations (issue 17 item 4): the answer against the reference, and a sample.
    r.get("correlations_d", "/api/v1/models/d/correlations")
        .await;
    r.get(
        "correlations_b_v2",
        "/api/v1/models/b/correlations?version=v2",
    )
    .await;

    // Model internals: two versions of two tensors at fixed times, their series and
    // their diffs.
    for (version, step, kernel) in [
        ("v1", 0, json!([0.5, -0.25, 0.0, 1.0])),
        ("v1", 1, json!([0.75, -0.5, 0.25, 1.5])),
        ("v2", 0, json!([0.1, 0.2, 0.3, 0.4])),
    ] {
        r.post_json(
            &format!("parameters_post_{version}_{step}"),
            "/api/v1/models/m/parameters",
            &json!({"version": version, "step": step, "timestamp": "2024-03-11T00:00:00Z",
                    "tensors": [{"name": "dense/kernel", "values": kernel},
                                {"name": "dense/bias", "values": [0.0, 0.125]}]}),
        )
        .await;
    }
    r.get(
        "parameters_series",
        "/api/v1/models/m/parameters?tensor=dense/bias",
    )
    .await;
    r.get(
        "parameters_diff_versions",
        "/api/v1/models/m/parameters/diff?from_version=v1&to_version=v2",
    )
    .await;
    r.get(
        "parameters_diff_steps",
        "/api/v1/models/m/parameters/diff?from_step=0&to_step=1&version=v1",
    )
    .await;

    // Alerting: a channel nothing is sent to, a rule that fires on the golden data, a
    // silence.
    r.put_json(
        "channel_put",
        "/api/v1/channels/ops",
        &json!({"type": "webhook", "url": "http://127.0.0.1:9/hook", "group_wait": "30s"}),
    )
    .await;
    r.put_json(
        "rule_put",
        "/api/v1/rules/low-accuracy",
        &json!({"model": "b", "metric": "accuracy", "window": "1d",
                "condition": {"op": "<", "threshold": 0.99}, "min_count": 10,
                "severity": "critical", "labels": {"team": "risk"}, "channels": []}),
    )
    .await;
    // One rule at a time, so the alerts' ids do not depend on the engine's rounds.
    wait_for_alert(&server, "low-accuracy").await;
    r.put_json(
        "rule_put_drift",
        "/api/v1/rules/drift-num-shift",
        &json!({"model": "d", "metric": "drift.num_shift", "window": "1d", "channels": []}),
    )
    .await;
    wait_for_alert(&server, "drift-num-shift").await;
    r.put_json(
        "silence_put",
        "/api/v1/silences/maintenance",
        &json!({"matchers": {"model": "r"}, "starts_at": "2024-03-01T00:00:00Z",
                "ends_at": "2024-03-02T00:00:00Z", "comment": "planned"}),
    )
    .await;
    r.get("rules", "/api/v1/rules").await;
    r.get("rule_get", "/api/v1/rules/low-accuracy").await;
    r.get("channels", "/api/v1/channels").await;
    r.get("channel_get", "/api/v1/channels/ops").await;
    r.get("silences", "/api/v1/silences").await;
    r.get("alerts", "/api/v1/alerts?state=all").await;
    r.get("alerts_b", "/api/v1/alerts?model=b").await;
    r.get("events_b", "/api/v1/events?model=b").await;
    // Issue 18: the same rule backtested over the golden days, notifying `ops`, tuned.
    r.post_json(
        "rule_backtest",
        "/api/v1/rules/backtest",
        &json!({"name": "low-accuracy",
                "rule": {"model": "b", "metric": "accuracy", "window": "1d",
                         "condition": {"op": "<", "threshold": 0.99}, "min_count": 10,
                         "severity": "critical", "labels": {"team": "risk"}, "channels": ["ops"]},
                "from": "2024-03-11T00:00:00Z", "to": "2024-03-14T00:00:00Z",
                "tune": {"target_alerts_per_week": 1}}),
    )
    .await;
    // Routing by urgency, set after the alerts above were notified (so it routes none).
    r.put_json(
        "routing_put",
        "/api/v1/routing",
        &json!({"route": {"channels": [], "group_by": ["model"],
                          "routes": [{"matchers": ["severity=critical", "model=~\"b|d\""], "channels": ["ops"], "group_wait": "0s"}]},
                "inhibit_rules": [{"source_matchers": ["severity=critical"], "target_matchers": ["severity=warning"], "equal": ["model"]}]}),
    )
    .await;
    r.get("routing", "/api/v1/routing").await;

    // Reports.
    for format in ["json", "md", "html"] {
        r.get(
            &format!("report_b_{format}"),
            &format!("/api/v1/models/b/report?format={format}"),
        )
        .await;
        r.get(
            &format!("report_d_{format}"),
            &format!("/api/v1/models/d/report?format={format}&step=6h"),
        )
        .await;
    }
    r.get("report_r_json", "/api/v1/models/r/report").await;

    // Models with their stats.
    r.get("models", "/api/v1/models").await;
    r.get("model_b", "/api/v1/models/b").await;
    r.get("model_d", "/api/v1/models/d").await;

    // Errors.
    r.get("error_model_not_found", "/api/v1/models/nope/metrics")
        .await;
    r.get("error_bad_step", "/api/v1/models/b/metrics?step=fortnight")
        .await;
    r.get("error_bad_from", "/api/v1/models/b/metrics?from=yesterday")
        .await;
    r.get("error_unknown_param", "/api/v1/models/b/metrics?frm=1")
        .await;
    r.get(
        "error_drift_step",
        "/api/v1/models/d/drift?from=2000-01-01T00:00:00Z&step=1m",
    )
    .await;
    r.get("error_report_format", "/api/v1/models/b/report?format=pdf")
        .await;
    r.get("error_no_route", "/api/v1/nothing").await;
    r.delete("error_method", "/api/v1/models").await;
    r.put_json(
        "error_model_definition",
        "/api/v1/models/x",
        &json!({"task": "binary_classification", "features": [{"name": "a", "type": "text"}]}),
    )
    .await;
    r.put_json(
        "error_schema_conflict",
        "/api/v1/models/b",
        &json!({"task": "regression", "features": []}),
    )
    .await;
    r.send(
        "error_media_type",
        server
            .client
            .post(server.url("/api/v1/models/b/predictions"))
            .header("content-type", "text/plain")
            .body("hello"),
    )
    .await;
    r.post_json(
        "error_not_json",
        "/api/v1/models/b/predictions",
        &json!("not an array"),
    )
    .await;
    r.put_json(
        "error_rule_metric",
        "/api/v1/rules/bad",
        &json!({"model": "b", "metric": "mae", "window": "1d",
                "condition": {"op": "<", "threshold": 1}}),
    )
    .await;
    r.put_json(
        "error_channel_type",
        "/api/v1/channels/bad",
        &json!({"type": "pigeon"}),
    )
    .await;

    // The series of /metrics about models (process series and compute times vary from
    // run to run).
    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // A family's series come in hash order: sorted, they compare.
    let mut model_series: Vec<&str> = text.lines().filter(|l| l.contains("model=\"")).collect();
    model_series.sort_unstable();
    let model_series: String = model_series.iter().map(|l| format!("{l}\n")).collect();
    assert!(!model_series.is_empty(), "no model series in {text}");
    insta::assert_snapshot!("prometheus_model_series", model_series);

    // Deletion last.
    r.delete("model_deleted", "/api/v1/models/r").await;
    r.get("model_deleted_get", "/api/v1/models/r").await;
    r.delete("rule_deleted", "/api/v1/rules/low-accuracy").await;
}

/// The answers per segment value and of fairness: the golden binary data with `region`
/// as segment and sensitive feature, labels joined late.
#[tokio::test]
async fn segment_and_fairness_answers_are_pinned() {
    let server = TestServer::start().await;
    let r = Recorder { server: &server };
    let mut definition = schema("golden/binary.schema.json");
    definition["segments"] = json!(["region"]);
    definition["features"][1]["sensitive"] = json!(true);
    r.put_json("segments_model_created", "/api/v1/models/s", &definition)
        .await;
    let (rows, late) = binary_events();
    let (status, body) = server
        .post("/api/v1/models/s/predictions", Value::Array(rows))
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = server
        .post("/api/v1/models/s/labels", Value::Array(late))
        .await;
    assert!(status.is_success(), "{body}");
    r.get(
        "metrics_segment_region_daily",
        "/api/v1/models/s/metrics?segment=region&step=1d",
    )
    .await;
    r.get(
        "fairness_region_daily",
        "/api/v1/models/s/fairness?feature=region&step=1d",
    )
    .await;
    r.get(
        "metrics_segment_unknown",
        "/api/v1/models/s/metrics?segment=income",
    )
    .await;
    r.get(
        "drift_segment_refused",
        "/api/v1/models/s/drift?segment=region",
    )
    .await;
}
