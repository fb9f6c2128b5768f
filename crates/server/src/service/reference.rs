//! References: profile an uploaded data set and store it, with its chunk profiles, in
//! one transaction; show a stored one.

use std::io::Read;
use std::sync::Arc;

use modelwatch_core::drift::ReferenceProfile;
use modelwatch_core::drift::reference::ReferenceFeature;
use modelwatch_core::drift::stats::finite;
use modelwatch_core::time::{format_timestamp, now_ms};
use modelwatch_store::ModelEntry;
use serde_json::{Value, json};

use super::answers::no_reference;
use super::blocking;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::upload::{ReferenceFormat, profile_reference};

/// What a reference is shown as: its rows, generation and upload time.
pub fn reference_json(reference: &ReferenceProfile, uploaded_ms: i64) -> Value {
    json!({
        "rows": reference.rows,
        "generation": reference.generation,
        "uploaded_at": format_timestamp(uploaded_ms),
    })
}

/// Profiles the reference read from `body` and replaces the model's reference with
/// it. Invalid rows refuse the whole upload unless `skip_invalid`; nothing is changed
/// then. The reference and its chunk profiles are committed together.
pub async fn upload(
    state: &AppState,
    entry: Arc<ModelEntry>,
    body: impl Read + Send + 'static,
    format: ReferenceFormat,
    skip_invalid: bool,
) -> Result<Value, ApiError> {
    let (model, pii) = (entry.model.clone(), state.pii.clone());
    let spill_dir = state.data_dir.clone();
    let input_limits = state.limits.input();
    let profiled =
        blocking(move || profile_reference(body, format, &model, &pii, &spill_dir, &input_limits))
            .await?;
    let rejected: Vec<Value> = profiled
        .rejected
        .iter()
        .take(100)
        .map(|(position, e)| json!({"row": position, "field": e.field, "error": e.to_string()}))
        .collect();
    if !profiled.rejected.is_empty() && !skip_invalid {
        let (position, first) = &profiled.rejected[0];
        return Err(ApiError::new(
            ErrorCode::InvalidReference,
            format!(
                "{} rows are invalid (row {position}: {first}); nothing was changed. Fix them, or add ?skip_invalid=true to keep the valid rows",
                profiled.rejected.len()
            ),
        )
        .field(first.field.clone()));
    }
    if profiled.accepted == 0 {
        return Err(
            ApiError::new(ErrorCode::EmptyReference, "the reference has no valid rows")
                .field("body"),
        );
    }
    let now = now_ms();
    let reference = state
        .store
        .set_reference(
            entry.clone(),
            profiled.profile,
            profiled.chunks.encode(),
            now,
        )
        .await?;
    state.references.insert(entry.id, (reference.clone(), now));
    let mut answer = reference_json(&reference, now);
    answer["accepted"] = json!(profiled.accepted);
    answer["rejected"] = Value::Array(rejected);
    Ok(answer)
}

/// A model's current reference with its per-feature summary.
pub fn describe(state: &AppState, entry: &ModelEntry) -> Result<Value, ApiError> {
    let (reference, uploaded) = state
        .reference_with_time(entry.id)
        .ok_or_else(|| no_reference(&entry.model.name))?;
    let mut answer = reference_json(&reference, uploaded);
    answer["features"] = reference
        .features
        .iter()
        .map(|(name, feature)| match feature {
            ReferenceFeature::Numeric(n) => json!({"name": name, "type": "numeric", "count": n.count, "missing": n.missing,
                "min": finite(n.min), "max": finite(n.max), "mean": finite(n.mean), "std": finite(n.std_population),
                "deciles": n.decile_edges}),
            ReferenceFeature::Categorical(c) => json!({"name": name, "type": "categorical", "count": c.count,
                "missing": c.missing, "categories": c.counts}),
        })
        .collect();
    Ok(answer)
}
