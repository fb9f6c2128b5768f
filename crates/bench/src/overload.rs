//! The overload scenario (`modelwatch bench --scenario overload`): an open-loop load
//! above what the server can absorb, to show that it pushes back (`503` with
//! `Retry-After`) instead of growing its memory. Requests are sent at a fixed rate
//! whatever the answers, none retried; the server's RSS is sampled every second.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modelwatch_core::time::{DAY_MS, align_down, now_ms};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::client::put_json;
use crate::target::{Target, rss_kib};
use crate::workload::{Plan, definition, feature_pool};

/// Most requests in flight from this client; beyond it an offered request is counted as
/// not sent (so the client's own memory stays bounded too).
const MAX_IN_FLIGHT: u64 = 512;

/// Runs the overload scenario and prints its figures.
pub async fn run(target: &Target, rate: u64, seconds: u64, batch: u64) -> anyhow::Result<()> {
    anyhow::ensure!(
        rate > 0 && seconds > 0 && batch > 0,
        "--rate, --seconds and --batch must be positive"
    );
    let (child, base) = target.start().await?;
    let pid = child.as_ref().map(|c| c.pid());
    // Pooled connections idle for less than the server's idle timeout (60 s by
    // default), as a client must: else one it picks as the server closes it is lost.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()?;
    put_json(
        &client,
        &format!("{base}/api/v1/models/bench"),
        &definition(),
        "creating the model",
    )
    .await?;
    let events = rate * seconds;
    let plan = Arc::new(Plan {
        pool: feature_pool(&mut StdRng::seed_from_u64(42)),
        run: now_ms() as u64,
        start_ms: align_down(now_ms(), DAY_MS) - DAY_MS,
        span_ms: DAY_MS,
        events,
        batch,
    });
    println!(
        "modelwatch bench --scenario overload: {rate} events/s offered for {seconds} s in batches of {batch} to {base}, no retries"
    );
    let statuses: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let in_flight = Arc::new(AtomicU64::new(0));
    let not_sent = Arc::new(AtomicU64::new(0));
    let mut rss_samples = Vec::new();
    let batches = events.div_ceil(batch);
    let interval = Duration::from_secs_f64(seconds as f64 / batches as f64);
    let started = Instant::now();
    let mut next_sample = Duration::ZERO;
    for index in 0..batches {
        let due = interval * index as u32;
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        if started.elapsed() >= next_sample {
            if let Some(rss) = pid.and_then(|p| rss_kib(p, "VmRSS:")) {
                rss_samples.push((started.elapsed().as_secs_f64(), rss as f64 / 1024.0));
            }
            next_sample += Duration::from_secs(1);
        }
        if in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
            not_sent.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (client, plan, statuses, in_flight) = (
            client.clone(),
            plan.clone(),
            statuses.clone(),
            in_flight.clone(),
        );
        let url = format!("{base}/api/v1/models/bench/predictions");
        tokio::spawn(async move {
            let outcome = match client
                .post(url)
                .header("content-type", "application/x-ndjson")
                .body(plan.body(index))
                .send()
                .await
            {
                Ok(response) => {
                    let retry = response.headers().contains_key("retry-after");
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    match (status, retry) {
                        (503, true) => "503 with Retry-After".to_string(),
                        (status, _) => status.to_string(),
                    }
                }
                Err(error) if error.is_connect() => "connection refused".to_string(),
                Err(error) => {
                    // The first few reasons, for whoever reads a failed run.
                    static SHOWN: AtomicU64 = AtomicU64::new(0);
                    if SHOWN.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("connection dropped: {error:?}");
                    }
                    "connection dropped".to_string()
                }
            };
            *statuses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(outcome)
                .or_default() += 1;
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    while in_flight.load(Ordering::Relaxed) > 0
        && started.elapsed() < Duration::from_secs(seconds + 60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let statuses = statuses.lock().map(|s| s.clone()).unwrap_or_default();
    let accepted = statuses.get("200").copied().unwrap_or(0) * batch;
    println!(
        "answers: {statuses:?}; offered requests not sent (client at {MAX_IN_FLIGHT} in flight): {}",
        not_sent.load(Ordering::Relaxed)
    );
    println!(
        "accepted: {accepted} events, {:.0} events/s over {:.1} s",
        accepted as f64 / started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    if !rss_samples.is_empty() {
        let max = rss_samples.iter().map(|s| s.1).fold(0.0, f64::max);
        let (first, last) = (rss_samples[0], rss_samples[rss_samples.len() - 1]);
        let at = |t: f64| {
            rss_samples
                .iter()
                .find(|s| s.0 >= t)
                .map_or(f64::NAN, |s| s.1)
        };
        println!(
            "server RSS (MiB): first {:.0}, at 10 s {:.0}, at 30 s {:.0}, last {:.0} (t = {:.0} s), max {:.0}",
            first.1,
            at(10.0),
            at(30.0),
            last.1,
            last.0,
            max
        );
    }
    let unexpected: u64 = statuses
        .iter()
        .filter(|(k, _)| k.as_str() != "200" && k.as_str() != "503 with Retry-After")
        .map(|(_, n)| n)
        .sum();
    anyhow::ensure!(
        unexpected == 0,
        "{unexpected} answers were neither 200 nor 503 with Retry-After"
    );
    Ok(())
}
