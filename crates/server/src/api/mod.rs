//! The HTTP API of API.md: the router. Each resource has a file of its own that
//! declares its routes with their access ([`access`]) and holds thin handlers: extract
//! ([`extract`]), call the service layer (`crate::service`), answer.

pub mod access;
pub mod alerting;
pub mod backtest;
pub mod correlations;
pub mod extract;
pub mod ingest;
pub mod models;
pub mod operations;
pub mod parameters;
pub mod pending;
pub mod queries;
pub mod reference;
pub mod report;
pub mod request_checks;
pub mod request_log;
pub mod system;

use axum::extract::DefaultBodyLimit;

use crate::state::AppState;

/// Every route of the API, with the body limit, the checks of [`request_checks`] and
/// the request log.
pub fn router(state: &AppState) -> axum::Router {
    let body_limit = state.catalog.limits.max_body_bytes;
    let routes = access::Routes::new(state.gate.clone());
    let routes = system::routes(routes);
    let routes = models::routes(routes);
    let routes = ingest::routes(routes, state);
    let routes = pending::routes(routes);
    let routes = parameters::routes(routes);
    let routes = operations::routes(routes);
    let routes = queries::routes(routes);
    let routes = correlations::routes(routes);
    let routes = reference::routes(routes);
    let routes = report::routes(routes);
    let routes = alerting::routes(routes);
    let routes = backtest::routes(routes);
    routes
        .into_router()
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_checks::check,
        ))
        .layer(axum::middleware::from_fn(request_log::log_request))
        .with_state(state.clone())
}
