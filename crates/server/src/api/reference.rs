//! `PUT /api/v1/models/{model}/reference` (CSV, NDJSON or a JSON array, streamed) and
//! `GET` of the current reference.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, put};
use serde_json::Value;

use super::access::{Access, Reach, Routes};
use super::extract::{ModelPath, ValidQuery, content_type, is_ndjson, unsupported};
use crate::error::ApiError;
use crate::service::reference;
use crate::state::Catalog;
use crate::upload::{ReferenceFormat, body_reader};

type Shared = State<Arc<Catalog>>;

/// The routes of references.
pub fn routes(routes: Routes) -> Routes {
    routes.route(
        "/api/v1/models/{model}/reference",
        [
            (Access::admin(Reach::ModelInPath), put(put_reference)),
            (Access::read(Reach::ModelInPath), get(get_reference)),
        ],
    )
}

/// Options of a reference upload.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReferenceOptions {
    /// Keep the valid rows when some are invalid (default: refuse the upload).
    skip_invalid: bool,
}

async fn put_reference(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    ValidQuery(options): ValidQuery<ReferenceOptions>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<Value>, ApiError> {
    let format = match content_type(&headers).as_deref() {
        Some("text/csv") => ReferenceFormat::Csv,
        None | Some("application/json") => ReferenceFormat::Json,
        Some(ndjson) if is_ndjson(ndjson) => ReferenceFormat::Ndjson,
        Some(other) => {
            return Err(unsupported(
                other,
                "text/csv, application/json or application/x-ndjson",
            ));
        }
    };
    let reader = body_reader(body, catalog.limits.max_reference_bytes);
    reference::upload(&catalog, entry, reader, format, options.skip_invalid)
        .await
        .map(Json)
}

async fn get_reference(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
) -> Result<Json<Value>, ApiError> {
    reference::describe(&catalog, &entry).map(Json)
}
