//! The model gauges of `/metrics`: metrics and drift over each model's trailing window
//! of event time, computed with the same service calls as the HTTP answers
//! ([`merged_performance`] and `WindowProfile::metrics`, as
//! `GET /api/v1/models/{model}/metrics?from=&to=`; [`merged_features`] and
//! `drift_verdicts`, the verdicts of `GET .../drift?from=&to=` without the
//! distributions), at most once per
//! `metrics.cache_ttl`, one computation at a time, off the async runtime. The drift
//! gauges (and the correlation change) are published only when the window holds at
//! least `metrics.drift_min_rows` rows. The estimated metrics (CBPE) use the model's
//! reference, as the metrics answer does. Model internals: the newest summary of each
//! tensor (at most `MAX_TENSOR_SERIES` tensors per model), whatever the window.

use std::sync::Arc;
use std::time::Instant;

use modelwatch_core::Granularity;
use modelwatch_core::correlation::Columns;
use modelwatch_core::correlation::matrix::max_abs_change;
use modelwatch_core::drift::verdict::drift_verdicts;
use modelwatch_core::time::MINUTE_MS;
use modelwatch_store::{ModelEntry, ParameterFilter};

use super::ranges::{Range, merged_features, merged_performance};
use crate::error::ApiError;
use crate::state::{Catalog, Monitoring};
use crate::telemetry::labels::{ALL_VERSIONS, OTHER_VERSION, VersionLabel};
use crate::telemetry::model_gauges::{Snapshot, TensorGauge};

/// How long a scrape waits for the writer to flush the lazily written feature profiles.
const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Computes the model gauges again if they are older than the cache TTL (or a model
/// was deleted since). Failures are logged and leave the previous values.
pub async fn refresh(monitoring: &Arc<Monitoring>) {
    let mut refreshed = monitoring.refreshed.lock().await;
    let catalog = &monitoring.catalog;
    let stale = catalog.telemetry.models.take_stale();
    if !stale && refreshed.is_some_and(|at| at.elapsed() < monitoring.metrics.cache_ttl) {
        return;
    }
    let started = Instant::now();
    // Feature profiles are written lazily: include what the writer holds, unless the
    // write queue is so busy that waiting would stall the scrape (then the drift gauges
    // miss at most the last second of events).
    match tokio::time::timeout(FLUSH_WAIT, catalog.store.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot flush the store before computing the model gauges")
        }
        Err(_) => tracing::warn!("the store did not flush in time for the model gauges"),
    }
    let shared = monitoring.clone();
    match tokio::task::spawn_blocking(move || compute(&shared)).await {
        Ok(snapshot) => {
            let seconds = started.elapsed().as_secs_f64();
            let gauges = &catalog.telemetry.models;
            catalog
                .telemetry
                .exclusively(|| gauges.apply(snapshot, seconds));
        }
        Err(error) => tracing::warn!(%error, "computing the model gauges failed"),
    }
    *refreshed = Some(Instant::now());
}

/// The trailing window `[from, to)` of a model whose newest event is at `newest_ms`.
pub fn trailing_window(newest_ms: i64, window_ms: i64) -> (i64, i64) {
    let to = Granularity::Minute.window_start(newest_ms) + MINUTE_MS;
    (to - window_ms, to)
}

fn compute(monitoring: &Monitoring) -> Snapshot {
    let entries = monitoring.catalog.models.all();
    let mut snapshot = Snapshot::new(entries.len() as i64);
    let newest = match monitoring.catalog.store.newest_event_times() {
        Ok(newest) => newest,
        Err(error) => {
            tracing::warn!(%error, "cannot read the newest event times");
            return snapshot;
        }
    };
    for entry in entries {
        if let Err(error) = add_tensors(&monitoring.catalog, &entry, &mut snapshot) {
            tracing::warn!(model = %entry.model.name, %error, "cannot read the tensor summaries");
        }
        let Some(&newest_ms) = newest.get(&entry.model.name) else {
            continue;
        };
        if let Err(error) = compute_model(monitoring, &entry, newest_ms, &mut snapshot) {
            tracing::warn!(model = %entry.model.name, error = %error.message, "cannot compute the model gauges");
        }
    }
    snapshot
}

