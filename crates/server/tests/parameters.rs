//! Model internals over HTTP (issue 17): tensors sent as raw values (with NaN and
//! Infinity tokens) and as client summaries, read back per tensor and step, compared
//! between versions and steps (hand-checked numbers), and judged by `parameters.*`
//! alert rules.

mod common;

use common::{TestServer, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PATH: &str = "/api/v1/models/net/parameters";

async fn post_raw(server: &TestServer, body: &str) -> (StatusCode, Value) {
    let response = server
        .client
        .post(server.url(PATH))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn net(server: &TestServer) {
    let (status, body) = server
        .put_model(
            "net",
            json!({"task": "regression", "allowed_lateness": "0s"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-12)
}

#[tokio::test]
async fn tensors_are_summarised_stored_and_compared() {
    let server = TestServer::start().await;
    net(&server).await;
    // v1, step 0: w = [1, 3] (mean 2, std 1, norm √10); step 1: w = [2, 6].
    for (step, w) in [(0, "[1, 3]"), (1, "[2, 6]")] {
        let body = format!(
            r#"{{"version": "v1", "step": {step}, "tensors": [{{"name": "w", "values": {w}}}, {{"name": "b", "values": [0, NaN, Infinity]}}]}}"#
        );
        let (status, answer) = post_raw(&server, &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            answer,
            json!({"accepted": 2, "step": step, "version": "v1"})
        );
    }
    // v2 sends a client summary of w = [4, 4, 4, 4] and a tensor v1 lacks.
    let summary = json!({"count": 4, "min": 4.0, "max": 4.0, "mean": 4.0, "std": 0.0,
        "zeros": 0, "nan": 0, "inf": 0, "l2_norm": 8.0,
        "histogram": {"edges": [3.5, 4.5], "counts": [4]}});
    let (status, answer) = server
        .post(
            PATH,
            json!({"version": "v2", "step": 7, "tensors": [
                {"name": "w", "summary": summary},
                {"name": "extra", "values": [1]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let (status, series) = server.get(&format!("{PATH}?version=v1&tensor=w")).await;
    assert_eq!(status, StatusCode::OK, "{series}");
    let tensors = series["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), 1);
    assert_eq!(tensors[0]["tensor"], "w");
    let points = tensors[0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    let first = &points[0]["summary"];
    assert_eq!(points[0]["step"], 0);
    assert!(close(&first["mean"], 2.0) && close(&first["std"], 1.0));
    assert!(close(&first["l2_norm"], 10f64.sqrt()));
    assert_eq!(first["histogram"]["counts"].as_array().unwrap().len(), 64);
    let (_, b) = server.get(&format!("{PATH}?tensor=b&from_step=1")).await;
    let b = &b["tensors"][0]["points"][0]["summary"];
    assert_eq!(
        (&b["count"], &b["nan"], &b["inf"], &b["zeros"]),
        (&json!(3), &json!(1), &json!(1), &json!(1))
    );

    // Versions, each at its last step: w from [2, 6] (mean 4, std 2, norm √40) to
    // [4, 4, 4, 4] (mean 4, std 0, norm 8): norm change 8/√40 − 1. Wasserstein, by
    // hand: v1's histogram holds one value in [2, 2.0625) and one in [5.9375, 6]; v2's
    // four in [3.5, 4.5]. ∫|F1 − F2| = 0.015625 ([2, 2.0625]) + 0.5 · 1.4375
    // ([2.0625, 3.5]) + 0.25 (two triangles on [3.5, 4.5]) + 0.5 · 1.4375 + 0.015625
    // = 1.71875.
    let (status, diff) = server
        .get(&format!("{PATH}/diff?from_version=v1&to_version=v2"))
        .await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    assert_eq!(diff["only_in_from"], json!(["b"]));
    assert_eq!(diff["only_in_to"], json!(["extra"]));
    let w = &diff["tensors"][0];
    assert_eq!(
        (&w["tensor"], &w["from_step"], &w["to_step"]),
        (&json!("w"), &json!(1), &json!(7))
    );
    assert!(close(&w["mean_change"], 0.0), "{w}");
    assert!(close(&w["std_change"], -2.0), "{w}");
    assert!(close(&w["l2_norm_change"], 8.0 / 40f64.sqrt() - 1.0), "{w}");
    assert!(close(&w["wasserstein"], 1.71875), "{w}");

    // Steps of v1: w doubles, so the norm change is 1 and the mean moves by 2.
    let (status, diff) = server
        .get(&format!("{PATH}/diff?from_step=0&to_step=1&version=v1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    let w = diff["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tensor"] == "w")
        .unwrap()
        .clone();
    assert!(
        close(&w["l2_norm_change"], 1.0) && close(&w["mean_change"], 2.0),
        "{w}"
    );

    // The report lists each tensor and version from its first step to its last.
    let (status, report) = server.get("/api/v1/models/net/report").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = report["internals"].as_array().unwrap();
    let keys: Vec<(&str, &str, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["tensor"].as_str().unwrap(),
                r["version"].as_str().unwrap(),
                r["first_step"].as_i64().unwrap(),
                r["last_step"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("b", "v1", 0, 1),
            ("extra", "v2", 7, 7),
            ("w", "v1", 0, 1),
            ("w", "v2", 7, 7)
        ]
    );
    assert!(close(&rows[2]["l2_norm_change"], 1.0), "{}", rows[2]);
    assert_eq!((&rows[0]["nan"], &rows[0]["inf"]), (&json!(1), &json!(1)));
    let html = server
        .client
        .get(server.url("/api/v1/models/net/report?format=html"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<h2 id="internals">Model internals</h2>"#));
    assert!(html.contains("+100.0%"), "the norm of w doubled");
}

#[tokio::test]
async fn rules_fire_on_nan_values_and_on_a_jump_in_a_norm() {
    let server = TestServer::start().await;
    net(&server).await;
    // In the last complete minute, so the rules' first span holds it.
    let now = modelwatch_core::time::now_ms();
    let ts = now - now % 60_000 - 30_000;
    for (step, w) in [(1, "[1, 1]"), (2, "[3, 3]")] {
        let body = format!(
            r#"{{"step": {step}, "timestamp": {ts}, "tensors": [{{"name": "dense/kernel", "values": {w}}}, {{"name": "b", "values": [NaN, NaN, 1]}}]}}"#
        );
        let (status, answer) = post_raw(&server, &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    for (name, metric, threshold) in [
        ("nan", "parameters.nan", 0.0),
        ("jump", "parameters.l2_norm_change.dense/kernel", 0.5),
    ] {
        let (status, body) = server
            .put_json(
                &format!("/api/v1/rules/{name}"),
                json!({"model": "net", "metric": metric, "window": "2m", "every": "1m",
                       "condition": {"op": ">", "threshold": threshold}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["clock"], "wall");
    }
    let firing = eventually(30, "both alerts", || async {
        let (_, body) = server.get("/api/v1/alerts?state=firing").await;
        let list = body["alerts"].as_array().cloned().unwrap_or_default();
        (list.len() == 2).then_some(list)
    })
    .await;
    let value = |rule: &str| {
        firing
            .iter()
            .find(|a| a["rule"] == rule)
            .map(|a| a["value"].clone())
            .unwrap()
    };
    // Two summaries of b with 2 NaN each; the kernel's norm went from √2 to 3√2.
    assert_eq!(value("nan"), 4.0);
    assert!(close(&value("jump"), 2.0), "{firing:?}");
}
