//! The metrics, drift and quality answers of a range, as the API returns them.

use std::sync::Arc;

use modelwatch_core::answer::{AnswerRange, DriftAnswer, MetricsAnswer, QualityAnswer};
use modelwatch_core::drift::WindowFeatures;
use modelwatch_core::drift::quality::quality_answer;
use modelwatch_core::drift::report::drift_answer;
use modelwatch_core::query::metrics_answer;
use modelwatch_core::{FieldError, Model};
use modelwatch_store::ModelEntry;

use super::blocking;
use super::ranges::{MergedRange, Range, flushed_features, merged_performance};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// `404` for a model without a reference.
pub fn no_reference(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoReference,
        format!("model `{name}` has no reference yet; upload one with PUT /api/v1/models/{name}/reference"),
    )
    .field("reference")
}

/// The metrics answer of `range`: the summary and, with a step, the series.
pub async fn metrics(
    state: &AppState,
    entry: Arc<ModelEntry>,
    range: Range,
) -> Result<MetricsAnswer, ApiError> {
    let store = state.store.clone();
    blocking(move || {
        let MergedRange {
            merged,
            first,
            last_end,
        } = merged_performance(&*store, entry.id, &range)?;
        let model = &entry.model;
        let bounds = AnswerRange::new(
            &model.name,
            (range.from, range.to),
            (first, last_end),
            range.version.as_deref(),
        );
        Ok(metrics_answer(model, &merged, bounds, range.step))
    })
    .await
}

/// The drift answer of `range` (`404` without a reference).
pub async fn drift(
    state: &AppState,
    entry: Arc<ModelEntry>,
    range: Range,
) -> Result<DriftAnswer, ApiError> {
    whole_range(&range)?;
    let name = entry.model.name.clone();
    let reference = state
        .reference(entry.id)
        .ok_or_else(|| no_reference(&name))?;
    of_features(state, entry, range, move |model, current, bounds| {
        drift_answer(model, &reference, current).in_range(bounds)
    })
    .await
}

/// The data quality answer of `range` (against the reference's ranges and categories,
/// when there is one).
pub async fn quality(
    state: &AppState,
    entry: Arc<ModelEntry>,
    range: Range,
) -> Result<QualityAnswer, ApiError> {
    let reference = state.reference(entry.id);
    of_features(state, entry, range, move |model, current, bounds| {
        quality_answer(model, reference.as_deref(), current).in_range(bounds)
    })
    .await
}

/// Refuses a step: drift and quality cover the whole range.
fn whole_range(range: &Range) -> Result<(), ApiError> {
    match range.step {
        Some(_) => Err(ApiError::invalid(FieldError::new(
            "step",
            "this answer covers the whole range; query day by day for a series",
        ))),
        None => Ok(()),
    }
}

/// An answer of the feature profiles merged over the whole range (no step).
async fn of_features<T: Send + 'static>(
    state: &AppState,
    entry: Arc<ModelEntry>,
    range: Range,
    answer: impl FnOnce(&Model, &WindowFeatures, AnswerRange) -> T + Send + 'static,
) -> Result<T, ApiError> {
    whole_range(&range)?;
    let MergedRange {
        merged: current,
        first,
        last_end,
    } = flushed_features(state, &entry, &range).await?;
    blocking(move || {
        let bounds = AnswerRange::new(
            &entry.model.name,
            (range.from, range.to),
            (first, last_end),
            range.version.as_deref(),
        );
        Ok(answer(&entry.model, &current, bounds))
    })
    .await
}
