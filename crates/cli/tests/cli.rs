//! The command line as a user runs it: exit codes, the offline report and the demo.

use std::path::PathBuf;
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

#[test]
fn report_gives_scikit_learn_numbers() {
    for task in ["binary", "multiclass", "regression"] {
        let output = modelwatch()
            .args(["report", "--format", "json", "--schema"])
            .arg(golden(&format!("{task}.schema.json")))
            .arg("--reference")
            .arg(golden(&format!("{task}.csv")))
            .arg("--current")
            .arg(golden(&format!("{task}.csv")))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
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
    let md = modelwatch()
        .args(["report", "--format", "md", "--schema"])
        .arg(golden("binary.schema.json"))
        .arg("--reference")
        .arg(golden("binary.csv"))
        .arg("--current")
        .arg(golden("binary.csv"))
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
fn report_drift_equals_the_server_definition_on_golden_data() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/drift");
    let output = modelwatch()
        .args(["report", "--format", "json", "--schema"])
        .arg(dir.join("small.schema.json"))
        .arg("--reference")
        .arg(dir.join("small.reference.csv"))
        .arg("--current")
        .arg(dir.join("small.current.csv"))
        .output()
        .unwrap();
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
    let md = modelwatch()
        .args(["report", "--format", "md", "--schema"])
        .arg(dir.join("small.schema.json"))
        .arg("--reference")
        .arg(dir.join("small.reference.csv"))
        .arg("--current")
        .arg(dir.join("small.current.csv"))
        .output()
        .unwrap();
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
}

#[test]
fn json_logs_for_machines() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = modelwatch()
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
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
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../modelwatch.example.toml");
    let mut child = modelwatch()
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&example)
        .arg("--data-dir")
        .arg(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let log: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let address = log["fields"]["address"].as_str().unwrap().to_string();
    let rules = http_get(&address, "/api/v1/rules");
    let channels = http_get(&address, "/api/v1/channels");
    let model = http_get(&address, "/api/v1/models/credit");
    child.kill().unwrap();
    child.wait().unwrap();
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
