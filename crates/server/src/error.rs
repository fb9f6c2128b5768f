//! The one error model of the server: an [`ErrorCode`] carries its wire string and its
//! HTTP status, and [`ApiError`] is the answer `{"error": {"code", "message", "field"}}`.
//! Handlers and services return `ApiError`s built from codes; nothing else picks a
//! status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use modelwatch_core::FieldError;
use modelwatch_store::StoreError;
use serde_json::json;

/// Every error the API answers with: its stable wire string and its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A field failed validation (400).
    InvalidField,
    /// The query string does not parse (400).
    InvalidQuery,
    /// The body is not valid JSON (400).
    InvalidJson,
    /// The body could not be read (400).
    UnreadableBody,
    /// Reference rows are invalid and `skip_invalid` was not asked for (400).
    InvalidReference,
    /// The reference has no valid row (400).
    EmptyReference,
    /// No token, or an unknown or revoked one (401).
    Unauthorized,
    /// The token lacks the scope or the model (403).
    Forbidden,
    /// No such endpoint (404).
    NotFound,
    /// No such model (404).
    ModelNotFound,
    /// The model has no reference (404).
    NoReference,
    /// No such rule (404).
    RuleNotFound,
    /// No such channel (404).
    ChannelNotFound,
    /// No such silence (404).
    SilenceNotFound,
    /// The endpoint does not take that method (405).
    MethodNotAllowed,
    /// A model update changes the task or a feature's type (409).
    SchemaConflict,
    /// The server holds `limits.max_models` models (409).
    ModelLimitReached,
    /// A channel that rules still use cannot be deleted (409).
    ChannelInUse,
    /// The body is over the size limit (413).
    BodyTooLarge,
    /// More records than `limits.max_records_per_request` (413).
    TooManyRecords,
    /// The content type is not accepted here (415).
    UnsupportedMediaType,
    /// A non-empty ingest batch of which no record was accepted (422).
    NothingAccepted,
    /// The write queue or the ingest admission is full; retry later (503).
    Overloaded,
    /// The store failed (500).
    StoreError,
    /// A reference upload could not spill to disk (500).
    SpillFailed,
    /// Anything else that is the server's fault (500).
    Internal,
}

impl ErrorCode {
    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidField => "invalid_field",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidJson => "invalid_json",
            Self::UnreadableBody => "unreadable_body",
            Self::InvalidReference => "invalid_reference",
            Self::EmptyReference => "empty_reference",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::ModelNotFound => "model_not_found",
            Self::NoReference => "no_reference",
            Self::RuleNotFound => "rule_not_found",
            Self::ChannelNotFound => "channel_not_found",
            Self::SilenceNotFound => "silence_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::SchemaConflict => "schema_conflict",
            Self::ModelLimitReached => "model_limit_reached",
            Self::ChannelInUse => "channel_in_use",
            Self::BodyTooLarge => "body_too_large",
            Self::TooManyRecords => "too_many_records",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NothingAccepted => "nothing_accepted",
            Self::Overloaded => "overloaded",
            Self::StoreError => "store_error",
            Self::SpillFailed => "spill_failed",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status: whose fault it is.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidField
            | Self::InvalidQuery
            | Self::InvalidJson
            | Self::UnreadableBody
            | Self::InvalidReference
            | Self::EmptyReference => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound
            | Self::ModelNotFound
            | Self::NoReference
            | Self::RuleNotFound
            | Self::ChannelNotFound
            | Self::SilenceNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::SchemaConflict | Self::ModelLimitReached | Self::ChannelInUse => {
                StatusCode::CONFLICT
            }
            Self::BodyTooLarge | Self::TooManyRecords => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NothingAccepted => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::StoreError | Self::SpillFailed | Self::Internal => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// What kind of error, which fixes the status.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// The offending field, when there is one.
    pub field: Option<String>,
    /// Seconds after which a retry may succeed (for 503).
    pub retry_after: Option<u32>,
    /// Members of the answer beside `error` (an ingest answer that stored nothing).
    pub body: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            body: None,
        }
    }

    /// Names the offending field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = (!field.is_empty()).then_some(field);
        self
    }

    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// 400 for a field that failed validation.
    pub fn invalid(error: FieldError) -> Self {
        Self::new(ErrorCode::InvalidField, error.message).field(error.field)
    }

    /// 404 for a model that does not exist.
    pub fn model_not_found(name: &str) -> Self {
        Self::new(
            ErrorCode::ModelNotFound,
            format!("model `{name}` does not exist"),
        )
        .field("model")
    }

    /// 422 for a non-empty ingest batch that stored nothing: the ingest answer `body`
    /// with the first rejection (`(index, reason)`) as the error.
    pub fn nothing_accepted(
        first: (usize, &FieldError),
        body: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let (index, reason) = first;
        let mut error = Self::new(
            ErrorCode::NothingAccepted,
            format!("no record was accepted; record {index}: {reason}"),
        )
        .field(reason.field.clone());
        error.body = Some(body);
        error
    }

    /// 500 for a failure of the server itself (a worker that panicked, a poisoned lock).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Overloaded => {
                let mut e = ApiError::new(
                    ErrorCode::Overloaded,
                    "the write queue is full; retry after the time in Retry-After",
                );
                e.retry_after = Some(1);
                e
            }
            StoreError::Closed => {
                let mut e = ApiError::new(
                    ErrorCode::Overloaded,
                    "the server is stopping; retry after the time in Retry-After",
                );
                e.retry_after = Some(1);
                e
            }
            StoreError::ModelNotFound => {
                ApiError::new(ErrorCode::ModelNotFound, "the model was deleted").field("model")
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::new(ErrorCode::StoreError, other.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let error =
            json!({"code": self.code.as_str(), "message": self.message, "field": self.field});
        let mut body = self.body.unwrap_or_default();
        body.insert("error".into(), error);
        let body = serde_json::Value::Object(body);
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
