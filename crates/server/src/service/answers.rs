//! The metrics, drift, quality and map answers of a range, as the API returns them, with
//! their series when a step is given.

use std::sync::Arc;

use modelwatch_core::FieldError;
use modelwatch_core::Model;
use modelwatch_core::answer::{AnswerRange, DriftAnswer, MapAnswer, MetricsAnswer, QualityAnswer};
use modelwatch_core::drift::WindowFeatures;
use modelwatch_core::drift::map::map_answer;
use modelwatch_core::drift::quality::quality_answer;
use modelwatch_core::drift::report::drift_answer;
use modelwatch_core::query::metrics_answer;
use modelwatch_core::time::{format_duration, format_timestamp};
use modelwatch_store::ModelEntry;

use super::blocking;
use super::ranges::{MergedRange, Range, feature_series, flushed_features, merged_performance};
use crate::error::{ApiError, ErrorCode};
use crate::state::Catalog;

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
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    range: Range,
) -> Result<MetricsAnswer, ApiError> {
    let store = catalog.store.clone();
    let reference = catalog.reference(entry.id);
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
        let estimation = reference.as_ref().and_then(|r| r.estimation.as_ref());
        Ok(metrics_answer(
            model, &merged, bounds, range.step, estimation,
        ))
    })
    .await
}

/// The drift answer of `range` (`404` without a reference); with a step, also the
/// answer of each step's window alone.
pub async fn drift(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    range: Range,
) -> Result<DriftAnswer, ApiError> {
    let name = entry.model.name.clone();
    let reference = catalog
        .reference(entry.id)
        .ok_or_else(|| no_reference(&name))?;
    let answers = of_features(catalog, entry, range, move |model, current| {
        drift_answer(model, &reference, current)
    })
    .await?;
    let answer = answers.summary.in_range(answers.bounds);
    Ok(match answers.series {
        Some((step, series)) => answer.with_series(step, series),
        None => answer,
    })
}

/// The data quality answer of `range` (against the reference's ranges and categories,
/// when there is one); with a step, also the answer of each step's window alone.
pub async fn quality(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    range: Range,
) -> Result<QualityAnswer, ApiError> {
    let reference = catalog.reference(entry.id);
    let answers = of_features(catalog, entry, range, move |model, current| {
        quality_answer(model, reference.as_deref(), current)
    })
    .await?;
    let answer = answers.summary.in_range(answers.bounds);
    Ok(match answers.series {
        Some((step, series)) => answer.with_series(step, series),
        None => answer,
    })
}

/// The map of the geographic feature `feature` over `range` (without a step): `400`
/// naming `feature` when the model has no such feature, or it has no `geo`.
pub async fn map(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    range: Range,
    feature: String,
) -> Result<MapAnswer, ApiError> {
    let spec = entry.model.features().iter().find(|s| s.name == feature);
    let problem = match spec {
        None => Some(format!(
            "model `{}` has no feature `{feature}`",
            entry.model.name
        )),
        Some(spec) if spec.geo.is_none() => Some(format!(
            "feature `{feature}` is not geographic (give it `\"geo\": \"country\"` in the model definition)"
        )),
        Some(_) => None,
    };
    if let Some(problem) = problem {
        return Err(ApiError::invalid(FieldError::new("feature", problem)));
    }
    let reference = catalog.reference(entry.id);
    let range = Range {
        step: None,
        ..range
    };
    let answers = of_features(catalog, entry, range, move |model, current| {
        map_answer(model, reference.as_deref(), current, &feature)
    })
    .await?;
    let answer = answers
        .summary
        .ok_or_else(|| ApiError::internal("a geographic feature gave no map"))?;
    Ok(answer.in_range(answers.bounds))
}

/// An answer of feature profiles over a range, and with a step its series.
struct FeatureAnswers<T> {
    /// The answer of the whole range.
    summary: T,
    /// The range it covers.
    bounds: AnswerRange,
    /// With a step: the step as a duration, and `(start, answer)` per step.
    series: Option<(String, Vec<(String, T)>)>,
}

/// The answer of the feature profiles merged over the whole range (read as without a
/// step, so the summary does not depend on it) and, with a step, of each step's window.
async fn of_features<T: Send + 'static>(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    range: Range,
    answer: impl Fn(&Model, &WindowFeatures) -> T + Send + 'static,
) -> Result<FeatureAnswers<T>, ApiError> {
    let MergedRange {
        merged: current,
        first,
        last_end,
    } = flushed_features(catalog, &entry, &range).await?;
    let store = catalog.store.clone();
    blocking(move || {
        let model = &entry.model;
        let bounds = AnswerRange::new(
            &model.name,
            (range.from, range.to),
            (first, last_end),
            range.version.as_deref(),
        );
        let series = match range.step {
            Some(step) => {
                let features = model.features().len();
                let steps = feature_series(&*store, entry.id, &range, features, |window| {
                    answer(model, window)
                })?;
                let steps = steps
                    .into_iter()
                    .map(|(start, answer)| (format_timestamp(start), answer))
                    .collect();
                Some((format_duration(step), steps))
            }
            None => None,
        };
        Ok(FeatureAnswers {
            summary: answer(model, &current),
            bounds,
            series,
        })
    })
    .await
}
