//! The command line as a user runs it: exit codes, the offline report and the demo.

#[path = "../../server/tests/support/valid_html.rs"]
mod valid_html;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn modelwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_modelwatch"))
}

fn golden(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/golden")
        .join(file)
}

/// `modelwatch report --format FORMAT` on a schema, a reference and a current CSV.
fn report(format: &str, schema: &Path, reference: &Path, current: &Path) -> Command {
    let mut command = modelwatch();
    command
        .args(["report", "--format", format, "--schema"])
        .arg(schema)
        .arg("--reference")
        .arg(reference)
        .arg("--current")
        .arg(current);
    command
}

#[test]
fn report_gives_scikit_learn_numbers() {
    for task in ["binary", "multiclass", "regression"] {
        let data = golden(&format!("{task}.csv"));
        let output = report(
            "json",
            &golden(&format!("{task}.schema.json")),
            &data,
            &data,
        )
        .output()
        .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        // The offline report reads back into core's report type, unchanged.
        let typed: modelwatch_core::answer::Report =
            serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            serde_json::to_string_pretty(&typed).unwrap(),
            serde_json::to_string_pretty(&report).unwrap()
        );
        assert!(typed.current.is_some() && typed.model.is_none() && typed.alerts.is_none());
        let expected: Value = serde_json::from_slice(
            &std::fs::read(golden(&format!("{task}.expected.json"))).unwrap(),
        )
        .unwrap();
        let summary = &report["metrics"]["summary"];
        for (name, want) in expected["summary"].as_object().unwrap() {
            match (summary[name].as_f64(), want.as_f64()) {
                (Some(got), Some(want)) => {
                    let tolerance = if name == "roc_auc" {
                        0.001
                    } else if name.starts_with("latency") {
                        0.01 * want
                    } else {
                        1e-9
                    };
                    assert!(
                        (got - want).abs() <= tolerance,
                        "{task} {name}: {got} vs {want}"
                    );
                }
                _ => assert_eq!(&summary[name], want, "{task} {name}"),
            }
        }
        assert_eq!(report["metrics"]["series"].as_array().unwrap().len(), 3);
    }
    let md = report(
        "md",
        &golden("binary.schema.json"),
        &golden("binary.csv"),
        &golden("binary.csv"),
    )
    .output()
    .unwrap();
    let text = String::from_utf8(md.stdout).unwrap();
    assert!(text.contains("| accuracy | 0.7038 |"), "{text}");
    assert!(text.contains("| **1** | 58 | 156 |"), "{text}");
    assert!(
        text.contains("## Drift") && text.contains("## Data quality"),
        "{text}"
    );
}

#[test]
fn report_html_is_valid_self_contained_and_carries_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let output = report(
        "html",
        &golden("binary.schema.json"),
        &golden("binary.csv"),
        &golden("binary.csv"),
    )
    .arg("-o")
    .arg(&page)
    .output()
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    valid_html::assert_valid_html(dir.path());
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src="));
    // The same figures as the Markdown report (checked against scikit-learn above).
    assert!(
        html.contains("<td class=\"name\">accuracy</td><td>0.7038</td>"),
        "{html}"
    );
    assert!(html.contains(">58</td>") && html.contains(">156</td>"));
    assert_eq!(
        html.matches("<figure>").count(),
        html.matches("class=\"series\"").count()
    );
    assert!(html.matches("<figure>").count() >= 8);
    assert!(html.contains("<h2 id=\"drift\">") && html.contains("<h2 id=\"quality\">"));
}

