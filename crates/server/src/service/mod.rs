//! The service layer: what the server does, apart from HTTP. It stores models, ingests
//! predictions and labels, stores and compares tensor summaries (model internals),
//! ingests and searches the served model's resource use and logs,
//! replaces references, merges the stored profiles of a range
//! and builds the metrics (per segment too), fairness, drift, quality, correlations and report answers; the HTTP handlers
//! (`api`), the Prometheus model gauges ([`gauges`]), the alerting engine and the
//! config file's declarations all call it. It returns [`crate::error::ApiError`]s built
//! from error codes and never sees a request or a status.
//!
//! CPU work (parsing, profiling, merging, statistics) runs on the blocking pool through
//! [`blocking`], never on the async workers.

pub mod alerts;
pub mod answers;
pub mod backtest;
pub mod correlations;
pub mod gauges;
pub mod groups;
pub mod ingest;
pub mod models;
pub mod operations;
pub mod parameters;
pub mod pending;
pub mod ranges;
pub mod reference;
pub mod report;

use crate::error::ApiError;

/// Runs `f` on the blocking pool: CPU work stays off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}
