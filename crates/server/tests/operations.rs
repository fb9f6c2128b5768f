//! Resource use and logs of the served model over HTTP (issue 17, items 2 and 3):
//! telemetry samples and log records ingested, every new metric of the metrics answer
//! checked with exact, hand-worked values (crash_rate by hand), templates with their
//! counts per window, the search of records, a rule on `crash_rate`, and the time- and
//! count-bounded retention of the raw records.

mod common;

use common::{TestServer, error_field, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn svc(server: &TestServer) {
    let (status, body) = server
        .put_model(
            "svc",
            json!({"task": "regression", "allowed_lateness": "0s"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn send_fixture(server: &TestServer) {
    let samples = json!([
        {"timestamp": "2024-03-11T10:00:10Z", "instance": "pod-1", "cpu_percent": 50.0, "memory_bytes": 1e9},
        {"timestamp": "2024-03-11T10:00:20Z", "instance": "pod-2", "cpu_percent": 70.0, "memory_bytes": 2e9,
         "gpu_utilization": 0.5, "gpu_memory_bytes": 3e9},
        {"timestamp": "2024-03-11T10:30:00Z", "instance": "pod-1", "cpu_percent": 90.0,
         "gpu_utilization": 0.25, "gpu_memory_bytes": 1e9},
        {"timestamp": "2024-03-11T11:15:00Z", "instance": "pod-3", "cpu_percent": 10.0, "memory_bytes": 5e8}
    ]);
    let (status, body) = server.post("/api/v1/models/svc/telemetry", samples).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"accepted": 4, "rejected": []}));
    let logs = json!([
        {"timestamp": "2024-03-11T10:05:00Z", "level": "info", "message": "Loaded model in 1.5s"},
        {"timestamp": "2024-03-11T10:06:00Z", "level": "error", "message": "Timeout after 30s calling 10.0.0.1", "instance": "pod-1"},
        {"timestamp": "2024-03-11T10:07:00Z", "level": "error", "message": "Timeout after 45s calling 10.0.0.2", "instance": "pod-2",
         "id": "p-17", "attributes": {"retry": 2}},
        {"timestamp": "2024-03-11T10:40:00Z", "level": "fatal", "message": "Segmentation fault at 0x7f00aa12"},
        {"timestamp": "2024-03-11T11:20:00Z", "level": "warn", "message": "Slow request 900 ms"},
        {"timestamp": "2024-03-11T11:30:00Z", "level": "fatal", "message": "Out of memory"},
        {"timestamp": "2024-03-11T11:31:00Z", "level": "fatal", "message": "Out of memory"}
    ]);
    let (status, body) = server.post("/api/v1/models/svc/logs", logs).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"accepted": 7, "rejected": []}));
}

fn metric<'a>(metrics: &'a Value, name: &str) -> &'a Value {
    &metrics[name]
}

