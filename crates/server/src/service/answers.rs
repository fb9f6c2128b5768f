//! The metrics, drift and quality answers of a range, as the API returns them.

use std::sync::Arc;

use modelwatch_core::FieldError;
use modelwatch_core::drift::report::{drift_answer, quality_answer};
use modelwatch_core::time::{format_duration, format_timestamp};
use modelwatch_store::ModelEntry;
use serde_json::{Value, json};

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
) -> Result<Value, ApiError> {
    let store = state.store.clone();
    blocking(move || {
        let MergedRange {
            merged,
            first,
            last_end,
        } = merged_performance(&*store, entry.id, &range)?;
        let model = &entry.model;
        let mut body = json!({
            "model": model.name,
            "task": model.task().as_str(),
            "from": range.from.or(first).map(format_timestamp),
            "to": range.to.or(last_end).map(format_timestamp),
            "version": range.version,
            "summary": merged.summary.metrics(model),
        });
        if let Some(step) = range.step {
            body["step"] = json!(format_duration(step));
            body["series"] = merged
                .series
                .iter()
                .map(|(start, profile)| json!({"start": format_timestamp(*start), "metrics": profile.metrics(model)}))
                .collect();
        }
        Ok(body)
    })
    .await
}

/// Which answer of the feature profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureAnswer {
    /// Drift against the reference (needs one).
    Drift,
    /// Data quality (against the reference's ranges and categories, when there is one).
    Quality,
}

/// The drift or quality answer of `range`, with the model and the range's bounds.
pub async fn features(
    state: &AppState,
    entry: Arc<ModelEntry>,
    range: Range,
    kind: FeatureAnswer,
) -> Result<Value, ApiError> {
    if range.step.is_some() {
        return Err(ApiError::invalid(FieldError::new(
            "step",
            "this answer covers the whole range; query day by day for a series",
        )));
    }
    let name = entry.model.name.clone();
    let reference = state.reference(entry.id);
    if kind == FeatureAnswer::Drift && reference.is_none() {
        return Err(no_reference(&name));
    }
    let MergedRange {
        merged: current,
        first,
        last_end,
    } = flushed_features(state, &entry, &range).await?;
    blocking(move || {
        let model = &entry.model;
        let mut answer = match (kind, reference.as_deref()) {
            (FeatureAnswer::Drift, Some(reference)) => drift_answer(model, reference, &current),
            (FeatureAnswer::Drift, None) => return Err(no_reference(&name)),
            (FeatureAnswer::Quality, reference) => quality_answer(model, reference, &current),
        };
        if let Some(object) = answer.as_object_mut() {
            object.insert("model".into(), json!(name));
            object.insert(
                "from".into(),
                json!(range.from.or(first).map(format_timestamp)),
            );
            object.insert(
                "to".into(),
                json!(range.to.or(last_end).map(format_timestamp)),
            );
            object.insert("version".into(), json!(range.version));
        }
        Ok(answer)
    })
    .await
}
