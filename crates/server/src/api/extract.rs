//! Extractors whose rejection is an [`ApiError`] naming the field: a JSON body parsed
//! into a type ([`JsonBody`]), a query string parsed into a type ([`ValidQuery`]), a
//! raw body within the limit ([`RawBody`]), the body's record format ([`RecordFormat`])
//! and the caller's grant ([`Caller`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use modelwatch_core::body::BodyFormat;
use serde::de::DeserializeOwned;

use crate::auth::Grant;
use crate::error::{ApiError, ErrorCode};
use crate::service::ingest::Framing;
use crate::state::Catalog;

/// A request body within `min(limits.max_body_bytes, CAP)` bytes.
pub struct RawBody<const CAP: usize = { usize::MAX }>(pub Bytes);

impl<S, const CAP: usize> FromRequest<S> for RawBody<CAP>
where
    Arc<Catalog>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let limit = Arc::<Catalog>::from_ref(state)
            .limits
            .max_body_bytes
            .min(CAP);
        let too_large = || {
            ApiError::new(
                ErrorCode::BodyTooLarge,
                format!("the body is larger than {limit} bytes"),
            )
            .field("body")
        };
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::new(ErrorCode::UnreadableBody, rejection.body_text()).field("body")
                }
            })?;
        if bytes.len() > limit {
            return Err(too_large());
        }
        Ok(Self(bytes))
    }
}

/// A JSON body (`application/json`, or no content type) parsed into `T`: a syntax
/// error is `invalid_json`, a value that does not fit `T` is `invalid_field` naming
/// its path.
pub struct JsonBody<T, const CAP: usize = { usize::MAX }>(pub T);

impl<S, T: DeserializeOwned, const CAP: usize> FromRequest<S> for JsonBody<T, CAP>
where
    Arc<Catalog>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        require_json(request.headers())?;
        let RawBody(bytes) = RawBody::<CAP>::from_request(request, state).await?;
        parse_json(&bytes).map(Self)
    }
}

/// Parses JSON into `T`, naming the path of a value that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                ErrorCode::InvalidJson,
                format!("the body is not valid JSON: {inner}"),
            )
            .field("body");
        }
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::new(ErrorCode::InvalidField, inner.to_string()).field(field)
    })
}

/// A query string parsed into `T`; an unknown or malformed parameter is
/// `invalid_query` naming it.
pub struct ValidQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) =
            Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| {
                    let text = rejection.body_text();
                    let field = query_field(&text).to_string();
                    ApiError::new(ErrorCode::InvalidQuery, text).field(field)
                })?;
        Ok(Self(value))
    }
}

/// The parameter a query-string error is about: the name in backticks (an unknown
/// or missing parameter), or the `name: ` before a value that does not parse
/// (`from_step: invalid digit found in string`); `query` when neither.
fn query_field(text: &str) -> &str {
    if let Some(name) = text.split('`').nth(1) {
        return name;
    }
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    match detail.split_once(": ") {
        Some((name, _))
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            name
        }
        _ => "query",
    }
}

/// The request's content type, lower-cased, without parameters.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Whether a content type is one of the names of NDJSON.
pub fn is_ndjson(content_type: &str) -> bool {
    matches!(
        content_type,
        "application/x-ndjson" | "application/ndjson" | "application/jsonlines"
    )
}

/// `415` for a content type not accepted here.
pub fn unsupported(content_type: &str, accepted: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        format!("content type `{content_type}` is not accepted here; send {accepted}"),
    )
    .field("content-type")
}

/// The framing of an ingest body: JSON (the default when no content type is given),
/// NDJSON or CSV.
pub struct RecordFormat(pub Framing);

impl<S: Send + Sync> FromRequestParts<S> for RecordFormat {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match content_type(&parts.headers).as_deref() {
            Some("text/csv") => Ok(Self(Framing::Csv)),
            None | Some("application/json") => Ok(Self(Framing::Records(BodyFormat::Json))),
            Some(ndjson) if is_ndjson(ndjson) => Ok(Self(Framing::Records(BodyFormat::Ndjson))),
            Some(other) => Err(unsupported(
                other,
                "application/json, application/x-ndjson or text/csv",
            )),
        }
    }
}

/// The framing of a JSON-only ingest body: a JSON array (or object) or NDJSON (`415`
/// for anything else).
pub fn record_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    match content_type(headers).as_deref() {
        None | Some("application/json") => Ok(BodyFormat::Json),
        Some(ndjson) if is_ndjson(ndjson) => Ok(BodyFormat::Ndjson),
        Some(other) => Err(unsupported(
            other,
            "application/json or application/x-ndjson",
        )),
    }
}

/// Refuses anything but JSON (`415`).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match record_format(headers)? {
        BodyFormat::Json => Ok(()),
        BodyFormat::Ndjson => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the model definition as application/json",
        )
        .field("content-type")),
    }
}

/// The grant of the caller's token; `None` when authentication is off.
pub struct Caller(pub Option<Arc<Grant>>);

impl Caller {
    /// Whether the caller may touch `model`.
    pub fn covers(&self, model: &str) -> bool {
        self.0.as_ref().is_none_or(|g| g.covers(model))
    }

    /// The models the caller may see; `None` for all.
    pub fn visible(&self) -> Option<std::collections::BTreeSet<String>> {
        self.0.as_ref().and_then(|g| g.models.clone())
    }

    /// Whether the caller may see secrets and what receivers said: an admin token
    /// for every model, or anyone when authentication is off.
    pub fn is_admin(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|g| g.allows(crate::auth::Scope::Admin) && g.models.is_none())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Arc<Grant>>().cloned()))
    }
}

/// The model named by the path's `{model}`, or `404`.
pub struct ModelPath(pub Arc<modelwatch_store::ModelEntry>);

impl<S> FromRequestParts<S> for ModelPath
where
    Arc<Catalog>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = axum::response::Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let axum::extract::Path(name) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        crate::service::models::model_entry(&Arc::<Catalog>::from_ref(state), &name)
            .map(Self)
            .map_err(IntoResponse::into_response)
    }
}
