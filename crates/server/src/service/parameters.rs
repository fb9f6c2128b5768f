//! Model internals: tensor summaries stored per version and step
//! (`POST .../parameters`), read back as per-tensor series (`GET .../parameters`) and
//! compared between two versions or two steps (`GET .../parameters/diff`). The
//! statistics are core's (`modelwatch_core::parameters`).

use std::collections::BTreeMap;

use modelwatch_core::answer::report::InternalsRow;
use modelwatch_core::non_finite::replace_tokens;
use modelwatch_core::parameters::diff::relative_change;
use modelwatch_core::parameters::{TensorSummary, diff, parse_request};
use modelwatch_core::time::format_timestamp;
use modelwatch_store::{ModelEntry, ParameterFilter, ParameterRow};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::blocking;
use crate::error::{ApiError, ErrorCode};
use crate::state::Catalog;

/// Most tensors a report lists.
pub const MAX_REPORT_TENSORS: usize = 200;

/// The model internals of a report over `[from, to)`: per tensor and version (the
/// training record left out), its first and last step taken in the range and the
/// change of its norm between them.
pub fn report_rows(
    store: &dyn modelwatch_store::Storage,
    model_id: i64,
    from: Option<i64>,
    to: Option<i64>,
    version: Option<String>,
) -> Result<Vec<InternalsRow>, ApiError> {
    let filter = ParameterFilter {
        version,
        from_ms: from,
        to_ms: to,
        ..ParameterFilter::default()
    };
    let rows = store.load_parameters(model_id, &filter, MAX_SUMMARIES)?;
    let mut out: Vec<InternalsRow> = Vec::new();
    let mut first: Option<ParameterRow> = None;
    let flush = |first: &ParameterRow, last: &ParameterRow, out: &mut Vec<InternalsRow>| {
        if out.len() < MAX_REPORT_TENSORS && !first.tensor.starts_with("training/") {
            out.push(InternalsRow {
                first_step: first.step,
                inf: last.summary.inf,
                l2_norm: last.summary.l2_norm,
                l2_norm_change: relative_change(first.summary.l2_norm, last.summary.l2_norm),
                last_step: last.step,
                nan: last.summary.nan,
                tensor: last.tensor.clone(),
                version: last.version.clone(),
            });
        }
    };
    let mut previous: Option<ParameterRow> = None;
    for row in rows {
        if let Some(prev) = &previous
            && (prev.tensor != row.tensor || prev.version != row.version)
            && let Some(f) = first.take()
        {
            flush(&f, prev, &mut out);
        }
        if first.is_none() {
            first = Some(row.clone());
        }
        previous = Some(row);
    }
    if let (Some(f), Some(last)) = (first, previous) {
        flush(&f, &last, &mut out);
    }
    Ok(out)
}

/// Most summaries one answer holds; a query that would read more is refused.
pub const MAX_SUMMARIES: usize = 20_000;

