//! Hostile, malformed, oversized, mistyped, out-of-range and duplicated input on every
//! endpoint. Each case gets its documented status and names the field; afterwards the
//! server is healthy and the stored counts show that nothing was half-applied.

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One request and what must come back.
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    /// Further request headers.
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    status: StatusCode,
    /// For an error answer: `error.field`. For a 200 ingest answer: the field of the
    /// first rejected record (`None`: nothing rejected).
    field: Option<&'static str>,
    /// Records this case adds to the model `m` (for the final count).
    stored: u64,
}

fn case(name: &'static str, method: &'static str, path: &str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        method,
        path: path.to_string(),
        content_type: Some("application/json"),
        headers: Vec::new(),
        body: body.into(),
        status: StatusCode::BAD_REQUEST,
        field: None,
        stored: 0,
    }
}

impl Case {
    fn expect(mut self, status: StatusCode, field: Option<&'static str>) -> Self {
        self.status = status;
        self.field = field;
        self
    }
    fn content_type(mut self, content_type: Option<&'static str>) -> Self {
        self.content_type = content_type;
        self
    }
    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
    fn stores(mut self, n: u64) -> Self {
        self.stored = n;
        self
    }
}

const P: &str = "/api/v1/models/m/predictions";
const L: &str = "/api/v1/models/m/labels";
const PM: &str = "/api/v1/models/m/parameters";
const BT: &str = "/api/v1/rules/backtest";
const TM: &str = "/api/v1/models/m/telemetry";
const LG: &str = "/api/v1/models/m/logs";
const OK: StatusCode = StatusCode::OK;
const BAD: StatusCode = StatusCode::BAD_REQUEST;
/// A non-empty ingest batch of which nothing was accepted.
const NOTHING: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

fn event(extra: Value) -> Vec<u8> {
    let mut base =
        json!({"id": "x", "prediction": 1, "features": {"income": 1.0, "region": "north"}});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::to_vec(&json!([base])).unwrap()
}

/// A backtest request of a valid rule on `m` over one day, with `extra` replacing
/// members.
fn backtest(extra: Value) -> Vec<u8> {
    let mut base = json!({"rule": {"model": "m", "metric": "accuracy", "window": "1h",
        "condition": {"op": "<", "threshold": 0.5}},
        "from": "2024-03-11T00:00:00Z", "to": "2024-03-12T00:00:00Z"});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::to_vec(&base).unwrap()
}

/// Events of the given ids and versions, in one body.
fn versions(records: &[(&str, &str)]) -> Vec<u8> {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, version)| json!({"id": id, "prediction": 1, "version": version}))
        .collect();
    serde_json::to_vec(&records).unwrap()
}

