//! Writes `testdata/frozen/modelwatch.sqlite`: a small database made by the schema of
//! the code that runs it, through the real server and its HTTP API (see
//! `testdata/frozen/README.md` for what it holds).
//!
//! Run once, by hand, when a new frozen database is wanted; CI never runs it, because
//! the point of the checked-in file is that older code wrote it:
//! `cargo run -p modelwatch-server --example freeze_database`

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::{Model, ModelDefinition};
use modelwatch_server::{AppState, ServerConfig};
use serde_json::{Value, json};

/// The secret of the frozen admin token (test data, not a credential).
const ADMIN_SECRET: &str = "mw_frozen_admin_0000000000000000000000000000";
/// The secret of the frozen read token restricted to `credit`.
const READ_SECRET: &str = "mw_frozen_read_credit_00000000000000000000000";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The rows of a CSV file as the JSON events a client would send.
fn events(schema: &Path, csv: &Path) -> Vec<serde_json::Map<String, Value>> {
    let definition: ModelDefinition = serde_json::from_slice(&read(schema)).expect("schema");
    let model = Model::new("frozen", definition).expect("model");
    let csv = read(csv);
    CsvRecords::new(csv.as_slice(), &model)
        .expect("csv header")
        .map(|(line, record)| record.unwrap_or_else(|e| panic!("line {line}: {e:?}")))
        .collect()
}

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Value {
        let response = request.send().await.expect(what);
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{what}: {status} {body}");
        body
    }

    async fn put(&self, path: &str, body: &Value) -> Value {
        let request = self.http.put(format!("{}{path}", self.base)).json(body);
        self.send(request, path).await
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        self.send(request, path).await
    }

    async fn get(&self, path: &str) -> Value {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request, path).await
    }
}

/// A webhook receiver, so the alert's notification is delivered and leaves the outbox.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let recorded = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let recorded = recorded.clone();
            async move {
                recorded.lock().expect("lock").push(body);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hook"), received)
}

