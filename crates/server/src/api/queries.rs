//! `GET /api/v1/models/{model}/metrics` (per segment value with `segment=`),
//! `.../fairness`, `.../drift`, `.../quality` and `.../map`: answers over a range of event
//! time.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use modelwatch_core::FieldError;
use modelwatch_core::answer::fairness::FairnessAnswer;
use modelwatch_core::answer::{DriftAnswer, MapAnswer, QualityAnswer};

use super::access::{Access, Reach, Routes};
use super::extract::{ModelPath, ValidQuery};
use crate::error::ApiError;
use crate::service::ranges::{Range, RangeParams};
use crate::service::{answers, groups};
use crate::state::Catalog;

type Shared = State<Arc<Catalog>>;

/// The range parameters and `segment`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentedParams {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    version: Option<String>,
    /// A segment feature: the answer per value.
    segment: Option<String>,
}

impl SegmentedParams {
    fn split(self) -> Result<(Range, Option<String>), ApiError> {
        let range = Range::try_from(RangeParams {
            from: self.from,
            to: self.to,
            step: self.step,
            version: self.version,
        })?;
        Ok((range, self.segment))
    }
}

/// The range parameters and the sensitive `feature` (required).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FairnessParams {
    feature: Option<String>,
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    version: Option<String>,
}

/// The routes of the range answers.
pub fn routes(routes: Routes) -> Routes {
    let read = Access::read(Reach::ModelInPath);
    routes
        .route("/api/v1/models/{model}/metrics", [(read, get(metrics))])
        .route("/api/v1/models/{model}/fairness", [(read, get(fairness))])
        .route("/api/v1/models/{model}/drift", [(read, get(drift))])
        .route("/api/v1/models/{model}/quality", [(read, get(quality))])
        .route("/api/v1/models/{model}/map", [(read, get(map))])
}

/// Query parameters of `GET .../map`: the feature and a range (no step).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapParams {
    feature: Option<String>,
    from: Option<String>,
    to: Option<String>,
    version: Option<String>,
}

async fn metrics(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(params): ValidQuery<SegmentedParams>,
) -> Result<Response, ApiError> {
    let (range, segment) = params.split()?;
    match segment {
        Some(segment) => groups::segment_metrics(&catalog, entry, range, segment)
            .await
            .map(|answer| Json(answer).into_response()),
        None => answers::metrics(&catalog, entry, range)
            .await
            .map(|answer| Json(answer).into_response()),
    }
}

async fn fairness(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(params): ValidQuery<FairnessParams>,
) -> Result<Json<FairnessAnswer>, ApiError> {
    let Some(feature) = params.feature else {
        return Err(ApiError::invalid(FieldError::new(
            "feature",
            "required: the sensitive feature whose groups are compared",
        )));
    };
    let range = Range::try_from(RangeParams {
        from: params.from,
        to: params.to,
        step: params.step,
        version: params.version,
    })?;
    groups::fairness(&catalog, entry, range, feature)
        .await
        .map(Json)
}

async fn drift(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(params): ValidQuery<SegmentedParams>,
) -> Result<Json<DriftAnswer>, ApiError> {
    let (range, segment) = params.split()?;
    if let Some(segment) = segment {
        groups::check_segment(&entry, &segment)?;
        return Err(groups::segment_not_kept("drift"));
    }
    answers::drift(&catalog, entry, range).await.map(Json)
}

async fn quality(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(params): ValidQuery<SegmentedParams>,
) -> Result<Json<QualityAnswer>, ApiError> {
    let (range, segment) = params.split()?;
    if let Some(segment) = segment {
        groups::check_segment(&entry, &segment)?;
        return Err(groups::segment_not_kept("quality"));
    }
    answers::quality(&catalog, entry, range).await.map(Json)
}

async fn map(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(params): ValidQuery<MapParams>,
) -> Result<Json<MapAnswer>, ApiError> {
    let feature = params.feature.ok_or_else(|| {
        ApiError::invalid(FieldError::new(
            "feature",
            "required: the geographic feature to map",
        ))
    })?;
    let range = Range::try_from(RangeParams {
        from: params.from,
        to: params.to,
        step: None,
        version: params.version,
    })?;
    answers::map(&catalog, entry, range, feature)
        .await
        .map(Json)
}
