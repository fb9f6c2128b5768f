//! The web dashboard: a single page (`assets/index.html`, `app.js`, `app.css`) and the
//! vendored uPlot charting library, compiled into the binary and served at `/` and
//! `/assets/...`. Every number it shows comes from the public API, fetched by the page
//! with the user's token in the `Authorization` header. The files hold no data, so they
//! are served without a token.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCode};

/// An embedded file: its path under `/assets/`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const INDEX: &[u8] = include_bytes!("assets/index.html");

const ASSETS: &[Asset] = &[
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/app.js"),
    },
    Asset {
        path: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/app.css"),
    },
    Asset {
        path: "vendor/uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/vendor/uPlot.iife.min.js"),
    },
    Asset {
        path: "vendor/uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/vendor/uPlot.min.css"),
    },
    Asset {
        path: "world-110m.json",
        content_type: "application/json",
        bytes: modelwatch_report::WORLD_GEOMETRY.as_bytes(),
    },
    Asset {
        path: "vendor/uPlot.LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("assets/vendor/uPlot.LICENSE"),
    },
];

/// Content-Security-Policy of the page: everything from this origin, nothing inline
/// but styles (uPlot sets element styles), no framing.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

fn with_headers(content_type: &'static str, cache: &'static str, bytes: &'static [u8]) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// `GET /`: the page (served without a token).
pub async fn index() -> Response {
    with_headers("text/html; charset=utf-8", "no-cache", INDEX)
}

/// `GET /assets/{path}`: the page's scripts, styles and fonts (served without a token).
pub async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        // Revalidated on every load: the files change with the binary.
        Some(a) => with_headers(a.content_type, "no-cache", a.bytes),
        None => ApiError::new(
            ErrorCode::NotFound,
            format!("no dashboard file /assets/{path}"),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_embedded_files() {
        let page = std::str::from_utf8(INDEX).unwrap();
        for reference in page
            .split(['"', '\''])
            .filter(|s| s.starts_with("/assets/"))
        {
            let path = reference.trim_start_matches("/assets/");
            assert!(
                ASSETS.iter().any(|a| a.path == path),
                "index.html loads {reference}, which is not embedded"
            );
        }
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
