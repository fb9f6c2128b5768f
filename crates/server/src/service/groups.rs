//! The answers per group: the metrics of each value of a segment feature
//! (`GET .../metrics?segment=`) and the fairness of a sensitive feature
//! (`GET .../fairness?feature=`), both from the merged performance profiles.

use std::sync::Arc;

use modelwatch_core::FieldError;
use modelwatch_core::answer::AnswerRange;
use modelwatch_core::answer::fairness::FairnessAnswer;
use modelwatch_core::answer::segments::SegmentAnswer;
use modelwatch_core::groups::select::{fairness_answer, segment_answer};
use modelwatch_store::ModelEntry;

use super::blocking;
use super::ranges::{MergedRange, Range, merged_performance};
use crate::error::ApiError;
use crate::state::Catalog;

fn names(list: &[(String, usize)]) -> String {
    if list.is_empty() {
        "none".to_string()
    } else {
        list.iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `400` unless `segment` is one of the model's segment features.
pub fn check_segment(entry: &ModelEntry, segment: &str) -> Result<(), ApiError> {
    let model = &entry.model;
    if model.segment_features.iter().any(|(n, _)| n == segment) {
        return Ok(());
    }
    Err(ApiError::invalid(FieldError::new(
        "segment",
        format!(
            "`{}` is not a segment of model `{}` (its segments: {}; declare them in the definition's `segments`)",
            modelwatch_core::time::truncate(segment, 80),
            model.name,
            names(&model.segment_features)
        ),
    )))
}

/// `400` for `segment=` on an answer that is not kept per segment (drift, quality).
pub fn segment_not_kept(answer: &str) -> ApiError {
    ApiError::invalid(FieldError::new(
        "segment",
        format!(
            "the {answer} answer is not kept per segment value (feature profiles per value would multiply ingest cost); use `segment=` on /metrics"
        ),
    ))
}

/// The metrics answer of `range` per value of `segment`.
pub async fn segment_metrics(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    range: Range,
    segment: String,
) -> Result<SegmentAnswer, ApiError> {
    check_segment(&entry, &segment)?;
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
        Ok(segment_answer(
            model, &segment, &merged, bounds, range.step, estimation,
        ))
    })
    .await
}

/// The fairness answer of `range` for sensitive feature `feature`.
pub async fn fairness(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    range: Range,
    feature: String,
) -> Result<FairnessAnswer, ApiError> {
    let model = &entry.model;
    if !model.sensitive_features.iter().any(|(n, _)| *n == feature) {
        return Err(ApiError::invalid(FieldError::new(
            "feature",
            format!(
                "`{}` is not a sensitive feature of model `{}` (its sensitive features: {}; mark one with `\"sensitive\": true`)",
                modelwatch_core::time::truncate(&feature, 80),
                model.name,
                names(&model.sensitive_features)
            ),
        )));
    }
    let store = catalog.store.clone();
    blocking(move || {
        let MergedRange {
            merged,
            first,
            last_end,
        } = merged_performance(&*store, entry.id, &range)?;
        let bounds = AnswerRange::new(
            &entry.model.name,
            (range.from, range.to),
            (first, last_end),
            range.version.as_deref(),
        );
        Ok(fairness_answer(&feature, &merged, bounds, range.step))
    })
    .await
}