/// Reads, summarises and stores one request's tensors; answers
/// `{"accepted", "step", "version"}` once they are durable.
pub async fn ingest(
    catalog: &Catalog,
    entry: &ModelEntry,
    arrival_ms: i64,
    body: axum::body::Bytes,
) -> Result<Value, ApiError> {
    let max_future_ms = catalog.limits.max_event_future;
    let model_id = entry.id;
    let rows = blocking(move || {
        let text = std::str::from_utf8(&body).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidJson,
                format!("the body is not UTF-8: {e}"),
            )
            .field("body")
        })?;
        let value: Value = serde_json::from_str(&replace_tokens(text)).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidJson,
                format!("the body is not valid JSON: {e}"),
            )
            .field("body")
        })?;
        let request = parse_request(&value, arrival_ms).map_err(ApiError::invalid)?;
        if request.timestamp_ms > arrival_ms.saturating_add(max_future_ms) {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                format!(
                    "more than {} ahead of the server's clock (limits.max_event_future)",
                    modelwatch_core::time::format_duration(max_future_ms)
                ),
            )
            .field("timestamp"));
        }
        Ok(request
            .tensors
            .into_iter()
            .map(|tensor| ParameterRow {
                model_id,
                version: request.version.clone(),
                step: request.step,
                tensor: tensor.name,
                timestamp_ms: request.timestamp_ms,
                summary: tensor.summary,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let (step, version) = (rows[0].step, rows[0].version.clone());
    let accepted = catalog.store.put_parameters(rows, arrival_ms).await?;
    Ok(json!({"accepted": accepted, "step": step, "version": version}))
}

/// The query of `GET .../parameters`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeriesQuery {
    /// Of this version only.
    pub version: Option<String>,
    /// Of this tensor only.
    pub tensor: Option<String>,
    /// Steps from this one (inclusive).
    pub from_step: Option<i64>,
    /// Steps up to this one (inclusive).
    pub to_step: Option<i64>,
}

/// One step of a tensor's series.
#[derive(Debug, Serialize)]
pub struct SeriesPoint {
    /// Training step.
    pub step: i64,
    /// When the tensors were taken.
    pub timestamp: String,
    /// The summary.
    pub summary: TensorSummary,
}

/// One tensor of one version, step by step.
#[derive(Debug, Serialize)]
pub struct TensorSeries {
    /// Tensor name.
    pub tensor: String,
    /// Model version.
    pub version: String,
    /// Its steps, in order.
    pub points: Vec<SeriesPoint>,
}

fn check_steps(from: Option<i64>, to: Option<i64>) -> Result<(), ApiError> {
    for (name, step) in [("from_step", from), ("to_step", to)] {
        if step.is_some_and(|s| s < 0) {
            return Err(ApiError::new(ErrorCode::InvalidQuery, "must not be negative").field(name));
        }
    }
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(
            ApiError::new(ErrorCode::InvalidQuery, "must not be after to_step").field("from_step"),
        );
    }
    Ok(())
}

async fn load(
    catalog: &Catalog,
    model_id: i64,
    filter: ParameterFilter,
) -> Result<Vec<ParameterRow>, ApiError> {
    let store = catalog.store.clone();
    let rows =
        blocking(move || Ok(store.load_parameters(model_id, &filter, MAX_SUMMARIES + 1)?)).await?;
    if rows.len() > MAX_SUMMARIES {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!(
                "more than {MAX_SUMMARIES} summaries: narrow the query with version, tensor, from_step or to_step"
            ),
        )
        .field("to_step"));
    }
    Ok(rows)
}

/// `{"model", "tensors": [{"tensor", "version", "points": [{"step", "timestamp",
/// "summary"}]}]}`, by tensor, then version.
pub async fn series(
    catalog: &Catalog,
    entry: &ModelEntry,
    query: SeriesQuery,
) -> Result<Value, ApiError> {
    check_steps(query.from_step, query.to_step)?;
    let filter = ParameterFilter {
        version: query.version,
        tensor: query.tensor,
        from_step: query.from_step,
        to_step: query.to_step,
        ..ParameterFilter::default()
    };
    let rows = load(catalog, entry.id, filter).await?;
    let mut tensors: Vec<TensorSeries> = Vec::new();
    for row in rows {
        let point = SeriesPoint {
            step: row.step,
            timestamp: format_timestamp(row.timestamp_ms),
            summary: row.summary,
        };
        match tensors.last_mut() {
            Some(last) if last.tensor == row.tensor && last.version == row.version => {
                last.points.push(point);
            }
            _ => tensors.push(TensorSeries {
                tensor: row.tensor,
                version: row.version,
                points: vec![point],
            }),
        }
    }
    Ok(json!({"model": entry.model.name, "tensors": tensors}))
}

/// The query of `GET .../parameters/diff`: two versions (each at its last step), or
/// two steps (of `version`, or of the version written last at that step).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiffQuery {
    /// The earlier version.
    pub from_version: Option<String>,
    /// The later version.
    pub to_version: Option<String>,
    /// The earlier step.
    pub from_step: Option<i64>,
    /// The later step.
    pub to_step: Option<i64>,
    /// The version of a step diff.
    pub version: Option<String>,
}