fn cases() -> Vec<Case> {
    let two_days_ahead = modelwatch_core::time::now_ms() + 2 * 86_400_000;
    let deep_array = "[".repeat(10_000) + &"]".repeat(10_000);
    let deep_object = "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000);
    let mut csv_with_bom = b"\xef\xbb\xbfid,prediction,income,region\n".to_vec();
    csv_with_bom.extend_from_slice(b"r1,1,5.5,\"north\neast\"\nr2,0,7,south\n");
    vec![
        // Predictions: bodies that are not JSON at all.
        case("truncated JSON", "POST", P, "[{\"id\": \"a\"").expect(BAD, Some("body")),
        case("CSV sent as JSON", "POST", P, "id,prediction\na,1\n").expect(BAD, Some("body")),
        case("invalid UTF-8", "POST", P, b"[{\"id\": \"\xff\xfe\"}]".to_vec()).expect(BAD, Some("body")),
        case("empty body", "POST", P, "").expect(BAD, Some("body")),
        case("null body", "POST", P, "null").expect(BAD, Some("body")),
        case("deeply nested object", "POST", P, deep_object.clone()).expect(BAD, Some("body")),
        case("wrong content type", "POST", P, "[]").content_type(Some("text/plain")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("CSV rows", "POST", P, "id,prediction,income,region\ncsv1,1,NaN,north\ncsv2,0,2.5,\n").content_type(Some("text/csv")).expect(OK, None).stores(2),
        case("CSV row without a prediction", "POST", P, "id\n1\n").content_type(Some("text/csv")).expect(NOTHING, Some("prediction")),
        case("CSV with a duplicate column", "POST", P, "id,id\n1,2\n").content_type(Some("text/csv")).expect(BAD, Some("header")),
        case("50 MB body", "POST", P, vec![b' '; 50 * 1024 * 1024]).expect(StatusCode::PAYLOAD_TOO_LARGE, Some("body")),
        case("too many records", "POST", P, serde_json::to_vec(&vec![json!({}); 1001]).unwrap()).expect(StatusCode::PAYLOAD_TOO_LARGE, Some("body")),
        // Predictions: records rejected alone, with the field named.
        case("empty array", "POST", P, "[]").expect(OK, None),
        case("NaN prediction", "POST", P, "[{\"id\": \"a\", \"prediction\": NaN}]").expect(NOTHING, Some("prediction")),
        case("Infinity score", "POST", P, "[{\"id\": \"a\", \"prediction\": 1, \"score\": Infinity}]").expect(NOTHING, Some("score")),
        case("-Infinity label", "POST", P, "[{\"id\": \"a\", \"prediction\": 1, \"label\": -Infinity}]").expect(NOTHING, Some("label")),
        case("NaN features are missing", "POST", P, "[{\"id\": \"nan1\", \"prediction\": 1, \"features\": {\"income\": NaN, \"region\": NaN}}]").expect(OK, None).stores(1),
        case("epoch seconds", "POST", P, event(json!({"id": "sec1", "timestamp": 1_710_151_200}))).expect(NOTHING, Some("timestamp")),
        case("timestamp without an offset", "POST", P, event(json!({"id": "off1", "timestamp": "2024-03-13T10:00:00"}))).expect(NOTHING, Some("timestamp")),
        case("score array of the wrong length", "POST", P, event(json!({"id": "sa1", "score": [0.5]}))).expect(NOTHING, Some("score")),
        // Issue 13: what a web page could make a browser send.
        case("write without a content type", "POST", P, event(json!({"id": "ct0"}))).content_type(None).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("form post", "POST", P, "id=1").content_type(Some("application/x-www-form-urlencoded")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("write from another origin", "POST", P, event(json!({"id": "o1"}))).header("origin", "https://evil.example").expect(StatusCode::FORBIDDEN, Some("origin")),
        case("write from an opaque origin", "PUT", "/api/v1/models/n", "{\"task\": \"regression\"}").header("origin", "null").expect(StatusCode::FORBIDDEN, Some("origin")),
        case("cross-site fetch", "DELETE", "/api/v1/models/m", "").header("sec-fetch-site", "cross-site").expect(StatusCode::FORBIDDEN, Some("origin")),
        case("host name rebound to the server", "GET", "/api/v1/models", "").header("host", "evil.example").expect(StatusCode::FORBIDDEN, Some("host")),
        case("gzip body", "POST", P, vec![0x1f, 0x8b, 0x08, 0x00]).header("content-encoding", "gzip").expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-encoding")),
        case("JSON with its charset", "POST", P, event(json!({"id": "ct1"}))).content_type(Some("application/json; charset=utf-8")).expect(OK, None).stores(1),
        case("deeply nested record", "POST", P, deep_array).expect(NOTHING, Some("record")),
        case("number out of range", "POST", P, "[{\"id\": \"a\", \"prediction\": 1e400}]").expect(NOTHING, Some("record")),
        case("records that are not objects", "POST", P, "[1, \"a\", null]").expect(NOTHING, Some("record")),
        case("missing id", "POST", P, "[{\"prediction\": 1}]").expect(NOTHING, Some("id")),
        case("numeric id", "POST", P, event(json!({"id": 7}))).expect(NOTHING, Some("id")),
        case("id too long", "POST", P, event(json!({"id": "x".repeat(300)}))).expect(NOTHING, Some("id")),
        case("id with control characters", "POST", P, event(json!({"id": "a\u{0}b"}))).expect(NOTHING, Some("id")),
        case("duplicate id in one request", "POST", P, serde_json::to_vec(&json!([{"id": "d1", "prediction": 1}, {"id": "d1", "prediction": 0}])).unwrap()).expect(OK, Some("id")).stores(1),
        case("duplicate of a stored id", "POST", P, event(json!({"id": "d1"}))).expect(NOTHING, Some("id")),
        case("unknown field", "POST", P, event(json!({"id": "u1", "colour": "red"}))).expect(NOTHING, Some("colour")),
        case("prediction of the wrong type", "POST", P, event(json!({"id": "w1", "prediction": {"a": 1}}))).expect(NOTHING, Some("prediction")),
        case("unknown class", "POST", P, event(json!({"id": "w2", "prediction": 7}))).expect(NOTHING, Some("prediction")),
        case("missing prediction", "POST", P, serde_json::to_vec(&json!([{"id": "w3"}])).unwrap()).expect(NOTHING, Some("prediction")),
        case("score above 1", "POST", P, event(json!({"id": "s1", "score": 1.5}))).expect(NOTHING, Some("score")),
        case("negative score", "POST", P, event(json!({"id": "s2", "score": -0.1}))).expect(NOTHING, Some("score")),
        case("score as text", "POST", P, event(json!({"id": "s3", "score": "high"}))).expect(NOTHING, Some("score")),
        case("negative latency", "POST", P, event(json!({"id": "t1", "latency_ms": -3}))).expect(NOTHING, Some("latency_ms")),
        case("latency as text", "POST", P, event(json!({"id": "t2", "latency_ms": "fast"}))).expect(NOTHING, Some("latency_ms")),
        case("error as a number", "POST", P, event(json!({"id": "t3", "error": 3}))).expect(NOTHING, Some("error")),
        case("timestamp after 9999", "POST", P, event(json!({"id": "ts1", "timestamp": "10000-01-01T00:00:00Z"}))).expect(NOTHING, Some("timestamp")),
        case("negative epoch timestamp", "POST", P, event(json!({"id": "ts2", "timestamp": -5}))).expect(NOTHING, Some("timestamp")),
        case("huge epoch timestamp", "POST", P, event(json!({"id": "ts3", "timestamp": 1e20}))).expect(NOTHING, Some("timestamp")),
        case("timestamp as garbage", "POST", P, event(json!({"id": "ts4", "timestamp": "yesterday"}))).expect(NOTHING, Some("timestamp")),
        // Issue 13: one event far ahead would move the model's event clock there.
        case("event dated 9999-12-31T23:59:00Z", "POST", P, event(json!({"id": "ts5", "timestamp": "9999-12-31T23:59:00Z"}))).expect(NOTHING, Some("timestamp")),
        case("event two days ahead of the server's clock", "POST", P, event(json!({"id": "ts6", "timestamp": two_days_ahead}))).expect(NOTHING, Some("timestamp")),
        case("features as an array", "POST", P, event(json!({"id": "f1", "features": [1, 2]}))).expect(NOTHING, Some("features")),
        case("categorical value too long", "POST", P, event(json!({"id": "f2", "features": {"region": "r".repeat(2000)}}))).expect(NOTHING, Some("features.region")),
        case("version too long", "POST", P, event(json!({"id": "v1", "version": "v".repeat(100)}))).expect(NOTHING, Some("version")),
        case("label of an unknown class", "POST", P, event(json!({"id": "lb1", "label": "maybe"}))).expect(NOTHING, Some("label")),
        case("wrongly typed feature is kept", "POST", P, event(json!({"id": "f3", "features": {"income": "lots"}}))).expect(OK, None).stores(1),
        case("NDJSON with a broken line", "POST", P, "{\"id\":\"n1\",\"prediction\":1}\n\n{oops\n{\"id\":\"n2\",\"prediction\":0}\n").content_type(Some("application/x-ndjson")).expect(OK, Some("record")).stores(2),
        // Issue 13: versions bounded per request (3 here) and per model (4 here, with
        // "default" stored above): each version has profiles of its own.
        case("more versions in one request than allowed", "POST", P, versions(&[("vr1", "a"), ("vr2", "b"), ("vr3", "c"), ("vr4", "d"), ("vr5", "a")])).expect(OK, Some("version")).stores(4),
        case("a version beyond the model's bound", "POST", P, versions(&[("vr6", "e"), ("vr7", "b")])).expect(OK, Some("version")).stores(1),
        // Labels.
        case("label body not JSON", "POST", L, "[{").expect(BAD, Some("body")),
        case("label without id", "POST", L, "[{\"label\": 1}]").expect(NOTHING, Some("id")),
        case("label without label", "POST", L, "[{\"id\": \"n1\"}]").expect(NOTHING, Some("label")),
        case("label of an unknown class", "POST", L, "[{\"id\": \"n1\", \"label\": 5}]").expect(NOTHING, Some("label")),
        case("label with an unknown field", "POST", L, "[{\"id\": \"n1\", \"label\": 1, \"x\": 1}]").expect(NOTHING, Some("x")),
        case("label of NaN", "POST", L, "[{\"id\": \"n1\", \"label\": NaN}]").expect(NOTHING, Some("label")),
        case("labels as CSV", "POST", L, "id,label\ncsvlabel1,1\n").content_type(Some("text/csv")).expect(OK, None),
        case("pending labels with a huge limit", "GET", "/api/v1/models/m/labels/pending?limit=5000", "").expect(BAD, Some("limit")),
        case("pending labels with an unknown parameter", "GET", "/api/v1/models/m/labels/pending?colour=red", "").expect(BAD, Some("colour")),
        case("pending labels of an unknown model", "GET", "/api/v1/models/zz/labels/pending", "").expect(StatusCode::NOT_FOUND, Some("model")),
        case("label twice in one request", "POST", L, "[{\"id\": \"n1\", \"label\": 1}, {\"id\": \"n1\", \"label\": 0}]").expect(OK, Some("id")),
        // Models.
        case("model name in capitals", "PUT", "/api/v1/models/Credit", "{\"task\": \"regression\"}").expect(BAD, Some("model")),
        case("model name too long", "PUT", &format!("/api/v1/models/{}", "a".repeat(65)), "{\"task\": \"regression\"}").expect(BAD, Some("model")),
        case("path trick in the model name", "PUT", "/api/v1/models/..%2F..%2Fetc", "{\"task\": \"regression\"}").expect(BAD, Some("model")),
        case("unknown task", "PUT", "/api/v1/models/n", "{\"task\": \"ranking\"}").expect(BAD, Some("task")),
        case("duplicate feature", "PUT", "/api/v1/models/n", "{\"task\": \"regression\", \"features\": [{\"name\": \"a\", \"type\": \"numeric\"}, {\"name\": \"a\", \"type\": \"numeric\"}]}").expect(BAD, Some("features[1].name")),
        case("unknown feature type", "PUT", "/api/v1/models/n", "{\"task\": \"regression\", \"features\": [{\"name\": \"a\", \"type\": \"text\"}]}").expect(BAD, Some("features[0].type")),
        case("numeric PII", "PUT", "/api/v1/models/n", "{\"task\": \"regression\", \"features\": [{\"name\": \"a\", \"type\": \"numeric\", \"pii\": true}]}").expect(BAD, Some("features[0].pii")),
        case("unknown drift method", "PUT", "/api/v1/models/n", "{\"task\": \"regression\", \"features\": [{\"name\": \"a\", \"type\": \"numeric\", \"drift_method\": \"vibes\"}]}").expect(BAD, Some("features[0].drift_method")),
        case("negative drift threshold", "PUT", "/api/v1/models/n", "{\"task\": \"regression\", \"features\": [{\"name\": \"a\", \"type\": \"numeric\", \"drift_threshold\": -1}]}").expect(BAD, Some("features[0].drift_threshold")),
        case("definition not JSON", "PUT", "/api/v1/models/n", "task: regression").expect(BAD, Some("body")),
        case("definition as an array", "PUT", "/api/v1/models/n", "[]").expect(BAD, Some("body")),
        case("multiclass without classes", "PUT", "/api/v1/models/n", "{\"task\": \"multiclass_classification\"}").expect(BAD, Some("classes")),
        case("binary classes without 1 and no positive class", "PUT", "/api/v1/models/n", "{\"task\": \"binary_classification\", \"classes\": [\"malignant\", \"benign\"]}").expect(BAD, Some("positive_class")),
        case("a class that is an object", "PUT", "/api/v1/models/n", "{\"task\": \"multiclass_classification\", \"classes\": [{}, 1]}").expect(BAD, Some("classes")),
        case("bad allowed_lateness", "PUT", "/api/v1/models/n", "{\"task\": \"regression\", \"allowed_lateness\": \"soon\"}").expect(BAD, Some("allowed_lateness")),
        case("definition as text/plain", "PUT", "/api/v1/models/n", "{}").content_type(Some("text/plain")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("changing a feature's type", "PUT", "/api/v1/models/m", "{\"task\": \"binary_classification\", \"features\": [{\"name\": \"income\", \"type\": \"categorical\"}, {\"name\": \"region\", \"type\": \"categorical\"}]}").expect(StatusCode::CONFLICT, Some("features[0].type")),
        // Queries.
        case("from without an offset", "GET", "/api/v1/models/m/metrics?from=2024-03-13T10:00:00", "").expect(BAD, Some("from")),
        case("from is not a time", "GET", "/api/v1/models/m/metrics?from=soon", "").expect(BAD, Some("from")),
        case("to before from", "GET", "/api/v1/models/m/metrics?from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z", "").expect(BAD, Some("to")),
        case("step under a minute", "GET", "/api/v1/models/m/metrics?step=30s", "").expect(BAD, Some("step")),
        case("too many series points", "GET", "/api/v1/models/m/metrics?from=0&to=4102444800000&step=1m", "").expect(BAD, Some("step")),
        case("unknown query parameter", "GET", "/api/v1/models/m/quality?colour=red", "").expect(BAD, Some("colour")),
        case("correlations with a step", "GET", "/api/v1/models/m/correlations?step=1h", "").expect(BAD, Some("step")),
        case("correlations from is not a time", "GET", "/api/v1/models/m/correlations?from=soon", "").expect(BAD, Some("from")),
        case("correlations to before from", "GET", "/api/v1/models/m/correlations?from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z", "").expect(BAD, Some("to")),
        case("correlations of an unknown model", "GET", "/api/v1/models/nope/correlations", "").expect(StatusCode::NOT_FOUND, Some("model")),
        case("sample without x", "GET", "/api/v1/models/m/correlations/sample?y=income", "").expect(BAD, Some("x")),
        case("sample without y", "GET", "/api/v1/models/m/correlations/sample?x=income", "").expect(BAD, Some("y")),
        case("sample of an unknown column", "GET", "/api/v1/models/m/correlations/sample?x=income&y=nope", "").expect(BAD, Some("y")),
        case("sample of a categorical column", "GET", "/api/v1/models/m/correlations/sample?x=region&y=income", "").expect(BAD, Some("x")),
        case("sample of a column named like a query", "GET", "/api/v1/models/m/correlations/sample?x=income%26y%3Dscore&y=score", "").expect(BAD, Some("x")),
        case("sample of an empty column name", "GET", "/api/v1/models/m/correlations/sample?x=&y=score", "").expect(BAD, Some("x")),
        case("sample with a repeated x", "GET", "/api/v1/models/m/correlations/sample?x=income&x=score&y=score", "").expect(BAD, Some("x")),
        case("sample with a step", "GET", "/api/v1/models/m/correlations/sample?x=income&y=score&step=1m", "").expect(BAD, Some("step")),
        case("drift without a reference", "GET", "/api/v1/models/m/drift", "").expect(StatusCode::NOT_FOUND, Some("reference")),
        case("metrics of an unknown model", "GET", "/api/v1/models/zz/metrics", "").expect(StatusCode::NOT_FOUND, Some("model")),
        // References.
        case("reference with a ragged row", "PUT", "/api/v1/models/m/reference", "id,income,region\n1,2\n").content_type(Some("text/csv")).expect(BAD, Some("row")),
        case("reference with a duplicate column", "PUT", "/api/v1/models/m/reference", "income,income\n1,2\n").content_type(Some("text/csv")).expect(BAD, Some("header")),
        case("reference with an unknown option", "PUT", "/api/v1/models/m/reference?skip=1", "income\n1\n").content_type(Some("text/csv")).expect(BAD, Some("skip")),
        case("reference as text/plain", "PUT", "/api/v1/models/m/reference", "income\n1\n").content_type(Some("text/plain")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("reference with a BOM and a quoted newline", "PUT", "/api/v1/models/m/reference", csv_with_bom).content_type(Some("text/csv")).expect(OK, None),
        // Model internals (issue 17): one request is one snapshot, refused whole.
        case("parameters: not JSON", "POST", PM, "{\"step\": ").expect(BAD, Some("body")),
        case("parameters: invalid UTF-8", "POST", PM, b"{\"step\": 1, \"x\": \"\xff\"}".to_vec()).expect(BAD, Some("body")),
        case("parameters: as text/plain", "POST", PM, "{}").content_type(Some("text/plain")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("parameters: no step", "POST", PM, "{\"tensors\": [{\"name\": \"w\", \"values\": [1]}]}").expect(BAD, Some("step")),
        case("parameters: negative step", "POST", PM, "{\"step\": -1, \"tensors\": [{\"name\": \"w\", \"values\": [1]}]}").expect(BAD, Some("step")),
        case("parameters: NaN step", "POST", PM, "{\"step\": NaN, \"tensors\": [{\"name\": \"w\", \"values\": [1]}]}").expect(BAD, Some("step")),
        case("parameters: no tensors", "POST", PM, "{\"step\": 1, \"tensors\": []}").expect(BAD, Some("tensors")),
        case("parameters: value as text", "POST", PM, "{\"step\": 1, \"tensors\": [{\"name\": \"w\", \"values\": [1, \"2\"]}]}").expect(BAD, Some("tensors[0].values[1]")),
        case("parameters: value out of range", "POST", PM, "{\"step\": 1, \"tensors\": [{\"name\": \"w\", \"values\": [1e400]}]}").expect(BAD, Some("body")),
        case("parameters: tensor sent twice", "POST", PM, "{\"step\": 1, \"tensors\": [{\"name\": \"w\", \"values\": [1]}, {\"name\": \"w\", \"values\": [2]}]}").expect(BAD, Some("tensors[1].name")),
        case("parameters: tensor name too long", "POST", PM, serde_json::to_vec(&json!({"step": 1, "tensors": [{"name": "n".repeat(300), "values": [1]}]})).unwrap()).expect(BAD, Some("tensors[0].name")),
        case("parameters: summary that does not add up", "POST", PM, serde_json::to_vec(&json!({"step": 1, "tensors": [{"name": "b", "summary": {"count": 2, "min": 0, "max": 1, "mean": 0.5, "std": 0.5, "zeros": 1, "nan": 0, "inf": 0, "l2_norm": 1, "histogram": {"edges": [0, 1], "counts": [5]}}}]})).unwrap()).expect(BAD, Some("tensors[0].summary.histogram.counts")),
        case("parameters: summary with NaN mean", "POST", PM, "{\"step\": 1, \"tensors\": [{\"name\": \"b\", \"summary\": {\"count\": 1, \"mean\": NaN}}]}").expect(BAD, Some("tensors[0].summary.mean")),
        case("parameters: two days ahead", "POST", PM, serde_json::to_vec(&json!({"step": 1, "timestamp": two_days_ahead, "tensors": [{"name": "w", "values": [1]}]})).unwrap()).expect(BAD, Some("timestamp")),
        case("parameters: 10,001 tensors", "POST", PM, serde_json::to_vec(&json!({"step": 1, "tensors": (0..10_001).map(|i| json!({"name": format!("t{i}"), "values": []})).collect::<Vec<_>>()})).unwrap()).expect(BAD, Some("tensors")),
        case("parameters: NaN and Infinity values are counted", "POST", PM, "{\"step\": 1, \"tensors\": [{\"name\": \"w\", \"values\": [NaN, Infinity, -Infinity, 0.5]}]}").expect(OK, None),
        case("parameters: series with a step range backwards", "GET", "/api/v1/models/m/parameters?from_step=5&to_step=1", "").expect(BAD, Some("from_step")),
        case("parameters: series with an unknown option", "GET", "/api/v1/models/m/parameters?layer=w", "").expect(BAD, Some("layer")),
        case("parameters: diff of nothing", "GET", "/api/v1/models/m/parameters/diff", "").expect(BAD, Some("from_version")),
        case("parameters: diff of one version", "GET", "/api/v1/models/m/parameters/diff?from_version=a", "").expect(BAD, Some("to_version")),
        case("parameters: diff of versions and steps", "GET", "/api/v1/models/m/parameters/diff?from_version=a&to_version=b&from_step=1", "").expect(BAD, Some("from_step")),
        case("parameters: diff step as text", "GET", "/api/v1/models/m/parameters/diff?from_step=a&to_step=2", "").expect(BAD, Some("from_step")),
        case("parameters: unknown model", "POST", "/api/v1/models/zz/parameters", "{}").expect(StatusCode::NOT_FOUND, Some("model")),
        // Resource use (telemetry).
        case("telemetry: not JSON", "POST", TM, "[{\"timestamp\": ").expect(BAD, Some("body")),
        case("telemetry: as text/plain", "POST", TM, "[]").content_type(Some("text/plain")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("telemetry: as CSV", "POST", TM, "timestamp,cpu_percent\n1710151200000,1\n").content_type(Some("text/csv")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("telemetry: cpu as text", "POST", TM, "[{\"timestamp\": 1710151200000, \"cpu_percent\": \"85%\"}]").expect(NOTHING, Some("cpu_percent")),
        case("telemetry: negative memory", "POST", TM, "[{\"timestamp\": 1710151200000, \"memory_bytes\": -1}]").expect(NOTHING, Some("memory_bytes")),
        case("telemetry: NaN cpu", "POST", TM, "[{\"timestamp\": 1710151200000, \"cpu_percent\": NaN}]").expect(NOTHING, Some("cpu_percent")),
        case("telemetry: infinite GPU memory", "POST", TM, "[{\"timestamp\": 1710151200000, \"gpu_memory_bytes\": Infinity}]").expect(NOTHING, Some("gpu_memory_bytes")),
        case("telemetry: GPU utilisation in percent", "POST", TM, "[{\"timestamp\": 1710151200000, \"gpu_utilization\": 40}]").expect(NOTHING, Some("gpu_utilization")),
        case("telemetry: no timestamp", "POST", TM, "[{\"cpu_percent\": 1}]").expect(NOTHING, Some("timestamp")),
        case("telemetry: timestamp in seconds", "POST", TM, "[{\"timestamp\": 1710151200, \"cpu_percent\": 1}]").expect(NOTHING, Some("timestamp")),
        case("telemetry: timestamp as a word", "POST", TM, "[{\"timestamp\": \"now\", \"cpu_percent\": 1}]").expect(NOTHING, Some("timestamp")),
        case("telemetry: two days ahead", "POST", TM, serde_json::to_vec(&json!([{"timestamp": two_days_ahead, "cpu_percent": 1}])).unwrap()).expect(NOTHING, Some("timestamp")),
        case("telemetry: instance as an object", "POST", TM, "[{\"timestamp\": 1710151200000, \"instance\": {}}]").expect(NOTHING, Some("instance")),
        case("telemetry: unknown field", "POST", TM, "[{\"timestamp\": 1710151200000, \"cpu\": 1}]").expect(NOTHING, Some("cpu")),
        case("telemetry: too many samples", "POST", TM, serde_json::to_vec(&vec![json!({"timestamp": 1_710_151_200_000_i64}); 1001]).unwrap()).expect(StatusCode::PAYLOAD_TOO_LARGE, Some("body")),
        case("telemetry: 50 MB body", "POST", TM, vec![b' '; 50 * 1024 * 1024]).expect(StatusCode::PAYLOAD_TOO_LARGE, Some("body")),
        case("telemetry: a good sample", "POST", TM, "[{\"timestamp\": 1710151200000, \"instance\": \"pod-1\", \"cpu_percent\": 85.0, \"memory_bytes\": 1.2e9, \"gpu_utilization\": 0.4, \"gpu_memory_bytes\": 3.0e9}]").expect(OK, None),
        case("telemetry: unknown model", "POST", "/api/v1/models/zz/telemetry", "[]").expect(StatusCode::NOT_FOUND, Some("model")),
        // Logs.
        case("logs: not JSON", "POST", LG, "[{\"level\": ").expect(BAD, Some("body")),
        case("logs: as text/plain", "POST", LG, "[]").content_type(Some("text/plain")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("logs: no level", "POST", LG, "[{\"message\": \"x\"}]").expect(NOTHING, Some("level")),
        case("logs: unknown level", "POST", LG, "[{\"level\": \"panic\", \"message\": \"x\"}]").expect(NOTHING, Some("level")),
        case("logs: level as a number", "POST", LG, "[{\"level\": 5, \"message\": \"x\"}]").expect(NOTHING, Some("level")),
        case("logs: no message", "POST", LG, "[{\"level\": \"info\"}]").expect(NOTHING, Some("message")),
        case("logs: message as an array", "POST", LG, "[{\"level\": \"info\", \"message\": [1]}]").expect(NOTHING, Some("message")),
        case("logs: 17 KiB message", "POST", LG, serde_json::to_vec(&json!([{"level": "info", "message": "x".repeat(17 * 1024)}])).unwrap()).expect(NOTHING, Some("message")),
        case("logs: attributes as a list", "POST", LG, "[{\"level\": \"info\", \"message\": \"x\", \"attributes\": [1]}]").expect(NOTHING, Some("attributes")),
        case("logs: NaN in attributes", "POST", LG, "[{\"level\": \"info\", \"message\": \"x\", \"attributes\": {\"loss\": NaN}}]").expect(NOTHING, Some("attributes")),
        case("logs: timestamp as a bool", "POST", LG, "[{\"level\": \"info\", \"message\": \"x\", \"timestamp\": true}]").expect(NOTHING, Some("timestamp")),
        case("logs: two days ahead", "POST", LG, serde_json::to_vec(&json!([{"level": "info", "message": "x", "timestamp": two_days_ahead}])).unwrap()).expect(NOTHING, Some("timestamp")),
        case("logs: too many records", "POST", LG, serde_json::to_vec(&vec![json!({"level": "info", "message": "x"}); 1001]).unwrap()).expect(StatusCode::PAYLOAD_TOO_LARGE, Some("body")),
        case("logs: a good record", "POST", LG, "[{\"level\": \"fatal\", \"message\": \"Segmentation fault at 0x7f3a\", \"instance\": \"pod-1\", \"id\": \"p1\", \"attributes\": {\"signal\": 11}}]").expect(OK, None),
        case("logs: search with an unknown level", "GET", "/api/v1/models/m/logs?level=panic", "").expect(BAD, Some("level")),
        case("logs: search with a text limit", "GET", "/api/v1/models/m/logs?limit=all", "").expect(BAD, Some("limit")),
        case("logs: search with a huge limit", "GET", "/api/v1/models/m/logs?limit=99999999999999999999", "").expect(BAD, Some("limit")),
        case("logs: patterns with a 1s step", "GET", "/api/v1/models/m/logs/patterns?step=1s", "").expect(BAD, Some("step")),
        case("logs: patterns with an unknown option", "GET", "/api/v1/models/m/logs/patterns?level=error", "").expect(BAD, Some("level")),
        // Alerting.
        case("rule body not JSON", "PUT", "/api/v1/rules/r", "{\"model\": ").expect(BAD, Some("body")),
        case("rule 10,000 levels deep", "PUT", "/api/v1/rules/r", format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))).expect(BAD, Some("body")),
        case("rule for an unknown model", "PUT", "/api/v1/rules/r", "{\"model\": \"zz\", \"metric\": \"count\", \"condition\": {\"op\": \"<\", \"threshold\": 1}}").expect(BAD, Some("model")),
        case("rule on an unknown metric", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"acc\", \"condition\": {\"op\": \"<\", \"threshold\": 1}}").expect(BAD, Some("metric")),
        case("rule on an unknown feature", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"drift.age\"}").expect(BAD, Some("metric")),
        case("rule with a confidence other than 0.95", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"accuracy\", \"confidence\": 0.5, \"condition\": {\"op\": \"<\", \"threshold\": 0.7}}").expect(BAD, Some("confidence")),
        case("rule with a confidence as text", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"accuracy\", \"confidence\": \"high\", \"condition\": {\"op\": \"<\", \"threshold\": 0.7}}").expect(BAD, Some("confidence")),
        case("rule with a confidence on a metric without interval", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"count\", \"confidence\": 0.95, \"condition\": {\"op\": \"<\", \"threshold\": 1}}").expect(BAD, Some("confidence")),
        case("rule with a NaN-like threshold", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"count\", \"condition\": {\"op\": \"<\", \"threshold\": 1e400}}").expect(BAD, Some("body")),
        // Segments and fairness: bad definitions and unknown segments in queries and rules.
        case("segment on an unknown feature", "PUT", "/api/v1/models/n", "{\"task\": \"binary_classification\", \"features\": [{\"name\": \"a\", \"type\": \"categorical\"}], \"segments\": [\"zz\"]}").expect(BAD, Some("segments[0]")),
        case("segment on a numeric feature", "PUT", "/api/v1/models/n", "{\"task\": \"binary_classification\", \"features\": [{\"name\": \"a\", \"type\": \"numeric\"}], \"segments\": [\"a\"]}").expect(BAD, Some("segments[0]")),
        case("segment listed twice", "PUT", "/api/v1/models/n", "{\"task\": \"binary_classification\", \"features\": [{\"name\": \"a\", \"type\": \"categorical\"}], \"segments\": [\"a\", \"a\"]}").expect(BAD, Some("segments[1]")),
        case("segments as a string", "PUT", "/api/v1/models/n", "{\"task\": \"binary_classification\", \"segments\": \"a\"}").expect(BAD, Some("segments")),
        case("sensitive numeric feature", "PUT", "/api/v1/models/n", "{\"task\": \"binary_classification\", \"features\": [{\"name\": \"a\", \"type\": \"numeric\", \"sensitive\": true}]}").expect(BAD, Some("features[0].sensitive")),
        case("sensitive feature of a regressor", "PUT", "/api/v1/models/n", "{\"task\": \"regression\", \"features\": [{\"name\": \"a\", \"type\": \"categorical\", \"sensitive\": true}]}").expect(BAD, Some("features[0].sensitive")),
        case("sensitive as text", "PUT", "/api/v1/models/n", "{\"task\": \"binary_classification\", \"features\": [{\"name\": \"a\", \"type\": \"categorical\", \"sensitive\": \"yes\"}]}").expect(BAD, Some("features[0].sensitive")),
        case("metrics of an unknown segment", "GET", "/api/v1/models/m/metrics?segment=region", "").expect(BAD, Some("segment")),
        case("drift of an unknown segment", "GET", "/api/v1/models/m/drift?segment=zz", "").expect(BAD, Some("segment")),
        case("fairness without a feature", "GET", "/api/v1/models/m/fairness", "").expect(BAD, Some("feature")),
        case("fairness of a feature that is not sensitive", "GET", "/api/v1/models/m/fairness?feature=region", "").expect(BAD, Some("feature")),
        case("fairness with an unknown parameter", "GET", "/api/v1/models/m/fairness?feature=region&segment=x", "").expect(BAD, Some("segment")),
        case("rule on an unknown segment", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"accuracy\", \"segment\": {\"region\": \"north\"}, \"condition\": {\"op\": \"<\", \"threshold\": 0.7}}").expect(BAD, Some("segment.region")),
        case("rule with a segment as text", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"accuracy\", \"segment\": \"region\", \"condition\": {\"op\": \"<\", \"threshold\": 0.7}}").expect(BAD, Some("segment")),
        case("rule on fairness of a feature that is not sensitive", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"fairness.region.demographic_parity_ratio\", \"condition\": {\"op\": \"<\", \"threshold\": 0.8}}").expect(BAD, Some("metric")),
        case("rule with a bad duration", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"count\", \"window\": \"5 parsecs\", \"condition\": {\"op\": \"<\", \"threshold\": 1}}").expect(BAD, Some("window")),
        case("rule naming a missing channel", "PUT", "/api/v1/rules/r", "{\"model\": \"m\", \"metric\": \"count\", \"condition\": {\"op\": \"<\", \"threshold\": 1}, \"channels\": [\"nope\"]}").expect(BAD, Some("channels[0]")),
        case("path trick in a rule name", "PUT", "/api/v1/rules/..%2Fx", "{}").expect(BAD, Some("rule")),
        case("rule as text/plain", "PUT", "/api/v1/rules/r", "{}").content_type(Some("text/plain")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("channel of an unknown type", "PUT", "/api/v1/channels/c", "{\"type\": \"pager\"}").expect(BAD, Some("type")),
        case("webhook to a file URL", "PUT", "/api/v1/channels/c", "{\"type\": \"webhook\", \"url\": \"file:///etc/passwd\"}").expect(BAD, Some("url")),
        case("email without recipients", "PUT", "/api/v1/channels/c", "{\"type\": \"email\", \"smtp\": \"smtp://h\", \"from\": \"a@b\"}").expect(BAD, Some("to")),
        case("pagerduty without a routing key", "PUT", "/api/v1/channels/c", "{\"type\": \"pagerduty\"}").expect(BAD, Some("routing_key")),
        case("twilio SMS to a non-number", "PUT", "/api/v1/channels/c", "{\"type\": \"twilio\", \"account_sid\": \"AC0123456789abcdef0123456789abcdef\", \"auth_token\": \"t\", \"from\": \"+15005550006\", \"to\": [\"+14155550100\", \"call me\"]}").expect(BAD, Some("to[1]")),
        case("twilio in an unknown mode", "PUT", "/api/v1/channels/c", "{\"type\": \"twilio\", \"account_sid\": \"AC0123456789abcdef0123456789abcdef\", \"auth_token\": \"t\", \"from\": \"+15005550006\", \"to\": \"+14155550100\", \"mode\": \"fax\"}").expect(BAD, Some("mode")),
        case("opsgenie with an SMTP field", "PUT", "/api/v1/channels/c", "{\"type\": \"opsgenie\", \"api_key\": \"k\", \"smtp\": \"smtp://h\"}").expect(BAD, Some("smtp")),
        case("route with a bad regex", "PUT", "/api/v1/routing", "{\"route\": {\"channels\": [], \"routes\": [{\"matchers\": [\"model=~(credit\"]}]}}").expect(BAD, Some("route.routes[0].matchers[0]")),
        case("route to an unknown channel", "PUT", "/api/v1/routing", "{\"route\": {\"channels\": [], \"routes\": [{\"channels\": [\"ghost\"]}]}}").expect(BAD, Some("route.routes[0].channels[0]")),
        case("route nested 17 deep", "PUT", "/api/v1/routing", format!("{{\"route\": {}{{\"channels\": []}}{}}}", "{\"channels\": [], \"routes\": [".repeat(16), "]}".repeat(16))).expect(BAD, Some("route.routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0].routes[0]")),
        case("root route that continues", "PUT", "/api/v1/routing", "{\"route\": {\"channels\": [], \"continue\": true}}").expect(BAD, Some("route.continue")),
        case("routing with a misspelt key", "PUT", "/api/v1/routing", "{\"route\": {\"channels\": []}, \"inhibit\": []}").expect(BAD, Some("inhibit")),
        case("inhibition muting everything", "PUT", "/api/v1/routing", "{\"route\": {\"channels\": []}, \"inhibit_rules\": [{\"source_matchers\": [], \"target_matchers\": [\"severity=warning\"]}]}").expect(BAD, Some("inhibit_rules[0].source_matchers")),
        case("silence ending before it starts", "PUT", "/api/v1/silences/s", "{\"matchers\": {\"model\": \"m\"}, \"starts_at\": 20, \"ends_at\": 10}").expect(BAD, Some("ends_at")),
        case("silence without matchers", "PUT", "/api/v1/silences/s", "{\"ends_at\": \"2099-01-01T00:00:00Z\"}").expect(BAD, Some("matchers")),
        case("alerts in an unknown state", "GET", "/api/v1/alerts?state=angry", "").expect(BAD, Some("state")),
        case("events with a huge limit", "GET", "/api/v1/events?limit=1000000", "").expect(BAD, Some("limit")),
        case("deleting an unknown rule", "DELETE", "/api/v1/rules/nope", "").expect(StatusCode::NOT_FOUND, Some("rule")),
        // Rule backtest (issue 18): the rule is validated as a PUT validates it.
        case("backtest over a backwards range", "POST", BT, backtest(json!({"from": "2024-03-12T00:00:00Z", "to": "2024-03-11T00:00:00Z"}))).expect(BAD, Some("to")),
        case("backtest over more spans than allowed", "POST", BT, backtest(json!({"from": 0, "to": "2024-03-11T00:00:00Z", "rule": {"model": "m", "metric": "count", "window": "1m", "condition": {"op": "<", "threshold": 1}}}))).expect(BAD, Some("to")),
        case("backtest with an unreadable time", "POST", BT, backtest(json!({"from": "last tuesday"}))).expect(BAD, Some("from")),
        case("backtest of an unknown model", "POST", BT, backtest(json!({"rule": {"model": "ghost", "metric": "count", "condition": {"op": "<", "threshold": 1}}}))).expect(BAD, Some("rule.model")),
        case("backtest of a bad rule", "POST", BT, backtest(json!({"rule": {"model": "m", "metric": "count", "window": "5 parsecs", "condition": {"op": "<", "threshold": 1}}}))).expect(BAD, Some("rule.window")),
        case("backtest of a rule naming a missing channel", "POST", BT, backtest(json!({"rule": {"model": "m", "metric": "count", "condition": {"op": "<", "threshold": 1}, "channels": ["nope"]}}))).expect(BAD, Some("rule.channels[0]")),
        case("backtest without a rule", "POST", BT, "{\"from\": 0, \"to\": 1}").expect(BAD, Some("rule")),
        case("backtest with a bad rule name", "POST", BT, backtest(json!({"name": "../x"}))).expect(BAD, Some("name")),
        case("backtest tuned to 0 alerts a week", "POST", BT, backtest(json!({"tune": {"target_alerts_per_week": 0}}))).expect(BAD, Some("tune.target_alerts_per_week")),
        case("backtest tuned to -1 alerts a week", "POST", BT, backtest(json!({"tune": {"target_alerts_per_week": -1}}))).expect(BAD, Some("tune.target_alerts_per_week")),
        case("backtest tuning a parameter the rule lacks", "POST", BT, backtest(json!({"tune": {"target_alerts_per_week": 1, "parameter": "k"}}))).expect(BAD, Some("tune.parameter")),
        case("backtest body of 2 MB", "POST", BT, vec![b' '; 2 * 1024 * 1024]).expect(StatusCode::PAYLOAD_TOO_LARGE, Some("body")),
        case("backtest as text/plain", "POST", BT, backtest(json!({}))).content_type(Some("text/plain")).expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type")),
        case("backtest of a good rule over nothing", "POST", BT, backtest(json!({}))).expect(OK, None),
        // Routing.
        case("unknown route", "GET", "/api/v1/nothing", "").expect(StatusCode::NOT_FOUND, None),
        case("wrong method", "PATCH", "/api/v1/models/m", "").expect(StatusCode::METHOD_NOT_ALLOWED, None),
    ]
}

#[tokio::test]
async fn hostile_inputs_get_precise_errors_and_change_nothing_else() {
    let server = TestServer::start_with(|config| {
        config.limits.max_records_per_request = 1000;
        config.limits.max_versions_per_request = 3;
        config.limits.max_versions_per_model = 4;
    })
    .await;
    let (status, _) = server
        .put_model("m", json!({"task": "binary_classification", "features": [{"name": "income", "type": "numeric"}, {"name": "region", "type": "categorical"}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut expected_stored = 0;
    for case in &cases {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut request = server
            .client
            .request(method, server.url(&case.path))
            .body(case.body.clone());
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        for (name, value) in &case.headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: connection failed: {e}", case.name));
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, case.status, "{}: {body}", case.name);
        if status.is_success() {
            let first_rejected = body["rejected"]
                .as_array()
                .and_then(|r| r.first())
                .map(|r| r["field"].as_str().unwrap_or(""));
            assert_eq!(first_rejected, case.field, "{}: {body}", case.name);
        } else {
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{}: {body}",
                case.name
            );
            if let Some(field) = case.field {
                assert_eq!(body["error"]["field"], field, "{}: {body}", case.name);
            }
        }
        expected_stored += case.stored;
        assert_eq!(
            server.get("/healthz").await.0,
            StatusCode::OK,
            "{}: server unhealthy",
            case.name
        );
    }
    let (_, model) = server.get("/api/v1/models/m").await;
    assert_eq!(
        model["stats"]["predictions"].as_u64(),
        Some(expected_stored),
        "{model}"
    );
    let (_, models) = server.get("/api/v1/models").await;
    assert_eq!(
        models["models"].as_array().unwrap().len(),
        1,
        "no model was half-created"
    );
    for (path, key) in [
        ("/api/v1/rules", "rules"),
        ("/api/v1/channels", "channels"),
        ("/api/v1/silences", "silences"),
    ] {
        assert_eq!(
            server.get(path).await.1[key],
            json!([]),
            "nothing half-created at {path}"
        );
    }
    eprintln!("hostile inputs: {} cases", cases.len());
}
