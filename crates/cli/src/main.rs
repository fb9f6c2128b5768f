//! The `modelwatch` command: argument parsing, logging setup and exit codes only;
//! the work is done by the library crates.
//!
//! Exit status: 0 on success, 2 on bad usage or bad input (with a one-line reason on
//! stderr), 1 on any other failure.

mod bench;
mod bench_alerts;
mod config;
mod demo;
mod report;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

// Ingest allocates many small JSON values on one thread and frees them on another;
// mimalloc handles that pattern far better than glibc's allocator (measured in
// docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Watch machine-learning models in production.
#[derive(Parser)]
#[command(name = "modelwatch", version, about)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for machines.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server on the embedded store.
    Serve(ServeArgs),
    /// Run a server fed by a simulated credit-risk model that drifts and degrades.
    Demo(demo::DemoArgs),
    /// Compute metrics offline from CSV files, with no server.
    Report(report::ReportArgs),
    /// Load-test a server: ingest throughput, memory and query latency.
    Bench(bench::BenchArgs),
}

/// Arguments of `modelwatch serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory of the embedded store.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TOML configuration file (see modelwatch.example.toml).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// An error that is the user's: exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for a usage error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Binds `addr`, explaining a failure in one line.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| usage(format!("cannot listen on {addr}: {e}")))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => config::ConfigFile::load(path)?,
        None => config::ConfigFile::default(),
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8480)));
    let data_dir = args
        .data_dir
        .or(file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("modelwatch-data"));
    let mut server_config = modelwatch_server::ServerConfig::new(&data_dir);
    server_config.limits = file.limits.clone();
    server_config.store.retention = file.retention.resolve().map_err(usage)?;
    let state = modelwatch_server::AppState::open(&server_config)?;
    if let Some(path) = &args.config {
        modelwatch_server::alerting::declare(&state, &file.declarations())
            .await
            .map_err(|e| usage(format!("config file {}: {e}", path.display())))?;
    }
    let listener = bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, data_dir = %data_dir.display(), "modelwatch serving");
    let closed = state.store.closed();
    modelwatch_server::serve(listener, state, shutdown_signal()).await?;
    // Let the writer write what is pending and close the database before exiting.
    if !tokio::task::spawn_blocking(move || closed.wait(std::time::Duration::from_secs(30))).await?
    {
        tracing::warn!("the store did not close within 30 s; it recovers at the next start");
    }
    tracing::info!("modelwatch stopped");
    Ok(())
}

fn main() -> ExitCode {
    modelwatch_server::install_crypto_provider();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("modelwatch: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Report(args) => report::run(args),
            Command::Bench(args) => bench::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let one_line = format!("{error:#}").replace('\n', " ");
            eprintln!("modelwatch: {one_line}");
            if error.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
