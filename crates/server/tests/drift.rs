//! Drift and quality over HTTP: reference uploads in every format, drift and quality
//! answers equal to scipy's on the golden data sets, a reference that arrives after the
//! events, replacement, and refusals that change nothing.

#[path = "support/valid_html.rs"]
mod valid_html;

mod common;

#[path = "../../core/tests/support/drift_compare.rs"]
mod drift_compare;

use std::path::PathBuf;

use common::{TestServer, error_field};
use drift_compare::check_answers;
use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::time::format_duration;
use modelwatch_core::{Model, ModelDefinition};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn read(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/drift")
            .join(name),
    )
    .unwrap()
}

fn schema(set: &str) -> Value {
    serde_json::from_slice(&read(&format!("{set}.schema.json"))).unwrap()
}

/// The current CSV as JSON events, as a client would send them.
fn current_events(set: &str) -> Vec<Value> {
    let model = Model::new(
        "m",
        serde_json::from_value::<ModelDefinition>(schema(set)).unwrap(),
    )
    .unwrap();
    let csv = read(&format!("{set}.current.csv"));
    CsvRecords::new(csv.as_slice(), &model)
        .unwrap()
        .map(|(_, r)| Value::Object(r.unwrap()))
        .collect()
}

fn expected(set: &str) -> Value {
    serde_json::from_slice(&read(&format!("{set}.expected.json"))).unwrap()
}

async fn ingest(server: &TestServer, events: &[Value]) {
    for chunk in events.chunks(700) {
        let (status, body) = server
            .post("/api/v1/models/m/predictions", Value::Array(chunk.to_vec()))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["accepted"].as_u64(),
            Some(chunk.len() as u64),
            "{body}"
        );
    }
}

