//! The one mapping from failures to HTTP answers:
//! `{"error": {"code", "message", "field"}}` with a status that says whose fault it is.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use modelwatch_core::FieldError;
use modelwatch_store::StoreError;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_field`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The offending field, when there is one.
    pub field: Option<String>,
    /// Seconds after which a retry may succeed (for 429/503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Names the offending field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = (!field.is_empty()).then_some(field);
        self
    }

    /// 400 for a field that failed validation.
    pub fn invalid(error: FieldError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_field", error.message).field(error.field)
    }

    /// 404 for a model that does not exist.
    pub fn model_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("model `{name}` does not exist"),
        )
        .field("model")
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Overloaded => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "the write queue is full; retry after the time in Retry-After",
                );
                e.retry_after = Some(1);
                e
            }
            StoreError::ModelNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "model_not_found",
                "the model was deleted",
            )
            .field("model"),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "store_error",
                    other.to_string(),
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "field": self.field}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
