//! The alerts scenario (`modelwatch bench --scenario alerts`): many rules over many
//! models, and the delay from the ingest answer that completes a span to the webhook
//! delivery of the alert change it causes.
//!
//! Every model gets one rule that flips at every span (`count > 150` over 1m, with
//! 200 and 100 events in alternate minutes and no damping) and quiet rules that are
//! judged but never fire. Each step sends one minute of event time to every model at
//! once; that request completes the previous minute's span. A webhook receiver in this
//! process notes when each notification arrives; the delay is measured against the
//! moment the completing request was answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modelwatch_core::time::{MINUTE_MS, align_down, now_ms, parse_timestamp_str};
use serde_json::{Value, json};

use crate::client::put_json;
use crate::target::{Target, cpu_seconds};

/// When each notification arrived: (model, span end) → arrival.
type Arrivals = Arc<Mutex<HashMap<(String, i64), Instant>>>;

async fn start_receiver(arrivals: Arrivals) -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let arrivals = arrivals.clone();
            async move {
                let now = Instant::now();
                for alert in body["alerts"].as_array().into_iter().flatten() {
                    let model = alert["labels"]["model"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    // A firing alert starts at the end of its span; a resolved one ends there.
                    let at = if alert["status"] == "firing" {
                        &alert["startsAt"]
                    } else {
                        &alert["endsAt"]
                    };
                    if let Some(end) = at.as_str().and_then(|t| parse_timestamp_str(t).ok())
                        && let Ok(mut arrivals) = arrivals.lock()
                    {
                        arrivals.entry((model, end)).or_insert(now);
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}/hook"))
}

/// Quiet rules: judged every span, never firing.
const QUIET: [(&str, &str, f64); 9] = [
    ("accuracy", "<", -1.0),
    ("error_rate", ">", 2.0),
    ("latency_p99", ">", 1e12),
    ("latency_p50", ">", 1e12),
    ("f1", "<", -1.0),
    ("precision", "<", -1.0),
    ("recall", "<", -1.0),
    ("labelled_count", "<", 0.0),
    ("log_loss", ">", 1e12),
];

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// A counter or histogram sum from a Prometheus exposition.
fn scraped(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Runs the alert benchmark and prints its figures.
pub async fn run(
    target: &Target,
    models: u32,
    rules_per_model: u32,
    steps: u32,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        models > 0 && rules_per_model > 0 && steps > 1,
        "--models, --rules-per-model and --steps must be positive (steps > 1)"
    );
    let (child, base) = target.start().await?;
    let client = reqwest::Client::new();
    let arrivals: Arrivals = Arc::default();
    let hook = start_receiver(arrivals.clone()).await?;
    put_json(
        &client,
        &format!("{base}/api/v1/channels/bench-hook"),
        &json!({"type": "webhook", "url": hook, "group_wait": "0s", "group_interval": "0s"}),
        "creating the channel",
    )
    .await?;
    let names: Vec<String> = (0..models).map(|m| format!("bench-{m:03}")).collect();
    for name in &names {
        put_json(
            &client,
            &format!("{base}/api/v1/models/{name}"),
            &json!({"task": "binary_classification", "allowed_lateness": "0s",
                    "features": [{"name": "x", "type": "numeric"}]}),
            "creating a model",
        )
        .await?;
        put_json(
            &client,
            &format!("{base}/api/v1/rules/{name}-flip"),
            &json!({"model": name, "metric": "count", "window": "1m", "every": "1m", "clock": "event",
                    "condition": {"op": ">", "threshold": 150}, "keep_firing_for": "0s",
                    "channels": ["bench-hook"]}),
            "creating a rule",
        )
        .await?;
        for i in 1..rules_per_model {
            let (metric, op, threshold) = QUIET[(i as usize - 1) % QUIET.len()];
            put_json(
                &client,
                &format!("{base}/api/v1/rules/{name}-quiet-{i}"),
                &json!({"model": name, "metric": metric, "window": "1m", "every": "1m",
                        "condition": {"op": op, "threshold": threshold}, "channels": ["bench-hook"]}),
                "creating a rule",
            )
            .await?;
        }
    }
    println!(
        "modelwatch bench --scenario alerts: {} rules over {models} models, {steps} watermark steps of 1m event time, one per second, against {base}",
        models * rules_per_model
    );
    let start = align_down(now_ms(), MINUTE_MS) - 2 * 24 * 60 * MINUTE_MS;
    // (model, span end) → when the request that completed the span was answered.
    let mut completed: HashMap<(String, i64), Instant> = HashMap::new();
    let cpu_before = child.as_ref().and_then(|c| cpu_seconds(c.pid()));
    let started = Instant::now();
    for step in 0..steps {
        let minute = start + step as i64 * MINUTE_MS;
        let n = if step % 2 == 0 { 200 } else { 100 };
        let mut requests = Vec::new();
        for name in &names {
            let mut body = String::new();
            for i in 0..n {
                body.push_str(
                    &json!({"id": format!("{step}-{i}"), "timestamp": minute + i * (MINUTE_MS / n),
                            "features": {"x": i}, "prediction": "1", "score": 0.8, "label": if i % 5 == 0 { "0" } else { "1" },
                            "latency_ms": 10.0})
                    .to_string(),
                );
                body.push('\n');
            }
            let (client, url, name) = (
                client.clone(),
                format!("{base}/api/v1/models/{name}/predictions"),
                name.clone(),
            );
            requests.push(tokio::spawn(async move {
                let response = client
                    .post(url)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "ingest failed: {}",
                    response.status()
                );
                Ok::<_, anyhow::Error>((name, Instant::now()))
            }));
        }
        for request in requests {
            let (name, answered) = request.await??;
            // This minute's first event completes the span that ended at `minute`.
            completed.insert((name, minute), answered);
        }
        let due = Duration::from_secs(step as u64 + 1);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu = match (
        cpu_before,
        child.as_ref().and_then(|c| cpu_seconds(c.pid())),
    ) {
        (Some(before), Some(after)) => after - before,
        _ => f64::NAN,
    };
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    // Spans ending at steps 1..steps flip the rule: one notification each.
    let expected = (steps as usize - 1) * names.len();
    let mut delays: Vec<f64> = completed
        .iter()
        .filter_map(|(key, answered)| {
            let arrived = arrivals.get(key)?;
            Some(arrived.saturating_duration_since(*answered).as_secs_f64() * 1000.0)
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let rounds = scraped(&metrics, "modelwatch_alert_rounds_total");
    let judged = scraped(&metrics, "modelwatch_alert_rules_judged_total");
    let round_seconds = scraped(&metrics, "modelwatch_alert_round_seconds_sum");
    println!(
        "notifications received: {} of {expected} expected",
        delays.len()
    );
    println!(
        "ingest answer → webhook delivery: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&delays, 0.50),
        percentile(&delays, 0.95),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "engine: {rounds:.0} rounds, {judged:.0} rule judgements, {:.1} ms per round on average ({:.3} ms per rule judgement); server CPU {cpu:.1} s over {:.0} s",
        round_seconds / rounds * 1000.0,
        round_seconds / judged * 1000.0,
        started.elapsed().as_secs_f64()
    );
    anyhow::ensure!(
        delays.len() == expected,
        "{} notifications missing",
        expected - delays.len()
    );
    Ok(())
}
