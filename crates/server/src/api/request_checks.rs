//! Checks every request passes before it is routed, against what a web page in the
//! user's browser could make it send:
//! - with authentication off, the `Host` must be an IP address, `localhost` or a name of
//!   `http.allowed_hosts`, so a DNS name rebound to this server cannot read it (403,
//!   field `host`; `/healthz` is exempt, for probes);
//! - a write (any method but `GET`, `HEAD` and `OPTIONS`) from another site is refused:
//!   an `Origin` that is not the server's own nor in `http.allowed_origins`, or a
//!   `Sec-Fetch-Site` other than `same-origin` and `none` (403, field `origin`);
//! - a write with a body (`POST`, `PUT`) must say it is JSON, NDJSON or CSV,
//!   the content types a form or a simple cross-site request cannot send (415, field
//!   `content-type`);
//! - a body in a `Content-Encoding` is refused (415, field `content-encoding`): no
//!   encoding is decoded, so none is accepted.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::AuthMode;
use crate::config::HttpConfig;
use crate::error::{ApiError, ErrorCode};

/// The content types a write may carry (their essence, lowercase).
const WRITE_CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonlines",
    "text/csv",
];

/// The middleware: refuses a request that fails a check, else passes it on.
pub async fn check(
    State(auth): State<AuthMode>,
    State(http): State<Arc<HttpConfig>>,
    request: Request,
    next: Next,
) -> Response {
    let checked = refusal(
        auth,
        &http,
        request.method(),
        request.uri().path(),
        request.headers(),
    );
    match checked {
        Some(refused) => refused.into_response(),
        None => next.run(request).await,
    }
}

/// Why a request is refused, if it is.
pub fn refusal(
    auth: AuthMode,
    http: &HttpConfig,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if auth == AuthMode::Off
        && path != "/healthz"
        && let Some(host) = &host
        && !host_is_served(host, &http.allowed_hosts)
    {
        return Some(
            ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "this server does not answer to the host `{host}`: authentication is off, so it answers only to IP addresses, localhost and the names of http.allowed_hosts"
                ),
            )
            .field("host"),
        );
    }
    if headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        return Some(
            ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "request bodies in a content encoding are not accepted; send them uncompressed",
            )
            .field("content-encoding"),
        );
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    if let Some(why) = cross_site(headers, host.as_deref(), &http.allowed_origins) {
        return Some(ApiError::new(ErrorCode::Forbidden, why).field("origin"));
    }
    if matches!(*method, Method::POST | Method::PUT) {
        let essence = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase());
        if !essence
            .as_deref()
            .is_some_and(|e| WRITE_CONTENT_TYPES.contains(&e))
        {
            return Some(
                ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!(
                        "a write needs a Content-Type of application/json, application/x-ndjson or text/csv, not {}",
                        essence.map_or("none".to_string(), |e| format!("`{e}`"))
                    ),
                )
                .field("content-type"),
            );
        }
    }
    None
}

/// Whether `host` (a `Host` header, port included) may be served with authentication
/// off: an IP address, `localhost`, or a configured name.
fn host_is_served(host: &str, allowed: &[String]) -> bool {
    if host.starts_with('[') {
        return true; // an IPv6 address
    }
    let name = host.rsplit_once(':').map_or(host, |(name, _port)| name);
    let name = name.trim_end_matches('.');
    name.parse::<std::net::IpAddr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || allowed.iter().any(|a| a == name)
}

/// Why a write comes from another site, if it does.
fn cross_site(headers: &HeaderMap, host: Option<&str>, allowed: &[String]) -> Option<String> {
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("").to_ascii_lowercase());
    if let Some(origin) = &origin
        && allowed.iter().any(|a| a == origin.trim_end_matches('/'))
    {
        return None;
    }
    if let Some(origin) = &origin {
        let same = host.is_some_and(|host| {
            origin == &format!("http://{host}") || origin == &format!("https://{host}")
        });
        if !same {
            return Some(format!(
                "writes from the origin `{origin}` are refused: only the server's own pages and the origins of http.allowed_origins may write"
            ));
        }
    }
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    match site.as_deref() {
        None | Some("same-origin") | Some("none") => None,
        Some(other) => Some(format!(
            "a {other} write is refused: only the server's own pages and the origins of http.allowed_origins may write"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_served_with_authentication_off() {
        let allowed = vec!["modelwatch.internal".to_string()];
        for host in [
            "127.0.0.1:8480",
            "[::1]:8480",
            "localhost:8480",
            "app.localhost",
            "10.1.2.3",
            "modelwatch.internal:80",
        ] {
            assert!(host_is_served(host, &allowed), "{host}");
        }
        for host in [
            "evil.example:8480",
            "evil.example",
            "127.0.0.1.evil.example",
        ] {
            assert!(!host_is_served(host, &allowed), "{host}");
        }
    }

    #[test]
    fn cross_site_writes() {
        let allowed = vec!["https://dash.example".to_string()];
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, v.parse().unwrap());
            }
            map
        };
        let host = Some("127.0.0.1:8480");
        assert!(cross_site(&headers(&[]), host, &allowed).is_none());
        assert!(
            cross_site(
                &headers(&[("origin", "http://127.0.0.1:8480")]),
                host,
                &allowed
            )
            .is_none()
        );
        assert!(
            cross_site(
                &headers(&[
                    ("origin", "https://dash.example"),
                    ("sec-fetch-site", "cross-site")
                ]),
                host,
                &allowed
            )
            .is_none()
        );
        assert!(
            cross_site(
                &headers(&[("origin", "https://evil.example")]),
                host,
                &allowed
            )
            .is_some()
        );
        assert!(cross_site(&headers(&[("origin", "null")]), host, &allowed).is_some());
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")]), host, &allowed).is_some());
    }
}
