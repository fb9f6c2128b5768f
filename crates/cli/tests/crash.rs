//! Crash safety of the real binary: `kill -9` during concurrent ingest of predictions
//! and labels and changes of an alert rule, restart on the same data directory, and
//! check that every acknowledged record is there exactly once, the profiles agree with
//! the raw rows, the rule is its last acknowledged definition and its alert state equals
//! the verdict recomputed from the stored records.
//!
//! `MODELWATCH_CRASH_CYCLES` sets the number of kill cycles (default 8).

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    // A failed assertion must not leave a server running (it would hold the test's
    // output pipes open).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    for _ in 0..400 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server at {base} did not become healthy");
}

fn event(id: &str, n: u64) -> Value {
    json!({
        "id": id,
        "timestamp": 1_710_115_200_000_i64 + (n as i64 % 3) * 86_400_000 + (n as i64 * 7919) % 86_400_000,
        "prediction": (n % 2).to_string(),
        "score": (n % 100) as f64 / 100.0,
        "label": if n.is_multiple_of(4) { Value::from((n / 2 % 2).to_string()) } else { Value::Null },
        "latency_ms": (n % 50) as f64,
        "features": {"x": (n % 997) as f64 / 7.0, "c": format!("c{}", n % 5)},
    })
}

/// A rule judged in event time whose verdict the test can recompute: the day's
/// prediction count above `threshold`, no damping.
fn volume_rule(threshold: f64) -> Value {
    json!({
        "model": "m", "metric": "count", "window": "1d", "every": "1d",
        "condition": {"op": ">", "threshold": threshold},
        "keep_firing_for": "0s", "min_count": 1,
    })
}

/// What the rule writer knows of its definitions.
#[derive(Default)]
struct RuleLedger {
    /// The threshold of the last `PUT` answered 2xx.
    acked: Option<f64>,
    /// The threshold of a `PUT` sent but not answered (the kill may have cut it off
    /// before or after its commit).
    in_flight: Option<f64>,
    /// Definitions acknowledged.
    changes: u64,
}