#[test]
fn report_drift_equals_the_server_definition_on_golden_data() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/drift");
    let small = |format| {
        report(
            format,
            &dir.join("small.schema.json"),
            &dir.join("small.reference.csv"),
            &dir.join("small.current.csv"),
        )
        .output()
        .unwrap()
    };
    let output = small("json");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("small.expected.json")).unwrap()).unwrap();
    for key in [
        "drifted_features",
        "features_total",
        "dataset_drift",
        "reference_count",
        "current_count",
    ] {
        assert_eq!(report["drift"][key], expected[key], "{key}");
    }
    for feature in report["drift"]["features"].as_array().unwrap() {
        let name = feature["name"].as_str().unwrap();
        assert_eq!(
            feature["drifted"], expected["features"][name]["drifted"],
            "{name}"
        );
        assert_eq!(
            feature["method"], expected["features"][name]["method"],
            "{name}"
        );
    }
    let md = small("md");
    let text = String::from_utf8(md.stdout).unwrap();
    assert!(text.contains("| num_shift | numeric | ks |"), "{text}");
    assert!(text.contains("| cat_new | categorical | chi2 |"), "{text}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad_schema = dir.path().join("bad.json");
    std::fs::write(&bad_schema, r#"{"task": "ranking"}"#).unwrap();
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "id,id\n1,2\n").unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec!["report".into()],
        vec!["frobnicate".into()],
        vec![
            "report".into(),
            "--schema".into(),
            "/nonexistent.json".into(),
            "--reference".into(),
            "x".into(),
            "--current".into(),
            "y".into(),
        ],
        vec![
            "report".into(),
            "--schema".into(),
            bad_schema.display().to_string(),
            "--reference".into(),
            "x".into(),
            "--current".into(),
            "y".into(),
        ],
        vec![
            "report".into(),
            "--schema".into(),
            golden("binary.schema.json").display().to_string(),
            "--reference".into(),
            bad_csv.display().to_string(),
            "--current".into(),
            bad_csv.display().to_string(),
        ],
        vec![
            "report".into(),
            "--schema".into(),
            golden("binary.schema.json").display().to_string(),
            "--reference".into(),
            golden("binary.csv").display().to_string(),
            "--current".into(),
            golden("binary.csv").display().to_string(),
            "--step".into(),
            "5s".into(),
        ],
        vec!["serve".into(), "--listen".into(), "not-an-address".into()],
    ];
    for args in cases {
        let output = modelwatch().args(&args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.trim().is_empty(), "{args:?}: no reason given");
        if args[0] == "report" && args.len() > 2 {
            assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        }
    }
}

#[test]
fn serve_refuses_a_port_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = modelwatch()
        .args([
            "serve",
            "--listen",
            &taken.local_addr().unwrap().to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen"));
}

#[test]
fn demo_shows_drift_and_degradation() {
    let output = modelwatch()
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--seconds",
            "4",
            "--per-day",
            "3000",
            "--exit-when-done",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The final table (after late labels) has one line per day with its accuracy.
    let final_table = stdout
        .split("late labels have arrived")
        .nth(1)
        .expect(&stdout);
    let accuracies: Vec<f64> = final_table
        .lines()
        .filter_map(|l| l.split("accuracy ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(accuracies.len(), 4, "{stdout}");
    assert!(accuracies[0] > 0.8 && accuracies[1] > 0.8, "{accuracies:?}");
    assert!(
        accuracies[3] < accuracies[0] - 0.2,
        "accuracy should drop: {accuracies:?}"
    );
    // Inputs drift from day 2 on (against the reference the demo uploads).
    let drifted: Vec<u32> = final_table
        .lines()
        .filter_map(|l| l.split("drifted inputs ").nth(1))
        .filter_map(|rest| rest.split('/').next()?.parse().ok())
        .collect();
    assert_eq!(drifted.len(), 4, "{stdout}");
    assert_eq!(drifted[0], 0, "{stdout}");
    assert!(drifted[3] >= 3, "{stdout}");
    assert!(stdout.contains("/api/v1/models/credit/metrics"));
    // The alert rules notified the demo's webhook: the outage fired and resolved,
    // drift and the accuracy drop fired.
    for expected in [
        "webhook ← [FIRING  ] error_rate of model credit",
        "webhook ← [RESOLVED] error_rate of model credit is back to",
        "webhook ← [FIRING  ] drift.income of model credit",
        "webhook ← [FIRING  ] accuracy of model credit",
    ] {
        assert!(stdout.contains(expected), "missing `{expected}`:\n{stdout}");
    }
    // Only the critical rule (accuracy) texts the phone, through Twilio's Messages API
    // (the demo's receiver stands in for it).
    let texts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("SMS to +15550100199 ← "))
        .collect();
    assert!(!texts.is_empty(), "no text message:\n{stdout}");
    assert!(
        texts
            .iter()
            .all(|t| t.contains("accuracy") && !t.contains("drift.income")),
        "{texts:?}"
    );
}

#[test]
fn json_logs_for_machines() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, line) = serve_json(&[
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--data-dir".as_ref(),
        dir.path().as_os_str(),
    ]);
    let log: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(log["fields"]["message"], "modelwatch serving", "{log}");
    assert!(
        log["fields"]["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{log}"
    );
    assert_eq!(log["level"], "INFO");
}

/// `GET path` over a plain TCP connection; the body of the answer.
fn http_get(address: &str, path: &str) -> Value {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

#[test]
fn the_config_file_declares_models_channels_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../modelwatch.example.toml");
    let (server, line) = serve_json(&[
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--config".as_ref(),
        example.as_os_str(),
        "--data-dir".as_ref(),
        dir.path().as_os_str(),
    ]);
    let log: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let address = log["fields"]["address"].as_str().unwrap().to_string();
    let rules = http_get(&address, "/api/v1/rules");
    let channels = http_get(&address, "/api/v1/channels");
    let model = http_get(&address, "/api/v1/models/credit");
    let routing = http_get(&address, "/api/v1/routing");
    drop(server);
    assert_eq!(
        routing["resolved"]["routes"][0]["matchers"],
        serde_json::json!(["severity=\"critical\""]),
        "{routing}"
    );
    assert_eq!(routing["inhibit_rules"][0]["equal"][0], "model");
    let names: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["income-drift", "low-accuracy"], "{rules}");
    assert_eq!(rules["rules"][1]["condition"]["threshold"], 0.7);
    assert_eq!(channels["channels"][0]["name"], "ops");
    assert_eq!(model["task"], "binary_classification");
}

