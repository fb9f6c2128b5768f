//! Ranges of event time and the stored profiles merged over them: what every answer
//! (metrics, drift, quality, report), the model gauges and the alert evaluator are
//! computed from.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use modelwatch_core::drift::WindowFeatures;
use modelwatch_core::query::{Merged, merge_windows};
use modelwatch_core::series;
use modelwatch_core::time::{MINUTE_MS, parse_duration, parse_timestamp_str};
use modelwatch_core::{FieldError, Granularity};
use modelwatch_store::{ModelEntry, Storage};

use super::blocking;
use crate::error::ApiError;
use crate::state::Catalog;

/// The range parameters of a query as they arrive: `from`, `to` (RFC 3339 or epoch
/// milliseconds), `step` (a duration) and `version`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    /// Start of the range (inclusive).
    pub from: Option<String>,
    /// End of the range (exclusive).
    pub to: Option<String>,
    /// Width of the series' windows.
    pub step: Option<String>,
    /// Only this model version.
    pub version: Option<String>,
}

/// A validated range query: `[from, to)` in epoch milliseconds, an optional step (a
/// whole number of minutes) and an optional version.
#[derive(Debug, Clone, Default)]
pub struct Range {
    /// Start (inclusive); `None`: from the first stored window.
    pub from: Option<i64>,
    /// End (exclusive); `None`: to the end of the last stored window.
    pub to: Option<i64>,
    /// Width of the series' windows; `None`: only the summary.
    pub step: Option<i64>,
    /// Only this version.
    pub version: Option<String>,
}

impl TryFrom<RangeParams> for Range {
    type Error = ApiError;

    fn try_from(params: RangeParams) -> Result<Self, ApiError> {
        let timestamp = |value: Option<String>, field: &str| {
            value
                .map(|v| parse_timestamp_str(&v))
                .transpose()
                .map_err(|e| ApiError::invalid(FieldError::new(field, e)))
        };
        let from = timestamp(params.from, "from")?;
        let to = timestamp(params.to, "to")?;
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err(ApiError::invalid(FieldError::new(
                "to",
                "must be after `from`",
            )));
        }
        let step = params
            .step
            .map(|s| match parse_duration(&s) {
                Ok(ms) if ms >= MINUTE_MS && ms % MINUTE_MS == 0 => Ok(ms),
                Ok(_) => Err(FieldError::new(
                    "step",
                    "must be a whole number of minutes, at least 1m",
                )),
                Err(e) => Err(FieldError::new("step", e)),
            })
            .transpose()
            .map_err(ApiError::invalid)?;
        Ok(Range {
            from,
            to,
            step,
            version: params.version,
        })
    }
}

/// Profiles merged over a range, with the start of the first window and the end of
/// the last one read (the bounds an open range resolves to).
pub struct MergedRange<T> {
    /// The merged profiles.
    pub merged: T,
    /// Start of the first stored window in the range.
    pub first: Option<i64>,
    /// End of the last stored window in the range.
    pub last_end: Option<i64>,
}

/// The performance profiles of `range` merged per step.
pub fn merged_performance(
    store: &dyn Storage,
    model_id: i64,
    range: &Range,
) -> Result<MergedRange<Merged>, ApiError> {
    let (step, from, to) = (range.step, range.from, range.to);
    let granularity = Granularity::for_query(step, from, to);
    let windows = store.load_profiles(model_id, granularity, from, to, range.version.as_deref())?;
    let first = windows.first().map(|(start, _)| *start);
    let last_end = windows.last().map(|(start, _)| start + granularity.ms());
    let merged = merge_windows(windows, step, from, to)
        .map_err(|e| ApiError::invalid(FieldError::new("step", e)))?;
    Ok(MergedRange {
        merged,
        first,
        last_end,
    })
}

/// The feature profiles of `range` merged into one (the step is ignored). Call
/// [`Storage::flush`] first: feature windows are written lazily.
pub fn merged_features(
    store: &dyn Storage,
    model_id: i64,
    range: &Range,
) -> Result<MergedRange<WindowFeatures>, ApiError> {
    let (from, to) = (range.from, range.to);
    let granularity = Granularity::for_query(None, from, to);
    let windows = store.load_features(model_id, granularity, from, to, range.version.as_deref())?;
    let first = windows.first().map(|(start, _)| *start);
    let last_end = windows.last().map(|(start, _)| start + granularity.ms());
    let mut merged = WindowFeatures::default();
    for (_, features) in &windows {
        merged.merge(features);
    }
    Ok(MergedRange {
        merged,
        first,
        last_end,
    })
}

/// The answer of each step of `range` (which has a step), as `(step start, answer)`:
/// each step's window merged from the windows a query of that window alone reads
/// (its granularity, its bounds), then answered by `answer` and dropped. Call
/// [`Storage::flush`] first.
pub fn feature_series<T>(
    store: &dyn Storage,
    model_id: i64,
    range: &Range,
    features: usize,
    answer: impl Fn(&WindowFeatures) -> T,
) -> Result<Vec<(i64, T)>, ApiError> {
    let Some(step) = range.step else {
        return Ok(Vec::new());
    };
    let (from, to, version) = (range.from, range.to, range.version.as_deref());
    let load = |granularity: Granularity, from: Option<i64>, to: Option<i64>| {
        store.load_features(model_id, granularity, from, to, version)
    };
    // The series' granularity gives the buckets with data when an end is open.
    let finest = Granularity::for_query(Some(step), from, to);
    let windows = load(finest, from, to)?;
    let data = windows
        .first()
        .zip(windows.last())
        .map(|((first, _), (last, _))| (*first, *last));
    let steps = series::steps(step, from, to, data, features)
        .map_err(|e| ApiError::invalid(FieldError::new("step", e)))?;
    // Steps whose own query reads a coarser granularity are read again at it.
    let mut by_granularity: BTreeMap<Granularity, Vec<(i64, WindowFeatures)>> = BTreeMap::new();
    by_granularity.insert(finest, windows);
    for granularity in steps.iter().map(|s| s.granularity()) {
        if let Entry::Vacant(vacant) = by_granularity.entry(granularity) {
            let of_it = steps.iter().filter(|s| s.granularity() == granularity);
            let low = of_it.clone().map(|s| s.from).min();
            let high = of_it.map(|s| s.to).max();
            vacant.insert(load(granularity, low, high)?);
        }
    }
    let mut cursors: BTreeMap<Granularity, usize> = BTreeMap::new();
    let mut answers = Vec::with_capacity(steps.len());
    for s in &steps {
        let granularity = s.granularity();
        let windows = &by_granularity[&granularity];
        let cursor = cursors.entry(granularity).or_default();
        let mut merged = WindowFeatures::default();
        // Windows come in start order, and steps too: skip those before the step.
        while *cursor < windows.len() && windows[*cursor].0 < s.from {
            *cursor += 1;
        }
        while *cursor < windows.len() && windows[*cursor].0 < s.to {
            merged.merge(&windows[*cursor].1);
            *cursor += 1;
        }
        answers.push((s.start, answer(&merged)));
    }
    Ok(answers)
}

/// The feature profiles of `range` merged, after the writer has flushed what it holds.
pub async fn flushed_features(
    catalog: &Catalog,
    entry: &ModelEntry,
    range: &Range,
) -> Result<MergedRange<WindowFeatures>, ApiError> {
    catalog.store.flush().await?;
    let store = catalog.store.clone();
    let (id, range) = (entry.id, range.clone());
    blocking(move || merged_features(&*store, id, &range)).await
}