#[derive(Default)]
struct Ledger {
    /// Predictions whose request was answered 200 with the id accepted.
    acked: Vec<(String, u64)>,
    /// Every prediction ever sent (acknowledged or not).
    sent: HashSet<String>,
    /// Late labels acknowledged as matched.
    labels_acked: HashSet<String>,
    /// Late labels ever sent (acknowledged or not).
    labels_sent: HashSet<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_loses_nothing_acknowledged() {
    let cycles: u32 = std::env::var("MODELWATCH_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let dir = tempfile::tempdir().unwrap();
    let client = new_client();
    let mut server = start(dir.path());
    wait_healthy(&client, &server.base).await;
    let created = client
        .put(format!("{}/api/v1/models/m", server.base))
        .json(&json!({"task": "binary_classification", "features": [{"name": "x", "type": "numeric"}, {"name": "c", "type": "categorical"}]}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let rules = Arc::new(Mutex::new(RuleLedger::default()));
    let (mut judged_cycles, mut firing_verdicts) = (0, 0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xC0FFEE);
    let mut checked = 0;
    for cycle in 0..cycles {
        let base = server.base.clone();
        let mut writers = Vec::new();
        for writer in 0..3u64 {
            let (client, base, ledger) = (client.clone(), base.clone(), ledger.clone());
            writers.push(tokio::spawn(async move {
                for batch in 0u64.. {
                    let start = (cycle as u64 * 1_000_000) + writer * 100_000 + batch * 40;
                    let events: Vec<(String, u64)> =
                        (start..start + 40).map(|n| (format!("e{n}"), n)).collect();
                    let body: Vec<Value> = events.iter().map(|(id, n)| event(id, *n)).collect();
                    ledger
                        .lock()
                        .unwrap()
                        .sent
                        .extend(events.iter().map(|(id, _)| id.clone()));
                    let Ok(response) = client
                        .post(format!("{base}/api/v1/models/m/predictions"))
                        .json(&body)
                        .send()
                        .await
                    else {
                        return;
                    };
                    if !response.status().is_success() {
                        continue;
                    }
                    let Ok(answer) = response.json::<Value>().await else {
                        return;
                    };
                    assert_eq!(answer["accepted"], 40, "{answer}");
                    let late: Vec<Value> = {
                        let mut book = ledger.lock().unwrap();
                        book.acked.extend(events);
                        // Late labels for some acknowledged predictions without one.
                        book.acked
                            .iter()
                            .rev()
                            .take(40)
                            .filter(|(id, n)| n % 4 == 1 && !book.labels_acked.contains(id))
                            .map(|(id, n)| json!({"id": id, "label": late_label(*n)}))
                            .collect()
                    };
                    ledger
                        .lock()
                        .unwrap()
                        .labels_sent
                        .extend(late.iter().map(|l| l["id"].as_str().unwrap().to_string()));
                    if late.is_empty() {
                        continue;
                    }
                    let Ok(response) = client
                        .post(format!("{base}/api/v1/models/m/labels"))
                        .json(&late)
                        .send()
                        .await
                    else {
                        return;
                    };
                    let Ok(answer) = response.json::<Value>().await else {
                        return;
                    };
                    let rejected: HashSet<u64> = answer["rejected"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r["index"].as_u64())
                        .collect();
                    let mut book = ledger.lock().unwrap();
                    for (i, label) in late.iter().enumerate() {
                        if !rejected.contains(&(i as u64)) {
                            book.labels_acked
                                .insert(label["id"].as_str().unwrap().to_string());
                        }
                    }
                }
            }));
        }
        // Rule changes while the writers run: the threshold flips between "always fires"
        // and "never fires" every few milliseconds.
        let rule_writer = {
            let (client, base, rules) = (client.clone(), base.clone(), rules.clone());
            tokio::spawn(async move {
                for k in 0u64.. {
                    let threshold = if (u64::from(cycle) + k).is_multiple_of(2) {
                        0.0
                    } else {
                        1e12
                    };
                    rules.lock().unwrap().in_flight = Some(threshold);
                    let Ok(response) = client
                        .put(format!("{base}/api/v1/rules/volume"))
                        .json(&volume_rule(threshold))
                        .send()
                        .await
                    else {
                        return;
                    };
                    {
                        let mut book = rules.lock().unwrap();
                        book.in_flight = None;
                        if response.status().is_success() {
                            book.acked = Some(threshold);
                            book.changes += 1;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(rng_free_pause(k))).await;
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..600))).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        for writer in writers {
            writer.await.unwrap();
        }
        rule_writer.await.unwrap();
        server = start(dir.path());
        wait_healthy(&client, &server.base).await;

        // Every acknowledged prediction is stored: sending it again is a duplicate.
        let acked: Vec<(String, u64)> = ledger.lock().unwrap().acked.clone();
        for chunk in acked.chunks(1000) {
            let answer = post_predictions(&client, &server.base, chunk).await;
            assert_eq!(
                answer["accepted"], 0,
                "cycle {cycle}: an acknowledged prediction was lost"
            );
            assert_eq!(answer["rejected"].as_array().unwrap().len(), chunk.len());
        }
        checked += acked.len();
        // Exactly once, and profiles equal the raw rows.
        let model = get_json(&client, &format!("{}/api/v1/models/m", server.base)).await;
        let metrics = get_json(&client, &format!("{}/api/v1/models/m/metrics", server.base)).await;
        let stored = model["stats"]["predictions"].as_u64().unwrap();
        let (sent, labels_acked) = {
            let book = ledger.lock().unwrap();
            (book.sent.len(), book.labels_acked.len())
        };
        assert!(
            stored as usize >= acked.len(),
            "cycle {cycle}: {stored} stored < {} acknowledged",
            acked.len()
        );
        assert!(
            stored as usize <= sent,
            "cycle {cycle}: more stored than sent"
        );
        assert_eq!(
            metrics["summary"]["count"].as_u64(),
            Some(stored),
            "cycle {cycle}: profiles disagree with rows"
        );
        assert_eq!(
            metrics["summary"]["labelled_count"], model["stats"]["labelled"],
            "cycle {cycle}: labelled profiles disagree with rows"
        );
        // Feature profiles are written lazily; after a crash they are rebuilt from the raw
        // events, so they too count every stored prediction exactly once.
        let quality = get_json(&client, &format!("{}/api/v1/models/m/quality", server.base)).await;
        assert_eq!(
            quality["rows"].as_u64(),
            Some(stored),
            "cycle {cycle}: feature profiles disagree with rows"
        );
        let labelled = model["stats"]["labelled"].as_u64().unwrap() as usize;
        let inline = acked.iter().filter(|(_, n)| n % 4 == 0).count();
        assert!(
            labelled >= inline + labels_acked,
            "cycle {cycle}: an acknowledged label was lost"
        );

        // Make the stored set known exactly: send again every prediction and label that
        // went out unacknowledged (stored now, if the kill had not let it be). Then the
        // metrics and the feature profiles must equal a recomputation from the records.
        resend_unacknowledged(&client, &server.base, &ledger).await;
        recomputed_equals_served(&client, &server.base, &ledger, cycle).await;

        // The rule is the last acknowledged definition (or the one cut off by the kill),
        // and its alert converges to the verdict recomputed from the stored records.
        let (acked_threshold, in_flight) = {
            let book = rules.lock().unwrap();
            (book.acked, book.in_flight)
        };
        let rule = client
            .get(format!("{}/api/v1/rules/volume", server.base))
            .send()
            .await
            .unwrap();
        if acked_threshold.is_none() && !rule.status().is_success() {
            continue; // no definition was acknowledged and none committed
        }
        let rule: Value = rule.json().await.unwrap();
        let threshold = rule["condition"]["threshold"].as_f64().unwrap();
        assert!(
            Some(threshold) == acked_threshold || Some(threshold) == in_flight,
            "cycle {cycle}: rule threshold {threshold}, acknowledged {acked_threshold:?}, in flight {in_flight:?}"
        );
        if let Some(fires) = check_volume_alert(&client, &server.base, threshold).await {
            judged_cycles += 1;
            firing_verdicts += u32::from(fires);
        }
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let rule_changes = rules.lock().unwrap().changes;
    eprintln!(
        "crash test: {cycles} kill -9 cycles, {checked} acknowledged predictions re-checked, \
         {rule_changes} rule changes acknowledged, alert state recomputed in {judged_cycles} cycles \
         ({firing_verdicts} firing)"
    );
    assert!(checked > 0);
    assert!(rule_changes > 0);
    assert_eq!(judged_cycles, cycles, "every cycle checks the alert state");
}

/// Sends the predictions `(id, n)` in one request; the answer.
async fn post_predictions(client: &reqwest::Client, base: &str, events: &[(String, u64)]) -> Value {
    let body: Vec<Value> = events.iter().map(|(id, n)| event(id, *n)).collect();
    client
        .post(format!("{base}/api/v1/models/m/predictions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The late label of prediction `n` (predicted `"1"`, as every odd `n`): right for one
/// in two.
fn late_label(n: u64) -> &'static str {
    if n % 8 == 1 { "1" } else { "0" }
}

fn number_of(id: &str) -> u64 {
    id[1..].parse().unwrap()
}

async fn resend_unacknowledged(client: &reqwest::Client, base: &str, ledger: &Mutex<Ledger>) {
    let (predictions, labels): (Vec<String>, Vec<String>) = {
        let book = ledger.lock().unwrap();
        let acked: HashSet<&String> = book.acked.iter().map(|(id, _)| id).collect();
        (
            book.sent
                .iter()
                .filter(|id| !acked.contains(id))
                .cloned()
                .collect(),
            book.labels_sent
                .difference(&book.labels_acked)
                .cloned()
                .collect(),
        )
    };
    let predictions: Vec<(String, u64)> = predictions
        .into_iter()
        .map(|id| {
            let n = number_of(&id);
            (id, n)
        })
        .collect();
    for chunk in predictions.chunks(1000) {
        let answer = post_predictions(client, base, chunk).await;
        // Each is stored now: accepted, or a duplicate because it already was.
        let accepted = answer["accepted"].as_u64().unwrap() as usize;
        assert_eq!(
            accepted + answer["rejected"].as_array().unwrap().len(),
            chunk.len()
        );
    }
    for chunk in labels.chunks(1000) {
        let body: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"id": id, "label": late_label(number_of(id))}))
            .collect();
        let response = client
            .post(format!("{base}/api/v1/models/m/labels"))
            .json(&body)
            .send()
            .await
            .unwrap();
        // 422: every label of the chunk was already stored before the kill (each is
        // rejected as "already has a label"), so nothing new was accepted.
        let status = response.status();
        assert!(
            status.is_success() || status == reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            "{status}"
        );
    }
    let mut book = ledger.lock().unwrap();
    book.acked.extend(predictions);
    book.labels_acked.extend(labels);
}

/// Count, labelled count and accuracy from `/metrics`, and the categorical counts and
/// numeric mean of the feature profiles from `/quality`, equal to the same figures
/// computed here from the records the ledger says are stored.
async fn recomputed_equals_served(
    client: &reqwest::Client,
    base: &str,
    ledger: &Mutex<Ledger>,
    cycle: u32,
) {
    let (numbers, late): (Vec<u64>, Vec<u64>) = {
        let book = ledger.lock().unwrap();
        (
            book.acked.iter().map(|(_, n)| *n).collect(),
            book.labels_acked.iter().map(|id| number_of(id)).collect(),
        )
    };
    let inline = numbers.iter().filter(|n| *n % 4 == 0).count();
    let labelled = inline + late.len();
    // Inline labels are always right (prediction and label both "0"); late ones when "1".
    let correct = inline + late.iter().filter(|n| late_label(**n) == "1").count();
    let metrics = get_json(client, &format!("{base}/api/v1/models/m/metrics")).await;
    let summary = &metrics["summary"];
    assert_eq!(
        summary["count"].as_u64(),
        Some(numbers.len() as u64),
        "cycle {cycle}: count"
    );
    assert_eq!(
        summary["labelled_count"].as_u64(),
        Some(labelled as u64),
        "cycle {cycle}: labelled"
    );
    let accuracy = correct as f64 / labelled as f64;
    let served = summary["accuracy"].as_f64().unwrap();
    assert!(
        (served - accuracy).abs() < 1e-12,
        "cycle {cycle}: accuracy {served} ≠ {accuracy}"
    );

    let quality = get_json(client, &format!("{base}/api/v1/models/m/quality")).await;
    let feature = |name: &str| {
        quality["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    let mut categories = [0u64; 5];
    for n in &numbers {
        categories[(*n % 5) as usize] += 1;
    }
    for (value, count) in feature("c")["top"].as_array().unwrap().iter().map(|pair| {
        (
            pair[0].as_str().unwrap().to_string(),
            pair[1].as_u64().unwrap(),
        )
    }) {
        let k: usize = value[1..].parse().unwrap();
        assert_eq!(count, categories[k], "cycle {cycle}: category {value}");
    }
    let mean = numbers.iter().map(|n| (*n % 997) as f64 / 7.0).sum::<f64>() / numbers.len() as f64;
    let served_mean = feature("x")["mean"].as_f64().unwrap();
    assert!(
        (served_mean - mean).abs() <= 1e-9 * mean.abs().max(1.0),
        "cycle {cycle}: mean of x {served_mean} ≠ {mean}"
    );
}

/// A pause between rule changes, 5–40 ms, without a shared random generator.
fn rng_free_pause(k: u64) -> u64 {
    5 + (k * 7919) % 36
}

/// Waits until the `volume` rule's alert agrees with the recomputed verdict: the latest
/// day the rule has judged is the one before the newest event's day (the span of the
/// newest day is still open), and it fires when that day's count, as the metrics
/// endpoint gives it from the stored records, is above `threshold`. Returns the verdict
/// checked (`None` only while no day can have been judged yet).
async fn check_volume_alert(client: &reqwest::Client, base: &str, threshold: f64) -> Option<bool> {
    let model = get_json(client, &format!("{base}/api/v1/models/m")).await;
    let newest = model["stats"]["newest_event"].as_str()?;
    let newest_day = &newest[..10];
    let days = get_json(
        client,
        &format!("{base}/api/v1/models/m/metrics?from=2024-03-11T00:00:00Z&to=2024-03-14T00:00:00Z&step=1d"),
    )
    .await;
    let judged: Vec<&Value> = days["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["start"].as_str().unwrap() < newest_day)
        .collect();
    let last = judged.last()?;
    let count = last["metrics"]["count"].as_f64().unwrap();
    let expected = count > threshold;
    let mut seen = None;
    for _ in 0..300 {
        let firing = get_json(
            client,
            &format!("{base}/api/v1/alerts?state=firing&model=m"),
        )
        .await;
        let fires = firing["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "volume");
        if fires == expected {
            return Some(expected);
        }
        seen = Some(fires);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the volume alert fires: {seen:?}, but day {} holds {count} predictions against threshold {threshold}",
        last["start"]
    );
}

async fn ingest_batches(
    client: &reqwest::Client,
    base: &str,
    batches: std::ops::Range<u64>,
) -> u64 {
    let mut acknowledged = 0;
    for batch in batches {
        let body: Vec<Value> = (batch * 100..(batch + 1) * 100)
            .map(|n| event(&format!("t{n}"), n))
            .collect();
        let answer: Value = client
            .post(format!("{base}/api/v1/models/m/predictions"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        acknowledged += answer["accepted"].as_u64().unwrap();
    }
    acknowledged
}

/// Counts as the server reports them: stored rows, the performance profiles and the
/// feature profiles must agree.
async fn consistent_counts(client: &reqwest::Client, base: &str) -> u64 {
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move { get_json(client, &url).await }
    };
    let stored = get("/api/v1/models/m").await["stats"]["predictions"]
        .as_u64()
        .unwrap();
    assert_eq!(
        get("/api/v1/models/m/metrics").await["summary"]["count"].as_u64(),
        Some(stored)
    );
    assert_eq!(
        get("/api/v1/models/m/quality").await["rows"].as_u64(),
        Some(stored)
    );
    stored
}

/// The live generation of a SQLite WAL file: the frames after the header whose salts
/// match the header's. A checkpoint restarts the WAL from its start with new salts, so
/// frames of older generations linger past the live ones until overwritten.
struct WalGeneration {
    salts: [u8; 8],
    frame_len: u64,
    frames: u64,
    /// For each commit frame, the number of frames up to and including it.
    commits: Vec<u64>,
}

fn wal_generation(wal: &std::path::Path) -> WalGeneration {
    let bytes = std::fs::read(wal).unwrap();
    assert!(bytes.len() >= 32, "no WAL header");
    let page_size = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let salts: [u8; 8] = bytes[16..24].try_into().unwrap();
    let frame_len = 24 + page_size;
    let (mut frames, mut commits, mut offset) = (0, Vec::new(), 32);
    while offset + frame_len <= bytes.len() && bytes[offset + 8..offset + 16] == salts {
        frames += 1;
        if bytes[offset + 4..offset + 8] != [0; 4] {
            commits.push(frames);
        }
        offset += frame_len;
    }
    WalGeneration {
        salts,
        frame_len: frame_len as u64,
        frames,
        commits,
    }
}

/// SQLite checkpoints on its own once the WAL holds 1,000 frames; a generation well
/// below that has not been copied into the database file.
const FRAMES_BELOW_AUTOCHECKPOINT: u64 = 900;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_wal_recovers_to_a_consistent_earlier_state() {
    let dir = tempfile::tempdir().unwrap();
    let client = new_client();
    let mut server = start(dir.path());
    wait_healthy(&client, &server.base).await;
    client
        .put(format!("{}/api/v1/models/m", server.base))
        .json(&json!({"task": "binary_classification", "features": [{"name": "x", "type": "numeric"}, {"name": "c", "type": "categorical"}]}))
        .send()
        .await
        .unwrap();
    let mut acknowledged = ingest_batches(&client, &server.base, 0..30).await;
    // Make sure an acknowledged batch follows a commit in the same WAL generation, with
    // no checkpoint since: tearing the WAL after that commit must then lose the batch.
    let wal = dir.path().join("modelwatch.sqlite-wal");
    let mut batch = 30;
    let salts = loop {
        let before = wal_generation(&wal);
        acknowledged += ingest_batches(&client, &server.base, batch..batch + 1).await;
        batch += 1;
        let after = wal_generation(&wal);
        if !before.commits.is_empty()
            && before.salts == after.salts
            && after.frames < FRAMES_BELOW_AUTOCHECKPOINT
        {
            break after.salts;
        }
        assert!(
            batch < 100,
            "the WAL never held two commits of one generation"
        );
    };
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // Tear the WAL in the middle of the frame that follows the generation's first commit.
    let generation = wal_generation(&wal);
    assert_eq!(generation.salts, salts, "the WAL restarted after the kill");
    let first_commit = generation.commits[0];
    assert!(
        generation.frames > first_commit,
        "nothing follows the first commit"
    );
    let cut = 32 + first_commit * generation.frame_len + generation.frame_len / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(cut)
        .unwrap();
    server = start(dir.path());
    wait_healthy(&client, &server.base).await;
    // The torn transactions are gone whole; what remains agrees with itself.
    let stored = consistent_counts(&client, &server.base).await;
    assert!(
        stored < acknowledged,
        "{stored} of {acknowledged}: the tear removed nothing?"
    );
    assert_eq!(stored % 100, 0, "a transaction was half-applied: {stored}");
    // And the server goes on working.
    let more = ingest_batches(&client, &server.base, 1000..1001).await;
    assert_eq!(more, 100);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn a_damaged_database_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = new_client();
        let mut server = start(dir.path());
        wait_healthy(&client, &server.base).await;
        client
            .put(format!("{}/api/v1/models/m", server.base))
            .json(&json!({"task": "binary_classification"}))
            .send()
            .await
            .unwrap();
        ingest_batches(&client, &server.base, 0..20).await;
        // SIGTERM: a clean stop, which folds the WAL into the database file.
        Command::new("kill")
            .arg(server.child.id().to_string())
            .status()
            .unwrap();
        server.child.wait().unwrap();
    });
    let database = dir.path().join("modelwatch.sqlite");
    let mut bytes = std::fs::read(&database).unwrap();
    assert!(bytes.len() > 5 * 4096);
    // Scribble over the pages after the first (the schema page stays readable).
    for byte in &mut bytes[2 * 4096..4 * 4096] {
        *byte = 0xA5;
    }
    std::fs::write(&database, bytes).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success(), "a damaged database was served");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("modelwatch:")
            && (stderr.contains("integrity") || stderr.contains("malformed")),
        "{stderr}"
    );
}

fn new_client() -> reqwest::Client {
    modelwatch_server::install_crypto_provider();
    reqwest::Client::new()
}

/// A webhook receiver that answers 500 until `accepting` is set, recording what it
/// accepted and counting every try.
struct FlakyReceiver {
    url: String,
    accepting: Arc<std::sync::atomic::AtomicBool>,
    tries: Arc<std::sync::atomic::AtomicUsize>,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn flaky_receiver() -> FlakyReceiver {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let accepting = Arc::new(AtomicBool::new(false));
    let tries = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(Mutex::new(Vec::new()));
    let (a, t, r) = (accepting.clone(), tries.clone(), received.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (a, t, r) = (a.clone(), t.clone(), r.clone());
            async move {
                t.fetch_add(1, Ordering::SeqCst);
                if !a.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                r.lock().unwrap().push(body);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    FlakyReceiver {
        url,
        accepting,
        tries,
        received,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_notification_survives_kill_dash_nine() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let client = new_client();
    let receiver = flaky_receiver().await;
    let mut server = start(dir.path());
    wait_healthy(&client, &server.base).await;
    let put = |path: &str, body: Value| {
        let request = client.put(format!("{}{path}", server.base)).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{}",
                response.text().await.unwrap()
            );
        }
    };
    put("/api/v1/models/m", json!({"task": "binary_classification"})).await;
    put(
        "/api/v1/channels/hook",
        json!({"type": "webhook", "url": receiver.url, "group_wait": "0s", "group_interval": "0s"}),
    )
    .await;
    put(
        "/api/v1/rules/low-accuracy",
        json!({"model": "m", "metric": "accuracy", "window": "1d",
               "condition": {"op": "<", "threshold": 0.7}, "channels": ["hook"]}),
    )
    .await;
    // Day 0 is bad; day 1's first events (past the 5m lateness) complete it.
    let events: Vec<Value> = (0..110)
        .map(|i| {
            json!({"id": format!("p{i}"), "timestamp": 1_710_115_200_000_i64 + i * 864_000,
                   "prediction": "1", "label": if i % 2 == 0 { "1" } else { "0" }})
        })
        .collect();
    let response = client
        .post(format!("{}/api/v1/models/m/predictions", server.base))
        .json(&events)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    // The notification is being retried: kill the server without warning.
    for _ in 0..200 {
        if receiver.tries.load(Ordering::SeqCst) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        receiver.tries.load(Ordering::SeqCst) >= 2,
        "no delivery was tried"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    receiver.accepting.store(true, Ordering::SeqCst);
    server = start(dir.path());
    wait_healthy(&client, &server.base).await;
    let mut delivered = Vec::new();
    for _ in 0..300 {
        delivered = receiver.received.lock().unwrap().clone();
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!delivered.is_empty(), "the queued notification was lost");
    assert_eq!(
        delivered[0]["alerts"][0]["labels"]["alertname"],
        "low-accuracy"
    );
    assert_eq!(
        delivered[0]["alerts"][0]["startsAt"],
        "2024-03-12T00:00:00Z"
    );
    let alerts = get_json(&client, &format!("{}/api/v1/alerts", server.base)).await;
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 1, "{alerts}");
    // The receiver records the body before it answers, and the server records the
    // delivery only after the answer: wait for the record.
    let mut kinds = Vec::new();
    for _ in 0..300 {
        let events = get_json(&client, &format!("{}/api/v1/events", server.base)).await;
        kinds = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        if kinds.iter().any(|k| k == "notified") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        kinds.iter().any(|k| k == "notified") && kinds.iter().any(|k| k == "firing"),
        "{kinds:?}"
    );
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}
