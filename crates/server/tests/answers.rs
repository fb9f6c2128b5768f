//! Every answer the server computes reads back into core's types: the metrics, drift and
//! quality answers and the report, for each task, with and without a step, a version, a
//! reference or data. Deserialized and serialized again, each is the JSON the server
//! sent (floats compared as serde_json parses them).

mod common;

use std::path::PathBuf;

use common::TestServer;
use modelwatch_core::answer::{DriftAnswer, MetricsAnswer, QualityAnswer, Report};
use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::{Model, ModelDefinition};
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn testdata(path: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata")
            .join(path),
    )
    .unwrap()
}

/// The rows of a CSV file as the JSON events a client would send.
fn events(schema: &Value, csv: &[u8]) -> Vec<Value> {
    let definition: ModelDefinition = serde_json::from_value(schema.clone()).unwrap();
    let model = Model::new("m", definition).unwrap();
    CsvRecords::new(csv, &model)
        .unwrap()
        .map(|(_, r)| Value::Object(r.unwrap()))
        .collect()
}

/// Creates model `name` from `schema`, sends the events of `csv` and, when given, uploads
/// the reference CSV.
async fn model(server: &TestServer, name: &str, schema: &str, csv: &str, reference: Option<&str>) {
    let schema: Value = serde_json::from_slice(&testdata(schema)).unwrap();
    let (status, body) = server.put_model(name, schema.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    if let Some(reference) = reference {
        let (status, body) = server
            .put_body(
                &format!("/api/v1/models/{name}/reference"),
                "text/csv",
                testdata(reference),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for chunk in events(&schema, &testdata(csv)).chunks(500) {
        let (status, body) = server
            .post(
                &format!("/api/v1/models/{name}/predictions"),
                Value::Array(chunk.to_vec()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["rejected"].as_array().map(Vec::len), Some(0), "{body}");
    }
}

/// GETs `path` and checks that its JSON reads back into `T` unchanged; returns it.
async fn reads_back<T: Serialize + DeserializeOwned>(server: &TestServer, path: &str) -> T {
    let response = server.client.get(server.url(path)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path}: {text}");
    let typed: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        serde_json::to_string(&typed).unwrap(),
        value.to_string(),
        "{path}"
    );
    typed
}

#[tokio::test]
async fn every_answer_reads_back_into_the_core_types() {
    let server = TestServer::start().await;
    for task in ["binary", "multiclass", "regression"] {
        let (schema, csv) = (
            format!("golden/{task}.schema.json"),
            format!("golden/{task}.csv"),
        );
        // The golden file is its own reference: no drift, every statistic defined.
        model(&server, task, &schema, &csv, Some(&csv)).await;
    }
    model(
        &server,
        "drifting",
        "drift/small.schema.json",
        "drift/small.current.csv",
        Some("drift/small.reference.csv"),
    )
    .await;
    model(
        &server,
        "unreferenced",
        "drift/tiny.schema.json",
        "drift/tiny.current.csv",
        None,
    )
    .await;
    // A range before any data: empty profiles, undefined metrics.
    let empty = "from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z";
    for name in [
        "binary",
        "multiclass",
        "regression",
        "drifting",
        "unreferenced",
    ] {
        let base = format!("/api/v1/models/{name}");
        for query in [
            "",
            "?step=1d",
            "?step=6h&version=v1",
            &format!("?{empty}&step=1h"),
        ] {
            let answer: MetricsAnswer =
                reads_back(&server, &format!("{base}/metrics{query}")).await;
            assert_eq!(answer.model, name);
            assert_eq!(answer.series.is_some(), query.contains("step"));
        }
        for query in ["", "?version=v1", &format!("?{empty}")] {
            let quality: QualityAnswer =
                reads_back(&server, &format!("{base}/quality{query}")).await;
            assert_eq!(quality.model.as_deref(), Some(name));
            if name != "unreferenced" {
                let drift: DriftAnswer = reads_back(&server, &format!("{base}/drift{query}")).await;
                assert_eq!(drift.features.len(), quality.features.len());
            }
        }
        for query in ["", "?step=1h", &format!("?{empty}")] {
            let report: Report = reads_back(&server, &format!("{base}/report{query}")).await;
            assert_eq!(report.model.as_deref(), Some(name));
            assert_eq!(report.drift.is_some(), name != "unreferenced");
            assert_eq!(report.reference.is_some(), name != "unreferenced");
            assert!(report.current.is_none() && report.alerts.is_some());
        }
    }
}