/// One side of a diff, per tensor.
type Side = BTreeMap<String, ParameterRow>;

fn by_tensor(rows: Vec<ParameterRow>) -> Side {
    let mut side = Side::new();
    for row in rows {
        // Several versions at one step: the one taken last.
        match side.get(&row.tensor) {
            Some(kept) if kept.timestamp_ms > row.timestamp_ms => {}
            _ => {
                side.insert(row.tensor.clone(), row);
            }
        }
    }
    side
}

/// `{"model", "from", "to", "tensors": [{"tensor", "mean_change", "std_change",
/// "l2_norm_change", "wasserstein", "from_step", "to_step"}], "only_in_from",
/// "only_in_to"}`.
pub async fn diff_answer(
    catalog: &Catalog,
    entry: &ModelEntry,
    query: DiffQuery,
) -> Result<Value, ApiError> {
    let missing =
        |name: &str| ApiError::new(ErrorCode::InvalidQuery, "is required").field(name.to_string());
    let by_version = query.from_version.is_some() || query.to_version.is_some();
    let by_step = query.from_step.is_some() || query.to_step.is_some();
    let (from, to, described) = match (by_version, by_step) {
        (true, true) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "compare two versions or two steps, not both",
            )
            .field(if query.from_step.is_some() {
                "from_step"
            } else {
                "to_step"
            }));
        }
        (false, false) => return Err(missing("from_version")),
        (true, false) => {
            if query.version.is_some() {
                return Err(ApiError::new(
                    ErrorCode::InvalidQuery,
                    "only with from_step and to_step",
                )
                .field("version"));
            }
            let from_version = query.from_version.ok_or_else(|| missing("from_version"))?;
            let to_version = query.to_version.ok_or_else(|| missing("to_version"))?;
            let last = |version: &String| ParameterFilter {
                version: Some(version.clone()),
                last_step_only: true,
                ..ParameterFilter::default()
            };
            let from = load(catalog, entry.id, last(&from_version)).await?;
            let to = load(catalog, entry.id, last(&to_version)).await?;
            (
                from,
                to,
                (
                    json!({"version": from_version}),
                    json!({"version": to_version}),
                ),
            )
        }
        (false, true) => {
            let from_step = query.from_step.ok_or_else(|| missing("from_step"))?;
            let to_step = query.to_step.ok_or_else(|| missing("to_step"))?;
            check_steps(Some(from_step), Some(to_step))?;
            let at = |step: i64| ParameterFilter {
                version: query.version.clone(),
                from_step: Some(step),
                to_step: Some(step),
                ..ParameterFilter::default()
            };
            let from = load(catalog, entry.id, at(from_step)).await?;
            let to = load(catalog, entry.id, at(to_step)).await?;
            (
                from,
                to,
                (
                    json!({"step": from_step, "version": query.version}),
                    json!({"step": to_step, "version": query.version}),
                ),
            )
        }
    };
    let (from, to) = (by_tensor(from), by_tensor(to));
    let mut tensors = Vec::new();
    let mut only_in_from = Vec::new();
    for (name, before) in &from {
        match to.get(name) {
            Some(after) => {
                let mut entry = serde_json::to_value(diff(name, &before.summary, &after.summary))
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                entry["from_step"] = json!(before.step);
                entry["to_step"] = json!(after.step);
                tensors.push(entry);
            }
            None => only_in_from.push(name.clone()),
        }
    }
    let only_in_to: Vec<&String> = to.keys().filter(|name| !from.contains_key(*name)).collect();
    Ok(json!({
        "model": entry.model.name,
        "from": described.0,
        "to": described.1,
        "tensors": tensors,
        "only_in_from": only_in_from,
        "only_in_to": only_in_to,
    }))
}
