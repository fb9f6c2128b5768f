//! Who may call a route, declared with the route: the only way to add an API route is
//! [`Routes::route`] with an [`Access`] per method, so a route cannot exist without its
//! scope. With authentication on, a request needs a known token (`401`) whose scopes
//! and models allow the route (`403`); the [`Grant`] is then attached for handlers
//! that filter lists by model.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use crate::auth::{AuthMode, Grant, Scope};
use crate::error::{ApiError, ErrorCode};
use crate::state::{AppState, Gate};

/// Which models a route touches, for tokens restricted to some models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// One model, named by the path's `{model}` (`/api/v1/models/{model}/...`).
    ModelInPath,
    /// Possibly many; the handler shows or changes only the token's models.
    Filtered,
    /// The whole server: closed to restricted tokens.
    ServerWide,
}

/// What a route needs: nothing (public), or a token with a scope, for a reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    scope: Option<Scope>,
    reach: Reach,
}

impl Access {
    /// Anyone, with or without a token (`/healthz`, the dashboard's files).
    pub const PUBLIC: Access = Access {
        scope: None,
        reach: Reach::Filtered,
    };

    /// A token that may read.
    pub const fn read(reach: Reach) -> Self {
        Self {
            scope: Some(Scope::Read),
            reach,
        }
    }

    /// A token that may send predictions and labels.
    pub const fn ingest(reach: Reach) -> Self {
        Self {
            scope: Some(Scope::Ingest),
            reach,
        }
    }

    /// A token that may change anything.
    pub const fn admin(reach: Reach) -> Self {
        Self {
            scope: Some(Scope::Admin),
            reach,
        }
    }
}

/// The API's routes, each added with its access.
pub struct Routes {
    router: Router<AppState>,
    gate: Arc<Gate>,
}

impl Routes {
    /// No routes yet.
    pub fn new(gate: Arc<Gate>) -> Self {
        Self {
            router: Router::new(),
            gate,
        }
    }

    /// Adds `path` with its methods, each guarded by its access.
    pub fn route(
        mut self,
        path: &str,
        methods: impl IntoIterator<Item = (Access, MethodRouter<AppState>)>,
    ) -> Self {
        let mut guarded = MethodRouter::new();
        for (access, method) in methods {
            guarded = guarded.merge(self.guard(access, method));
        }
        self.router = self.router.route(path, guarded);
        self
    }

    /// `method` behind the check of `access`.
    pub fn guard(&self, access: Access, method: MethodRouter<AppState>) -> MethodRouter<AppState> {
        method.route_layer(from_fn_with_state((self.gate.clone(), access), authorize))
    }

    /// The router, for the fallbacks and layers that apply to every route.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(ErrorCode::Unauthorized, message)
        .field("authorization")
        .into_response();
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    response
}

/// The model a path is about, for routes declared [`Reach::ModelInPath`].
fn model_of(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/models/")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
        .filter(|m| !m.is_empty())
}

/// The grant of the request's bearer token: `Err` with the `401` answer when it has
/// none, or an unknown or revoked one.
pub async fn authenticate(gate: &Gate, headers: &HeaderMap) -> Result<Arc<Grant>, Response> {
    let secret = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(secret) = secret.filter(|s| !s.is_empty() && s.len() <= 256) else {
        return Err(unauthorized(
            "this server needs a token: send `Authorization: Bearer <token>` (create one with `modelwatch token create`)",
        ));
    };
    match gate.tokens.lookup(&gate.store, secret).await {
        Ok(Some(grant)) => Ok(grant),
        Ok(None) => Err(unauthorized("unknown or revoked token")),
        Err(error) => Err(error.into_response()),
    }
}

/// The check of one route's [`Access`].
async fn authorize(
    State((gate, access)): State<(Arc<Gate>, Access)>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(needed) = access.scope else {
        return next.run(request).await;
    };
    if gate.auth == AuthMode::Off {
        return next.run(request).await;
    }
    let grant = match authenticate(&gate, request.headers()).await {
        Ok(grant) => grant,
        Err(refusal) => return refusal,
    };
    if !grant.allows(needed) {
        let scopes: Vec<&str> = grant.scopes.iter().map(|s| s.as_str()).collect();
        return ApiError::new(
            ErrorCode::Forbidden,
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
        let refused = match access.reach {
            Reach::ModelInPath => model_of(request.uri().path()).is_none_or(|m| !grant.covers(m)),
            Reach::Filtered => false,
            Reach::ServerWide => true,
        };
        if refused {
            return ApiError::new(
                ErrorCode::Forbidden,
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
    fn the_model_of_a_model_path() {
        assert_eq!(model_of("/api/v1/models/credit/drift"), Some("credit"));
        assert_eq!(model_of("/api/v1/models/credit"), Some("credit"));
        assert_eq!(model_of("/api/v1/models"), None);
        assert_eq!(model_of("/api/v1/rules/x"), None);
    }
}
