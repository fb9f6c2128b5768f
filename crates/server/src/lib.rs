//! The modelwatch server: the HTTP API over the store and the core engine.
//!
//! # Layout
//! - [`api`]: routes and handlers (parse → validate in core → store → answer).
//! - [`state`]: shared state, configuration and limits.
//! - [`error`]: the single mapping of failures to HTTP statuses.
//! - [`pii`]: keyed hashing of personal data before it is stored.
//! - [`mod@reference`]: streaming reference uploads into a reference profile.
//! - [`report`]: the report of a range as JSON, Markdown or a self-contained HTML page.
//! - [`telemetry`]: the series of `/metrics`, its registry and its formats.
//! - [`model_gauges`]: model metrics and drift as gauges, computed at scrape time.
//! - [`process`]: the process's own series and the store's size on disk.
//! - [`alerting`]: rules, channels, silences, the alerting engine and notifications.
//! - [`dashboard`]: the embedded web dashboard at `/`.
//! - [`auth`]: API tokens, scopes and model restrictions.
//! - [`tls`]: the optional TLS listener.
//!
//! [`serve`] runs the API on a listener until a shutdown future resolves; tests bind
//! `127.0.0.1:0` and call it.

pub mod alerting;
pub mod api;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod model_gauges;
pub mod pii;
pub mod process;
pub mod reference;
pub mod report;
pub mod state;
pub mod telemetry;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

pub use state::{AppState, Limits, MetricsConfig, ServerConfig, StartError};

/// Installs rustls' process-wide crypto provider (ring), which the HTTP client of the
/// notifiers needs, and so does any `reqwest` client built in the same process.
/// Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes the requests
/// in flight.
pub async fn serve<L>(
    listener: L,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    install_crypto_provider();
    let stop = tokio_util::sync::CancellationToken::new();
    let engine = tokio::spawn(alerting::engine::Engine::run(state.clone(), stop.clone()));
    let served = axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    // The engine holds the store: stop it so the store can close.
    stop.cancel();
    let _ = engine.await;
    served
}
