//! The server's own resources: `/healthz`, `/metrics` (Prometheus), the OpenAPI
//! description, the dashboard's files, and the answers to unknown paths and methods.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::access::{Access, Reach, Routes, authenticate};
use crate::auth::AuthMode;
use crate::error::{ApiError, ErrorCode};
use crate::state::{Gate, Monitoring};

/// The routes of the server's own resources.
pub fn routes(routes: Routes) -> Routes {
    routes
        .route("/healthz", [(Access::PUBLIC, get(healthz))])
        .route(
            "/metrics",
            [(Access::read(Reach::ServerWide), get(prometheus))],
        )
        .route(
            "/api/v1/openapi.json",
            [(Access::read(Reach::Filtered), get(openapi))],
        )
        .route("/", [(Access::PUBLIC, get(crate::dashboard::index))])
        .route(
            "/assets/{*path}",
            [(Access::PUBLIC, get(crate::dashboard::asset))],
        )
}

/// `200` while serving; says whether requests need a token (the dashboard asks for one
/// before its first call instead of collecting a `401`).
async fn healthz(State(auth): State<AuthMode>) -> Json<Value> {
    Json(json!({"status": "ok", "auth_required": auth != AuthMode::Off}))
}

/// The OpenAPI 3 description of this API (`src/openapi.json`, checked against the
/// router by the tests).
async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
        .into_response()
}

async fn prometheus(State(monitoring): State<Arc<Monitoring>>, headers: HeaderMap) -> Response {
    crate::service::gauges::refresh(&monitoring).await;
    let catalog = &monitoring.catalog;
    catalog
        .telemetry
        .process
        .update(&catalog.store.files_on_disk());
    let format = crate::telemetry::Format::negotiate(
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
    );
    let text = catalog
        .telemetry
        .encode(catalog.store.queue_depth(), format);
    ([(header::CONTENT_TYPE, format.content_type())], text).into_response()
}

/// Unknown paths and methods answer only to callers that may call something: with
/// authentication on, a request without a valid token gets `401` first.
async fn refuse_anonymous(gate: &Gate, headers: &HeaderMap) -> Option<Response> {
    if gate.auth == AuthMode::Off {
        return None;
    }
    authenticate(gate, headers).await.err()
}

/// `404` for a path no route has.
pub async fn not_found(State(gate): State<Arc<Gate>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refuse_anonymous(&gate, &headers).await {
        return refusal;
    }
    ApiError::new(ErrorCode::NotFound, "no such endpoint").into_response()
}

/// `405` for a method a route does not take.
pub async fn method_not_allowed(State(gate): State<Arc<Gate>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refuse_anonymous(&gate, &headers).await {
        return refusal;
    }
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    )
    .into_response()
}
