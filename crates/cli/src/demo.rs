//! `modelwatch demo`: a server on the embedded store, fed by a simulated credit-risk
//! classifier whose inputs drift on day 2 and whose accuracy drops on day 3, over a
//! few simulated days compressed into about a minute. Alert rules watch it and notify
//! a webhook receiver the demo runs itself, which prints what it receives.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use modelwatch_core::answer::{DriftAnswer, MetricsAnswer};
use modelwatch_core::time::{DAY_MS, HOUR_MS, MINUTE_MS, align_down, format_timestamp, now_ms};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Arguments of `modelwatch demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Address to listen on (use 127.0.0.1:0 for any free port).
    #[arg(long, default_value = "127.0.0.1:8480")]
    listen: SocketAddr,
    /// Directory of the embedded store (default: a new temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Simulated days of traffic.
    #[arg(long, default_value_t = 4)]
    days: u32,
    /// Real seconds the simulation takes.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Predictions per simulated day.
    #[arg(long, default_value_t = 20_000)]
    per_day: u32,
    /// Stop the server when the simulation ends, instead of serving until Ctrl-C.
    #[arg(long)]
    exit_when_done: bool,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

const MODEL: &str = "credit";
const TICK_MS: i64 = 10 * MINUTE_MS;

fn definition() -> Value {
    let numeric = [
        "age",
        "income",
        "debt_ratio",
        "credit_utilization",
        "num_open_accounts",
        "num_late_payments",
        "months_employed",
        "loan_amount",
        "loan_term_months",
        "interest_rate",
        "savings_balance",
        "num_credit_inquiries",
        "years_at_address",
        "monthly_expenses",
    ];
    let categorical = [
        "region",
        "employment_type",
        "home_ownership",
        "loan_purpose",
        "education",
        "channel",
    ];
    let mut features: Vec<Value> = numeric
        .iter()
        .map(|n| json!({"name": n, "type": "numeric"}))
        .collect();
    features.extend(
        categorical
            .iter()
            .map(|n| json!({"name": n, "type": "categorical"})),
    );
    features.push(json!({"name": "country", "type": "categorical", "geo": "country"}));
    features.push(json!({"name": "email", "type": "categorical", "pii": true}));
    json!({"task": "binary_classification", "positive_class": "1", "classes": ["0", "1"], "features": features,
           "segments": ["country"]})
}

/// The simulated world: applicants, the true default risk and the model's view of it.
struct World {
    rng: StdRng,
}

impl World {
    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        // Box–Muller.
        let u1: f64 = self.rng.random::<f64>().max(1e-12);
        let u2: f64 = self.rng.random();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn pick<'a>(&mut self, options: &[&'a str], weights: &[f64]) -> &'a str {
        let total: f64 = weights.iter().sum();
        let mut x = self.rng.random::<f64>() * total;
        for (option, weight) in options.iter().zip(weights) {
            if x < *weight {
                return option;
            }
            x -= weight;
        }
        options[options.len() - 1]
    }

    /// One applicant at simulated day `day` (fractional): features, true label, score.
    fn applicant(&mut self, day: f64, id: u64) -> (Value, bool, f64) {
        let drifted = day >= 1.5;
        let degraded = day >= 2.5;
        let age = self.normal(42.0, 12.0).clamp(18.0, 90.0).round();
        let income_mean = if drifted { 10.4 } else { 10.8 };
        let income = self.normal(income_mean, 0.45).exp().round();
        let debt_ratio = self
            .rng
            .random::<f64>()
            .powf(if drifted { 0.8 } else { 1.3 });
        let credit_utilization = self.rng.random::<f64>().powf(1.1);
        let late = (self.normal(0.6, 1.0).max(0.0)).round();
        let inquiries = (self.normal(1.5, 1.2).max(0.0)).round();
        let months_employed = self.normal(60.0, 40.0).max(0.0).round();
        let loan_amount = self.normal(9.5, 0.6).exp().round();
        let term = *[12.0, 24.0, 36.0, 60.0]
            .get(self.rng.random_range(0..4))
            .unwrap_or(&36.0);
        let interest = (self.normal(0.09, 0.03)).clamp(0.01, 0.3);
        let region_weights: &[f64] = if drifted {
            &[0.25, 0.2, 0.2, 0.2, 0.15]
        } else {
            &[0.3, 0.25, 0.25, 0.2, 0.0]
        };
        let region = self.pick(&["north", "south", "east", "west", "intl"], region_weights);
        // The applicant's country (ISO 3166-1 alpha-2), four per region, by id: no draw
        // of its own, so the rest of the simulation is what it was without it.
        let countries = match region {
            "north" => ["SE", "NO", "FI", "DK"],
            "south" => ["ES", "IT", "BR", "ZA"],
            "east" => ["JP", "IN", "CN", "AU"],
            "west" => ["US", "CA", "MX", "GB"],
            _ => ["NG", "KE", "AR", "ID"],
        };
        let country = countries[(id % 4) as usize];
        let employment = self.pick(
            &["salaried", "self_employed", "contract", "unemployed"],
            &[0.6, 0.15, 0.2, 0.05],
        );
        let home = self.pick(&["rent", "own", "mortgage"], &[0.4, 0.2, 0.4]);
        let purpose = self.pick(
            &["car", "home", "education", "debt_consolidation", "business"],
            &[0.3, 0.2, 0.1, 0.3, 0.1],
        );
        let education = self.pick(
            &["high_school", "bachelor", "master", "phd"],
            &[0.35, 0.4, 0.2, 0.05],
        );
        let channel = self.pick(
            &["web", "mobile", "branch", "partner"],
            &[0.4, 0.35, 0.15, 0.1],
        );
        // The model's learned view of risk.
        let model_z =
            -1.0 + 2.2 * debt_ratio + 1.4 * credit_utilization + 0.5 * late + 0.25 * inquiries
                - 0.9 * (income.ln() - 10.8)
                - 0.008 * months_employed
                + if employment == "unemployed" { 1.0 } else { 0.0 };
        // The world: the same at first; on day 3 the link changes (concept drift), so
        // the model's scores stop tracking the truth.
        let true_z = if degraded {
            -0.6 + 0.6 * debt_ratio
                + 2.2
                    * (if region == "intl" || channel == "partner" {
                        1.0
                    } else {
                        0.0
                    })
                - 1.5 * credit_utilization
                + 0.2 * late
        } else {
            model_z
        };
        let noise = self.normal(0.0, 0.8);
        let label = 1.0 / (1.0 + (-(true_z + noise)).exp()) > 0.5;
        let score = 1.0 / (1.0 + (-model_z).exp());
        let features = json!({
            "age": age, "income": income, "debt_ratio": (debt_ratio * 1e4).round() / 1e4,
            "credit_utilization": (credit_utilization * 1e4).round() / 1e4,
            "num_open_accounts": self.normal(5.0, 2.5).max(0.0).round(),
            "num_late_payments": late, "months_employed": months_employed, "loan_amount": loan_amount,
            "loan_term_months": term, "interest_rate": (interest * 1e4).round() / 1e4,
            "savings_balance": self.normal(8.0, 1.2).exp().round(),
            "num_credit_inquiries": inquiries, "years_at_address": self.normal(6.0, 4.0).max(0.0).round(),
            "monthly_expenses": (income / 12.0 * self.normal(0.55, 0.1).clamp(0.1, 1.5)).round(),
            "region": region, "employment_type": employment, "home_ownership": home,
            "loan_purpose": purpose, "education": education, "channel": channel,
            "country": country, "email": format!("customer{}@example.org", id % 300),
        });
        (features, label, (score * 1e6).round() / 1e6)
    }

    fn latency(&mut self, day: f64) -> f64 {
        let median: f64 = if day >= 3.0 { 20.0 } else { 12.0 };
        (self.normal(median.ln(), 0.5).exp() * 1000.0).round() / 1000.0
    }
}

async fn post(client: &reqwest::Client, url: &str, body: String) -> anyhow::Result<Value> {
    loop {
        let response = client
            .post(url)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        if let Some(wait) = modelwatch_bench::client::retry_after(&response) {
            tokio::time::sleep(wait).await;
            continue;
        }
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(
            status.is_success(),
            "POST {url} answered {status}: {answer}"
        );
        return Ok(answer);
    }
}

async fn day_summary(
    client: &reqwest::Client,
    base: &str,
    day_start: i64,
) -> anyhow::Result<String> {
    let url = format!(
        "{base}/api/v1/models/{MODEL}/metrics?from={}&to={}",
        day_start,
        day_start + DAY_MS
    );
    let answer: MetricsAnswer = client.get(&url).send().await?.json().await?;
    let drift: DriftAnswer = client
        .get(format!(
            "{base}/api/v1/models/{MODEL}/drift?from={}&to={}",
            day_start,
            day_start + DAY_MS
        ))
        .send()
        .await?
        .json()
        .await?;
    let drifted: Vec<&str> = drift
        .features
        .iter()
        .filter(|f| f.drifted == Some(true))
        .map(|f| f.name.as_str())
        .collect();
    let s = &answer.summary;
    let show = |name: &str| {
        s.value(name)
            .map_or("  —  ".to_string(), |v| format!("{v:.3}"))
    };
    // The counts print unpadded, as they did when they were JSON values.
    Ok(format!(
        "{}  predictions {}  labelled {}  accuracy {}  roc_auc {}  latency_p95 {:>6} ms  errors {}  drifted inputs {}/{} {}",
        &format_timestamp(day_start)[..10],
        s.count,
        s.labelled_count,
        show("accuracy"),
        show("roc_auc"),
        show("latency_p95"),
        show("error_rate"),
        drifted.len(),
        drift.features_total,
        if drifted.is_empty() {
            String::new()
        } else {
            format!("({})", drifted.join(", "))
        },
    ))
}

/// Runs the demo.
/// Model internals of the demo: the training of two versions before the simulated days,
/// six epochs each, every layer's weights and the training record (`training/loss`,
/// `training/val_loss`). Version 2024.03's second layer grows as it trains, so the
/// dashboard's diff table shows a jump in its norm.
async fn send_parameters(
    client: &reqwest::Client,
    base: &str,
    world: &mut World,
    trained_before: i64,
) -> anyhow::Result<()> {
    let url = format!("{base}/api/v1/models/{MODEL}/parameters");
    for (v, version) in ["2024.02", "2024.03"].into_iter().enumerate() {
        for epoch in 0..6i64 {
            let progress = epoch as f64 / 5.0;
            let growth = if v == 1 { 1.0 + progress } else { 1.0 };
            let mut tensor = |n: usize, mean: f64, sd: f64| -> Vec<f64> {
                (0..n).map(|_| world.normal(mean, sd)).collect()
            };
            let tensors = json!([
                {"name": "dense_1/kernel", "values": tensor(96, 0.0, 0.25 - 0.05 * progress)},
                {"name": "dense_1/bias", "values": tensor(16, 0.02 * progress, 0.01)},
                {"name": "dense_2/kernel", "values": tensor(16, 0.05 * progress, 0.3 * growth)},
                {"name": "dense_2/bias", "values": [0.1 * progress]},
                {"name": "training/loss", "values": [0.69 - 0.3 * progress.sqrt() - 0.02 * v as f64]},
                {"name": "training/val_loss", "values": [0.7 - 0.25 * progress.sqrt() - 0.02 * v as f64]},
            ]);
            let timestamp = trained_before - ((2 - v as i64) * 6 - epoch) * 3_600_000;
            let body = json!({"version": version, "step": epoch, "timestamp": timestamp,
                              "tensors": tensors});
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .with_context(|| format!("POST {url}"))?;
            anyhow::ensure!(
                response.status().is_success(),
                "POST {url} answered {}",
                response.status()
            );
        }
    }
    Ok(())
}

/// An hour's telemetry of the two serving pods (CPU climbs with the latency of day 4)
/// and the logs of a tick as NDJSON: a timeout error per failed request, one crash at
/// the start of the outage, and an info line.
fn operations(
    world: &mut World,
    at: i64,
    day: f64,
    failures: &[(i64, u64)],
    crashed: &mut bool,
) -> (String, String) {
    let mut telemetry = String::new();
    for pod in ["pod-1", "pod-2"] {
        let load = if day >= 3.0 { 75.0 } else { 40.0 };
        let sample = json!({"timestamp": at, "instance": pod, "version": "2024.03",
            "cpu_percent": world.normal(load, 5.0).max(0.0),
            "memory_bytes": world.normal(1.2e9, 5e7).max(0.0)});
        telemetry.push_str(&sample.to_string());
        telemetry.push('\n');
    }
    let mut logs = String::new();
    let mut line = |value: Value| {
        logs.push_str(&value.to_string());
        logs.push('\n');
    };
    line(
        json!({"timestamp": at, "level": "info", "instance": "pod-1", "version": "2024.03",
        "message": format!("scored a batch of {} applications in {} ms", 20 + (at / HOUR_MS) % 7, 40 + (at / HOUR_MS) % 13)}),
    );
    if failures.len() >= 3 && !*crashed {
        *crashed = true;
        line(
            json!({"timestamp": failures[0].0, "level": "fatal", "instance": "pod-2", "version": "2024.03",
            "message": "worker pod-2 crashed: out of memory (RSS 3.9 GiB)"}),
        );
    }
    for (ts, id) in failures {
        line(
            json!({"timestamp": ts, "level": "error", "instance": "pod-2", "version": "2024.03",
            "id": format!("p{id}"), "message": format!("model timeout after 1000 ms for request p{id}")}),
        );
    }
    (telemetry, logs)
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let temporary;
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => {
            temporary = tempfile::Builder::new()
                .prefix("modelwatch-demo-")
                .tempdir()?;
            temporary.path().to_path_buf()
        }
    };
    let state =
        modelwatch_server::AppState::open(&modelwatch_server::ServerConfig::new(&data_dir))?;
    let listener = crate::listen::bind(args.listen).await?;
    let address = listener.local_addr()?;
    let base = format!("http://{address}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(modelwatch_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    println!(
        "modelwatch demo: server on {base} (store in {})",
        data_dir.display()
    );

    let client = reqwest::Client::new();
    modelwatch_bench::client::put_json(
        &client,
        &format!("{base}/api/v1/models/{MODEL}"),
        &definition(),
        "creating the model",
    )
    .await?;

    let mut world = World {
        rng: StdRng::seed_from_u64(args.seed),
    };
    // The training set: applicants as they were before anything drifted.
    let mut reference = String::new();
    for n in 0..20_000u64 {
        let (features, label, score) = world.applicant(0.0, 1_000_000_000 + n);
        let row = json!({"features": features, "prediction": if score >= 0.5 { "1" } else { "0" },
                         "score": score, "label": if label { "1" } else { "0" }});
        reference.push_str(&row.to_string());
        reference.push('\n');
    }
    let uploaded = client
        .put(format!("{base}/api/v1/models/{MODEL}/reference"))
        .header("content-type", "application/x-ndjson")
        .body(reference)
        .send()
        .await?;
    anyhow::ensure!(
        uploaded.status().is_success(),
        "uploading the reference failed: {}",
        uploaded.text().await?
    );
    let notifications = start_receiver().await?;
    for (path, body) in alerting_setup(&notifications) {
        modelwatch_bench::client::put_json(
            &client,
            &format!("{base}{path}"),
            &body,
            "defining alerts",
        )
        .await?;
    }
    let days = args.days.max(1) as i64;
    let sim_start = align_down(now_ms(), DAY_MS) - days * DAY_MS;
    // A world of its own, so the simulated traffic is what it was without it.
    let mut trainer = World {
        rng: StdRng::seed_from_u64(args.seed.wrapping_add(17)),
    };
    send_parameters(&client, &base, &mut trainer, sim_start).await?;
    let ticks = days * DAY_MS / TICK_MS;
    let per_tick = (args.per_day as f64 * TICK_MS as f64 / DAY_MS as f64).max(1.0);
    let real_tick = Duration::from_secs_f64(args.seconds as f64 / ticks as f64);
    println!(
        "simulating {days} days of a credit-risk classifier ({} predictions a day) in about {} s:",
        args.per_day, args.seconds
    );
    println!(
        "  day 1: a two-hour outage; day 2: inputs drift (income falls, a new region `intl` appears); day 3: accuracy drops; day 4: latency rises"
    );
    println!(
        "  alert rules notify the demo's webhook at {notifications}/hook, and the critical one texts a phone (Twilio's API, stood in for at {notifications}); what arrives is printed\n"
    );
    let mut pending_labels: BinaryHeap<Reverse<(i64, u64, bool)>> = BinaryHeap::new();
    let mut next_id: u64 = 0;
    let mut carry = 0.0;
    let started = Instant::now();
    let predictions_url = format!("{base}/api/v1/models/{MODEL}/predictions");
    let labels_url = format!("{base}/api/v1/models/{MODEL}/labels");
    let telemetry_url = format!("{base}/api/v1/models/{MODEL}/telemetry");
    let logs_url = format!("{base}/api/v1/models/{MODEL}/logs");
    let mut crashed = false;
    for tick in 0..ticks {
        let tick_start = sim_start + tick * TICK_MS;
        let mut body = String::new();
        let mut failures: Vec<(i64, u64)> = Vec::new();
        carry += per_tick;
        while carry >= 1.0 {
            carry -= 1.0;
            next_id += 1;
            let ts = tick_start + world.rng.random_range(0..TICK_MS);
            let day = (ts - sim_start) as f64 / DAY_MS as f64;
            let (features, label, score) = world.applicant(day, next_id);
            // A two-hour outage on day 1 (06:00–08:00): a third of the requests fail.
            let failure_rate = if (1.25..1.333).contains(&day) {
                0.3
            } else {
                0.005
            };
            let failed = world.rng.random::<f64>() < failure_rate;
            if failed && failures.len() < 20 {
                failures.push((ts, next_id));
            }
            let event = if failed {
                json!({"id": format!("p{next_id}"), "timestamp": ts, "features": features,
                       "error": "model timeout", "latency_ms": 1000.0})
            } else {
                json!({"id": format!("p{next_id}"), "timestamp": ts, "version": "2024.03",
                       "features": features, "prediction": if score >= 0.5 { "1" } else { "0" },
                       "score": score, "latency_ms": world.latency(day)})
            };
            body.push_str(&event.to_string());
            body.push('\n');
            if !failed && world.rng.random::<f64>() < 0.9 {
                let delay = world
                    .rng
                    .random_range(2 * 60 * MINUTE_MS..12 * 60 * MINUTE_MS);
                pending_labels.push(Reverse((ts + delay, next_id, label)));
            }
        }
        if !body.is_empty() {
            post(&client, &predictions_url, body).await?;
        }
        if tick_start % HOUR_MS == 0 {
            let day = (tick_start - sim_start) as f64 / DAY_MS as f64;
            let (telemetry, logs) =
                operations(&mut world, tick_start, day, &failures, &mut crashed);
            post(&client, &telemetry_url, telemetry).await?;
            post(&client, &logs_url, logs).await?;
        } else if !failures.is_empty() {
            let day = (tick_start - sim_start) as f64 / DAY_MS as f64;
            let (_, logs) = operations(&mut world, tick_start, day, &failures, &mut crashed);
            post(&client, &logs_url, logs).await?;
        }
        let tick_end = tick_start + TICK_MS;
        let mut labels = String::new();
        while let Some(Reverse((due, id, label))) = pending_labels.peek().copied() {
            if due > tick_end {
                break;
            }
            pending_labels.pop();
            labels.push_str(
                &json!({"id": format!("p{id}"), "label": if label { 1 } else { 0 }}).to_string(),
            );
            labels.push('\n');
        }
        if !labels.is_empty() {
            post(&client, &labels_url, labels).await?;
        }
        if tick_end % DAY_MS == 0 {
            println!(
                "  {}",
                day_summary(&client, &base, tick_end - DAY_MS).await?
            );
        }
        let due = real_tick * (tick as u32 + 1);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    println!(
        "\nthe same days now that late labels have arrived (each label updates its prediction's day):"
    );
    for day in 0..days {
        println!(
            "  {}",
            day_summary(&client, &base, sim_start + day * DAY_MS).await?
        );
    }
    // Let the last notifications arrive before the summary.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let from = format_timestamp(sim_start);
    println!("\nlook here:");
    println!("  dashboard:      {base}/");
    println!("  HTML report:    {base}/api/v1/models/{MODEL}/report?format=html");
    println!("  models:         {base}/api/v1/models");
    println!("  daily metrics:  {base}/api/v1/models/{MODEL}/metrics?step=1d");
    println!(
        "  drift, day 4:   {base}/api/v1/models/{MODEL}/drift?from={}&to={}",
        format_timestamp(sim_start + 3 * DAY_MS),
        format_timestamp(sim_start + 4 * DAY_MS)
    );
    println!("  data quality:   {base}/api/v1/models/{MODEL}/quality");
    println!("  internals:      {base}/#/model/{MODEL}/internals");
    println!("  logs:           {base}/#/model/{MODEL}/logs");
    println!("  hourly series:  {base}/api/v1/models/{MODEL}/metrics?from={from}&step=1h");
    println!("  alerts:         {base}/api/v1/alerts");
    println!("  alert events:   {base}/api/v1/events");
    println!("  prometheus:     {base}/metrics");
    if args.exit_when_done {
        let _ = stop.send(());
        server.await??;
        return Ok(());
    }
    println!("\nserving until Ctrl-C");
    crate::listen::shutdown_signal().await;
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// The account the demo's phone channel texts through (its own receiver stands in for
/// Twilio).
const DEMO_TWILIO_ACCOUNT: &str = "AC00000000000000000000000000000000";

/// Starts the demo's receiver on a free port: a webhook at `/hook` and a stand-in for
/// Twilio's Messages resource (the phone channel's texts). Every notification is printed,
/// one line per alert or text. Returns the receiver's base URL.
async fn start_receiver() -> anyhow::Result<String> {
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
                for alert in body["alerts"].as_array().into_iter().flatten() {
                    let status = alert["status"].as_str().unwrap_or("?");
                    let mark = if status == "firing" {
                        "FIRING  "
                    } else {
                        "RESOLVED"
                    };
                    println!(
                        "  webhook ← [{mark}] {}",
                        alert["annotations"]["summary"].as_str().unwrap_or_default()
                    );
                }
                axum::http::StatusCode::OK
            }),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            axum::routing::post(|body: String| async move {
                let form: std::collections::HashMap<String, String> =
                    serde_urlencoded::from_str(&body).unwrap_or_default();
                let to = form.get("To").map_or("?", String::as_str);
                let body = form.get("Body").map_or("", String::as_str);
                println!("  SMS to {to} ← {}", body.replace('\n', " · "));
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(
                        json!({"sid": "SM00000000000000000000000000000000", "status": "queued"}),
                    ),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("starting the demo's receiver")?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

/// The demo's channels and rules, `(path, body)` to `PUT`, for its receiver at
/// `receiver`: a webhook for every rule, and a phone channel (Twilio SMS) that only the
/// critical rule pages.
fn alerting_setup(receiver: &str) -> Vec<(String, Value)> {
    vec![
        (
            "/api/v1/channels/demo-webhook".into(),
            json!({"type": "webhook", "url": format!("{receiver}/hook"), "group_wait": "0s", "group_interval": "0s"}),
        ),
        (
            "/api/v1/channels/demo-phone".into(),
            json!({"type": "twilio", "url": receiver, "account_sid": DEMO_TWILIO_ACCOUNT,
                   "auth_token": "demo-token", "from": "+15550100000", "to": ["+15550100199"],
                   "group_wait": "0s", "group_interval": "0s"}),
        ),
        (
            "/api/v1/rules/error-spike".into(),
            json!({"model": MODEL, "metric": "error_rate", "window": "1h", "every": "1h",
                   "condition": {"op": ">", "threshold": 0.05}, "min_count": 100,
                   "severity": "warning", "labels": {"team": "serving"}, "channels": ["demo-webhook"],
                   "description": "More than 5% of requests failed"}),
        ),
        (
            "/api/v1/rules/income-drift".into(),
            json!({"model": MODEL, "metric": "drift.income", "window": "6h", "every": "6h",
                   "severity": "warning", "labels": {"team": "risk"}, "channels": ["demo-webhook"]}),
        ),
        (
            "/api/v1/rules/low-accuracy".into(),
            json!({"model": MODEL, "metric": "accuracy", "window": "6h", "every": "6h",
                   "condition": {"op": "<", "threshold": 0.7}, "min_count": 500,
                   "severity": "critical", "labels": {"team": "risk"}, "channels": ["demo-webhook", "demo-phone"]}),
        ),
    ]
}
