//! Resource use and logs of the served model: telemetry samples and log records
//! ingested (checked off the async workers, each bad record rejected alone with its
//! field, `422` when none is accepted), stored (counts in the window profiles, raw
//! records apart), searched (`GET .../logs`) and grouped by message template
//! (`GET .../logs/patterns`). The checks and the templates are core's
//! (`modelwatch_core::ops`).

use std::collections::BTreeMap;
use std::sync::Arc;

use modelwatch_core::FieldError;
use modelwatch_core::body::BodyFormat;
use modelwatch_core::non_finite::replace_tokens;
use modelwatch_core::ops::logs::parse_log_record;
use modelwatch_core::ops::usage::parse_sample;
use modelwatch_core::ops::{LogLevel, LogProfile};
use modelwatch_core::time::{format_duration, format_timestamp, parse_timestamp_str};
use modelwatch_store::{LogFilter, ModelEntry, OperationsBatch};
use serde::Deserialize;
use serde_json::{Value, json};

use super::blocking;
use super::ingest::{Framing, answer, parse_records};
use super::ranges::{Range, RangeParams, merged_performance};
use crate::error::{ApiError, ErrorCode};
use crate::state::Catalog;

/// Most log records one search answers.
pub const MAX_LOG_LIMIT: usize = 1_000;
/// Log records a search answers without `limit`.
pub const DEFAULT_LOG_LIMIT: usize = 100;

/// Which kind of record a body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `POST .../telemetry`.
    Telemetry,
    /// `POST .../logs`.
    Logs,
}

/// Ingests a body of telemetry samples or log records that arrived at `arrival`.
pub async fn ingest(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    kind: Kind,
    arrival: i64,
    format: BodyFormat,
    body: bytes::Bytes,
) -> Result<Value, ApiError> {
    let model = entry.model.clone();
    let max_records = catalog.limits.max_records_per_request;
    let limits = catalog.limits.input();
    let (batch, indexes, mut rejected) = blocking(move || {
        let text = std::str::from_utf8(&body).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidJson,
                format!("the body is not UTF-8: {e}"),
            )
            .field("body")
        })?;
        let body = replace_tokens(text);
        let framing = Framing::Records(format);
        Ok(match kind {
            Kind::Telemetry => {
                let (samples, indexes, rejected) =
                    parse_records(body.as_bytes(), framing, &model, max_records, |record| {
                        parse_sample(&record, arrival, &limits)
                    })?;
                (
                    OperationsBatch::prepare(&samples, Vec::new()),
                    indexes,
                    rejected,
                )
            }
            Kind::Logs => {
                let (records, indexes, rejected) =
                    parse_records(body.as_bytes(), framing, &model, max_records, |record| {
                        parse_log_record(&record, arrival, &limits)
                    })?;
                (OperationsBatch::prepare(&[], records), indexes, rejected)
            }
        })
    })
    .await?;
    let versions: Vec<String> = batch.versions.iter().map(|(v, _)| v.clone()).collect();
    let outcome = if versions.is_empty() {
        modelwatch_store::OperationsOutcome::default()
    } else {
        catalog
            .store
            .put_operations(entry.clone(), batch, arrival)
            .await
            .inspect_err(|e| {
                if matches!(e, modelwatch_store::StoreError::Overloaded) {
                    catalog.telemetry.requests_shed.inc();
                }
            })?
    };
    catalog
        .alerting
        .data_changed(&entry.model.name, outcome.event_time_range);
    let mut accepted = 0;
    for (version, index) in versions.iter().zip(indexes) {
        if outcome.refused_versions.contains(version) {
            rejected.push((
                index,
                FieldError::new(
                    "version",
                    format!(
                        "the model holds {} versions already, the most allowed (limits.max_versions_per_model)",
                        catalog.limits.max_versions_per_model
                    ),
                ),
            ));
        } else {
            accepted += 1;
        }
    }
    let mut body = serde_json::Map::new();
    body.insert("accepted".into(), json!(accepted));
    answer(accepted, rejected, body)
}

/// The query of `GET .../logs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Event time from (inclusive).
    pub from: Option<String>,
    /// Event time to (exclusive).
    pub to: Option<String>,
    /// One level, or several separated by commas.
    pub level: Option<String>,
    /// Text the message holds (ASCII case ignored).
    pub q: Option<String>,
    /// Most records answered (default 100, at most 1,000).
    pub limit: Option<usize>,
    /// Of this version only.
    pub version: Option<String>,
    /// Of this instance only.
    pub instance: Option<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, message.into()).field(field)
}

