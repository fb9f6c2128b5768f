//! `POST /api/v1/models/{model}/parameters` (ingest scope) and `GET .../parameters`,
//! `GET .../parameters/diff` (read scope): model internals, see
//! `crate::service::parameters`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::{get, post};
use modelwatch_core::time::now_ms;
use serde_json::Value;

use super::access::{Access, Reach, Routes};
use super::extract::{ModelPath, RawBody, ValidQuery, require_json};
use crate::error::ApiError;
use crate::service::parameters::{self, DiffQuery, SeriesQuery};
use crate::state::Catalog;

type Shared = State<Arc<Catalog>>;

/// The routes of model internals.
pub fn routes(routes: Routes) -> Routes {
    routes
        .route(
            "/api/v1/models/{model}/parameters",
            [
                (Access::ingest(Reach::ModelInPath), post(ingest)),
                (Access::read(Reach::ModelInPath), get(series)),
            ],
        )
        .route(
            "/api/v1/models/{model}/parameters/diff",
            [(Access::read(Reach::ModelInPath), get(diff))],
        )
}

async fn ingest(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let arrival = now_ms();
    parameters::ingest(&catalog, &entry, arrival, body)
        .await
        .map(Json)
}

async fn series(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(query): ValidQuery<SeriesQuery>,
) -> Result<Json<Value>, ApiError> {
    parameters::series(&catalog, &entry, query).await.map(Json)
}

async fn diff(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(query): ValidQuery<DiffQuery>,
) -> Result<Json<Value>, ApiError> {
    parameters::diff_answer(&catalog, &entry, query)
        .await
        .map(Json)
}
