//! `modelwatch bench`: the arguments of the load generator, handed to the
//! `modelwatch-bench` crate, which does the work.

use modelwatch_bench::ingest::IngestOptions;
use modelwatch_bench::target::Target;
use modelwatch_bench::{alerts, ingest, overload, slowloris};

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
    /// Segment features of the ingest scenario's model (`c0`, `c1`, …; 0 to 5).
    #[arg(long, default_value_t = 0)]
    segments: usize,
    /// Times the metrics query is repeated.
    #[arg(long, default_value_t = 20)]
    query_repeats: u32,
    /// What to measure: `ingest` (throughput, memory, query latency), `alerts` (rule
    /// evaluation and the delay from ingest to webhook delivery), `overload` (pushing
    /// back above the sustainable load) or `slowloris` (`/healthz` latency while many
    /// sockets trickle request headers).
    #[arg(long, default_value = "ingest", value_parser = ["ingest", "alerts", "overload", "slowloris"])]
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
    /// `overload`, `slowloris`: seconds of offered load.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// `slowloris`: sockets trickling a request header.
    #[arg(long, default_value_t = 2_000)]
    sockets: u64,
}

/// Runs the chosen scenario; without `--url`, against a child `serve` of this binary.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let target = match args.url {
        Some(url) => Target::Url(url),
        None => Target::Child {
            program: std::env::current_exe()?,
        },
    };
    match args.scenario.as_str() {
        "overload" => overload::run(&target, args.rate, args.seconds, args.batch).await,
        "slowloris" => slowloris::run(&target, args.sockets, args.seconds, args.batch).await,
        "alerts" => alerts::run(&target, args.models, args.rules_per_model, args.steps).await,
        _ => {
            let options = IngestOptions {
                events: args.events,
                batch: args.batch,
                concurrency: args.concurrency,
                days: args.days,
                segments: args.segments,
                query_repeats: args.query_repeats,
            };
            ingest::run(&target, &options).await
        }
    }
}
