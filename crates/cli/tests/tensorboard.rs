//! `modelwatch export tensorboard` against a real server, read back by TensorBoard's own
//! loader (`EventAccumulator`, through tests/tensorboard_read.py): every scalar must be
//! the metrics endpoint's value for its window, every histogram the drift endpoint's
//! distribution of that window. The Python `tensorboard` package is required (.ci/run
//! installs it); without it the test fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;
/// 2024-03-11T00:00:00Z.
const START_MS: i64 = 1_710_115_200_000;
const DAYS: i64 = 3;
const PER_DAY: i64 = 40;
const REGIONS: [&str; 3] = ["north", "south", "east"];

fn modelwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_modelwatch"))
}

/// Kills a child server when dropped, so a failed assertion leaves nothing running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `modelwatch serve` on a free port; the server and its base URL.
fn serve(data_dir: &Path, extra: &[&str]) -> (KillOnDrop, String) {
    let mut child = modelwatch()
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut line).unwrap();
    let log: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let address = log["fields"]["address"]
        .as_str()
        .unwrap_or_else(|| panic!("{line}"));
    (child, format!("http://{address}"))
}

fn token_create(data_dir: &Path, scope: &str) -> String {
    let output = modelwatch()
        .args(["token", "create", "--scope", scope, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The deterministic data set: three days of a binary classifier whose `income` moves up
/// day by day and whose `region` gains a category on the last day.
fn predictions() -> Vec<Value> {
    (0..DAYS * PER_DAY)
        .map(|i| {
            let day = i / PER_DAY;
            let region = if day == 2 && i % 4 == 0 {
                "west"
            } else {
                REGIONS[(i * 7 % 3) as usize]
            };
            let mut record = json!({
                "id": format!("p{i}"),
                "timestamp": START_MS + day * DAY_MS + (i % PER_DAY) * 30 * 60_000,
                "features": {"income": 1000 + (i * 37 % 100) * 10 + day * 250, "region": region},
                "prediction": if i * 13 % 3 == 0 { "1" } else { "0" },
                "score": (i * 29 % 100) as f64 / 100.0,
                "latency_ms": (i % 17 + 3) as f64,
            });
            if i % 9 == 0 {
                record["features"]["income"] = Value::Null;
            }
            record
        })
        .collect()
}

/// Labels for four predictions in five, sent after the predictions.
fn labels() -> Vec<Value> {
    (0..DAYS * PER_DAY)
        .filter(|i| i % 5 != 0)
        .map(|i| json!({"id": format!("p{i}"), "label": if i % 3 == 0 { "1" } else { "0" }}))
        .collect()
}

fn reference_csv() -> String {
    let mut csv = String::from("income,region,prediction,score\n");
    for i in 0..60 {
        csv.push_str(&format!(
            "{},{},{},{}\n",
            900 + (i * 53 % 100) * 11,
            REGIONS[i % 3],
            i % 2,
            (i * 17 % 100) as f64 / 100.0
        ));
    }
    csv
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        if self.token.is_empty() {
            request
        } else {
            request.bearer_auth(&self.token)
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: (&str, String)) -> Value {
        let request = self
            .request(method, path)
            .header("content-type", body.0)
            .body(body.1);
        Self::success(path, request).await
    }

    async fn get(&self, path: &str) -> Value {
        Self::success(path, self.request(reqwest::Method::GET, path)).await
    }

    /// The JSON answer of `request`, which must succeed.
    async fn success(path: &str, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }
}

/// Runs `modelwatch export tensorboard` with `args`, and the token in the environment.
fn export(token: Option<&str>, args: &[&str]) -> Output {
    let mut command = modelwatch();
    command.args(["export", "tensorboard"]).args(args);
    command.env_remove("MODELWATCH_TOKEN");
    if let Some(token) = token {
        command.env("MODELWATCH_TOKEN", token);
    }
    command.output().unwrap()
}

/// The run directory as TensorBoard's `EventAccumulator` reads it.
fn tensorboard_read(run_dir: &Path) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tensorboard_read.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(run_dir)
        .output()
        .expect("python3 must be installed (see .ci/run)");
    assert!(
        output.status.success(),
        "TensorBoard's loader failed (is the Python package `tensorboard` installed? .ci/run installs it): {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Epoch seconds of an RFC 3339 timestamp of the API.
fn seconds(timestamp: &Value) -> f64 {
    let text = timestamp.as_str().unwrap();
    let ms = modelwatch_core::time::parse_timestamp_str(text).unwrap();
    ms as f64 / 1000.0
}

fn group(metric: &str) -> &'static str {
    match metric {
        "count" | "labelled_count" | "error_rate" | "latency_p50" | "latency_p95"
        | "latency_p99" => "operational",
        _ => "performance",
    }
}

/// What the export must hold, from the API's own answers: per tag, (step, wall time,
/// value) for scalars.
fn expected_scalars(metrics: &Value) -> BTreeMap<String, Vec<(i64, f64, f32)>> {
    let mut want: BTreeMap<String, Vec<(i64, f64, f32)>> = BTreeMap::new();
    for (step, point) in metrics["series"].as_array().unwrap().iter().enumerate() {
        let wall = seconds(&point["start"]);
        for (name, value) in point["metrics"].as_object().unwrap() {
            if let Some(number) = value.as_f64() {
                want.entry(format!("{}/{name}", group(name)))
                    .or_default()
                    .push((step as i64, wall, number as f32));
            } else if name == "confusion_matrix" {
                let labels = value["labels"].as_array().unwrap();
                for (t, truth) in labels.iter().enumerate() {
                    for (p, predicted) in labels.iter().enumerate() {
                        want.entry(format!(
                            "confusion/{}/{}",
                            truth.as_str().unwrap(),
                            predicted.as_str().unwrap()
                        ))
                        .or_default()
                        .push((
                            step as i64,
                            wall,
                            value["matrix"][t][p].as_f64().unwrap() as f32,
                        ));
                    }
                }
            } else {
                assert!(value.is_null(), "{name}: {value}");
            }
        }
    }
    want
}

fn scalars_read(read: &Value, prefix: &str) -> BTreeMap<String, Vec<(i64, f64, f32)>> {
    read["scalars"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(tag, _)| tag.starts_with(prefix))
        .map(|(tag, events)| {
            let points = events
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["step"].as_i64().unwrap(),
                        e["wall_time"].as_f64().unwrap(),
                        e["value"].as_f64().unwrap() as f32,
                    )
                })
                .collect();
            (tag.clone(), points)
        })
        .collect()
}

