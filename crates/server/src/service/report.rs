//! The report of a range: the summary, the metric series, drift (with a reference),
//! data quality and the alerts whose span meets the range.

use std::sync::Arc;

use modelwatch_core::answer::Report;
use modelwatch_core::report::{ReportSource, build_report};
use modelwatch_core::time::{MINUTE_MS, now_ms, parse_timestamp_str};
use modelwatch_store::ModelEntry;
use serde_json::Value;

use super::alerts::{Listing, MAX_LIST, alerts};
use super::answers::metrics;
use super::blocking;
use super::ranges::{MergedRange, Range, flushed_features};
use crate::error::ApiError;
use crate::state::Catalog;

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
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    mut range: Range,
) -> Result<Report, ApiError> {
    let time = |t: Option<&str>| t.and_then(|t| parse_timestamp_str(t).ok());
    let at = |answer: &Value, key: &str| time(answer[key].as_str());
    if range.step.is_none() {
        let whole = metrics(catalog, entry.clone(), range.clone()).await?;
        let span = match (time(whole.from.as_deref()), time(whole.to.as_deref())) {
            (Some(from), Some(to)) => to - from,
            _ => 0,
        };
        range.step = Some(default_report_step(span));
    }
    let metrics = metrics(catalog, entry.clone(), range.clone()).await?;
    let (from, to) = (time(metrics.from.as_deref()), time(metrics.to.as_deref()));
    let features_range = Range {
        step: None,
        ..range.clone()
    };
    let MergedRange {
        merged: current, ..
    } = flushed_features(catalog, &entry, &features_range).await?;
    let listing = Listing {
        model: Some(entry.model.name.clone()),
        visible: None,
        limit: MAX_LIST,
    };
    let alerts: Vec<Value> = alerts(catalog, None, listing)
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
    let reference = catalog.reference_with_time(entry.id);
    let store = catalog.store.clone();
    let version = range.version.clone();
    blocking(move || {
        let source = ReportSource::Served {
            reference: reference
                .as_ref()
                .map(|(r, uploaded)| (r.as_ref(), *uploaded)),
            generated_at_ms: now_ms(),
            alerts,
        };
        let mut report = build_report(&entry.model, metrics, &current, source);
        let internals =
            super::parameters::report_rows(store.as_ref(), entry.id, from, to, version)?;
        report.internals = (!internals.is_empty()).then_some(internals);
        Ok(report)
    })
    .await
}
