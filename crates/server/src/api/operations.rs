//! `POST /api/v1/models/{model}/telemetry` and `POST .../logs` (ingest scope),
//! `GET .../logs` and `GET .../logs/patterns` (read scope): resource use and logs of
//! the served model, see `crate::service::operations`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::{get, post};
use modelwatch_core::time::now_ms;
use serde_json::Value;

use super::access::{Access, Reach, Routes};
use super::extract::{ModelPath, RawBody, ValidQuery, record_format};
use crate::error::ApiError;
use crate::service::operations::{self, Kind, LogQuery};
use crate::service::ranges::RangeParams;
use crate::state::Catalog;

type Shared = State<Arc<Catalog>>;

/// The routes of resource use and logs.
pub fn routes(routes: Routes) -> Routes {
    routes
        .route(
            "/api/v1/models/{model}/telemetry",
            [(Access::ingest(Reach::ModelInPath), post(ingest_telemetry))],
        )
        .route(
            "/api/v1/models/{model}/logs",
            [
                (Access::ingest(Reach::ModelInPath), post(ingest_logs)),
                (Access::read(Reach::ModelInPath), get(search)),
            ],
        )
        .route(
            "/api/v1/models/{model}/logs/patterns",
            [(Access::read(Reach::ModelInPath), get(patterns))],
        )
}

async fn ingest_telemetry(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let format = record_format(&headers)?;
    operations::ingest(&catalog, entry, Kind::Telemetry, now_ms(), format, body)
        .await
        .map(Json)
}

async fn ingest_logs(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let format = record_format(&headers)?;
    operations::ingest(&catalog, entry, Kind::Logs, now_ms(), format, body)
        .await
        .map(Json)
}

async fn search(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(query): ValidQuery<LogQuery>,
) -> Result<Json<Value>, ApiError> {
    operations::search(&catalog, &entry, query).await.map(Json)
}

async fn patterns(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(query): ValidQuery<RangeParams>,
) -> Result<Json<Value>, ApiError> {
    operations::patterns(&catalog, entry, query).await.map(Json)
}