#[tokio::test]
async fn every_new_metric_is_exact_in_the_metrics_answer() {
    let server = TestServer::start().await;
    svc(&server).await;
    send_fixture(&server).await;
    let (status, answer) = server
        .get("/api/v1/models/svc/metrics?from=2024-03-11T10:00:00Z&to=2024-03-11T12:00:00Z&step=1h")
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let summary = &answer["summary"];
    let ten = &answer["series"][0]["metrics"];
    let eleven = &answer["series"][1]["metrics"];
    // Resource use. 10h: cpu 50, 70, 90; memory 1e9, 2e9; GPU 0.5, 0.25 and 3e9, 1e9;
    // pods 1 and 2. 11h: pod-3 alone, cpu 10, memory 5e8, no GPU.
    for (name, whole, first, second) in [
        ("cpu_percent_mean", json!(55.0), json!(70.0), json!(10.0)),
        ("cpu_percent_max", json!(90.0), json!(90.0), json!(10.0)),
        ("memory_bytes_max", json!(2e9), json!(2e9), json!(5e8)),
        (
            "gpu_utilization_mean",
            json!(0.375),
            json!(0.375),
            Value::Null,
        ),
        ("gpu_memory_bytes_max", json!(3e9), json!(3e9), Value::Null),
        ("instances", json!(3), json!(2), json!(1)),
        // Logs. 10h: info, 2 errors, 1 fatal; 11h: warn, 2 fatal.
        ("log_errors", json!(5), json!(3), json!(2)),
        ("crashes", json!(3), json!(1), json!(2)),
        ("logs_trace", json!(0), json!(0), json!(0)),
        ("logs_debug", json!(0), json!(0), json!(0)),
        ("logs_info", json!(1), json!(1), json!(0)),
        ("logs_warn", json!(1), json!(0), json!(1)),
        ("logs_error", json!(2), json!(2), json!(0)),
        ("logs_fatal", json!(3), json!(1), json!(2)),
        // By hand: 3 crashes over the 2 hours asked; 1 in the first hour, 2 in the second.
        ("crash_rate", json!(1.5), json!(1.0), json!(2.0)),
    ] {
        assert_eq!(metric(summary, name), &whole, "summary {name}: {summary}");
        assert_eq!(metric(ten, name), &first, "10h {name}: {ten}");
        assert_eq!(metric(eleven, name), &second, "11h {name}: {eleven}");
    }
    assert_eq!(
        summary["count"], 0,
        "telemetry and logs are not predictions"
    );
    // The report lists them with the other metrics.
    let markdown = server
        .client
        .get(server.url(
            "/api/v1/models/svc/report?format=md&from=2024-03-11T10:00:00Z&to=2024-03-11T12:00:00Z",
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in ["crash_rate", "cpu_percent_mean", "instances", "log_errors"] {
        assert!(markdown.contains(name), "{name} in the report: {markdown}");
    }
    // 30-minute steps: the two crashes of 11:30 and 11:31 are 4 per hour.
    let (_, answer) = server
        .get(
            "/api/v1/models/svc/metrics?from=2024-03-11T10:00:00Z&to=2024-03-11T12:00:00Z&step=30m",
        )
        .await;
    let rates: Vec<&Value> = answer["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["metrics"]["crash_rate"])
        .collect();
    assert_eq!(rates, [&json!(0.0), &json!(2.0), &json!(0.0), &json!(4.0)]);
    // A model without telemetry or logs has none of these names.
    let (status, body) = server
        .put_model("quiet", json!({"task": "regression"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, quiet) = server.get("/api/v1/models/quiet/metrics").await;
    assert!(quiet["summary"].get("crashes").is_none(), "{quiet}");
    assert!(quiet["summary"].get("instances").is_none(), "{quiet}");
}

#[tokio::test]
async fn templates_are_counted_per_window_and_records_searched() {
    let server = TestServer::start().await;
    svc(&server).await;
    send_fixture(&server).await;
    let (status, patterns) = server
        .get("/api/v1/models/svc/logs/patterns?from=2024-03-11T10:00:00Z&to=2024-03-11T12:00:00Z&step=1h")
        .await;
    assert_eq!(status, StatusCode::OK, "{patterns}");
    let rows: Vec<(String, u64, String, Vec<u64>)> = patterns["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["template"].as_str().unwrap().to_string(),
                p["count"].as_u64().unwrap(),
                p["level"].as_str().unwrap().to_string(),
                serde_json::from_value(p["series"].clone()).unwrap(),
            )
        })
        .collect();
    let expected = [
        ("Out of memory", 2, "fatal", vec![0, 2]),
        ("Slow request <num> ms", 1, "warn", vec![0, 1]),
        ("Segmentation fault at <hex>", 1, "fatal", vec![1, 0]),
        ("Timeout after <num>s calling <num>", 2, "error", vec![2, 0]),
        ("Loaded model in <num>s", 1, "info", vec![1, 0]),
    ];
    let expected: Vec<(String, u64, String, Vec<u64>)> = expected
        .into_iter()
        .map(|(t, c, l, s)| (t.to_string(), c, l.to_string(), s))
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(patterns["total"], 7);
    assert_eq!(patterns["other"], 0);
    assert_eq!(patterns["levels"]["fatal"], 3);
    assert_eq!(patterns["patterns"][0]["last_seen"], "2024-03-11T11:31:00Z");
    assert_eq!(
        patterns["starts"],
        json!(["2024-03-11T10:00:00Z", "2024-03-11T11:00:00Z"])
    );

    let (status, found) = server.get("/api/v1/models/svc/logs?level=fatal").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let times: Vec<&str> = found["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2024-03-11T11:31:00Z",
            "2024-03-11T11:30:00Z",
            "2024-03-11T10:40:00Z"
        ]
    );
    let (_, found) = server
        .get("/api/v1/models/svc/logs?q=TIMEOUT&level=error,warn&limit=1")
        .await;
    let records = found["records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0],
        json!({"timestamp": "2024-03-11T10:07:00Z", "level": "error",
               "message": "Timeout after 45s calling 10.0.0.2",
               "template": "Timeout after <num>s calling <num>", "version": "default",
               "instance": "pod-2", "id": "p-17", "attributes": {"retry": 2}})
    );
    let (_, ranged) = server
        .get("/api/v1/models/svc/logs?from=2024-03-11T11:00:00Z&to=2024-03-11T11:30:00Z")
        .await;
    assert_eq!(ranged["records"].as_array().unwrap().len(), 1, "{ranged}");
    for (query, field) in [
        ("level=loud", "level"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("from=yesterday", "from"),
        ("from=2024-03-11T11:00:00Z&to=2024-03-11T10:00:00Z", "to"),
        ("colour=red", "colour"),
    ] {
        let (status, body) = server
            .get(&format!("/api/v1/models/svc/logs?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(error_field(&body), field, "{query}: {body}");
    }
}

#[tokio::test]
async fn rules_fire_on_crash_rate_and_accept_resource_metrics() {
    let server = TestServer::start().await;
    svc(&server).await;
    send_fixture(&server).await;
    for metric in [
        "instances",
        "cpu_percent_max",
        "log_errors",
        "gpu_memory_bytes_max",
    ] {
        let (status, body) = server
            .put_json(
                &format!("/api/v1/rules/r-{metric}"),
                json!({"model": "svc", "metric": metric, "window": "1h", "every": "1h",
                       "condition": {"op": ">", "threshold": 1e12}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{metric}: {body}");
    }
    let (status, body) = server
        .put_json(
            "/api/v1/rules/crashing",
            json!({"model": "svc", "metric": "crash_rate", "window": "1h", "every": "1h",
                   "condition": {"op": ">", "threshold": 0.5}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The model's clock is at 11:31, so the hour 10:00–11:00 is complete: 1 crash in it.
    let firing = eventually(30, "the crash-rate alert", || async {
        let (_, body) = server.get("/api/v1/alerts?state=firing").await;
        let list = body["alerts"].as_array().cloned().unwrap_or_default();
        list.into_iter().find(|a| a["rule"] == "crashing")
    })
    .await;
    assert_eq!(firing["value"], 1.0, "{firing}");
    assert_eq!(firing["starts_at"], "2024-03-11T11:00:00Z", "{firing}");
}

#[tokio::test]
async fn raw_records_are_kept_within_their_time_and_count_bounds() {
    let server = TestServer::start_with(|config| {
        config.store.retention.max_log_records = 3;
        config.store.retention.log_records_ms = 3_600_000;
    })
    .await;
    svc(&server).await;
    let records: Vec<Value> = (0..5)
        .map(|i| json!({"timestamp": format!("2024-03-11T10:0{i}:00Z"), "level": "info", "message": format!("record {i}")}))
        .collect();
    let (status, body) = server
        .post("/api/v1/models/svc/logs", Value::Array(records))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let messages = |body: &Value| -> Vec<String> {
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["message"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, found) = server.get("/api/v1/models/svc/logs").await;
    assert_eq!(messages(&found), ["record 4", "record 3", "record 2"]);
    // A record 2 hours later: everything more than an hour behind it goes.
    let (status, body) = server
        .post(
            "/api/v1/models/svc/logs",
            json!([{"timestamp": "2024-03-11T12:00:00Z", "level": "warn", "message": "late"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, found) = server.get("/api/v1/models/svc/logs").await;
    assert_eq!(messages(&found), ["late"]);
    // The counts in the profiles are not raw records: they stay.
    let (_, metrics) = server.get("/api/v1/models/svc/metrics").await;
    assert_eq!(metrics["summary"]["logs_info"], 5, "{metrics}");
    // And the periodic pass deletes nothing more.
    let outcome = server.store().apply_retention().await.unwrap();
    assert_eq!(outcome.log_records, 0);
}

#[tokio::test]
async fn bad_records_are_rejected_alone_naming_their_field() {
    let server = TestServer::start().await;
    svc(&server).await;
    let (status, body) = server
        .post(
            "/api/v1/models/svc/telemetry",
            json!([
                {"timestamp": "2024-03-11T10:00:00Z", "cpu_percent": 12.5},
                {"timestamp": "2024-03-11T10:00:00Z", "cpu_percent": -1},
                {"cpu_percent": 1}
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1);
    let fields: Vec<&str> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["cpu_percent", "timestamp"]);
    let (status, body) = server
        .post(
            "/api/v1/models/svc/logs",
            json!([{"level": "loud", "message": "x"}]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["rejected"][0]["field"], "level");
}
