//! `GET /api/v1/models/{model}/labels/pending`: the labels waiting for their
//! prediction, oldest first, so a client can see which ids never matched.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;

use super::access::{Access, Reach, Routes};
use super::extract::{ModelPath, ValidQuery};
use crate::error::ApiError;
use crate::service::pending;
use crate::state::Catalog;

type Shared = State<Arc<Catalog>>;

/// The routes of pending labels.
pub fn routes(routes: Routes) -> Routes {
    routes.route(
        "/api/v1/models/{model}/labels/pending",
        [(Access::read(Reach::ModelInPath), get(list_pending))],
    )
}

/// The query of the list.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PendingQuery {
    /// Most labels listed (1 to 1000, default 100).
    limit: Option<usize>,
}

async fn list_pending(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(query): ValidQuery<PendingQuery>,
) -> Result<Json<Value>, ApiError> {
    pending::list(&catalog, &entry, query.limit).await.map(Json)
}
