//! `POST /api/v1/rules/backtest`: what a rule would have done over stored data
//! (see `service::backtest`). It needs the `read` scope and a token that covers the
//! rule's model: it writes nothing and shows only what the model's metrics show.
//!
//! The path shadows a rule named `backtest` in `/api/v1/rules/{rule}`, so its `GET`,
//! `PUT` and `DELETE` here reach that rule as before.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

use super::access::{Access, Reach, Routes};
use super::alerting::{DEFINITION_BYTES, delete_rule, get_rule, other_models, put_rule};
use super::extract::{Caller, JsonBody};
use crate::error::ApiError;
use crate::service::backtest::{self, Request};
use crate::state::Catalog;

type Shared = State<Arc<Catalog>>;

/// The name the path takes from `/api/v1/rules/{rule}`.
const SHADOWED_RULE: &str = "backtest";

/// The route of the backtest.
pub fn routes(routes: Routes) -> Routes {
    let (read, admin) = (
        Access::read(Reach::Filtered),
        Access::admin(Reach::Filtered),
    );
    routes.route(
        "/api/v1/rules/backtest",
        [
            (read, post(run_backtest)),
            (read, get(get_shadowed)),
            (
                admin,
                axum::routing::put(put_shadowed).delete(delete_shadowed),
            ),
        ],
    )
}

/// `POST /api/v1/rules/backtest`
async fn run_backtest(
    State(catalog): Shared,
    caller: Caller,
    JsonBody(body): JsonBody<Value, DEFINITION_BYTES>,
) -> Result<Json<Value>, ApiError> {
    // Authorization before validation, as for a rule `PUT`.
    if let Some(model) = body
        .get("rule")
        .and_then(|r| r.get("model"))
        .and_then(Value::as_str)
        && !caller.covers(model)
    {
        return Err(other_models());
    }
    let request: Request =
        modelwatch_core::definition::from_json(&body).map_err(ApiError::invalid)?;
    let rule = backtest::rule_of(&catalog, &request)?;
    Ok(Json(backtest::backtest(&catalog, request, rule).await?))
}

/// `GET /api/v1/rules/backtest`: the rule named `backtest`.
async fn get_shadowed(catalog: Shared, caller: Caller) -> Result<Json<Value>, ApiError> {
    get_rule(catalog, Path(SHADOWED_RULE.into()), caller).await
}

/// `PUT /api/v1/rules/backtest`: the rule named `backtest`.
async fn put_shadowed(
    catalog: Shared,
    caller: Caller,
    body: JsonBody<Value, DEFINITION_BYTES>,
) -> Result<Response, ApiError> {
    put_rule(catalog, Path(SHADOWED_RULE.into()), caller, body).await
}

/// `DELETE /api/v1/rules/backtest`: the rule named `backtest`.
async fn delete_shadowed(catalog: Shared, caller: Caller) -> Result<StatusCode, ApiError> {
    delete_rule(catalog, Path(SHADOWED_RULE.into()), caller).await
}
