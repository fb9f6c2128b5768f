//! The modelwatch server: the HTTP API over the store and the core engine.
//!
//! # Layout
//! From the outside in (a module uses only those below it; `.ci/module-cycles` checks
//! that no module imports in a circle):
//! - [`api`]: the router and one file per resource (`models`, `ingest`, `queries`,
//!   `reference`, `report`, `alerting`, `system`), with the extractors and the access
//!   declared with each route. Handlers are thin: extract, call the service, answer.
//! - [`alerting`]: the registry of rules, channels and silences, the engine that judges
//!   rules in event time, delivery of notifications, and the config file's declarations.
//! - [`service`]: what the server does apart from HTTP: models, ingest, references, the
//!   metrics, drift, quality and report answers, the model gauges of `/metrics`.
//! - [`state`]: the shared state.
//! - [`telemetry`]: the series of `/metrics`, their registry and formats, the model
//!   gauges' families and the process's own series.
//! - [`upload`]: the streaming reference upload, profiled in core.
//! - [`report`]: a report's JSON rendered as Markdown or one self-contained HTML page
//!   (the `modelwatch-report` crate, re-exported).
//! - [`dashboard`]: the embedded web dashboard at `/`.
//! - [`auth`]: API tokens, scopes, model restrictions and the lookup cache.
//! - [`registry`]: the caches of models and references.
//! - [`pii`]: keyed hashing of personal data before it is stored.
//! - [`config`]: limits, the model series' settings, authentication mode.
//! - [`error`]: error codes, each with its HTTP status, and the error answer.
//! - [`connections`]: the accept loop, with its header-read deadline, idle timeout and
//!   connection cap.
//! - [`tls`]: the optional TLS configuration.
//!
//! [`serve`] runs the API on a listener until a shutdown future resolves; tests bind
//! `127.0.0.1:0` and call it.

pub mod alerting;
pub mod api;
pub mod auth;
pub mod config;
pub mod connections;
pub mod dashboard;
pub mod error;
pub mod pii;
pub mod registry;
/// The report pages, rendered by their own crate so the Python package can use them
/// without the server.
pub use modelwatch_report as report;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod upload;

use std::future::Future;
use std::sync::Arc;

pub use config::{HttpConfig, Limits, MetricsConfig, OutboundConfig, ServerConfig};
pub use state::{AppState, StartError};

/// Installs rustls' process-wide crypto provider (ring), which the HTTP client of the
/// notifiers needs, and so does any `reqwest` client built in the same process.
/// Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How long requests in flight may take to finish once a stop is asked for; then the
/// server stops without them (their connections close).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the API on `listener` until `shutdown` resolves, then finishes the requests
/// in flight, within a bounded time: the store stops taking writes (the commit in
/// progress finishes; writes still queued are answered `503`), and requests that have
/// not finished after [`SHUTDOWN_GRACE`] are dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, None, state, shutdown).await
}

/// [`serve`] over TLS: each connection's handshake runs under the header-read deadline.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    serve_with(listener, Some(acceptor), state, shutdown).await
}

async fn serve_with(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    install_crypto_provider();
    let stop = tokio_util::sync::CancellationToken::new();
    let engine = tokio::spawn(alerting::engine::Engine::run(
        state.catalog.clone(),
        state.dispatch.clone(),
        stop.clone(),
    ));
    let store = state.catalog.store.clone();
    let asked = Arc::new(tokio::sync::Notify::new());
    let signal = asked.clone();
    let shutdown = async move {
        shutdown.await;
        store.stop_writes();
        signal.notify_one();
    };
    let limits = crate::config::HttpConfig::clone(&state.http);
    let served = connections::serve(listener, tls, api::router(&state), limits, shutdown);
    let served = tokio::select! {
        served = served => served,
        _ = async {
            asked.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still in flight after the grace period; stopping without them");
            Ok(())
        }
    };
    // The engine holds the store: stop it so the store can close.
    stop.cancel();
    let _ = engine.await;
    served
}
