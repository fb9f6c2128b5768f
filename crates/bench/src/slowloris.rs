//! The slowloris scenario (`modelwatch bench --scenario slowloris`): many sockets that
//! send a request header one byte per second (each reconnecting when the server cuts it
//! off), beside normal ingest from one client, while `/healthz` is probed ten times a
//! second on fresh connections. It prints the probes' latency percentiles, the ingest
//! throughput, how often the attackers were cut off, and the server's RSS, and fails
//! if a probe took a second or more or failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use modelwatch_core::time::{DAY_MS, align_down, now_ms};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::AsyncWriteExt;

use crate::client::{put_json, retry_after};
use crate::target::{Target, rss_kib};
use crate::workload::{Plan, definition, feature_pool};

/// How long a probe of `/healthz` may take.
const PROBE_LIMIT: Duration = Duration::from_secs(1);

/// Runs the scenario with `sockets` slow clients for `seconds`.
pub async fn run(target: &Target, sockets: u64, seconds: u64, batch: u64) -> anyhow::Result<()> {
    anyhow::ensure!(
        sockets > 0 && seconds > 0 && batch > 0,
        "--sockets, --seconds and --batch must be positive"
    );
    let (child, base) = target.start().await?;
    let pid = child.as_ref().map(|c| c.pid());
    let address = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let client = reqwest::Client::new();
    put_json(
        &client,
        &format!("{base}/api/v1/models/bench"),
        &definition(),
        "creating the model",
    )
    .await?;
    println!(
        "modelwatch bench --scenario slowloris: {sockets} sockets sending a header byte per second, plus ingest in batches of {batch}, for {seconds} s against {base}"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let cut_off = Arc::new(AtomicU64::new(0));
    let mut attackers = Vec::new();
    for _ in 0..sockets {
        let (address, stop, cut_off) = (address.clone(), stop.clone(), cut_off.clone());
        attackers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let header =
                    b"POST /api/v1/models/bench/predictions HTTP/1.1\r\nHost: x\r\nX-Slow: ";
                let mut bytes = header.iter().copied().chain(std::iter::repeat(b'a'));
                while !stop.load(Ordering::Relaxed) {
                    let byte = bytes.next().unwrap_or(b'a');
                    if stream.write_all(&[byte]).await.is_err() {
                        cut_off.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }));
        // Open them over the first seconds, not all in one burst.
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    // Normal ingest, one request at a time, honouring Retry-After.
    let accepted = Arc::new(AtomicU64::new(0));
    let plan = Arc::new(Plan {
        pool: feature_pool(&mut StdRng::seed_from_u64(42)),
        run: now_ms() as u64,
        start_ms: align_down(now_ms(), DAY_MS) - DAY_MS,
        span_ms: DAY_MS,
        events: u64::MAX / 2,
        batch,
    });
    let ingest = {
        let (client, stop, accepted, plan) =
            (client.clone(), stop.clone(), accepted.clone(), plan.clone());
        let url = format!("{base}/api/v1/models/bench/predictions");
        tokio::spawn(async move {
            let mut index = 0;
            while !stop.load(Ordering::Relaxed) {
                let sent = client
                    .post(&url)
                    .header("content-type", "application/x-ndjson")
                    .body(plan.body(index))
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        if let Some(wait) = retry_after(&response) {
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                        if response.status().is_success() {
                            accepted.fetch_add(batch, Ordering::Relaxed);
                        }
                        index += 1;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        })
    };
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    let mut rss_mib = Vec::new();
    let mut next_sample = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(seconds) {
        // A fresh connection each time, as a load balancer's probe.
        let probe = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()?;
        let sent = Instant::now();
        match probe.get(format!("{base}/healthz")).send().await {
            Ok(response) if response.status().is_success() => latencies.push(sent.elapsed()),
            _ => failures += 1,
        }
        if started.elapsed() >= next_sample {
            if let Some(rss) = pid.and_then(|p| rss_kib(p, "VmRSS:")) {
                rss_mib.push(rss as f64 / 1024.0);
            }
            next_sample += Duration::from_secs(5);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = ingest.await;
    for attacker in attackers {
        attacker.abort();
    }
    latencies.sort();
    let percentile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let (p50, p99, max) = (percentile(0.5), percentile(0.99), percentile(1.0));
    println!(
        "/healthz probes: {} answered, {failures} failed; p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        latencies.len()
    );
    println!(
        "ingest beside the attack: {} events accepted, {:.0} events/s",
        accepted.load(Ordering::Relaxed),
        accepted.load(Ordering::Relaxed) as f64 / seconds as f64
    );
    println!(
        "slow sockets cut off by the server: {}",
        cut_off.load(Ordering::Relaxed)
    );
    if !rss_mib.is_empty() {
        let samples: Vec<String> = rss_mib.iter().map(|r| format!("{r:.0}")).collect();
        println!("server RSS every 5 s (MiB): {}", samples.join(" "));
    }
    anyhow::ensure!(failures == 0, "{failures} probes of /healthz failed");
    anyhow::ensure!(
        max < PROBE_LIMIT.as_secs_f64() * 1000.0,
        "a probe of /healthz took {max:.0} ms"
    );
    Ok(())
}
