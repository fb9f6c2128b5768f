//! Authentication and authorisation: API tokens with scopes, optionally restricted to
//! a set of models.
//!
//! A token is `mw_` followed by 40 hex digits (160 random bits). Only its SHA-256 is
//! stored; `modelwatch token create` shows the secret once. Requests carry it as
//! `Authorization: Bearer <token>`. Scopes:
//!
//! - `ingest`: `POST .../predictions` and `POST .../labels`;
//! - `read`: every `GET`;
//! - `admin`: everything, including changes to models, references, rules, channels and
//!   silences.
//!
//! A token restricted to models may only touch paths of those models, sees only them in
//! lists, and may not touch server-wide resources (channels, silences, `/metrics`).
//! `/healthz` needs no token. Lookups are cached for one second, so a revocation takes
//! effect within a second.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// How long a token lookup is trusted.
const CACHE_TTL: Duration = Duration::from_secs(1);

/// Whether requests must carry a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication (the default on loopback).
    Off,
    /// Every request but `/healthz` needs a valid token.
    Required,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Send predictions and labels.
    Ingest,
    /// Read anything.
    Read,
    /// Change anything.
    Admin,
}

impl Scope {
    /// Parses `ingest`, `read` or `admin`.
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// A valid token, as attached to the requests it authorises.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The token's id.
    pub id: i64,
    /// Its scopes.
    pub scopes: BTreeSet<Scope>,
    /// The models it is restricted to; `None` for all.
    pub models: Option<BTreeSet<String>>,
}

impl Grant {
    /// Whether it may act with `scope` (`admin` may do everything).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    /// Whether it may touch `model`.
    pub fn covers(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.contains(model))
    }
}

/// The model filter a handler applies to lists: `None` when everything may be seen.
pub fn visible_models(grant: Option<&Grant>) -> Option<BTreeSet<String>> {
    grant.and_then(|g| g.models.clone())
}

/// A new secret: `mw_` and 40 hex digits.
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::rng().random();
    format!("mw_{}", hex::encode(bytes))
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A lookup's result (`None`: unknown or revoked) and when it was made.
type CachedLookup = (Option<Arc<Grant>>, Instant);

/// Cached token lookups by hash.
#[derive(Default)]
pub struct TokenCache(Mutex<HashMap<String, CachedLookup>>);

fn grant_of(row: &modelwatch_store::tokens::TokenRow) -> Option<Grant> {
    if row.revoked_ms.is_some() {
        return None;
    }
    Some(Grant {
        id: row.id,
        scopes: row.scopes.split(',').filter_map(Scope::parse).collect(),
        models: row
            .models
            .as_ref()
            .map(|m| m.split(',').map(str::to_string).collect()),
    })
}

async fn lookup(state: &AppState, secret: &str) -> Result<Option<Arc<Grant>>, ApiError> {
    let key = hash(secret);
    if let Ok(cache) = state.tokens.0.lock()
        && let Some((grant, at)) = cache.get(&key)
        && at.elapsed() < CACHE_TTL
    {
        return Ok(grant.clone());
    }
    let store = state.store.clone();
    let lookup_key = key.clone();
    let row = tokio::task::spawn_blocking(move || {
        store.read(|conn| modelwatch_store::tokens::find(conn, &lookup_key))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    let grant = row.as_ref().and_then(grant_of).map(Arc::new);
    if let Ok(mut cache) = state.tokens.0.lock() {
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (grant.clone(), Instant::now()));
    }
    Ok(grant)
}

/// The scope a request needs.
fn needed_scope(method: &Method, path: &str) -> Scope {
    let ingest = method == Method::POST
        && (path.ends_with("/predictions") || path.ends_with("/labels"))
        && path.starts_with("/api/v1/models/");
    if ingest {
        Scope::Ingest
    } else if method == Method::GET || method == Method::HEAD {
        Scope::Read
    } else {
        Scope::Admin
    }
}

/// The model a path is about, if it is a model's path.
fn model_of(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/models/")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
        .filter(|m| !m.is_empty())
}

/// Paths about the whole server, closed to tokens restricted to models.
fn server_wide(path: &str) -> bool {
    path == "/metrics"
        || path.starts_with("/api/v1/channels")
        || path.starts_with("/api/v1/silences")
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        .field("authorization")
        .into_response();
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    response
}

/// The middleware: checks the token, its scope and its models, and attaches the
/// [`Grant`] for handlers that filter lists.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let public = request.uri().path() == "/healthz"
        || crate::dashboard::is_dashboard_path(request.uri().path());
    if state.auth == AuthMode::Off || public {
        return next.run(request).await;
    }
    let secret = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(secret) = secret.filter(|s| !s.is_empty() && s.len() <= 256) else {
        return unauthorized(
            "this server needs a token: send `Authorization: Bearer <token>` (create one with `modelwatch token create`)",
        );
    };
    let grant = match lookup(&state, secret).await {
        Ok(Some(grant)) => grant,
        Ok(None) => return unauthorized("unknown or revoked token"),
        Err(error) => return error.into_response(),
    };
    let path = request.uri().path().to_string();
    let needed = needed_scope(request.method(), &path);
    if !grant.allows(needed) {
        let scopes: Vec<&str> = grant.scopes.iter().map(|s| s.as_str()).collect();
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this token has the scopes [{}]; this request needs `{}`",
                scopes.join(", "),
                needed.as_str()
            ),
        )
        .field("authorization")
        .into_response();
    }
    if grant.models.is_some() {
        let refused = match model_of(&path) {
            Some(model) => !grant.covers(model),
            None => server_wide(&path),
        };
        if refused {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this token is restricted to other models",
            )
            .field("model")
            .into_response();
        }
    }
    request.extensions_mut().insert(grant);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_method_and_path() {
        assert_eq!(
            needed_scope(&Method::POST, "/api/v1/models/m/predictions"),
            Scope::Ingest
        );
        assert_eq!(
            needed_scope(&Method::POST, "/api/v1/models/m/labels"),
            Scope::Ingest
        );
        assert_eq!(
            needed_scope(&Method::GET, "/api/v1/models/m/metrics"),
            Scope::Read
        );
        assert_eq!(needed_scope(&Method::PUT, "/api/v1/models/m"), Scope::Admin);
        assert_eq!(needed_scope(&Method::PUT, "/api/v1/rules/r"), Scope::Admin);
        assert_eq!(
            needed_scope(&Method::DELETE, "/api/v1/models/m"),
            Scope::Admin
        );
        assert_eq!(model_of("/api/v1/models/credit/drift"), Some("credit"));
        assert_eq!(model_of("/api/v1/models"), None);
        assert_eq!(model_of("/api/v1/rules/x"), None);
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("mw_") && a.len() == 43);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
        // sha256("abc"), from FIPS 180-2.
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
