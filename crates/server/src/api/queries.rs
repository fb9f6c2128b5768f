//! `GET /api/v1/models/{model}/metrics`, `.../drift`, `.../quality` and `.../map`:
//! answers over a range of event time.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use modelwatch_core::FieldError;
use modelwatch_core::answer::{DriftAnswer, MapAnswer, MetricsAnswer, QualityAnswer};

use super::access::{Access, Reach, Routes};
use super::extract::{ModelPath, ValidQuery};
use crate::error::ApiError;
use crate::service::answers;
use crate::service::ranges::{Range, RangeParams};
use crate::state::Catalog;

type Shared = State<Arc<Catalog>>;

/// The routes of the range answers.
pub fn routes(routes: Routes) -> Routes {
    let read = Access::read(Reach::ModelInPath);
    routes
        .route("/api/v1/models/{model}/metrics", [(read, get(metrics))])
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
    ValidQuery(params): ValidQuery<RangeParams>,
) -> Result<Json<MetricsAnswer>, ApiError> {
    let range = Range::try_from(params)?;
    answers::metrics(&catalog, entry, range).await.map(Json)
}

async fn drift(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(params): ValidQuery<RangeParams>,
) -> Result<Json<DriftAnswer>, ApiError> {
    let range = Range::try_from(params)?;
    answers::drift(&catalog, entry, range).await.map(Json)
}

async fn quality(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(params): ValidQuery<RangeParams>,
) -> Result<Json<QualityAnswer>, ApiError> {
    let range = Range::try_from(params)?;
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
