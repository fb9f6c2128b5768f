//! Work done for the writer before it gets a batch: serialising the stored columns
//! and folding the events into per-window profile deltas. It runs on the caller's
//! thread (many at once), so the one writer thread only binds values and merges a
//! few deltas.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use modelwatch_core::drift::{ReferenceProfile, WindowFeatures};
use modelwatch_core::event::{FeatureValue, PredictionEvent};
use modelwatch_core::schema::FeatureType;
use modelwatch_core::{Granularity, Model, WindowProfile};

/// The stored columns of one event that need serialising.
#[derive(Debug)]
pub(crate) struct PreparedRow {
    pub prediction: Option<String>,
    pub score: Option<String>,
    pub label: Option<String>,
    pub features: Option<String>,
}

/// A batch of validated events ready for the writer.
#[derive(Debug)]
pub struct PreparedBatch {
    pub(crate) events: Vec<PredictionEvent>,
    pub(crate) rows: Vec<PreparedRow>,
    /// `(version, minute start)` → the profile of the batch's events in that window.
    pub(crate) deltas: BTreeMap<(String, i64), WindowProfile>,
    /// `(version, minute start)` → the feature profile of the batch's events there.
    pub(crate) feature_deltas: BTreeMap<(String, i64), WindowFeatures>,
    /// The reference generation numeric values were binned against.
    pub(crate) reference_generation: Option<u64>,
}

impl PreparedBatch {
    /// Events in the batch.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// The `(version, minute)` windows the batch touches.
    pub fn windows(&self) -> usize {
        self.deltas.len().max(self.feature_deltas.len())
    }

    /// The events of the batch, in the submitted order.
    pub fn events(&self) -> &[PredictionEvent] {
        &self.events
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The stored form of an event's features: a JSON object of the values present, so
/// that re-profiling (a new reference, recovery after a crash) sees what ingest saw.
/// Valid values are numbers and strings; a value of the wrong type is stored as `false`,
/// and the count of undefined features under the key `""` (no feature has an empty name).
fn features_json(
    model: &Model,
    features: &[FeatureValue],
    unknown_features: u32,
) -> Option<String> {
    let mut out = String::new();
    for (spec, value) in model.features().iter().zip(features) {
        let rendered = match value {
            FeatureValue::Number(f) => to_json(f),
            FeatureValue::Category(s) => to_json(s),
            FeatureValue::TypeError => "false".to_string(),
            FeatureValue::Missing => continue,
        };
        out.push(if out.is_empty() { '{' } else { ',' });
        let _ = write!(out, "{}:{rendered}", to_json(&spec.name));
    }
    if unknown_features > 0 {
        out.push(if out.is_empty() { '{' } else { ',' });
        let _ = write!(out, "\"\":{unknown_features}");
    }
    (!out.is_empty()).then(|| out + "}")
}

/// The per-window profile deltas of `events`.
pub(crate) fn deltas<'a>(
    model: &Model,
    events: impl Iterator<Item = &'a PredictionEvent>,
) -> BTreeMap<(String, i64), WindowProfile> {
    fold_windows(events, |profile: &mut WindowProfile, event| {
        profile.observe_prediction(model, event)
    })
}

/// The per-window feature-profile deltas of `events`, binned against `reference`.
pub(crate) fn feature_deltas<'a>(
    model: &Model,
    events: impl Iterator<Item = &'a PredictionEvent>,
    reference: Option<&ReferenceProfile>,
) -> BTreeMap<(String, i64), WindowFeatures> {
    fold_windows(events, |features: &mut WindowFeatures, event| {
        features.observe(model, event, reference)
    })
}

/// Folds events into one profile per `(version, minute)` window.
fn fold_windows<'a, P: Default + crate::cache::StoredProfile>(
    events: impl Iterator<Item = &'a PredictionEvent>,
    observe: impl Fn(&mut P, &PredictionEvent),
) -> BTreeMap<(String, i64), P> {
    let mut deltas: BTreeMap<(String, i64), P> = BTreeMap::new();
    let mut last: Option<(&str, i64)> = None;
    let mut current = P::default();
    // Events of one request usually share a version and come in time order: fold runs
    // of the same window before touching the map.
    for event in events {
        let key = (
            event.version.as_str(),
            Granularity::Minute.window_start(event.timestamp_ms),
        );
        if last != Some(key) {
            if let Some((version, minute)) = last {
                deltas
                    .entry((version.to_string(), minute))
                    .or_default()
                    .merge(&current);
            }
            current = P::default();
            last = Some(key);
        }
        observe(&mut current, event);
    }
    if let Some((version, minute)) = last {
        deltas
            .entry((version.to_string(), minute))
            .or_default()
            .merge(&current);
    }
    deltas
}

/// Prepares `events` of `model` for [`crate::Storage::ingest`], binning numeric
/// features against `reference` (the model's current one, if any).
pub fn prepare(
    model: &Model,
    events: Vec<PredictionEvent>,
    reference: Option<&ReferenceProfile>,
) -> PreparedBatch {
    let rows = events
        .iter()
        .map(|event| PreparedRow {
            prediction: event.prediction.as_ref().map(to_json),
            score: event.score.as_ref().map(to_json),
            label: event.label.as_ref().map(to_json),
            features: features_json(model, &event.features, event.unknown_features),
        })
        .collect();
    let deltas = deltas(model, events.iter());
    let feature_deltas = feature_deltas(model, events.iter(), reference);
    PreparedBatch {
        events,
        rows,
        deltas,
        feature_deltas,
        reference_generation: reference.map(|r| r.generation),
    }
}

/// The stored columns of one event, as read back for re-profiling.
pub(crate) struct StoredColumns<'a> {
    pub id: String,
    pub timestamp_ms: i64,
    pub version: String,
    pub prediction: Option<&'a str>,
    pub score: Option<&'a str>,
    pub label: Option<&'a str>,
    pub features: Option<&'a str>,
}

/// An event rebuilt from its stored columns (for re-profiling its features; the
/// label only counts in the correlations).
pub(crate) fn stored_event(model: &Model, stored: StoredColumns<'_>) -> PredictionEvent {
    let StoredColumns {
        id,
        timestamp_ms,
        version,
        prediction,
        score,
        label,
        features,
    } = stored;
    let mut values = vec![FeatureValue::Missing; model.features().len()];
    let mut unknown_features = 0;
    if let Some(Ok(serde_json::Value::Object(object))) =
        features.map(serde_json::from_str::<serde_json::Value>)
    {
        for (i, spec) in model.features().iter().enumerate() {
            values[i] = match (spec.kind, object.get(&spec.name)) {
                (FeatureType::Numeric, Some(serde_json::Value::Number(n))) => n
                    .as_f64()
                    .map_or(FeatureValue::Missing, FeatureValue::Number),
                (FeatureType::Categorical, Some(serde_json::Value::String(s))) => {
                    FeatureValue::Category(s.clone())
                }
                (_, Some(serde_json::Value::Bool(false))) => FeatureValue::TypeError,
                _ => FeatureValue::Missing,
            };
        }
        unknown_features = object
            .get("")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0) as u32;
    }
    PredictionEvent {
        id,
        timestamp_ms,
        version,
        features: values,
        unknown_features,
        prediction: prediction.and_then(|p| serde_json::from_str(p).ok()),
        score: score.and_then(|s| serde_json::from_str(s).ok()),
        label: label.and_then(|l| serde_json::from_str(l).ok()),
        latency_ms: None,
        error: false,
    }
}
