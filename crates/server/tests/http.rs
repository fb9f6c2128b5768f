//! HTTP integration tests: a real server on 127.0.0.1:0 over a real store in a
//! temporary directory, driven by a real HTTP client.

mod common;

use std::path::PathBuf;

use common::{TestServer, error_field};
use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::{Model, ModelDefinition};
use modelwatch_server::{AppState, ServerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

const DAY1: &str = "2024-03-11T10:00:00Z";
const DAY2: &str = "2024-03-12T10:00:00Z";

#[tokio::test]
async fn model_lifecycle_and_schema_evolution() {
    let server = TestServer::start().await;
    let (status, body) = server
        .put_model("credit", json!({"task": "binary_classification", "features": [{"name": "income", "type": "numeric"}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["classes"], json!(["0", "1"]));
    let (status, _) = server
        .put_model(
            "credit",
            json!({"task": "binary_classification", "features": [{"name": "income", "type": "numeric"}, {"name": "region", "type": "categorical"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server
        .put_model("credit", json!({"task": "binary_classification", "features": [{"name": "income", "type": "categorical"}, {"name": "region", "type": "categorical"}]}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_field(&body), "features[0].type");
    let (status, body) = server
        .put_model("credit", json!({"task": "regression"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_field(&body), "task");

    for task in ["multiclass_classification", "regression"] {
        let definition = if task == "regression" {
            json!({"task": task})
        } else {
            json!({"task": task, "classes": ["a", "b", "c"]})
        };
        assert_eq!(
            server.put_model(&format!("m-{task}"), definition).await.0,
            StatusCode::CREATED
        );
    }
    let (_, list) = server.get("/api/v1/models").await;
    let names: Vec<&str> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["credit", "m-multiclass_classification", "m-regression"]
    );
    let (status, one) = server.get("/api/v1/models/credit").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["features"].as_array().unwrap().len(), 2);
    assert_eq!(one["stats"]["predictions"], 0);

    let response = server
        .client
        .delete(server.url("/api/v1/models/credit"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/api/v1/models/credit").await.0,
        StatusCode::NOT_FOUND
    );
    let response = server
        .client
        .delete(server.url("/api/v1/models/credit"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_model_definitions_name_the_field() {
    let server = TestServer::start().await;
    let (status, body) = server
        .put_model("Bad Name", json!({"task": "regression"}))
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::BAD_REQUEST, "model")
    );
    let (status, body) = server
        .put_model("m", json!({"task": "regression", "colour": 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{body}"
    );
    let (status, body) = server
        .put_model(
            "m",
            json!({"task": "regression", "features": [{"name": "x", "type": "text"}]}),
        )
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::BAD_REQUEST, "features[0].type")
    );
    let (status, body) = server
        .put_model(
            "m",
            json!({"task": "binary_classification", "classes": ["a", "b"]}),
        )
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::BAD_REQUEST, "positive_class")
    );
    let response = server
        .client
        .put(server.url("/api/v1/models/m"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = server
        .client
        .put(server.url("/api/v1/models/m"))
        .header("content-type", "application/json")
        .body("{\"task\":")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.get("/api/v1/models").await.1["models"], json!([]));
}

#[tokio::test]
async fn ingest_rejects_bad_records_alone_and_duplicates() {
    let server = TestServer::start().await;
    server
        .put_model("credit", json!({"task": "binary_classification"}))
        .await;
    let (status, body) = server
        .post(
            "/api/v1/models/credit/predictions",
            json!([
                {"id": "a", "timestamp": DAY1, "prediction": 1, "score": 0.9, "label": 1},
                {"id": "b", "timestamp": DAY1, "prediction": 7},
                {"id": "c", "timestamp": DAY1, "prediction": "0", "score": 0.2, "label": "1"},
                {"id": "a", "timestamp": DAY1, "prediction": 0},
                {"timestamp": DAY1, "prediction": 0},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 2);
    let rejected: Vec<(u64, &str)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, [(1, "prediction"), (3, "id"), (4, "id")]);
    // Sending the same ids again stores nothing new.
    let (_, again) = server
        .post(
            "/api/v1/models/credit/predictions",
            json!([{"id": "c", "timestamp": DAY1, "prediction": "1"}]),
        )
        .await;
    assert_eq!(again["accepted"], 0);
    let (_, metrics) = server.get("/api/v1/models/credit/metrics").await;
    assert_eq!(metrics["summary"]["count"], 2);
    assert_eq!(metrics["summary"]["accuracy"], 0.5);
    assert_eq!(
        metrics["summary"]["confusion_matrix"],
        json!({"labels": ["0", "1"], "matrix": [[0, 0], [1, 1]]})
    );

    // NDJSON, with one unparsable line rejected alone.
    let response = server
        .client
        .post(server.url("/api/v1/models/credit/predictions"))
        .header("content-type", "application/x-ndjson")
        .body(format!("{{\"id\":\"n1\",\"timestamp\":\"{DAY1}\",\"prediction\":0}}\n{{oops\n{{\"id\":\"n2\",\"prediction\":1}}\n"))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["rejected"][0]["index"], 1);

    // Unknown model, broken body, wrong content type.
    let (status, body) = server
        .post("/api/v1/models/nope/predictions", json!([]))
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::NOT_FOUND, "model")
    );
    let response = server
        .client
        .post(server.url("/api/v1/models/credit/predictions"))
        .header("content-type", "application/json")
        .body("[{\"id\":")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_field(&body), "body");
    let response = server
        .client
        .post(server.url("/api/v1/models/credit/predictions"))
        .header("content-type", "text/csv")
        .body("id\n")
        .send()
        .await
        .unwrap();
    // CSV is accepted (API.md: one event per row); a header alone is an empty batch.
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 0, "{body}");
    let (_, metrics) = server.get("/api/v1/models/credit/metrics").await;
    assert_eq!(metrics["summary"]["count"], 4);
}

#[tokio::test]
async fn late_and_early_labels_update_the_prediction_window() {
    let server = TestServer::start().await;
    server
        .put_model("credit", json!({"task": "binary_classification"}))
        .await;
    // An early label: its prediction has not arrived.
    let (_, early) = server
        .post(
            "/api/v1/models/credit/labels",
            json!([{"id": "p3", "label": 1}]),
        )
        .await;
    assert_eq!(
        (early["matched"].as_u64(), early["pending"].as_u64()),
        (Some(0), Some(1))
    );
    server
        .post(
            "/api/v1/models/credit/predictions",
            json!([
                {"id": "p1", "timestamp": DAY1, "prediction": 1, "score": 0.8},
                {"id": "p2", "timestamp": DAY1, "prediction": 0, "score": 0.3},
                {"id": "p3", "timestamp": DAY2, "prediction": 0, "score": 0.4},
            ]),
        )
        .await;
    let (_, before) = server.get("/api/v1/models/credit/metrics?step=1d").await;
    assert_eq!(before["series"][0]["metrics"]["labelled_count"], 0);
    assert_eq!(before["series"][0]["metrics"]["accuracy"], Value::Null);
    assert_eq!(before["series"][1]["metrics"]["labelled_count"], 1);
    assert_eq!(before["series"][1]["metrics"]["accuracy"], 0.0);
    // Late labels, sent on "day 2", change day 1, where their predictions are.
    let (_, late) = server
        .post(
            "/api/v1/models/credit/labels",
            json!([{"id": "p1", "label": 1}, {"id": "p2", "label": "1"}, {"id": "p1", "label": 0}]),
        )
        .await;
    assert_eq!(late["matched"], 2);
    assert_eq!(late["rejected"][0]["index"], 2);
    let (_, after) = server.get("/api/v1/models/credit/metrics?step=1d").await;
    let day1 = &after["series"][0];
    assert_eq!(day1["start"], "2024-03-11T00:00:00Z");
    assert_eq!(day1["metrics"]["labelled_count"], 2);
    assert_eq!(day1["metrics"]["accuracy"], 0.5);
    assert_eq!(day1["metrics"]["recall"], 0.5);
    assert_eq!(day1["metrics"]["precision"], 1.0);
    assert_eq!(after["series"][1]["metrics"]["labelled_count"], 1);
    assert_eq!(after["summary"]["labelled_count"], 3);
    let (_, model) = server.get("/api/v1/models/credit").await;
    assert_eq!(model["stats"]["pending_labels"], 0);
    assert_eq!(model["stats"]["labelled"], 3);
}

fn golden(task: &str) -> (Value, Vec<Value>, Value) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden");
    let schema: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{task}.schema.json"))).unwrap())
            .unwrap();
    let model = Model::new(
        "g",
        serde_json::from_value::<ModelDefinition>(schema.clone()).unwrap(),
    )
    .unwrap();
    let csv = std::fs::read(dir.join(format!("{task}.csv"))).unwrap();
    let rows: Vec<Value> = CsvRecords::new(csv.as_slice(), &model)
        .unwrap()
        .map(|(_, r)| Value::Object(r.unwrap()))
        .collect();
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{task}.expected.json"))).unwrap())
            .unwrap();
    (schema, rows, expected)
}

fn assert_close(context: &str, got: &Value, want: &Value) {
    for (name, want) in want.as_object().unwrap() {
        let got = &got[name];
        match (got.as_f64(), want.as_f64()) {
            (Some(g), Some(w)) if !want.is_u64() => {
                let tolerance = if name == "roc_auc" {
                    0.001
                } else if name.starts_with("latency") {
                    0.01 * w
                } else {
                    1e-9
                };
                assert!((g - w).abs() <= tolerance, "{context} {name}: {g} vs {w}");
            }
            _ => assert_eq!(got, want, "{context} {name}"),
        }
    }
}

/// Labels split off and sent late, in requests of varying sizes: the server must give
/// scikit-learn's numbers anyway.
#[tokio::test]
async fn golden_data_over_http_in_requests_of_any_size() {
    for task in ["binary", "multiclass", "regression"] {
        let server = TestServer::start().await;
        let (schema, rows, expected) = golden(task);
        assert_eq!(server.put_model("g", schema).await.0, StatusCode::CREATED);
        let mut labels = Vec::new();
        let mut predictions = Vec::new();
        for (i, mut row) in rows.into_iter().enumerate() {
            // Every third label arrives late, after all predictions.
            if i % 3 == 0
                && let Some(label) = row.as_object_mut().unwrap().remove("label")
            {
                labels.push(json!({"id": row["id"], "label": label}));
            }
            predictions.push(row);
        }
        let sizes = [1, 7, 50, 3, 200, 13];
        let mut rest = predictions.as_slice();
        let mut n = 0;
        while !rest.is_empty() {
            let take = sizes[n % sizes.len()].min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            let (status, body) = server
                .post("/api/v1/models/g/predictions", Value::Array(chunk.to_vec()))
                .await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body["accepted"].as_u64(), Some(take as u64), "{body}");
            rest = tail;
            n += 1;
        }
        for chunk in labels.chunks(37) {
            let (_, body) = server
                .post("/api/v1/models/g/labels", Value::Array(chunk.to_vec()))
                .await;
            assert_eq!(body["matched"].as_u64(), Some(chunk.len() as u64), "{body}");
        }
        let (_, metrics) = server.get("/api/v1/models/g/metrics?step=1d").await;
        assert_eq!(
            metrics["series"].as_array().unwrap().len(),
            expected["daily"].as_array().unwrap().len()
        );
        assert_close(
            &format!("{task} summary"),
            &metrics["summary"],
            &expected["summary"],
        );
        for (point, want) in metrics["series"]
            .as_array()
            .unwrap()
            .iter()
            .zip(expected["daily"].as_array().unwrap())
        {
            assert_eq!(point["start"], want["start"]);
            assert_close(
                &format!("{task} {}", want["start"]),
                &point["metrics"],
                &want["metrics"],
            );
        }
        for (version, want) in expected["by_version"].as_object().unwrap() {
            let (_, metrics) = server
                .get(&format!("/api/v1/models/g/metrics?version={version}"))
                .await;
            assert_close(&format!("{task} {version}"), &metrics["summary"], want);
        }
        // Hourly and minute steps sum to the same totals.
        for step in ["1h", "15m"] {
            let (_, fine) = server.get(&format!("/api/v1/models/g/metrics?step={step}&from=2024-03-11T00:00:00Z&to=2024-03-14T00:00:00Z")).await;
            let total: u64 = fine["series"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["metrics"]["count"].as_u64().unwrap())
                .sum();
            assert_eq!(
                total,
                expected["summary"]["count"].as_u64().unwrap(),
                "{task} {step}"
            );
            assert_close(
                &format!("{task} {step} summary"),
                &fine["summary"],
                &expected["summary"],
            );
        }
    }
}

#[tokio::test]
async fn metrics_query_validation() {
    let server = TestServer::start().await;
    server.put_model("m", json!({"task": "regression"})).await;
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2024-13-01T00:00:00Z", "to"),
        ("from=2024-03-12T00:00:00Z&to=2024-03-11T00:00:00Z", "to"),
        ("step=30s", "step"),
        ("step=1y", "step"),
        ("from=0&to=4102444800000&step=1m", "step"),
        ("colour=red", "colour"),
    ] {
        let (status, body) = server
            .get(&format!("/api/v1/models/m/metrics?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(error_field(&body), field, "{query}: {body}");
    }
    let (status, body) = server.get("/api/v1/models/m/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["summary"]["count"], 0);
    assert_eq!(body["summary"]["mae"], Value::Null);
    assert_eq!(body["from"], Value::Null);
    assert_eq!(
        server.get("/api/v1/models/zz/metrics").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(server.get("/api/v2/nothing").await.0, StatusCode::NOT_FOUND);
    let response = server
        .client
        .patch(server.url("/api/v1/models/m"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

/// Issue 11 (review): the model limit was read, then written later, so concurrent
/// creations could all pass it. It is now checked in the store's transaction.
#[tokio::test]
async fn concurrent_creations_never_pass_the_model_limit() {
    let server = TestServer::start_with(|config| config.limits.max_models = 5).await;
    let puts = (0..40).map(|i| {
        let server = &server;
        async move {
            server
                .put_model(&format!("m{i}"), json!({"task": "regression"}))
                .await
        }
    });
    let answers = futures_util::future::join_all(puts).await;
    let created = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    let refused = answers
        .iter()
        .filter(|(status, body)| {
            *status == StatusCode::CONFLICT && body["error"]["code"] == "model_limit_reached"
        })
        .count();
    assert_eq!((created, refused), (5, 35), "{answers:?}");
    let (_, models) = server.get("/api/v1/models").await;
    assert_eq!(models["models"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn limits_answer_413() {
    let server = TestServer::start_with(|config| {
        config.limits.max_body_bytes = 10_000;
        config.limits.max_records_per_request = 3;
        config.limits.max_models = 1;
    })
    .await;
    server.put_model("m", json!({"task": "regression"})).await;
    let (status, body) = server.put_model("m2", json!({"task": "regression"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("model_limit_reached"))
    );
    let records: Vec<Value> = (0..4)
        .map(|i| json!({"id": format!("r{i}"), "prediction": 1.0}))
        .collect();
    let (status, body) = server
        .post("/api/v1/models/m/predictions", Value::Array(records))
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body")
    );
    let big = json!([{"id": "x".repeat(20_000), "prediction": 1.0}]);
    let (status, body) = server.post("/api/v1/models/m/predictions", big).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body")
    );
    let (_, metrics) = server.get("/api/v1/models/m/metrics").await;
    assert_eq!(metrics["summary"]["count"], 0);
}

#[tokio::test]
async fn configured_model_and_value_limits_answer_precise_errors() {
    let server = TestServer::start_with(|config| {
        config.limits.max_features_per_model = 2;
        config.limits.max_label_bytes = 5;
        config.limits.max_string_bytes = 8;
    })
    .await;
    let three = json!({"task": "regression", "features": [
        {"name": "a", "type": "numeric"}, {"name": "b", "type": "numeric"}, {"name": "c", "type": "numeric"}]});
    let (status, body) = server.put_model("wide", three).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::BAD_REQUEST, "features"),
        "{body}"
    );
    let long_class = json!({"task": "binary_classification", "classes": ["no", "yes-please"], "positive_class": "yes-please"});
    let (status, body) = server.put_model("classy", long_class).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::BAD_REQUEST, "classes"),
        "{body}"
    );
    let (_, models) = server.get("/api/v1/models").await;
    assert_eq!(models["models"], json!([]), "a refused model was stored");

    let model =
        json!({"task": "regression", "features": [{"name": "region", "type": "categorical"}]});
    assert_eq!(server.put_model("m", model).await.0, StatusCode::CREATED);
    let (status, body) = server
        .post(
            "/api/v1/models/m/predictions",
            json!([
                {"id": "ok", "prediction": 1.0, "features": {"region": "12345678"}},
                {"id": "long", "prediction": 1.0, "features": {"region": "123456789"}}
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["accepted"], 1, "{body}");
    assert_eq!(body["rejected"][0]["index"], 1);
    assert_eq!(body["rejected"][0]["field"], "features.region");
    // A reference row over the limit is refused the same way, and nothing changes.
    let (status, body) = server
        .put_body(
            "/api/v1/models/m/reference",
            "text/csv",
            b"region,prediction\n123456789,1.0\n".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("features.region"), "{body}");
    let (status, _) = server.get("/api/v1/models/m/reference").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pii_values_never_reach_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(&ServerConfig::new(dir.path())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(modelwatch_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    modelwatch_server::install_crypto_provider();
    let client = reqwest::Client::new();
    client
        .put(format!("{base}/api/v1/models/m"))
        .json(&json!({"task": "regression", "features": [{"name": "email", "type": "categorical", "pii": true}]}))
        .send()
        .await
        .unwrap();
    let planted = "planted.secret.value@example.org";
    let answer: Value = client
        .post(format!("{base}/api/v1/models/m/predictions"))
        .json(&json!([{"id": "a", "prediction": 1.0, "features": {"email": planted}}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["accepted"], 1);
    // Read the files while the server runs: the acknowledged row is in the WAL, which a
    // clean shutdown would fold into the database and delete.
    let mut found_files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        found_files += 1;
        assert!(
            !bytes
                .windows(planted.len())
                .any(|w| w == planted.as_bytes()),
            "plain PII on disk"
        );
    }
    assert!(found_files >= 3, "database, WAL and key expected");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn every_operation_of_the_openapi_description_is_routed() {
    let server = TestServer::start().await;
    let (status, spec) = server.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spec["openapi"], "3.0.3");
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 19, "{}", paths.len());
    let mut operations = 0;
    for (path, methods) in paths {
        let concrete = path
            .replace("{model}", "nomodel")
            .replace("{rule}", "norule")
            .replace("{channel}", "nochannel")
            .replace("{silence}", "nosilence");
        for method in methods.as_object().unwrap().keys() {
            let response = server
                .client
                .request(
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    server.url(&concrete),
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            // A route that exists answers anything but "no such endpoint" or "method not allowed".
            assert_ne!(
                body["error"]["code"], "not_found",
                "{method} {path} is not routed"
            );
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!status.is_server_error(), "{method} {path}: {status}");
            operations += 1;
        }
    }
    assert!(operations >= 27, "{operations}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_is_bounded_while_a_commit_hangs_and_queued_writes_are_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(&ServerConfig::new(dir.path())).unwrap();
    let store = state.catalog.store.clone();
    modelwatch_server::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(modelwatch_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let created = client
        .put(format!("{base}/api/v1/models/m"))
        .json(&json!({"task": "regression"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    // A commit that does not finish until released, as a pathological profile's did.
    let (entered, entered_seen) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let hung = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .write_alerting(move |_tx| {
                    entered.send(()).unwrap();
                    let _ = released.recv_timeout(std::time::Duration::from_secs(600));
                    Ok(())
                })
                .await
        }
    });
    tokio::task::spawn_blocking(move || {
        entered_seen.recv_timeout(std::time::Duration::from_secs(60))
    })
    .await
    .unwrap()
    .expect("the writer took the hanging commit");
    // An ingest queues behind it.
    let waiting = tokio::spawn(
        client
            .post(format!("{base}/api/v1/models/m/predictions"))
            .json(&json!([{"id": "queued", "prediction": 1.0}]))
            .send(),
    );
    for _ in 0..1200 {
        if store.queue_depth() >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        store.queue_depth(),
        1,
        "the ingest is queued behind the commit"
    );
    let _ = stop.send(());
    // Liveness (a generous bound, not a timing): the server stops though the commit
    // still hangs; before, it waited for the queued request, so for the commit.
    let served = tokio::time::timeout(std::time::Duration::from_secs(120), server)
        .await
        .expect("the server did not stop while a commit hung");
    served.unwrap().unwrap();
    // The commit in progress finishes and commits; the queued write is not applied:
    // it is refused (its connection outlived `serve` in this process), never
    // acknowledged; later writes are refused at once.
    release.send(()).unwrap();
    hung.await.unwrap().unwrap();
    if let Ok(response) = waiting.await.unwrap() {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let model = store.load_models().unwrap().remove(0);
    let refused = store.write_alerting(|_tx| Ok(())).await;
    assert!(
        matches!(refused, Err(modelwatch_store::StoreError::Closed)),
        "{refused:?}"
    );
    assert_eq!(store.counts(model.id).unwrap().predictions, 0);
}