#[test]
fn a_faulty_rule_in_the_config_file_stops_the_start_naming_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[models.m]\ntask = \"regression\"\n\n[rules.slow]\nmodel = \"m\"\nmetric = \"acuracy\"\ncondition = { op = \">\", threshold = 1 }\n",
    )
    .unwrap();
    let output = modelwatch()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rules.slow.metric: unknown metric `acuracy`"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

fn token_create(data_dir: &std::path::Path, scope: &str) -> String {
    let output = modelwatch()
        .args([
            "token",
            "create",
            "--scope",
            scope,
            "--name",
            "ops",
            "--data-dir",
        ])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn tokens_are_stored_only_as_hashes_and_can_be_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let secret = token_create(dir.path(), "read,ingest");
    assert!(secret.starts_with("mw_") && secret.len() == 43, "{secret}");
    let list = modelwatch()
        .args(["token", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("ingest,read") && listed.contains("ops"),
        "{listed}"
    );
    assert!(!listed.contains(&secret));
    // The secret is nowhere on disk.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    let revoke = |id: &str| {
        modelwatch()
            .args(["token", "revoke", id, "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    assert!(revoke("1").status.success());
    let again = revoke("1");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no active token with id 1"));
    let bad_scope = modelwatch()
        .args(["token", "create", "--scope", "root", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad_scope.status.code(), Some(2));
}

#[test]
fn serving_a_network_needs_a_token_or_an_explicit_off() {
    let dir = tempfile::tempdir().unwrap();
    let output = modelwatch()
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("authentication is required") && stderr.contains("modelwatch token create"),
        "{stderr}"
    );
    // Told explicitly, it serves without authentication.
    let (_server, line) = serve_json(&[
        "--listen".as_ref(),
        "0.0.0.0:0".as_ref(),
        "--auth".as_ref(),
        "off".as_ref(),
        "--data-dir".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert!(
        line.contains("modelwatch serving") && line.contains("Off"),
        "{line}"
    );
}

#[tokio::test]
async fn tls_serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    // A CA, and a server certificate for localhost signed by it.
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ext = path("ext.cnf");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=test CA",
            "-keyout",
            &path("ca.key"),
            "-out",
            &path("ca.pem"),
        ],
        vec![
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &path("key.pem"),
            "-out",
            &path("server.csr"),
        ],
        vec![
            "x509",
            "-req",
            "-in",
            &path("server.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &path("cert.pem"),
        ],
    ] {
        let openssl = Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl is needed (.ci/run installs it)");
        assert!(
            openssl.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&openssl.stderr)
        );
    }
    let data = dir.path().join("data");
    let secret = token_create(&data, "read");
    let (_server, line) = serve_json(&[
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--auth".as_ref(),
        "required".as_ref(),
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ]);
    let log: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(log["fields"]["scheme"], "https", "{log}");
    let port = log["fields"]["address"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    modelwatch_server::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(dir.path().join("ca.pem")).unwrap())
                .unwrap(),
        )
        .build()
        .unwrap();
    let health = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let models = client
        .get(format!("https://localhost:{port}/api/v1/models"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    let denied = client
        .get(format!("https://localhost:{port}/api/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    // Plain HTTP on the TLS port gets no answer, and an untrusted client is refused.
    let untrusting = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    assert!(
        untrusting
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_err()
    );
    assert!(
        untrusting
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .await
            .is_err()
    );
}

/// Starts `modelwatch --log-format json serve ARGS` and returns the running server and
/// its first log line (`modelwatch serving`, with the address it bound).
fn serve_json(args: &[&std::ffi::OsStr]) -> (KillOnDrop, String) {
    let child = modelwatch()
        .args(["--log-format", "json", "serve"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.0.stderr.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (child, line)
}

/// Kills a child server when dropped, so a failed assertion leaves nothing running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn help_names_every_command() {
    let output = modelwatch().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let about = help.lines().next().unwrap();
    let commands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    for expected in ["serve", "demo", "report", "bench", "token", "export"] {
        assert!(commands.contains(&expected), "{expected} missing:\n{help}");
    }
    for command in &commands {
        assert!(
            about.contains(command),
            "the first line of --help does not name `{command}`: {about}"
        );
    }
}

/// Sends one HTTP/1.0 request; the status code and the body of the answer.
fn http_send(address: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, body.to_string())
}

/// A request log line: method, path, status, records and rejected records.
type LoggedRequest = (String, String, u64, Option<u64>, Option<u64>);

#[test]
fn every_request_is_logged_with_its_status_and_record_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = modelwatch()
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).unwrap();
    let serving: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    let address = serving["fields"]["address"].as_str().unwrap().to_string();
    let mut server = KillOnDrop(child);

    let (status, body) = http_send(
        &address,
        "PUT",
        "/api/v1/models/m",
        r#"{"task": "regression"}"#,
    );
    assert_eq!(status, 201, "{body}");
    // Three records, one of them without a prediction.
    let (status, body) = http_send(
        &address,
        "POST",
        "/api/v1/models/m/predictions",
        r#"[{"id": "a", "timestamp": "2024-03-11T00:00:00Z", "prediction": 1.5},
            {"id": "b", "timestamp": "2024-03-11T00:00:00Z"},
            {"id": "c", "timestamp": "2024-03-11T00:00:00Z", "prediction": 2.5}]"#,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_send(
        &address,
        "POST",
        "/api/v1/models/m/labels",
        r#"[{"id": "a", "label": 1.0}]"#,
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = http_send(&address, "GET", "/api/v1/models/m/metrics?step=2s", "");
    assert_eq!(status, 400);
    // Every line is written before its answer is sent: stop the server and read them all.
    let _ = server.0.kill();
    let _ = server.0.wait();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let requests: Vec<Value> = rest
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|log| log["fields"]["message"] == "request")
        .collect();
    let summary: Vec<LoggedRequest> = requests
        .iter()
        .map(|log| {
            assert_eq!(log["level"], "INFO", "{log}");
            let f = &log["fields"];
            (
                f["method"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["status"].as_u64().unwrap(),
                f["records"].as_u64(),
                f["rejected"].as_u64(),
            )
        })
        .collect();
    let line = |method: &str, path: &str, status: u64, records, rejected| {
        (
            method.to_string(),
            path.to_string(),
            status,
            records,
            rejected,
        )
    };
    assert_eq!(
        summary,
        [
            line("PUT", "/api/v1/models/m", 201, None, None),
            line(
                "POST",
                "/api/v1/models/m/predictions",
                200,
                Some(3),
                Some(1)
            ),
            line("POST", "/api/v1/models/m/labels", 200, Some(1), Some(0)),
            line("GET", "/api/v1/models/m/metrics", 400, None, None),
        ],
        "{rest}"
    );
    assert_eq!(requests[1]["fields"]["accepted"], 2, "{}", requests[1]);
}

#[test]
fn requests_are_answered_when_stderr_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    // `serve_json` reads the first line and closes the pipe: every request's log line
    // then fails to be written, and must be dropped without harm.
    let (_server, line) = serve_json(&[
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--data-dir".as_ref(),
        dir.path().as_os_str(),
    ]);
    let log: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let address = log["fields"]["address"].as_str().unwrap().to_string();
    for _ in 0..3 {
        assert_eq!(http_get(&address, "/healthz")["status"], "ok");
    }
    let (status, body) = http_send(
        &address,
        "PUT",
        "/api/v1/models/m",
        r#"{"task": "regression"}"#,
    );
    assert_eq!(status, 201, "{body}");
}
