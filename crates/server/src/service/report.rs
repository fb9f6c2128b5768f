//! The report of a range: the summary, the metric series, drift (with a reference),
//! data quality and the alerts whose span meets the range.

use std::sync::Arc;

use modelwatch_core::drift::report::{drift_answer, quality_answer};
use modelwatch_core::time::{MINUTE_MS, format_timestamp, now_ms, parse_timestamp_str};
use modelwatch_store::ModelEntry;
use serde_json::{Value, json};

use super::alerts::{Listing, MAX_LIST, alerts};
use super::answers::metrics;
use super::blocking;
use super::ranges::{MergedRange, Range, flushed_features};
use super::reference::reference_json;
use crate::error::ApiError;
use crate::state::AppState;

/// The step of a report's series when none is asked for: hours up to two days, days up
/// to 90 days, weeks beyond.
fn default_report_step(span_ms: i64) -> i64 {
    const HOUR: i64 = 60 * MINUTE_MS;
    const DAY: i64 = 24 * HOUR;
    match span_ms {
        s if s <= 2 * DAY => HOUR,
        s if s <= 90 * DAY => DAY,
        _ => 7 * DAY,
    }
}

/// The report of `range` as JSON (the HTML and Markdown forms are rendered from it).
pub async fn build(
    state: &AppState,
    entry: Arc<ModelEntry>,
    mut range: Range,
) -> Result<Value, ApiError> {
    let at = |answer: &Value, key: &str| {
        answer[key]
            .as_str()
            .and_then(|t| parse_timestamp_str(t).ok())
    };
    if range.step.is_none() {
        let whole = metrics(state, entry.clone(), range.clone()).await?;
        let span = match (at(&whole, "from"), at(&whole, "to")) {
            (Some(from), Some(to)) => to - from,
            _ => 0,
        };
        range.step = Some(default_report_step(span));
    }
    let metrics = metrics(state, entry.clone(), range.clone()).await?;
    let (from, to) = (at(&metrics, "from"), at(&metrics, "to"));
    let features_range = Range {
        step: None,
        ..range.clone()
    };
    let MergedRange {
        merged: current, ..
    } = flushed_features(state, &entry, &features_range).await?;
    let listing = Listing {
        model: Some(entry.model.name.clone()),
        visible: None,
        limit: MAX_LIST,
    };
    let alerts: Vec<Value> = alerts(state, None, listing)
        .await?
        .into_iter()
        .filter(|a| {
            let starts_before_end = match (at(a, "starts_at"), to) {
                (Some(start), Some(to)) => start < to,
                _ => true,
            };
            let ends_after_start = match (at(a, "ends_at"), from) {
                (Some(end), Some(from)) => end >= from,
                _ => true,
            };
            starts_before_end && ends_after_start
        })
        .collect();
    let reference = state.reference_with_time(entry.id);
    blocking(move || {
        let model = &entry.model;
        Ok(json!({
            "model": model.name,
            "task": model.task().as_str(),
            "from": metrics["from"],
            "to": metrics["to"],
            "version": range.version,
            "generated_at": format_timestamp(now_ms()),
            "reference": reference.as_ref().map(|(r, uploaded)| reference_json(r, *uploaded)),
            "metrics": {
                "step": metrics["step"],
                "summary": metrics["summary"],
                "series": metrics["series"],
            },
            "drift": reference
                .as_ref()
                .map_or(Value::Null, |(r, _)| drift_answer(model, r, &current)),
            "quality": quality_answer(model, reference.as_ref().map(|(r, _)| r.as_ref()), &current),
            "alerts": alerts,
        }))
    })
    .await
}
