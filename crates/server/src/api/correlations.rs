//! `GET /api/v1/models/{model}/correlations` and `GET .../correlations/sample` (read
//! scope): see `crate::service::correlations`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use modelwatch_core::answer::{CorrelationsAnswer, SampleAnswer};

use super::access::{Access, Reach, Routes};
use super::extract::{ModelPath, ValidQuery};
use crate::error::ApiError;
use crate::service::correlations::{self, CorrelationsQuery, SampleQuery};
use crate::state::Catalog;

type Shared = State<Arc<Catalog>>;

/// The routes of correlations.
pub fn routes(routes: Routes) -> Routes {
    let read = Access::read(Reach::ModelInPath);
    routes
        .route("/api/v1/models/{model}/correlations", [(read, get(answer))])
        .route(
            "/api/v1/models/{model}/correlations/sample",
            [(read, get(sample))],
        )
}

async fn answer(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(query): ValidQuery<CorrelationsQuery>,
) -> Result<Json<CorrelationsAnswer>, ApiError> {
    correlations::correlations(&catalog, entry, query)
        .await
        .map(Json)
}

async fn sample(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(query): ValidQuery<SampleQuery>,
) -> Result<Json<SampleAnswer>, ApiError> {
    correlations::sample(&catalog, entry, query).await.map(Json)
}
