//! The ingest scenario: durable ingest throughput, server memory and metrics-query
//! latency. NDJSON batches of the [`crate::workload`] events go out from several
//! concurrent connections; `Retry-After` on 429 and 503 is honoured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use modelwatch_core::sketch::LatencySketch;
use modelwatch_core::time::{DAY_MS, align_down, now_ms};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::client::{put_json, retry_after};
use crate::target::{Target, cpu_seconds, rss_kib};
use crate::workload::{Plan, definition, feature_pool};

/// What to send.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Events to send.
    pub events: u64,
    /// Events per request.
    pub batch: u64,
    /// Concurrent connections.
    pub concurrency: u64,
    /// Days of event time the events are spread over.
    pub days: i64,
    /// Segment features of the model (`c0`, `c1`, … of the workload, 12 values each).
    pub segments: usize,
    /// Times the metrics query is repeated.
    pub query_repeats: u32,
}

/// Runs the ingest scenario against `target` and prints its figures as JSON.
pub async fn run(target: &Target, options: &IngestOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.batch > 0 && options.concurrency > 0 && options.events > 0,
        "--events, --batch and --concurrency must be positive"
    );
    let (child, url) = target.start().await?;
    let client = reqwest::Client::new();
    let model = "bench";
    let mut model_definition = definition();
    model_definition["segments"] = json!(
        (0..options.segments.min(5))
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
    );
    put_json(
        &client,
        &format!("{url}/api/v1/models/{model}"),
        &model_definition,
        "creating the model",
    )
    .await?;

    let mut rng = StdRng::seed_from_u64(42);
    let span_ms = options.days.max(1) * DAY_MS;
    let plan = Arc::new(Plan {
        pool: feature_pool(&mut rng),
        run: now_ms() as u64,
        start_ms: align_down(now_ms(), DAY_MS) - span_ms,
        span_ms,
        events: options.events,
        batch: options.batch,
    });
    let batches = options.events.div_ceil(options.batch);
    let next = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    println!(
        "modelwatch bench: {} events in batches of {} over {} connections to {url}",
        options.events, options.batch, options.concurrency
    );
    let cpu_before = child.as_ref().and_then(|c| cpu_seconds(c.pid()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.concurrency {
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
        .and_then(|c| Some(cpu_seconds(c.pid())? - cpu_before?));
    let rss = child.as_ref().and_then(|c| rss_kib(c.pid(), "VmRSS:"));
    let peak = child.as_ref().and_then(|c| rss_kib(c.pid(), "VmHWM:"));

    let query = format!(
        "{url}/api/v1/models/{model}/metrics?from={}&to={}&step=1h",
        plan.start_ms,
        plan.start_ms + span_ms
    );
    let mut query_ms = Vec::new();
    let mut points = 0;
    for _ in 0..options.query_repeats.max(1) {
        let sent = Instant::now();
        let answer: Value = client.get(&query).send().await?.json().await?;
        query_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
        points = answer["series"].as_array().map_or(0, Vec::len);
    }
    query_ms.sort_by(f64::total_cmp);
    let result = json!({
        "events": options.events,
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
