//! `GET /api/v1/models/{model}/report?from&to&step&version&format=json|html|md`: the
//! report of a range as JSON, one self-contained HTML page, or Markdown.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use modelwatch_core::FieldError;

use super::access::{Access, Reach, Routes};
use super::extract::ValidQuery;
use crate::error::ApiError;
use crate::service::models::model_entry;
use crate::service::ranges::{Range, RangeParams};
use crate::service::{blocking, report};
use crate::state::Catalog;

type Shared = State<Arc<Catalog>>;

/// The route of the report.
pub fn routes(routes: Routes) -> Routes {
    routes.route(
        "/api/v1/models/{model}/report",
        [(Access::read(Reach::ModelInPath), get(get_report))],
    )
}

/// Query parameters of `GET .../report`: a range and the format.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    version: Option<String>,
    format: Option<String>,
}

/// What the report is rendered as.
#[derive(Clone, Copy)]
enum Format {
    Json,
    Html,
    Markdown,
}

async fn get_report(
    State(catalog): Shared,
    Path(name): Path<String>,
    ValidQuery(params): ValidQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let format = match params.format.as_deref() {
        None | Some("json") => Format::Json,
        Some("html") => Format::Html,
        Some("md") => Format::Markdown,
        Some(_) => {
            return Err(ApiError::invalid(FieldError::new(
                "format",
                "expected json, html or md",
            )));
        }
    };
    let entry = model_entry(&catalog, &name)?;
    let range = Range::try_from(RangeParams {
        from: params.from,
        to: params.to,
        step: params.step,
        version: params.version,
    })?;
    let body = report::build(&catalog, entry, range).await?;
    let (content_type, text) = match format {
        Format::Json => return Ok(Json(body).into_response()),
        Format::Html => {
            let page = blocking(move || {
                modelwatch_report::html(&body)
                    .map_err(|e| ApiError::internal(format!("the report does not render: {e}")))
            })
            .await?;
            return Ok((
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CONTENT_SECURITY_POLICY, REPORT_CSP),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                page,
            )
                .into_response());
        }
        Format::Markdown => (
            "text/markdown; charset=utf-8",
            blocking(move || Ok(modelwatch_report::markdown(&body))).await?,
        ),
    };
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// The HTML report's policy: no script runs (its data block is JSON, not script), no
/// request leaves the page; only its own inline styles and `data:` images apply.
pub const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
