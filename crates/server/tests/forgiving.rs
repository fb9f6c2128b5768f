//! Forgiving input, still strict about meaning, through the real HTTP server: Python's
//! `NaN`, epoch seconds, a batch that stored nothing (422), numeric classes, flat and
//! CSV rows, `predict_proba` rows as scores, and labels that wait for their prediction.

mod common;

use common::{TestServer, error_field};
use reqwest::StatusCode;
use serde_json::{Value, json};

const DAY1: i64 = 1_710_115_200_000; // 2024-03-11T00:00:00Z

async fn post_raw(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let response = server
        .client
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn binary(server: &TestServer) {
    let (status, body) = server
        .put_model(
            "b",
            json!({"task": "binary_classification",
                   "features": [{"name": "income", "type": "numeric"}, {"name": "region", "type": "categorical"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn python_nan_is_missing_in_features_and_refused_in_outputs() {
    let server = TestServer::start().await;
    binary(&server).await;
    // What `json.dumps` writes for float("nan") and float("inf").
    let body = format!(
        r#"[{{"id": "a", "timestamp": {DAY1}, "prediction": 1, "score": 0.5, "features": {{"income": NaN, "region": "north"}}}},
            {{"id": "b", "timestamp": {DAY1}, "prediction": NaN}},
            {{"id": "c", "timestamp": {DAY1}, "prediction": 1, "score": Infinity}},
            {{"id": "d", "timestamp": {DAY1}, "prediction": 1, "label": -Infinity}}]"#
    );
    let (status, answer) = post_raw(
        &server,
        "/api/v1/models/b/predictions",
        "application/json",
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");
    let fields: Vec<&str> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["prediction", "score", "label"], "{answer}");
    assert!(
        answer["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("`NaN`"),
        "{answer}"
    );
    let (_, quality) = server
        .get("/api/v1/models/b/quality?from=2024-03-11&to=2024-03-12")
        .await;
    let income = quality["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "income")
        .unwrap();
    assert_eq!(income["missing"], 1, "{quality}");
}

#[tokio::test]
async fn epoch_seconds_and_times_without_offsets_are_refused_by_name() {
    let server = TestServer::start().await;
    binary(&server).await;
    let (status, answer) = server
        .post(
            "/api/v1/models/b/predictions",
            json!([{"id": "s", "timestamp": 1_710_151_200, "prediction": 1},
                   {"id": "o", "timestamp": "2024-03-11T10:00:00", "prediction": 1},
                   {"id": "ok", "timestamp": "2024-03-11T10:00:00Z", "prediction": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["rejected"][0]["error"],
        "timestamp: 1710151200 looks like epoch seconds: send milliseconds or RFC 3339"
    );
    let no_offset = answer["rejected"][1]["error"].as_str().unwrap();
    assert!(no_offset.contains("has no UTC offset"), "{no_offset}");
    // A date alone in a query is midnight UTC.
    let (status, metrics) = server
        .get("/api/v1/models/b/metrics?from=2024-03-11&to=2024-03-12")
        .await;
    assert_eq!(status, StatusCode::OK, "{metrics}");
    assert_eq!(metrics["from"], "2024-03-11T00:00:00Z");
    assert_eq!(metrics["summary"]["count"], 1, "{metrics}");
}

#[tokio::test]
async fn a_batch_that_stored_nothing_is_422_with_the_same_body() {
    let server = TestServer::start().await;
    binary(&server).await;
    let (status, answer) = server
        .post(
            "/api/v1/models/b/predictions",
            json!([{"id": "a", "prediction": 7}, {"id": "b", "prediction": 1, "score": 2}]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["accepted"], 0);
    assert_eq!(answer["rejected"].as_array().unwrap().len(), 2);
    assert_eq!(answer["error"]["code"], "nothing_accepted");
    assert_eq!(error_field(&answer), "prediction");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(answer["rejected"][0]["error"].as_str().unwrap()),
        "{message}"
    );
    // An empty batch is not an error.
    assert_eq!(
        server
            .post("/api/v1/models/b/predictions", json!([]))
            .await
            .0,
        StatusCode::OK
    );
    let (status, labels) = server
        .post(
            "/api/v1/models/b/labels",
            json!([{"id": "a", "label": "maybe"}]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{labels}");
    assert_eq!(labels["error"]["code"], "nothing_accepted");
    assert_eq!(error_field(&labels), "label");
    assert_eq!(labels["pending"], 0);
}

#[tokio::test]
async fn classes_may_be_numbers_and_a_missing_positive_class_is_named() {
    let server = TestServer::start().await;
    let (status, body) = server
        .put_model(
            "m",
            json!({"task": "multiclass_classification", "classes": [0, 1, 2]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["classes"], json!(["0", "1", "2"]), "{body}");
    let (status, body) = server
        .put_model(
            "c",
            json!({"task": "binary_classification", "classes": ["malignant", "benign"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_field(&body), "positive_class");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("classes are [malignant, benign]: set positive_class"),
        "{body}"
    );
}

#[tokio::test]
async fn rows_have_one_shape_in_json_ndjson_and_csv() {
    let server = TestServer::start().await;
    binary(&server).await;
    // Flat reference rows, as `df.to_json(orient="records")` and `lines=True` write them.
    let flat = json!([{"income": 1.0, "region": "north", "label": 1},
                      {"income": 2.0, "region": "south", "label": 0}]);
    let (status, reference) = server.put_json("/api/v1/models/b/reference", flat).await;
    assert_eq!(status, StatusCode::OK, "{reference}");
    assert_eq!(reference["rows"], 2, "{reference}");
    let lines =
        "{\"income\": 1.5, \"region\": \"east\"}\n{\"income\": NaN, \"region\": \"west\"}\n";
    let (status, reference) = server
        .put_body(
            "/api/v1/models/b/reference",
            "application/x-ndjson",
            lines.into(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reference}");
    assert_eq!(reference["rows"], 2, "{reference}");
    // Predictions as CSV, with the reference CSV's columns.
    let csv = format!(
        "id,timestamp,prediction,score,income,region\nr1,{DAY1},1,0.9,3.5,north\nr2,{DAY1},0,0.2,,south\n"
    );
    let (status, answer) =
        post_raw(&server, "/api/v1/models/b/predictions", "text/csv", &csv).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 2, "{answer}");
    // CSV sent as JSON is told what it is.
    let (status, answer) = post_raw(
        &server,
        "/api/v1/models/b/predictions",
        "application/json",
        &csv,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "this looks like CSV: send Content-Type: text/csv"
    );
}

#[tokio::test]
async fn predict_proba_rows_are_scores_in_the_order_of_classes() {
    let server = TestServer::start().await;
    let (status, _) = server
        .put_model(
            "m",
            json!({"task": "multiclass_classification", "classes": ["dog", "cat", "bird"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Each row is `predict_proba` for classes [dog, cat, bird]; log loss needs the
    // probability of the true class: 0.7 (cat) and 0.6 (bird).
    let (status, answer) = server
        .post(
            "/api/v1/models/m/predictions",
            json!([{"id": "1", "timestamp": DAY1, "prediction": "cat", "score": [0.2, 0.7, 0.1], "label": "cat"},
                   {"id": "2", "timestamp": DAY1, "prediction": "bird", "score": {"dog": 0.1, "cat": 0.3, "bird": 0.6}, "label": "bird"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 2, "{answer}");
    let (_, metrics) = server.get("/api/v1/models/m/metrics").await;
    let expected = -(0.7_f64.ln() + 0.6_f64.ln()) / 2.0;
    let log_loss = metrics["summary"]["log_loss"].as_f64().unwrap();
    assert!(
        (log_loss - expected).abs() < 1e-12,
        "{log_loss} vs {expected}"
    );
}

#[tokio::test]
async fn pending_labels_are_listed_counted_flagged_and_expire() {
    let server = TestServer::start_with(|config| {
        config.store.retention.pending_labels_ms = 0;
    })
    .await;
    binary(&server).await;
    let (status, _) = server
        .post(
            "/api/v1/models/b/predictions",
            json!([{"id": "17", "timestamp": DAY1, "prediction": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = server
        .post(
            "/api/v1/models/b/labels",
            json!([{"id": "17.0", "label": 1}, {"id": "never", "label": 0}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["pending"], 2, "{answer}");
    assert_eq!(answer["warnings"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["warnings"][0]["index"], 0);
    assert!(
        answer["warnings"][0]["warning"]
            .as_str()
            .unwrap()
            .contains("`17`"),
        "{answer}"
    );
    let (status, pending) = server.get("/api/v1/models/b/labels/pending?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert_eq!(pending["pending"], 2, "{pending}");
    assert_eq!(pending["labels"].as_array().unwrap().len(), 1, "{pending}");
    assert!(
        pending["labels"][0]["received"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let (_, model) = server.get("/api/v1/models/b").await;
    assert_eq!(model["stats"]["pending_labels"], 2, "{model}");
    // With `pending_labels = 0s`, a retention pass drops every label that has waited
    // at all; wait until the clock has moved past their arrival first.
    let arrived = modelwatch_core::time::now_ms();
    while modelwatch_core::time::now_ms() <= arrived {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    server.store().apply_retention().await.unwrap();
    let (_, pending) = server.get("/api/v1/models/b/labels/pending").await;
    assert_eq!(pending["pending"], 0, "{pending}");
    assert_eq!(pending["labels"], json!([]));
}