#[tokio::main]
async fn main() {
    modelwatch_server::install_crypto_provider();
    let root = root();
    let (golden, drift) = (root.join("testdata/golden"), root.join("testdata/drift"));
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = ServerConfig::new(dir.path());
    // Minute windows older than an hour of event time are deleted (hour and day windows
    // answer every query below), which keeps the file small.
    config.store.retention.minute_profiles_ms = modelwatch_core::time::HOUR_MS;
    let state = AppState::open(&config).expect("open");
    let store = state.catalog.store.clone();
    let closed = store.closed();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(modelwatch_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let client = Client {
        base,
        http: reqwest::Client::new(),
    };

    let schema: Value = serde_json::from_slice(&read(&golden.join("binary.schema.json"))).unwrap();
    client.put("/api/v1/models/credit", &schema).await;
    // Alerting: a channel, a silence, and a rule that fires on 2024-03-11 (accuracy
    // 0.698) and resolves on 2024-03-12 (0.704). It is defined before the data, so that
    // it judges every span the data completes (a rule defined over stored data judges
    // only the newest complete span).
    let (hook, received) = receiver().await;
    client
        .put(
            "/api/v1/channels/ops",
            &json!({"type": "webhook", "url": hook, "group_wait": "0s"}),
        )
        .await;
    client
        .put(
            "/api/v1/silences/drifty-maintenance",
            &json!({"matchers": {"model": "drifty"}, "starts_at": "2024-01-01T00:00:00Z",
                    "ends_at": "2099-01-01T00:00:00Z", "comment": "frozen fixture"}),
        )
        .await;
    client
        .put(
            "/api/v1/rules/credit-accuracy",
            &json!({"model": "credit", "metric": "accuracy", "window": "1d", "every": "1d",
                    "condition": {"op": "<", "threshold": 0.7}, "min_count": 100, "keep_firing_for": "0s",
                    "severity": "warning", "labels": {"team": "risk"}, "channels": ["ops"]}),
        )
        .await;
    // `credit`: the golden binary set. Rows of 2024-03-11 and 12 carry their label
    // inline; those of 2024-03-13 (a span still open) are sent without it and labelled
    // afterwards, so the metrics still equal testdata/golden/binary.expected.json. Rows
    // with an empty label stay unlabelled.
    let mut late_labels = Vec::new();
    let mut rows = Vec::new();
    for mut event in events(
        &golden.join("binary.schema.json"),
        &golden.join("binary.csv"),
    ) {
        let last_day = event["timestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("2024-03-13"));
        if last_day && let Some(label) = event.remove("label") {
            late_labels.push(json!({"id": event["id"], "label": label}));
        }
        rows.push(Value::Object(event));
    }
    let answer = client
        .post("/api/v1/models/credit/predictions", &Value::Array(rows))
        .await;
    assert_eq!(answer["accepted"], 596, "{answer}");
    let answer = client
        .post("/api/v1/models/credit/labels", &Value::Array(late_labels))
        .await;
    assert_eq!(answer["pending"], 0, "{answer}");
    // A label whose prediction never arrives: it waits in `pending_labels`.
    let answer = client
        .post(
            "/api/v1/models/credit/labels",
            &json!([{"id": "b-never-sent", "label": "1"}]),
        )
        .await;
    assert_eq!(answer["pending"], 1, "{answer}");

    // `drifty`: the `small` drift set, reference first, then the current rows.
    let schema: Value = serde_json::from_slice(&read(&drift.join("small.schema.json"))).unwrap();
    client.put("/api/v1/models/drifty", &schema).await;
    let request = client
        .http
        .put(format!("{}/api/v1/models/drifty/reference", client.base))
        .header("content-type", "text/csv")
        .body(read(&drift.join("small.reference.csv")));
    let answer = client.send(request, "reference").await;
    assert_eq!(answer["rows"], 500, "{answer}");
    let current: Vec<Value> = events(
        &drift.join("small.schema.json"),
        &drift.join("small.current.csv"),
    )
    .into_iter()
    .map(Value::Object)
    .collect();
    let answer = client
        .post("/api/v1/models/drifty/predictions", &Value::Array(current))
        .await;
    assert_eq!(answer["accepted"], 300, "{answer}");

    // Wait until the alert has resolved and every notification received is recorded as
    // delivered (which empties the outbox in the same transaction).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let alerts = client.get("/api/v1/alerts?state=resolved").await;
        let resolved = alerts["alerts"].as_array().is_some_and(|a| a.len() == 1);
        let events = client.get("/api/v1/events?model=credit").await;
        let notified = events["events"].as_array().map_or(0, |list| {
            list.iter().filter(|e| e["kind"] == "notified").count()
        });
        let received = received.lock().expect("lock").len();
        if resolved && received > 0 && notified == received {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alert not resolved and notified: {alerts} {events}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let deleted = store.apply_retention().await.expect("retention");
    println!("retention deleted {} minute windows", deleted.profiles);

    // Tokens have no HTTP endpoint: `modelwatch token create` writes them to the store.
    for (name, secret, scopes, models) in [
        ("frozen-admin", ADMIN_SECRET, "admin", None),
        ("frozen-read", READ_SECRET, "read", Some("credit")),
    ] {
        let hashed = modelwatch_server::auth::hash(secret);
        let now = modelwatch_core::time::now_ms();
        store
            .create_token(name, &hashed, scopes, models, now)
            .await
            .expect("token");
    }

    // A clean stop: the writer checkpoints and closes, leaving the WAL empty.
    drop(store);
    let _ = stop.send(());
    server.await.expect("server task").expect("server");
    assert!(
        tokio::task::spawn_blocking(move || closed.wait(Duration::from_secs(30)))
            .await
            .expect("wait"),
        "the store did not close"
    );
    let database = modelwatch_store::database_path(dir.path());
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", database.display()));
        let size = std::fs::metadata(&side).map(|m| m.len()).unwrap_or(0);
        assert_eq!(
            size,
            0,
            "{} is not empty after a clean stop",
            side.display()
        );
    }
    // The pages retention freed are given back, so the checked-in file stays small.
    rusqlite::Connection::open(&database)
        .and_then(|db| db.execute_batch("VACUUM"))
        .expect("vacuum");
    let out = root.join("testdata/frozen/modelwatch.sqlite");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("create testdata/frozen");
    std::fs::copy(&database, &out).expect("copy the database");
    println!(
        "{}: {} bytes",
        out.display(),
        std::fs::metadata(&out).expect("written").len()
    );
}