fn compute_model(
    monitoring: &Monitoring,
    entry: &ModelEntry,
    newest_ms: i64,
    snapshot: &mut Snapshot,
) -> Result<(), ApiError> {
    let (catalog, config) = (&monitoring.catalog, &monitoring.metrics);
    let store = catalog.store.as_ref();
    let name = &entry.model.name;
    let (from, to) = trailing_window(newest_ms, config.window_ms);
    snapshot.add_bounds(name, from, to);
    let max_versions = config.max_versions;
    let versions: Vec<String> = store
        .recent_versions(entry.id, from, to, max_versions + 2)?
        .into_iter()
        .filter(|v| v != ALL_VERSIONS && v != OTHER_VERSION)
        .take(max_versions)
        .collect();
    let reference = catalog.reference(entry.id);
    let estimation = reference.as_ref().and_then(|r| r.estimation.as_ref());
    for version in std::iter::once(None).chain(versions.iter().map(Some)) {
        let range = Range {
            from: Some(from),
            to: Some(to),
            step: None,
            version: version.cloned(),
        };
        let merged = merged_performance(store, entry.id, &range)?.merged;
        let mut metrics = merged.summary.metrics_estimated(&entry.model, estimation);
        metrics.set_window(Some(config.window_ms));
        let label = VersionLabel {
            model: name.clone(),
            version: version.cloned().unwrap_or_else(|| ALL_VERSIONS.to_string()),
        };
        snapshot.add_window_metrics(&metrics, &label);
    }
    if let Some(reference) = reference {
        let range = Range {
            from: Some(from),
            to: Some(to),
            ..Range::default()
        };
        let current = merged_features(store, entry.id, &range)?.merged;
        if current.rows >= config.drift_min_rows {
            let verdicts = drift_verdicts(&entry.model, &reference, &current);
            snapshot.add_drift(name, &verdicts);
            let columns = Columns::current(&entry.model).names;
            let aligned = current.correlations.aligned_to(&columns);
            if let Some(change) = max_abs_change(&aligned.moments, &reference.correlations) {
                snapshot.add_correlation_change(name, change);
            }
        }
    }
    Ok(())
}

/// Most tensor summaries read per model for the gauges (the newest step of each tensor
/// and version).
const MAX_TENSOR_ROWS: usize = 10_000;

/// The newest summary of each tensor of `entry`, whatever its version.
fn add_tensors(
    catalog: &Catalog,
    entry: &ModelEntry,
    snapshot: &mut Snapshot,
) -> Result<(), modelwatch_store::StoreError> {
    let filter = ParameterFilter {
        last_step_only: true,
        ..ParameterFilter::default()
    };
    let mut rows = catalog
        .store
        .load_parameters(entry.id, &filter, MAX_TENSOR_ROWS)?;
    if rows.is_empty() {
        return Ok(());
    }
    // Newest first; ties in name order, so the series kept do not depend on the store.
    rows.sort_by(|a, b| {
        (b.timestamp_ms, b.step)
            .cmp(&(a.timestamp_ms, a.step))
            .then_with(|| a.tensor.cmp(&b.tensor))
    });
    let newest = rows
        .into_iter()
        .map(|row| TensorGauge {
            tensor: row.tensor,
            version: row.version,
            l2_norm: row.summary.l2_norm,
            nan: row.summary.nan,
            inf: row.summary.inf,
        })
        .collect();
    snapshot.add_tensors(&entry.model.name, newest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_with_the_minute_of_the_newest_event() {
        let newest = 1_710_115_200_000 + 5 * MINUTE_MS + 1_234;
        assert_eq!(
            trailing_window(newest, 60 * MINUTE_MS),
            (
                1_710_115_200_000 - 54 * MINUTE_MS,
                1_710_115_200_000 + 6 * MINUTE_MS
            )
        );
    }
}