async fn upload_csv_reference(server: &TestServer, set: &str) -> Value {
    let (status, body) = server
        .put_body(
            "/api/v1/models/m/reference",
            "text/csv",
            read(&format!("{set}.reference.csv")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn check_drift_and_quality(server: &TestServer, set: &str) {
    let (status, drift) = server.get("/api/v1/models/m/drift").await;
    assert_eq!(status, StatusCode::OK, "{drift}");
    let (status, quality) = server.get("/api/v1/models/m/quality").await;
    assert_eq!(status, StatusCode::OK, "{quality}");
    check_answers(set, &drift, &quality, &expected(set));
}

#[tokio::test]
async fn drift_matches_scipy_with_the_reference_first() {
    for set in ["large", "small", "tiny"] {
        let server = TestServer::start().await;
        assert_eq!(
            server.put_model("m", schema(set)).await.0,
            StatusCode::CREATED
        );
        let uploaded = upload_csv_reference(&server, set).await;
        assert_eq!(uploaded["generation"], 1);
        assert_eq!(uploaded["rows"], expected(set)["reference_count"]);
        ingest(&server, &current_events(set)).await;
        check_drift_and_quality(&server, set).await;
    }
}

#[tokio::test]
async fn a_reference_uploaded_later_reprofiles_stored_events() {
    let server = TestServer::start().await;
    server.put_model("m", schema("large")).await;
    ingest(&server, &current_events("large")).await;
    // Quality needs no reference; drift does.
    let (status, quality) = server.get("/api/v1/models/m/quality").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(quality["rows"], 4000);
    assert_eq!(quality["features"][0]["out_of_range"], Value::Null);
    let (status, body) = server.get("/api/v1/models/m/drift").await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::NOT_FOUND, "reference")
    );
    // A first reference of another data set, then the right one: the generation moves on
    // and the stored events are binned against the newest reference.
    let (status, _) = server
        .put_body(
            "/api/v1/models/m/reference",
            "text/csv",
            read("small.reference.csv"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let uploaded = upload_csv_reference(&server, "large").await;
    assert_eq!(uploaded["generation"], 2);
    check_drift_and_quality(&server, "large").await;
}

/// A reference uploaded right after ingest, while the feature windows of that ingest are
/// still pending in the writer's cache: the re-profiled windows count every event once
/// (they used to be written back on top of their rebuilt selves, doubling the counts).
#[tokio::test]
async fn a_reference_uploaded_before_pending_windows_are_written_counts_each_event_once() {
    let server = TestServer::start().await;
    server.put_model("m", schema("large")).await;
    let events = current_events("large");
    ingest(&server, &events).await;
    upload_csv_reference(&server, "large").await;
    let (_, quality) = server.get("/api/v1/models/m/quality").await;
    assert_eq!(quality["rows"], events.len(), "{}", quality["rows"]);
    check_drift_and_quality(&server, "large").await;
}

#[tokio::test]
async fn references_in_json_and_ndjson_equal_csv() {
    let model = Model::new(
        "m",
        serde_json::from_value::<ModelDefinition>(schema("small")).unwrap(),
    )
    .unwrap();
    let csv = read("small.reference.csv");
    let rows: Vec<Value> = CsvRecords::new(csv.as_slice(), &model)
        .unwrap()
        .map(|(_, r)| Value::Object(r.unwrap()))
        .collect();
    let ndjson: String = rows.iter().map(|r| r.to_string() + "\n").collect();
    for (content_type, body) in [
        ("application/json", serde_json::to_vec(&rows).unwrap()),
        ("application/x-ndjson", ndjson.into_bytes()),
    ] {
        let server = TestServer::start().await;
        server.put_model("m", schema("small")).await;
        let (status, body) = server
            .put_body("/api/v1/models/m/reference", content_type, body)
            .await;
        assert_eq!(status, StatusCode::OK, "{content_type}: {body}");
        assert_eq!(body["accepted"], 500);
        ingest(&server, &current_events("small")).await;
        check_drift_and_quality(&server, "small").await;
    }
}

#[tokio::test]
async fn bad_references_change_nothing() {
    let server = TestServer::start().await;
    server.put_model("m", schema("small")).await;
    upload_csv_reference(&server, "small").await;
    let before = server.get("/api/v1/models/m/reference").await.1;
    // A ragged row, a wrong type, an unknown column type and an empty file.
    let mut bad = read("small.reference.csv");
    bad.extend_from_slice(b"x,1,2\n");
    for (content_type, body, status, field) in [
        ("text/csv", bad.clone(), StatusCode::BAD_REQUEST, "row"),
        (
            "text/plain",
            b"a,b\n".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
        ),
        (
            "text/csv",
            b"id,timestamp\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            "application/json",
            b"[{\"id\": 1}".to_vec(),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            "application/json",
            br#"[{"features": {"num_same": 1}, "score": 7}]"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "score",
        ),
    ] {
        let (got, body) = server
            .put_body("/api/v1/models/m/reference", content_type, body)
            .await;
        assert_eq!(
            (got, error_field(&body)),
            (status, field),
            "{content_type}: {body}"
        );
    }
    assert_eq!(server.get("/api/v1/models/m/reference").await.1, before);
    // With skip_invalid the valid rows are kept.
    let (status, body) = server
        .put_body(
            "/api/v1/models/m/reference?skip_invalid=true",
            "text/csv",
            bad,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 500);
    assert_eq!(body["rejected"].as_array().unwrap().len(), 1);
    assert_eq!(body["generation"], 2);
    let (status, body) = server.get("/api/v1/models/nope/drift").await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::NOT_FOUND, "model")
    );
    // A step is answered with a series, but not one of 13 million minutes.
    let (status, body) = server
        .get("/api/v1/models/m/drift?from=2000-01-01T00:00:00Z&to=2025-01-01T00:00:00Z&step=1m")
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::BAD_REQUEST, "step")
    );
}

