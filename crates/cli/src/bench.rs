//! `modelwatch bench`: a load generator that measures durable ingest throughput,
//! server memory and metrics-query latency, against a server it starts itself (a
//! child `modelwatch serve` on a temporary store) or one given by `--url`.
//!
//! It sends NDJSON batches of events with 20 numeric and 5 categorical features from
//! several concurrent connections, and honours `Retry-After` on 429 and 503.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use modelwatch_core::sketch::LatencySketch;
use modelwatch_core::time::{DAY_MS, align_down, now_ms};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Arguments of `modelwatch bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Server to load (default: start `modelwatch serve` on a temporary store).
    #[arg(long)]
    url: Option<String>,
    /// Events to send.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events per request.
    #[arg(long, default_value_t = 1_000)]
    batch: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    concurrency: u64,
    /// Days of event time the events are spread over.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Times the metrics query is repeated.
    #[arg(long, default_value_t = 20)]
    query_repeats: u32,
    /// What to measure: `ingest` (throughput, memory, query latency) or `alerts` (rule
    /// evaluation and the delay from ingest to webhook delivery).
    #[arg(long, default_value = "ingest", value_parser = ["ingest", "alerts", "overload"])]
    scenario: String,
    /// `alerts`: models.
    #[arg(long, default_value_t = 100)]
    models: u32,
    /// `alerts`: rules per model.
    #[arg(long, default_value_t = 10)]
    rules_per_model: u32,
    /// `alerts`: watermark steps (minutes of event time, one per real second).
    #[arg(long, default_value_t = 30)]
    steps: u32,
    /// `overload`: events per second offered, whatever the answers (default: twice the
    /// ≈ 90,000 events/s measured as sustainable in docs/PERFORMANCE.md).
    #[arg(long, default_value_t = 180_000)]
    rate: u64,
    /// `overload`: seconds of offered load.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
}

/// PUTs a JSON body and fails with the server's answer unless it is a success.
pub async fn put_json(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    what: &str,
) -> anyhow::Result<()> {
    let response = client
        .put(url)
        .json(body)
        .send()
        .await
        .with_context(|| format!("{what}: PUT {url}"))?;
    let status = response.status();
    anyhow::ensure!(
        status.is_success(),
        "{what} failed ({status}): {}",
        response.text().await?
    );
    Ok(())
}

/// The wait a 429 or 503 answer asks for, if it is one.
pub fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let status = response.status().as_u16();
    if status != 429 && status != 503 {
        return None;
    }
    let seconds = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(1.0);
    Some(Duration::from_secs_f64(seconds.clamp(0.01, 60.0)))
}

const NUMERIC: usize = 20;
const CATEGORICAL: usize = 5;

pub(crate) fn definition() -> Value {
    let mut features: Vec<Value> = (0..NUMERIC)
        .map(|i| json!({"name": format!("n{i}"), "type": "numeric"}))
        .collect();
    features
        .extend((0..CATEGORICAL).map(|i| json!({"name": format!("c{i}"), "type": "categorical"})));
    json!({"task": "binary_classification", "features": features})
}

/// A pool of feature objects, so that building a batch is string concatenation.
pub(crate) fn feature_pool(rng: &mut StdRng) -> Vec<String> {
    (0..997)
        .map(|_| {
            let mut object = serde_json::Map::new();
            for i in 0..NUMERIC {
                object.insert(
                    format!("n{i}"),
                    json!((rng.random::<f64>() * 1000.0 * 1e3).round() / 1e3),
                );
            }
            for i in 0..CATEGORICAL {
                object.insert(
                    format!("c{i}"),
                    json!(format!("cat{}", rng.random_range(0..12))),
                );
            }
            Value::Object(object).to_string()
        })
        .collect()
}

pub(crate) struct Plan {
    pub(crate) pool: Vec<String>,
    pub(crate) run: u64,
    pub(crate) start_ms: i64,
    pub(crate) span_ms: i64,
    pub(crate) events: u64,
    pub(crate) batch: u64,
}

impl Plan {
    pub(crate) fn body(&self, batch_index: u64) -> String {
        let mut body = String::with_capacity(self.batch as usize * 700);
        let first = batch_index * self.batch;
        for n in first..(first + self.batch).min(self.events) {
            let ts =
                self.start_ms + (n as i128 * self.span_ms as i128 / self.events as i128) as i64;
            let features = &self.pool[(n % self.pool.len() as u64) as usize];
            let score = (n.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
            let prediction = if score >= 0.5 { "1" } else { "0" };
            let label = if n % 3 == 0 {
                prediction
            } else if n % 2 == 0 {
                "1"
            } else {
                "0"
            };
            let latency = 5.0 + (n % 97) as f64 * 0.37;
            body.push_str(&format!(
                "{{\"id\":\"r{}-{n}\",\"timestamp\":{ts},\"prediction\":\"{prediction}\",\"score\":{score},\"label\":\"{label}\",\"latency_ms\":{latency},\"features\":{features}}}\n",
                self.run
            ));
        }
        body
    }
}

/// A `modelwatch serve` child on a temporary store, stopped on drop.
pub(crate) struct ChildServer {
    pub(crate) child: std::process::Child,
    _data_dir: tempfile::TempDir,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) a process has used, from /proc.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

pub(crate) fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub(crate) async fn start_child() -> anyhow::Result<(ChildServer, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let data_dir = tempfile::Builder::new()
        .prefix("modelwatch-bench-")
        .tempdir()?;
    let child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir.path())
        .env("RUST_LOG", "warn")
        .spawn()
        .context("starting modelwatch serve")?;
    let server = ChildServer {
        child,
        _data_dir: data_dir,
    };
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{url}/healthz")).send().await.is_ok() {
            return Ok((server, url));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the server did not come up on {url}")
}

/// Runs the benchmark and prints its figures.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.scenario == "overload" {
        return crate::bench_overload::run(args.url.clone(), args.rate, args.seconds, args.batch)
            .await;
    }
    if args.scenario == "alerts" {
        return crate::bench_alerts::run(
            args.url.clone(),
            args.models,
            args.rules_per_model,
            args.steps,
        )
        .await;
    }
    anyhow::ensure!(
        args.batch > 0 && args.concurrency > 0 && args.events > 0,
        "--events, --batch and --concurrency must be positive"
    );
    let (child, url) = match &args.url {
        Some(url) => (None, url.trim_end_matches('/').to_string()),
        None => {
            let (child, url) = start_child().await?;
            (Some(child), url)
        }
    };
    let client = reqwest::Client::new();
    let model = "bench";
    put_json(
        &client,
        &format!("{url}/api/v1/models/{model}"),
        &definition(),
        "creating the model",
    )
    .await?;

    let mut rng = StdRng::seed_from_u64(42);
    let span_ms = args.days.max(1) * DAY_MS;
    let plan = Arc::new(Plan {
        pool: feature_pool(&mut rng),
        run: now_ms() as u64,
        start_ms: align_down(now_ms(), DAY_MS) - span_ms,
        span_ms,
        events: args.events,
        batch: args.batch,
    });
    let batches = args.events.div_ceil(args.batch);
    let next = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    println!(
        "modelwatch bench: {} events in batches of {} over {} connections to {url}",
        args.events, args.batch, args.concurrency
    );
    let cpu_before = child.as_ref().and_then(|c| cpu_seconds(c.child.id()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (plan, next, retries, accepted, client) = (
            plan.clone(),
            next.clone(),
            retries.clone(),
            accepted.clone(),
            client.clone(),
        );
        let endpoint = format!("{url}/api/v1/models/{model}/predictions");
        workers.push(tokio::spawn(async move {
            let mut latencies = LatencySketch::default();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= batches {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let body = plan.body(index);
                loop {
                    let sent = Instant::now();
                    let response = client
                        .post(&endpoint)
                        .header("content-type", "application/x-ndjson")
                        .body(body.clone())
                        .send()
                        .await?;
                    if let Some(wait) = retry_after(&response) {
                        retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let status = response.status();
                    let answer: Value = response.json().await?;
                    anyhow::ensure!(status.is_success(), "ingest answered {status}: {answer}");
                    latencies.insert(sent.elapsed().as_secs_f64() * 1000.0);
                    accepted.fetch_add(answer["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                    break;
                }
            }
        }));
    }
    let mut latencies = LatencySketch::default();
    for worker in workers {
        latencies.merge(&worker.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = accepted.load(Ordering::Relaxed);
    let server_cpu = child
        .as_ref()
        .and_then(|c| Some(cpu_seconds(c.child.id())? - cpu_before?));
    let rss = child.as_ref().and_then(|c| rss_kib(c.child.id(), "VmRSS:"));
    let peak = child.as_ref().and_then(|c| rss_kib(c.child.id(), "VmHWM:"));

    let query = format!(
        "{url}/api/v1/models/{model}/metrics?from={}&to={}&step=1h",
        plan.start_ms,
        plan.start_ms + span_ms
    );
    let mut query_ms = Vec::new();
    let mut points = 0;
    for _ in 0..args.query_repeats.max(1) {
        let sent = Instant::now();
        let answer: Value = client.get(&query).send().await?.json().await?;
        query_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
        points = answer["series"].as_array().map_or(0, Vec::len);
    }
    query_ms.sort_by(f64::total_cmp);
    let result = json!({
        "events": args.events,
        "accepted": accepted,
        "seconds": elapsed,
        "events_per_second": accepted as f64 / elapsed,
        "request_ms_p50": latencies.quantile(0.5),
        "request_ms_p99": latencies.quantile(0.99),
        "retries_after_503_or_429": retries.load(Ordering::Relaxed),
        "server_cpu_seconds": server_cpu,
        "events_per_server_cpu_second": server_cpu.map(|cpu| accepted as f64 / cpu),
        "server_rss_mib": rss.map(|k| k as f64 / 1024.0),
        "server_peak_rss_mib": peak.map(|k| k as f64 / 1024.0),
        "query_points": points,
        "query_ms_median": query_ms[query_ms.len() / 2],
        "query_ms_min": query_ms[0],
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
