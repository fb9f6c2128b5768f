//! `/api/v1/models` and `/api/v1/models/{model}`: list, read, create or update, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use modelwatch_core::{Model, ModelDefinition};
use serde_json::Value;

use super::access::{Access, Reach, Routes};
use super::extract::{Caller, JsonBody};
use crate::error::ApiError;
use crate::service::models::{self, Stored};
use crate::state::Catalog;

type Shared = State<Arc<Catalog>>;

/// The routes of models.
pub fn routes(routes: Routes) -> Routes {
    routes
        .route(
            "/api/v1/models",
            [(Access::read(Reach::Filtered), get(list_models))],
        )
        .route(
            "/api/v1/models/{model}",
            [
                (Access::read(Reach::ModelInPath), get(get_model)),
                (
                    Access::admin(Reach::ModelInPath),
                    axum::routing::put(put_model).delete(delete_model),
                ),
            ],
        )
}

async fn list_models(State(catalog): Shared, caller: Caller) -> Json<Value> {
    Json(models::list(&catalog, caller.visible().as_ref()))
}

async fn get_model(
    State(catalog): Shared,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    models::with_stats(&catalog, &name).await.map(Json)
}

/// The name is checked before the body is read.
async fn put_model(
    State(catalog): Shared,
    Path(name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    modelwatch_core::schema::validate_model_name(&name).map_err(ApiError::invalid)?;
    let JsonBody(definition) =
        <JsonBody<ModelDefinition> as axum::extract::FromRequest<_>>::from_request(
            request, &catalog,
        )
        .await?;
    let model = Model::new(&name, definition).map_err(ApiError::invalid)?;
    Ok(match models::store_model(&catalog, model).await? {
        Stored::Created(entry) => (StatusCode::CREATED, Json(models::model_json(&entry))),
        Stored::Updated(entry) => (StatusCode::OK, Json(models::model_json(&entry))),
    }
    .into_response())
}

async fn delete_model(
    State(catalog): Shared,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    models::delete(&catalog, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