#[tokio::test]
async fn drift_of_a_range_and_a_version() {
    let server = TestServer::start().await;
    server.put_model("m", schema("large")).await;
    upload_csv_reference(&server, "large").await;
    let mut events = current_events("large");
    for (i, event) in events.iter_mut().enumerate() {
        event["version"] = json!(if i % 2 == 0 { "a" } else { "b" });
    }
    ingest(&server, &events).await;
    let day1 = events
        .iter()
        .filter(|e| e["timestamp"].as_str().unwrap().starts_with("2024-03-11"))
        .count();
    let (_, drift) = server
        .get("/api/v1/models/m/drift?from=2024-03-11T00:00:00Z&to=2024-03-12T00:00:00Z")
        .await;
    assert_eq!(drift["current_count"].as_u64(), Some(day1 as u64));
    assert_eq!(drift["from"], "2024-03-11T00:00:00Z");
    let (_, version) = server.get("/api/v1/models/m/drift?version=a").await;
    assert_eq!(version["current_count"], 2000);
    // Halves of a sample from one distribution both show the shift.
    let shifted = version["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "num_shift")
        .unwrap();
    assert_eq!(shifted["drifted"], true);
    let (_, quality) = server.get("/api/v1/models/m/quality?version=b").await;
    assert_eq!(quality["rows"], 2000);
}

#[tokio::test]
async fn per_feature_methods_and_type_errors() {
    let server = TestServer::start().await;
    let mut definition = schema("small");
    for feature in definition["features"].as_array_mut().unwrap() {
        match feature["name"].as_str().unwrap() {
            "num_shift" => {
                feature["drift_method"] = json!("psi");
                feature["drift_threshold"] = json!(0.2);
            }
            "cat_shift" => feature["drift_threshold"] = json!(1e-300),
            "num_scale" => feature["drift_method"] = json!("chi2"),
            _ => {}
        }
    }
    assert_eq!(
        server.put_model("m", definition).await.0,
        StatusCode::CREATED
    );
    upload_csv_reference(&server, "small").await;
    let mut events = current_events("small");
    // Wrongly typed values are kept as missing plus a type error, not rejected.
    for event in events.iter_mut().take(7) {
        event["features"]["num_same"] = json!("oops");
        event["features"]["mystery"] = json!(1);
    }
    ingest(&server, &events).await;
    let expected = expected("small");
    let (_, drift) = server.get("/api/v1/models/m/drift").await;
    let entry = |name: &str| {
        drift["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    let shift = entry("num_shift");
    assert_eq!(shift["method"], "psi");
    assert_eq!(shift["threshold"], 0.2);
    let psi = expected["features"]["num_shift"]["stats"]["psi"]
        .as_f64()
        .unwrap();
    assert!((shift["statistic"].as_f64().unwrap() - psi).abs() < 1e-9);
    assert_eq!(shift["drifted"], psi >= 0.2);
    // A p-value threshold so small that nothing is drift.
    let cat = entry("cat_shift");
    assert_eq!(cat["method"], "chi2");
    assert_eq!(cat["drifted"], false);
    assert_eq!(
        expected["features"]["cat_shift"]["drifted"], true,
        "the default would have said drift"
    );
    // chi2 on a many-valued numeric feature tests its decile bins.
    let scale = entry("num_scale");
    assert_eq!(scale["method"], "chi2");
    assert!(scale["statistic"].as_f64().unwrap() < 0.05, "{scale}");
    assert_eq!(scale["drifted"], true);
    let (_, quality) = server.get("/api/v1/models/m/quality").await;
    let same = quality["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "num_same")
        .unwrap()
        .clone();
    assert_eq!(same["type_errors"], 7);
    assert_eq!(
        same["missing"],
        expected["quality"]["num_same"]["missing"].as_u64().unwrap() + 7
    );
    assert_eq!(quality["rows"], 300);
    assert_eq!(quality["unknown_features"], 7);
    // A new reference re-profiles the stored events: type errors and unknown features
    // survive the round trip through the raw rows.
    let uploaded = upload_csv_reference(&server, "small").await;
    assert_eq!(uploaded["generation"], 2);
    let (_, again) = server.get("/api/v1/models/m/quality").await;
    assert_eq!(again["features"], quality["features"]);
    assert_eq!(again["unknown_features"], 7);
}

/// The text of a `GET` and its content type.
async fn get_text(server: &TestServer, path: &str) -> (StatusCode, String, String) {
    let response = server.client.get(server.url(path)).send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn the_report_holds_the_api_answers_in_every_format() {
    let server = TestServer::start().await;
    assert_eq!(
        server.put_model("m", schema("large")).await.0,
        StatusCode::CREATED
    );
    ingest(&server, &current_events("large")).await;
    upload_csv_reference(&server, "large").await;

    let (status, report) = server.get("/api/v1/models/m/report").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (_, drift) = server.get("/api/v1/models/m/drift").await;
    let (_, quality) = server.get("/api/v1/models/m/quality").await;
    let step = report["metrics"]["step"].as_str().unwrap();
    let (_, metrics) = server
        .get(&format!(
            "/api/v1/models/m/metrics?from={}&to={}&step={step}",
            report["from"].as_str().unwrap(),
            report["to"].as_str().unwrap()
        ))
        .await;
    for key in ["features", "prediction", "dataset_drift", "drift_share"] {
        assert_eq!(report["drift"][key], drift[key], "drift {key}");
    }
    assert_eq!(report["quality"]["features"], quality["features"]);
    assert_eq!(report["metrics"]["summary"], metrics["summary"]);
    assert_eq!(report["metrics"]["series"], metrics["series"]);
    assert_eq!(
        report["reference"]["rows"],
        expected("large")["reference_count"]
    );
    assert_eq!(report["alerts"], json!([]));

    // HTML: valid (the Nu HTML Checker), self-contained, and carrying the data.
    let (status, content_type, html) =
        get_text(&server, "/api/v1/models/m/report?format=html").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.html"), &html).unwrap();
    valid_html::assert_valid_html(dir.path());
    for external in ["http://", "https://", "src=", "<link"] {
        assert!(
            !html.contains(external),
            "the report loads something: {external}"
        );
    }
    let embedded = html
        .split(r#"<script type="application/json" id="report-data">"#)
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .unwrap();
    let mut embedded: Value = serde_json::from_str(embedded).unwrap();
    let mut without_time = report.clone();
    embedded.as_object_mut().unwrap().remove("generated_at");
    without_time.as_object_mut().unwrap().remove("generated_at");
    assert_eq!(embedded, without_time);
    for feature in drift["features"].as_array().unwrap() {
        let name = feature["name"].as_str().unwrap();
        let row = html
            .split(&format!(r#"<tr data-feature="{name}">"#))
            .nth(1)
            .unwrap_or_else(|| panic!("no drift row for {name}"));
        let verdict = match feature["drifted"].as_bool() {
            Some(true) => ">yes<",
            Some(false) => ">no<",
            None => ">—<",
        };
        assert!(
            row.split("</tr>").next().unwrap().contains(verdict),
            "{name}"
        );
    }
    // Each metric chart's data table lists the series values.
    let first_count = metrics["series"][0]["metrics"]["count"].as_u64().unwrap();
    assert!(html.contains(r#"data-metric="count""#));
    assert!(html.contains(&format!("<td>{first_count}</td>")));

    let (status, content_type, markdown) =
        get_text(&server, "/api/v1/models/m/report?format=md").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/markdown; charset=utf-8");
    assert!(
        markdown.starts_with("# modelwatch report: m\n"),
        "{markdown}"
    );

    let (status, body) = server.get("/api/v1/models/m/report?format=pdf").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_field(&body), "format");
    let (status, body) = server.get("/api/v1/models/m/report?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_field(&body), "colour");
    let (status, _) = server.get("/api/v1/models/nope/report").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The answer without the fields of its range (`model`, `from`, `to`, `version`), as a
/// series entry has it.
fn without_range(mut answer: Value) -> Value {
    for key in ["model", "from", "to", "version"] {
        answer.as_object_mut().unwrap().remove(key);
    }
    answer
}

#[tokio::test]
async fn each_step_of_a_series_is_the_answer_of_its_window_alone() {
    use modelwatch_core::time::{HOUR_MS, format_timestamp, parse_timestamp_str};
    let server = TestServer::start().await;
    server.put_model("m", schema("small")).await;
    upload_csv_reference(&server, "small").await;
    let events = current_events("small");
    ingest(&server, &events).await;
    let at = |text: &str| parse_timestamp_str(text).unwrap();
    // Whole days; bounds inside hours (the edge steps read minute windows, the others
    // hour windows); open ends; a version without data (empty steps).
    let cases: [(Option<i64>, Option<i64>, i64, &str); 5] = [
        (
            Some(at("2024-03-11T00:00:00Z")),
            Some(at("2024-03-13T00:00:00Z")),
            24 * HOUR_MS,
            "",
        ),
        (
            Some(at("2024-03-11T10:30:00Z")),
            Some(at("2024-03-12T13:15:00Z")),
            6 * HOUR_MS,
            "",
        ),
        (None, None, 12 * HOUR_MS, ""),
        (Some(at("2024-03-11T06:00:00Z")), None, 8 * HOUR_MS, ""),
        (
            Some(at("2024-03-11T00:00:00Z")),
            Some(at("2024-03-12T00:00:00Z")),
            6 * HOUR_MS,
            "&version=nope",
        ),
    ];
    for (from, to, step, version) in cases {
        let bounds = |from: Option<i64>, to: Option<i64>| {
            let mut query = String::new();
            if let Some(from) = from {
                query += &format!("&from={}", format_timestamp(from));
            }
            if let Some(to) = to {
                query += &format!("&to={}", format_timestamp(to));
            }
            query + version
        };
        for kind in ["drift", "quality"] {
            let path = format!(
                "/api/v1/models/m/{kind}?step={}m{}",
                step / 60_000,
                bounds(from, to)
            );
            let (status, answer) = server.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {answer}");
            // The summary is the answer without a step.
            let (status, whole) = server
                .get(&format!("/api/v1/models/m/{kind}?{}", bounds(from, to)))
                .await;
            assert_eq!(status, StatusCode::OK, "{whole}");
            let mut summary = answer.clone();
            let fields = summary.as_object_mut().unwrap();
            let series = fields.remove("series").unwrap();
            assert_eq!(fields.remove("step"), Some(json!(format_duration(step))));
            assert_eq!(summary, whole, "{path}: the summary changed with the step");
            // Each entry is the answer of its window alone, with its start.
            let series = series.as_array().unwrap();
            assert!(series.len() >= 2, "{path}: {} steps", series.len());
            let rows = if kind == "drift" {
                "current_count"
            } else {
                "rows"
            };
            let mut total = 0;
            for (i, entry) in series.iter().enumerate() {
                let start = at(entry["start"].as_str().unwrap());
                assert_eq!(start % step, 0, "{path}: step {i} starts at {start}");
                if i > 0 {
                    let previous = at(series[i - 1]["start"].as_str().unwrap());
                    assert_eq!(start - previous, step, "{path}: step {i}");
                }
                let alone_from = from.map_or(start, |f| f.max(start));
                let alone_to = to.map_or(start + step, |t| t.min(start + step));
                let (status, alone) = server
                    .get(&format!(
                        "/api/v1/models/m/{kind}?{}",
                        bounds(Some(alone_from), Some(alone_to))
                    ))
                    .await;
                assert_eq!(status, StatusCode::OK, "{alone}");
                let mut entry = entry.clone();
                entry.as_object_mut().unwrap().remove("start");
                assert_eq!(entry, without_range(alone), "{path}: step {i}");
                total += entry[rows].as_u64().unwrap();
            }
            assert_eq!(total, whole[rows].as_u64().unwrap(), "{path}");
            if version.is_empty() {
                assert!(total > 0, "{path}: no rows");
            }
            if from.is_none() {
                // An open range starts and ends with the steps that hold data.
                let first = &series[0];
                let last = &series[series.len() - 1];
                assert!(
                    first[rows].as_u64().unwrap() > 0 && last[rows].as_u64().unwrap() > 0,
                    "{path}"
                );
            }
        }
    }
    // A series too long to answer is refused on `step`.
    let (status, body) = server
        .get("/api/v1/models/m/drift?from=2000-01-01T00:00:00Z&step=1m")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_field(&body), "step");
    // The 8,760 hours of 2023 with 12 features: 8,760 × 14 entries are too many, though
    // few enough points for a metrics series.
    let (status, body) = server
        .get("/api/v1/models/m/quality?from=2023-01-01T00:00:00Z&to=2024-01-01T00:00:00Z&step=1h")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_field(&body), "step");
}

/// The `exact` case (`testdata/drift/gen_exact.py`): the current rows hold exactly the
/// reference's values, in 17-digit shortest form. Sent as a JSON array and as NDJSON (the
/// number text copied verbatim), against the reference uploaded as CSV, every KS statistic
/// is 0 and nothing is out of range; the two models' drift and quality agree with each
/// other and with the offline report's (CSV), entry for entry. Before JSON numbers were
/// read exactly, about one value in ten came out 1 ulp off and the KS statistic was not 0.
#[tokio::test]
async fn the_same_values_as_json_ndjson_and_csv_give_the_same_drift_and_quality() {
    let server = TestServer::start().await;
    let csv = String::from_utf8(read("exact.current.csv")).unwrap();
    // Each row as JSON text, the numbers copied as they are written.
    let rows: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            format!(
                r#"{{"id":"{}","timestamp":"{}","prediction":{},"features":{{"a":{},"b":{},"c":"{}"}}}}"#,
                f[0], f[1], f[2], f[3], f[4], f[5]
            )
        })
        .collect();
    let bodies = [
        ("json", "application/json", format!("[{}]", rows.join(","))),
        ("ndjson", "application/x-ndjson", rows.join("\n")),
    ];
    let mut answers = Vec::new();
    for (name, content_type, body) in bodies {
        let (status, created) = server.put_model(name, schema("exact")).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, uploaded) = server
            .put_body(
                &format!("/api/v1/models/{name}/reference"),
                "text/csv",
                read("exact.reference.csv"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{uploaded}");
        let response = server
            .client
            .post(server.url(&format!("/api/v1/models/{name}/predictions")))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let ingested: Value = response.json().await.unwrap();
        assert_eq!(ingested["accepted"], rows.len(), "{ingested}");
        let (_, drift) = server.get(&format!("/api/v1/models/{name}/drift")).await;
        let (_, quality) = server.get(&format!("/api/v1/models/{name}/quality")).await;
        for feature in ["a", "b"] {
            let entry = |answer: &Value| {
                answer["features"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|f| f["name"] == feature)
                    .cloned()
                    .unwrap()
            };
            assert_eq!(
                entry(&drift)["stats"]["ks_statistic"],
                0.0,
                "{name} {feature}: {drift}"
            );
            assert_eq!(
                entry(&quality)["out_of_range"],
                0,
                "{name} {feature}: {quality}"
            );
        }
        answers.push((drift, quality));
    }
    // The offline report's path: both files read as CSV.
    let model = Model::new(
        "m",
        serde_json::from_value::<ModelDefinition>(schema("exact")).unwrap(),
    )
    .unwrap();
    let reference = modelwatch_core::offline::reference_from_csv(
        read("exact.reference.csv").as_slice(),
        &model,
        1,
    )
    .unwrap();
    let current = modelwatch_core::offline::OfflineProfiles::from_csv(
        csv.as_bytes(),
        &model,
        Some(&reference.profile),
        0,
        |_| {},
    )
    .unwrap();
    let features = current.merged_features();
    let offline_drift = serde_json::to_value(modelwatch_core::drift::report::drift_answer(
        &model,
        &reference.profile,
        &features,
    ))
    .unwrap();
    let offline_quality = serde_json::to_value(modelwatch_core::drift::quality::quality_answer(
        &model,
        Some(&reference.profile),
        &features,
    ))
    .unwrap();
    for (drift, quality) in &answers {
        for key in [
            "features",
            "prediction",
            "drifted_features",
            "current_count",
        ] {
            assert_eq!(drift[key], offline_drift[key], "drift {key}");
        }
        assert_eq!(quality["features"], offline_quality["features"], "quality");
    }
}
