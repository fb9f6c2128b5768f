//! The dashboard in a real headless Chromium (Debian's `chromium`, driven by
//! playwright-core from npm): `tests/browser/dashboard.mjs` loads the overview and the
//! model pages over a server holding the demo's data, switches the time range, silences
//! an alert and saves screenshots under `target/browser-artifacts/`. This test starts the
//! servers, runs the script and checks what the page showed against the API's answers.

#[path = "../../server/tests/support/valid_html.rs"]
mod valid_html;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

fn modelwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_modelwatch"))
}

/// Kills a child process when dropped, so a failed assertion leaves nothing running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn artifacts(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/browser-artifacts")
        .join(name)
}

/// Installs playwright-core from the lock file when it is not there yet (`.ci/run` does
/// it first); a missing npm or Chromium fails the test.
fn ensure_playwright() {
    let dir = browser_dir();
    if !dir.join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm is needed for the browser tests (Debian: nodejs and npm)");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium (bash .ci/run does)"
    );
}

/// Runs the browser script against `base`; returns what it saw.
fn run_browser(base: &str, name: &str, token: Option<&str>, report: Option<&Path>) -> Value {
    let mut command = Command::new("node");
    command
        .current_dir(browser_dir())
        .arg("dashboard.mjs")
        .arg(base)
        .arg(artifacts(name));
    match token {
        Some(token) => command
            .arg("--token-from-env")
            .env("MODELWATCH_TOKEN", token),
        None => command.arg("--open"),
    };
    if let Some(report) = report {
        command.arg(report);
    }
    let output = command
        .output()
        .expect("node is needed for the browser tests");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser script failed: {}\nit saw: {stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

/// `GET path` over a plain TCP connection (with a bearer token when given): the JSON
/// body of a `200` answer.
fn get(base: &str, path: &str, token: Option<&str>) -> Value {
    serde_json::from_str(&get_raw(base, path, token)).unwrap()
}

/// The body of `GET path` (no token).
fn get_text(base: &str, path: &str) -> String {
    get_raw(base, path, None)
}

fn get_raw(base: &str, path: &str, token: Option<&str>) -> String {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let authorization = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    body.to_string()
}

/// Starts the demo on a free port with its store in `dir`; returns it once the simulation
/// is over and the base URL.
fn start_demo(dir: &Path) -> (KillOnDrop, String) {
    let mut child = KillOnDrop(
        modelwatch()
            .args([
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--seconds",
                "3",
                "--data-dir",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                // Nobody listens any more; keep draining so the demo never blocks.
                continue;
            }
        }
    });
    let mut base = None;
    loop {
        let line = received
            .recv_timeout(Duration::from_secs(300))
            .expect("the demo stopped printing");
        if let Some(rest) = line.strip_prefix("modelwatch demo: server on ") {
            base = rest.split_whitespace().next().map(str::to_string);
        }
        if line.contains("serving until Ctrl-C") {
            break;
        }
    }
    // Keep the receiver alive in a thread so the reader never sees a closed channel.
    std::thread::spawn(move || while received.recv().is_ok() {});
    (child, base.expect("the demo printed its address"))
}

fn drifted_names(drift: &Value) -> Vec<String> {
    let mut names: Vec<String> = drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&drift["prediction"], &drift["score"]])
        .filter(|f| f["drifted"] == true)
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// The page's drift-per-window chart equals the series of the one drift query it made:
/// the feature's statistic in each step of the API's answer to that query.
fn check_drift_series(seen: &Value, base: &str, token: Option<&str>) {
    let requests = seen["driftRequests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{seen}");
    let answer = get(base, requests[0].as_str().unwrap(), token);
    let feature = seen["driftSeries"]["feature"].as_str().unwrap();
    let series = answer["series"].as_array().unwrap();
    let starts: Vec<&Value> = series.iter().map(|step| &step["start"]).collect();
    let values: Vec<Value> = series
        .iter()
        .map(|step| {
            let entries = step["features"].as_array().unwrap().iter();
            let entry = entries
                .chain([&step["prediction"], &step["score"]])
                .find(|f| f["name"] == feature)
                .unwrap();
            entry["statistic"].clone()
        })
        .collect();
    assert!(series.len() >= 2, "{answer}");
    assert_eq!(
        seen["driftSeries"]["starts"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        starts
    );
    assert_eq!(seen["driftSeries"]["values"].as_array().unwrap(), &values);
    // The summary beside the series is what the table showed.
    assert_eq!(strings(&seen["drifted"]), drifted_names(&answer), "{seen}");
}

/// The rule editor's backtest shows what the API answered: one table row and one
/// shaded span per alert, one chart point per span with a value, the counts.
fn check_backtest(seen: &Value) {
    let backtest = &seen["backtest"];
    let answer = &backtest["answer"];
    assert!(answer.is_object(), "no backtest answer was seen: {seen}");
    assert_eq!(backtest["alerts"], answer["alerts"], "{seen}");
    assert_eq!(
        backtest["strip"].as_u64(),
        Some(answer["alerts"].as_array().unwrap().len() as u64)
    );
    assert_eq!(backtest["chart"]["points"], answer["values"], "{seen}");
    assert!(answer["counts"]["spans"].as_u64().unwrap() > 0, "{seen}");
    let counts = backtest["counts"].as_str().unwrap();
    let alerts = answer["counts"]["alerts"].as_u64().unwrap();
    assert!(counts.starts_with(&format!("{alerts} alerts")), "{counts}");
}

fn strings(value: &Value) -> Vec<String> {
    let mut out: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn dashboard_shows_the_demo_in_chromium_with_and_without_a_token() {
    ensure_playwright();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // Without auth (loopback): every page, the range switch and a silence.
    let (demo, base) = start_demo(&data);
    // The HTML report of the whole demo, with its alerts: valid, and opened offline below.
    let report_dir = dir.path().join("report");
    std::fs::create_dir_all(&report_dir).unwrap();
    let report_file = report_dir.join("credit.html");
    std::fs::write(
        &report_file,
        get_text(&base, "/api/v1/models/credit/report?format=html"),
    )
    .unwrap();
    valid_html::assert_valid_html(&report_dir);
    let seen = run_browser(&base, "open", None, Some(&report_file));
    assert!(seen["report"]["lines"].as_u64().unwrap() >= 8, "{seen}");
    assert!(
        seen["report"]["distributions"].as_u64().unwrap() >= 20,
        "{seen}"
    );
    // The page's 7-day range holds the whole demo, so its drift table must flag exactly
    // the features the drift endpoint flags over all the data.
    let drift = get(&base, "/api/v1/models/credit/drift", None);
    assert_eq!(strings(&seen["drifted"]), drifted_names(&drift), "{seen}");
    check_drift_series(&seen, &base, None);
    for feature in ["income", "region"] {
        assert!(
            drifted_names(&drift).iter().any(|f| f == feature),
            "{drift}"
        );
    }
    let metrics = get(&base, "/api/v1/models/credit/metrics", None);
    let expected_cells: Vec<String> = metrics["summary"]["confusion_matrix"]["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter())
        .map(|n| n.as_u64().unwrap().to_string())
        .collect();
    let shown_cells: Vec<String> = seen["confusionCells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().replace(',', ""))
        .collect();
    assert_eq!(shown_cells, expected_cells);
    // The map tab's table holds the map endpoint's busiest countries and counts.
    let map = get(&base, "/api/v1/models/credit/map?feature=country", None);
    let mut expected_countries: Vec<(String, u64)> = map["countries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .filter(|(_, count)| *count > 0)
        .collect();
    expected_countries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let shown_countries: Vec<(String, u64)> = seen["mapCountries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let count = row[1].as_str().unwrap().replace(',', "");
            (row[0].as_str().unwrap().to_string(), count.parse().unwrap())
        })
        .collect();
    assert_eq!(
        expected_countries.len(),
        20,
        "the demo's 20 countries: {map}"
    );
    assert_eq!(shown_countries, expected_countries, "{seen}");
    assert_eq!(seen["map"]["world-map"]["countries"], 20, "{seen}");
    // `country` is a segment of the demo: coloured by accuracy, each country's cell is the
    // segment answer's accuracy of that value.
    assert_eq!(seen["mapByAccuracy"], 20, "{seen}");
    let per_country = get(&base, "/api/v1/models/credit/metrics?segment=country", None);
    for row in seen["mapAccuracy"].as_array().unwrap() {
        let code = row[0].as_str().unwrap();
        let group = per_country["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["value"] == code)
            .unwrap_or_else(|| panic!("no group {code}: {per_country}"));
        let accuracy = group["summary"]["accuracy"].as_f64().unwrap();
        let shown: f64 = row[1].as_str().unwrap().parse().unwrap();
        assert!(
            (shown - accuracy).abs() < 0.0005,
            "{code}: {shown} vs {accuracy}"
        );
    }
    // The internals tab's diff table shows the API's diff of the demo's two versions.
    let diff = get(
        &base,
        "/api/v1/models/credit/parameters/diff?from_version=2024.02&to_version=2024.03",
        None,
    );
    let expected_tensors: Vec<String> = diff["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tensor"].as_str().unwrap().to_string())
        .collect();
    let shown_tensors: Vec<String> = seen["internalsDiff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(shown_tensors, expected_tensors, "{seen}");
    assert_eq!(expected_tensors.len(), 6, "{diff}");
    // The logs tab lists the API's templates, newest first, and its one crash.
    let patterns = get(&base, "/api/v1/models/credit/logs/patterns", None);
    let expected_templates: Vec<&str> = patterns["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["template"].as_str().unwrap())
        .collect();
    let shown_templates: Vec<&str> = seen["logTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap())
        .collect();
    assert!(
        !shown_templates.is_empty() && expected_templates.starts_with(&shown_templates),
        "{seen}\n{patterns}"
    );
    assert!(
        shown_templates.contains(&"model timeout after <num> ms for request p<num>"),
        "{seen}"
    );
    let fatal = seen["fatalRecords"].as_array().unwrap();
    assert_eq!(fatal.len(), 1, "the demo crashes once: {seen}");
    assert_eq!(
        fatal[0][3], "worker pod-2 crashed: out of memory (RSS 3.9 GiB)",
        "{seen}"
    );
    let telemetry_panel: Vec<&str> = seen["telemetryPanel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        telemetry_panel,
        [
            "resource-cpu",
            "resource-memory",
            "resource-gpu",
            "resource-instances"
        ]
    );
    assert!(seen["ridges"].as_u64().unwrap() >= 4 * 6, "{seen}");
    // The correlations tab: a heatmap cell per pair of the API's columns, and a scatter
    // plot of the two columns chosen in the selectors.
    let correlations = get(&base, "/api/v1/models/credit/correlations", None);
    let columns = strings(&correlations["features"]);
    assert_eq!(strings(&seen["correlationColumns"]), columns, "{seen}");
    assert!(columns.len() >= 2, "{correlations}");
    assert_eq!(
        seen["heatmapCells"].as_u64(),
        Some((columns.len() * columns.len()) as u64),
        "{seen}"
    );
    assert!(seen["scatter"]["points"].as_u64().unwrap() > 0, "{seen}");
    assert!(seen["firing"].as_u64().unwrap() > 0, "{seen}");
    let silences = get(&base, "/api/v1/silences", None);
    assert_eq!(
        silences["silences"].as_array().unwrap().len(),
        1,
        "the page's Silence button made one silence: {silences}"
    );
    assert_eq!(seen["consoleErrors"], serde_json::json!([]));
    assert!(seen["screenshots"].as_array().unwrap().len() >= 8);
    check_backtest(&seen);
    drop(demo);

    // With auth required: the page asks for a read token and renders with it.
    let created = modelwatch()
        .args(["token", "create", "--scope", "read", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(created.status.success());
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .split_whitespace()
        .find(|w| w.starts_with("mw_"))
        .expect("token create prints the secret")
        .to_string();
    let server = modelwatch()
        .args([
            "--log-format",
            "json",
            "serve",
            "--auth",
            "required",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = KillOnDrop(server);
    let mut line = String::new();
    std::io::BufReader::new(server.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let log: Value = serde_json::from_str(&line).unwrap();
    let address = log["fields"]["address"]
        .as_str()
        .or(log["address"].as_str())
        .unwrap_or_else(|| panic!("no address in {line}"))
        .to_string();
    let base = format!("http://{address}");
    let seen = run_browser(&base, "token", Some(&token), None);
    assert_eq!(
        strings(&seen["drifted"]),
        drifted_names(&get(&base, "/api/v1/models/credit/drift", Some(&token)))
    );
    check_drift_series(&seen, &base, Some(&token));
    // A read token may backtest (it writes nothing).
    check_backtest(&seen);
    assert_eq!(seen["consoleErrors"], serde_json::json!([]));
}
