//! `POST /api/v1/models/{model}/predictions` and `.../labels`, behind admission
//! control: when the write queue is full or `limits.max_concurrent_ingest` requests are
//! already being read, a request is answered `503` with `Retry-After` before its body
//! is parsed, so an overload cannot hold a parsed body per waiting request in memory.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use modelwatch_core::time::now_ms;
use serde_json::Value;

use super::access::{Access, Reach, Routes};
use super::extract::{ModelPath, RawBody, RecordFormat};
use super::request_log::RecordCounts;
use crate::error::ApiError;
use crate::service::ingest;
use crate::state::{AppState, Catalog, IngestPermits};

type Shared = State<Arc<Catalog>>;

/// The routes of ingest.
pub fn routes(routes: Routes, state: &AppState) -> Routes {
    let admitted = |method: axum::routing::MethodRouter<AppState>| {
        method.route_layer(from_fn_with_state(state.clone(), admit_ingest))
    };
    routes
        .route(
            "/api/v1/models/{model}/predictions",
            [(
                Access::ingest(Reach::ModelInPath),
                admitted(post(ingest_predictions)),
            )],
        )
        .route(
            "/api/v1/models/{model}/labels",
            [(
                Access::ingest(Reach::ModelInPath),
                admitted(post(ingest_labels)),
            )],
        )
}

/// Admission control of ingest (see the module's doc).
async fn admit_ingest(
    State(catalog): Shared,
    State(IngestPermits(permits)): State<IngestPermits>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let queue_full = catalog.store.queue_depth() >= catalog.store.queue_capacity();
    let permit = if queue_full {
        None
    } else {
        permits.try_acquire_owned().ok()
    };
    let Some(_permit) = permit else {
        catalog.telemetry.requests_shed.inc();
        // Read the body to its end, discarding it chunk by chunk (up to the body limit),
        // so the connection stays usable: answering before the client has finished
        // sending would make the server close it.
        let mut chunks = request.into_body().into_data_stream();
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut chunks).await {
            seen += chunk.len();
            if seen > catalog.limits.max_body_bytes {
                break;
            }
        }
        return ApiError::from(modelwatch_store::StoreError::Overloaded).into_response();
    };
    next.run(request).await
}

async fn ingest_predictions(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    RecordFormat(format): RecordFormat,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let arrival = now_ms();
    let answer = ingest::predictions(&catalog, entry, arrival, format, body).await?;
    Ok(counted(answer))
}

async fn ingest_labels(
    State(catalog): Shared,
    ModelPath(entry): ModelPath,
    RecordFormat(format): RecordFormat,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let answer = ingest::labels(&catalog, entry, format, body).await?;
    Ok(counted(answer))
}

/// The JSON answer, carrying its record counts for the request log.
fn counted(answer: Value) -> Response {
    let counts = RecordCounts::of(&answer);
    let mut response = Json(answer).into_response();
    response.extensions_mut().insert(counts);
    response
}
