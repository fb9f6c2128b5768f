//! The `modelwatch` command: argument parsing, logging setup and exit codes only;
//! the work is done by the library crates.
//!
//! Exit status: 0 on success, 2 on bad usage or bad input (with a one-line reason on
//! stderr), 1 on any other failure.

mod bench;
mod config;
mod demo;
mod export;
mod export_internals;
mod listen;
mod report;
mod report_ids;
mod tensorboard;
mod token;
mod usage;

use std::net::SocketAddr;

use listen::{bind, shutdown_signal};
use std::path::PathBuf;
use std::process::ExitCode;
use usage::{UsageError, usage};

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
    /// Create, list and revoke API tokens.
    Token(token::TokenArgs),
    /// Export a model's series from a running server to other tools (TensorBoard).
    Export(export::ExportArgs),
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
    /// Whether requests need a token: `auto` (the default) requires one unless the
    /// server listens on loopback only; `required`; `off` (the explicit way to serve a
    /// network without authentication).
    #[arg(long, value_parser = ["auto", "required", "off"])]
    auth: Option<String>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// What is logged without `RUST_LOG`: `info`, so every request of `serve` is logged;
/// the demo leaves out its own simulated traffic's requests, which would bury its story.
fn default_log_filter(command: &Command) -> &'static str {
    match command {
        Command::Demo(_) => "info,modelwatch_server::api::request_log=warn",
        _ => "info",
    }
}

fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // A log line that cannot be written (stderr closed) is dropped: by default the
    // subscriber would report it with `eprintln!`, which panics in the request's task.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
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
    server_config.store.retention = file.retention;
    server_config.metrics = file.metrics.clone();
    server_config.http = file.http.clone();
    server_config.outbound = file.outbound.clone();
    server_config.correlations = file.correlations;
    let auth = args
        .auth
        .clone()
        .or(file.auth.clone())
        .unwrap_or_else(|| "auto".into());
    server_config.auth = match auth.as_str() {
        "off" => modelwatch_server::auth::AuthMode::Off,
        "required" => modelwatch_server::auth::AuthMode::Required,
        "auto" if listen.ip().is_loopback() => modelwatch_server::auth::AuthMode::Off,
        "auto" => modelwatch_server::auth::AuthMode::Required,
        other => {
            return Err(usage(format!(
                "auth: expected auto, required or off, not `{other}`"
            )));
        }
    };
    let tls = match (
        args.tls_cert.clone().or(file.tls_cert.clone()),
        args.tls_key.clone().or(file.tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => Some(modelwatch_server::tls::TlsFiles { cert, key }),
        (None, None) => None,
        _ => {
            return Err(usage(
                "TLS needs both a certificate and a key (--tls-cert and --tls-key)",
            ));
        }
    };
    let tls_config = tls
        .as_ref()
        .map(|files| {
            modelwatch_server::tls::server_config(files).map_err(|e| usage(format!("TLS: {e}")))
        })
        .transpose()?;
    let state = modelwatch_server::AppState::open(&server_config)?;
    if server_config.auth == modelwatch_server::auth::AuthMode::Required {
        let active = state.catalog.store.count_active_tokens()?;
        if active == 0 {
            return Err(usage(format!(
                "authentication is required on {listen}, but no token exists: create one with `modelwatch token create --data-dir {} --scope admin`, or pass --auth off to serve without authentication",
                data_dir.display()
            )));
        }
    }
    if let Some(path) = &args.config {
        modelwatch_server::alerting::declare::declare(&state.catalog, &file.declarations())
            .await
            .map_err(|e| usage(format!("config file {}: {e}", path.display())))?;
    }
    let listener = bind(listen).await?;
    let closed = state.catalog.store.closed();
    let address = listener.local_addr()?;
    let scheme = if tls_config.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(address = %address, scheme, auth = ?server_config.auth, data_dir = %data_dir.display(), "modelwatch serving");
    match tls_config {
        Some(config) => {
            modelwatch_server::serve_tls(listener, config, state, shutdown_signal()).await?
        }
        None => modelwatch_server::serve(listener, state, shutdown_signal()).await?,
    }
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
    init_logging(cli.log_format, default_log_filter(&cli.command));
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
            Command::Token(args) => token::run(args).await,
            Command::Export(args) => export::run(args).await,
        }
    });
    // Work still on the blocking pool (a body being parsed for a request that was
    // dropped at shutdown) must not hold the exit back.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
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