/// The log records of a model that pass `query`, newest first.
pub async fn search(
    catalog: &Catalog,
    entry: &ModelEntry,
    query: LogQuery,
) -> Result<Value, ApiError> {
    let time = |value: Option<String>, field: &str| {
        value
            .map(|v| parse_timestamp_str(&v))
            .transpose()
            .map_err(|e| invalid(field, e))
    };
    let from_ms = time(query.from, "from")?;
    let to_ms = time(query.to, "to")?;
    if let (Some(from), Some(to)) = (from_ms, to_ms)
        && from >= to
    {
        return Err(invalid("to", "must be after `from`"));
    }
    let mut levels = Vec::new();
    for name in query.level.iter().flat_map(|l| l.split(',')) {
        levels.push(LogLevel::parse(name.trim()).ok_or_else(|| {
            invalid(
                "level",
                format!(
                    "unknown level `{}` (use trace, debug, info, warn, error or fatal, or several separated by commas)",
                    modelwatch_core::time::truncate(name, 30)
                ),
            )
        })?);
    }
    let limit = query.limit.unwrap_or(DEFAULT_LOG_LIMIT);
    if limit == 0 || limit > MAX_LOG_LIMIT {
        return Err(invalid(
            "limit",
            format!("must be from 1 to {MAX_LOG_LIMIT}"),
        ));
    }
    if query.q.as_ref().is_some_and(|q| q.len() > 1024) {
        return Err(invalid("q", "is at most 1024 bytes"));
    }
    let filter = LogFilter {
        from_ms,
        to_ms,
        levels,
        text: query.q.filter(|q| !q.is_empty()),
        version: query.version,
        instance: query.instance,
    };
    let store = catalog.store.clone();
    let (model_id, name) = (entry.id, entry.model.name.clone());
    blocking(move || {
        let rows = store.search_logs(model_id, &filter, limit)?;
        let records: Vec<Value> = rows
            .into_iter()
            .map(|row| {
                let mut record = json!({
                    "timestamp": format_timestamp(row.timestamp_ms),
                    "level": row.level.as_str(),
                    "message": row.message,
                    "template": row.template,
                    "version": row.version,
                });
                let object = record.as_object_mut().expect("an object");
                if let Some(instance) = row.instance {
                    object.insert("instance".into(), json!(instance));
                }
                if let Some(id) = row.id {
                    object.insert("id".into(), json!(id));
                }
                if let Some(attributes) = row.attributes {
                    object.insert(
                        "attributes".into(),
                        serde_json::from_str(&attributes).unwrap_or(Value::Null),
                    );
                }
                record
            })
            .collect();
        Ok(json!({"model": name, "limit": limit, "records": records}))
    })
    .await
}

/// `GET .../logs/patterns`: the templates of the range with their counts, newest
/// first; with a step, each template's count per step (aligned with `starts`).
pub async fn patterns(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    params: RangeParams,
) -> Result<Value, ApiError> {
    let range = Range::try_from(params)?;
    let store = catalog.store.clone();
    blocking(move || {
        let merged = merged_performance(&*store, entry.id, &range)?;
        let summary = &merged.merged.summary.logs;
        let series: Vec<(i64, &LogProfile)> = merged
            .merged
            .series
            .iter()
            .map(|(start, profile)| (*start, &profile.logs))
            .collect();
        let mut patterns: Vec<(&String, _)> = summary.templates.iter().collect();
        patterns.sort_by(|(ta, a), (tb, b)| {
            b.last_ms
                .cmp(&a.last_ms)
                .then(b.count.cmp(&a.count))
                .then(ta.cmp(tb))
        });
        let entries: Vec<Value> = patterns
            .into_iter()
            .map(|(template, counts)| {
                let mut pattern = json!({
                    "template": template,
                    "count": counts.count,
                    "level": counts.level.as_str(),
                    "last_seen": format_timestamp(counts.last_ms),
                });
                if range.step.is_some() {
                    pattern["series"] = series
                        .iter()
                        .map(|(_, logs)| logs.templates.get(template).map_or(0, |t| t.count))
                        .collect();
                }
                pattern
            })
            .collect();
        let levels: BTreeMap<&str, u64> = LogLevel::ALL
            .iter()
            .map(|level| (level.as_str(), summary.count(*level)))
            .collect();
        let from = range.from.or(merged.first);
        let to = range.to.or(merged.last_end);
        let mut body = json!({
            "model": entry.model.name,
            "from": from.map(format_timestamp),
            "to": to.map(format_timestamp),
            "total": summary.total(),
            "levels": levels,
            "other": summary.other,
            "patterns": entries,
        });
        if let Some(step) = range.step {
            body["step"] = json!(format_duration(step));
            body["starts"] = series
                .iter()
                .map(|(start, _)| json!(format_timestamp(*start)))
                .collect();
            body["other_series"] = series.iter().map(|(_, logs)| logs.other).collect();
        }
        Ok(body)
    })
    .await
}