/// Checks one export against the metrics and drift answers for the same range and step;
/// what TensorBoard read.
async fn check_export(client: &Client, run_dir: &Path, query: &str, step_ms: i64) -> Value {
    let read = tensorboard_read(run_dir);
    let metrics = client
        .get(&format!("/api/v1/models/credit/metrics?{query}"))
        .await;
    let series = metrics["series"].as_array().unwrap();
    assert!(!series.is_empty(), "{metrics}");

    // Scalars: exactly the metrics endpoint's numbers, window by window.
    let mut want = expected_scalars(&metrics);
    let mut got = scalars_read(&read, "");
    let categories: BTreeMap<_, _> = scalars_read(&read, "categories/");
    got.retain(|tag, _| !tag.starts_with("categories/"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (tag, points) in &mut want {
        assert_eq!(&got[tag], points, "{tag}");
    }
    assert!(want.contains_key("performance/roc_auc") && want.contains_key("confusion/1/0"));

    // Histograms and category shares: the drift endpoint's distribution per window.
    let histograms = read["histograms"].as_object().unwrap();
    let range_from = seconds(&metrics["from"]) as i64 * 1000;
    let range_to = seconds(&metrics["to"]) as i64 * 1000;
    let mut windows_with_histograms = 0;
    let mut want_categories: BTreeMap<String, Vec<(i64, f64, f32)>> = BTreeMap::new();
    for (step, point) in series.iter().enumerate() {
        let start = seconds(&point["start"]) as i64 * 1000;
        let (from, to) = (start.max(range_from), (start + step_ms).min(range_to));
        let drift = client
            .get(&format!("/api/v1/models/credit/drift?from={from}&to={to}"))
            .await;
        if drift["current_count"] == 0 {
            continue;
        }
        windows_with_histograms += 1;
        let entries = drift["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| ("features", f))
            .chain(
                ["prediction", "score"]
                    .into_iter()
                    .map(|k| ("outputs", &drift[k])),
            );
        for (group, entry) in entries {
            let name = entry["name"].as_str().unwrap();
            let distribution = &entry["distribution"];
            assert!(distribution.is_object(), "{name}: no distribution: {entry}");
            let current: Vec<f64> = distribution["current"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_f64().unwrap())
                .collect();
            if let Some(edges) = distribution["edges"].as_array() {
                let edges: Vec<f64> = edges.iter().map(|e| e.as_f64().unwrap()).collect();
                let tag = format!("{group}/{name}");
                let events = histograms[&tag].as_array().unwrap();
                let event = events
                    .iter()
                    .find(|e| e["step"] == step)
                    .unwrap_or_else(|| panic!("{tag}: no histogram at step {step}"));
                assert_eq!(event["wall_time"].as_f64().unwrap(), start as f64 / 1000.0);
                let bucket: Vec<f64> = event["bucket"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_f64().unwrap())
                    .collect();
                assert_eq!(bucket, current, "{tag} step {step}");
                assert_eq!(
                    event["bucket_limit"].as_array().unwrap().len(),
                    edges.len() - 1
                );
                for (limit, edge) in event["bucket_limit"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(&edges[1..])
                {
                    assert_eq!(limit.as_f64().unwrap(), *edge, "{tag}");
                }
                assert_eq!(event["num"].as_f64().unwrap(), current.iter().sum::<f64>());
                // TensorBoard draws the first bucket from `min`, the last to `max`.
                assert_eq!(event["min"].as_f64().unwrap(), edges[0], "{tag}");
                assert_eq!(
                    event["max"].as_f64().unwrap(),
                    edges[edges.len() - 1],
                    "{tag}"
                );
                if windows_with_histograms == 1 {
                    // The reference, once at step 0, on the first non-empty window's bins.
                    let reference: Vec<f64> = distribution["reference"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_f64().unwrap())
                        .collect();
                    let events = histograms[&format!("reference/{name}")].as_array().unwrap();
                    assert_eq!(events.len(), 1, "reference/{name}");
                    assert_eq!(events[0]["step"], 0);
                    let got: Vec<f64> = events[0]["bucket"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_f64().unwrap())
                        .collect();
                    assert_eq!(got, reference, "reference/{name}");
                }
            } else {
                let total: f64 = current.iter().sum();
                for (category, count) in distribution["categories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(&current)
                {
                    want_categories
                        .entry(format!("categories/{name}/{}", category.as_str().unwrap()))
                        .or_default()
                        .push((step as i64, start as f64 / 1000.0, (count / total) as f32));
                }
            }
        }
    }
    assert!(windows_with_histograms > 0);
    assert!(histograms.contains_key("features/income") && histograms.contains_key("outputs/score"));
    // Fewer than 20 categories each, so every one is exported; a category absent from a
    // window's distribution is absent from its step.
    assert_eq!(categories, want_categories);
    read
}

#[tokio::test(flavor = "multi_thread")]
async fn the_export_is_what_the_api_answers_as_tensorboard_reads_it() {
    modelwatch_server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = token_create(&data, "admin");
    let reader = token_create(&data, "read");
    let (_server, base) = serve(&data, &["--auth", "required"]);
    let client = Client {
        http: reqwest::Client::new(),
        base: base.clone(),
        token: admin,
    };
    let definition = json!({"task": "binary_classification", "classes": ["0", "1"],
        "features": [{"name": "income", "type": "numeric"}, {"name": "region", "type": "categorical"}]});
    client
        .send(
            reqwest::Method::PUT,
            "/api/v1/models/credit",
            ("application/json", definition.to_string()),
        )
        .await;
    let accepted = client
        .send(
            reqwest::Method::POST,
            "/api/v1/models/credit/predictions",
            ("application/json", Value::from(predictions()).to_string()),
        )
        .await;
    assert_eq!(accepted["accepted"], DAYS * PER_DAY, "{accepted}");
    client
        .send(
            reqwest::Method::POST,
            "/api/v1/models/credit/labels",
            ("application/json", Value::from(labels()).to_string()),
        )
        .await;
    // Without a reference there are no drift bins: the scalars only, and a note.
    let bare = dir.path().join("bare");
    let output = export(
        Some(&reader),
        &[
            "--model",
            "credit",
            "--out",
            bare.to_str().unwrap(),
            "--url",
            &base,
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no reference"),
        "{}",
        stderr(&output)
    );
    let read = tensorboard_read(&bare.join("credit"));
    assert_eq!(read["histograms"], json!({}));
    assert_eq!(
        read["scalars"]["operational/count"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    client
        .send(
            reqwest::Method::PUT,
            "/api/v1/models/credit/reference",
            ("text/csv", reference_csv()),
        )
        .await;

    // The whole history, by day (the defaults), with a read-only token.
    let out = dir.path().join("tb");
    let url = base.as_str();
    let out_arg = out.to_str().unwrap();
    let output = export(
        Some(&reader),
        &["--model", "credit", "--out", out_arg, "--url", url],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let file = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert_eq!(file.parent().unwrap(), out.join("credit"));
    let read = check_export(&client, &out.join("credit"), "step=1d", DAY_MS).await;
    // Three days, and the category that is new on the third.
    assert_eq!(
        read["scalars"]["operational/count"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let west = &read["scalars"]["categories/region/west"];
    assert_eq!(west.as_array().unwrap().len(), 1, "{west}");
    assert_eq!(west[0]["step"], 2);

    // A second export of the same run replaces the first file, not adds to it.
    let again = export(
        Some(&reader),
        &["--model", "credit", "--out", out_arg, "--url", url],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(std::fs::read_dir(out.join("credit")).unwrap().count(), 1);
    check_export(&client, &out.join("credit"), "step=1d", DAY_MS).await;

    // A range and a finer step, of one version, into its own run.
    let (from, to) = ("2024-03-12T00:00:00Z", "2024-03-13T00:00:00Z");
    let output = export(
        Some(&reader),
        &[
            "--model",
            "credit",
            "--out",
            out_arg,
            "--url",
            url,
            "--step",
            "6h",
            "--from",
            from,
            "--to",
            to,
            "--version",
            "default",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let run = out.join("credit").join("default");
    let read = tensorboard_read(&run);
    assert_eq!(
        read["scalars"]["operational/count"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    check_export(
        &client,
        &run,
        &format!("step=6h&from={from}&to={to}&version=default"),
        6 * 3_600_000,
    )
    .await;

    // Without the token the server refuses, and that is the user's to fix: status 2.
    let refused = export(None, &["--model", "credit", "--out", out_arg, "--url", url]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("MODELWATCH_TOKEN"),
        "{}",
        stderr(&refused)
    );
}

/// Issue 17: tensor summaries become one run per version, histograms on the summaries'
/// own bins at the training step (sums exact), and the training record scalars.
#[tokio::test(flavor = "multi_thread")]
async fn model_internals_are_histograms_per_training_step() {
    modelwatch_server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(&dir.path().join("data"), &[]);
    let client = Client {
        http: reqwest::Client::new(),
        base: base.clone(),
        token: String::new(),
    };
    client
        .send(
            reqwest::Method::PUT,
            "/api/v1/models/net",
            (
                "application/json",
                json!({"task": "regression"}).to_string(),
            ),
        )
        .await;
    for (step, w, loss) in [
        (0, json!([1.0, 2.0, 4.0]), 0.9),
        (5, json!([2.0, 2.0, 3.0, 9.0]), 0.4),
    ] {
        let body = json!({"version": "v1", "step": step, "timestamp": 1_710_115_200_000i64 + step * 60_000,
            "tensors": [{"name": "dense/kernel", "values": w}, {"name": "training/loss", "values": [loss]}]});
        client
            .send(
                reqwest::Method::POST,
                "/api/v1/models/net/parameters",
                ("application/json", body.to_string()),
            )
            .await;
    }
    let out = dir.path().join("tb");
    let output = export(
        None,
        &[
            "--model",
            "net",
            "--out",
            out.to_str().unwrap(),
            "--url",
            &base,
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let run = out.join("net").join("parameters").join("v1");
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains(run.to_str().unwrap())
    );
    let read = tensorboard_read(&run);
    let series = client
        .get("/api/v1/models/net/parameters?tensor=dense/kernel")
        .await;
    let points = series["tensors"][0]["points"].as_array().unwrap();
    let events = read["histograms"]["parameters/dense/kernel"]
        .as_array()
        .unwrap();
    assert_eq!(events.len(), 2, "{read}");
    let floats = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    for ((event, point), (sum, sum_squares)) in
        events.iter().zip(points).zip([(7.0, 21.0), (16.0, 98.0)])
    {
        assert_eq!(event["step"], point["step"]);
        let edges = floats(&point["summary"]["histogram"]["edges"]);
        assert_eq!(
            floats(&event["bucket"]),
            floats(&point["summary"]["histogram"]["counts"])
        );
        assert_eq!(floats(&event["bucket_limit"]), edges[1..].to_vec());
        assert_eq!(
            (
                event["min"].as_f64().unwrap(),
                event["max"].as_f64().unwrap()
            ),
            (edges[0], edges[64])
        );
        assert!(
            (event["sum"].as_f64().unwrap() - sum).abs() < 1e-9,
            "{event}"
        );
        assert!(
            (event["sum_squares"].as_f64().unwrap() - sum_squares).abs() < 1e-9,
            "{event}"
        );
    }
    let loss = read["scalars"]["training/loss"].as_array().unwrap();
    let values: Vec<(i64, f32)> = loss
        .iter()
        .map(|e| {
            (
                e["step"].as_i64().unwrap(),
                e["value"].as_f64().unwrap() as f32,
            )
        })
        .collect();
    assert_eq!(values, vec![(0, 0.9f32), (5, 0.4f32)]);
}

#[tokio::test]
async fn mistakes_exit_2_with_one_line() {
    modelwatch_server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(&dir.path().join("data"), &[]);
    // A model that exists (auth is off on loopback), so that only the flag is wrong.
    let client = Client {
        http: reqwest::Client::new(),
        base: base.clone(),
        token: String::new(),
    };
    client
        .send(
            reqwest::Method::PUT,
            "/api/v1/models/m",
            (
                "application/json",
                json!({"task": "regression"}).to_string(),
            ),
        )
        .await;
    let out = dir.path().join("tb");
    let out_arg = out.to_str().unwrap();
    let a_file = dir.path().join("file");
    std::fs::write(&a_file, "not a directory").unwrap();
    let under_a_file = a_file.join("tb");
    // A port nothing listens on: bind one, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = format!("http://{closed}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--model", "nosuch", "--out", out_arg, "--url", &base],
            "unknown model `nosuch`",
        ),
        (
            vec![
                "--model", "m", "--out", out_arg, "--url", &base, "--step", "5s",
            ],
            "--step",
        ),
        (
            vec![
                "--model", "m", "--out", out_arg, "--url", &base, "--step", "often",
            ],
            "--step",
        ),
        (
            vec![
                "--model",
                "m",
                "--out",
                out_arg,
                "--url",
                &base,
                "--from",
                "yesterday",
            ],
            "--from",
        ),
        (
            vec!["--model", "m", "--out", out_arg, "--url", &unreachable],
            "cannot reach the modelwatch server",
        ),
        (
            vec![
                "--model",
                "m",
                "--out",
                under_a_file.to_str().unwrap(),
                "--url",
                &base,
            ],
            "--out",
        ),
        (vec!["--out", out_arg], "--model"),
    ];
    for (args, reason) in cases {
        let output = export(None, &args);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(reason), "{args:?}: {text}");
        if args[0] == "--model" {
            assert_eq!(text.trim().lines().count(), 1, "{args:?}: {text}");
        }
    }
    // Nothing is created for a model that does not exist.
    assert!(!out.join("nosuch").exists());
}
