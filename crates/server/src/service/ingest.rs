//! Ingest of predictions and labels: split and validate the records off the async
//! workers, store the valid ones (answered once durable), tell the alerting engine
//! which event time changed, count them for `/metrics`, and list what was rejected
//! with its index and reason. A non-empty batch that stored nothing is answered `422`
//! with the same body, so a client's `raise_for_status()` does not pass it by.

use std::collections::HashSet;
use std::sync::Arc;

use modelwatch_core::FieldError;
use modelwatch_core::Model;
use modelwatch_core::body::{RecordResult, split_records};
use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::event::{PredictionEvent, validate_label, validate_prediction_within};
use modelwatch_core::time::now_ms;
use modelwatch_store::ModelEntry;
use serde_json::{Value, json};

use super::blocking;
use crate::error::{ApiError, ErrorCode};
use crate::state::Catalog;
use crate::telemetry::ModelLabel;
use crate::telemetry::Observed;

/// How an ingest body is framed: JSON or NDJSON records, or CSV rows mapped to records
/// by the model's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A JSON array (or object) or NDJSON.
    Records(modelwatch_core::body::BodyFormat),
    /// `text/csv`: a header, then one record per row.
    Csv,
}

/// Valid items, the indexes they had in the body, and the rejected records.
type Parsed<T> = (Vec<T>, Vec<usize>, Vec<(usize, FieldError)>);

/// Splits a body into records: JSON and NDJSON as they are, CSV rows by the model's
/// columns (as a reference CSV is read).
fn split_body(body: &[u8], framing: Framing, model: &Model) -> Result<Vec<RecordResult>, ApiError> {
    match framing {
        Framing::Records(format) => split_records(body, format).map_err(ApiError::invalid),
        Framing::Csv => {
            let rows = CsvRecords::new(body, model).map_err(ApiError::invalid)?;
            Ok(rows.map(|(_, record)| record).collect())
        }
    }
}

/// Splits and validates a body (call it off the async runtime).
pub(super) fn parse_records<T>(
    body: &[u8],
    framing: Framing,
    model: &Model,
    max_records: usize,
    validate: impl Fn(serde_json::Map<String, Value>) -> Result<T, FieldError>,
) -> Result<Parsed<T>, ApiError> {
    let records = split_body(body, framing, model)?;
    if records.len() > max_records {
        return Err(ApiError::new(
            ErrorCode::TooManyRecords,
            format!(
                "{} records in one request; at most {max_records} are allowed",
                records.len()
            ),
        )
        .field("body"));
    }
    let mut valid = Vec::with_capacity(records.len());
    let mut indexes = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        match record.and_then(&validate) {
            Ok(item) => {
                valid.push(item);
                indexes.push(index);
            }
            Err(error) => rejected.push((index, error)),
        }
    }
    Ok((valid, indexes, rejected))
}

/// Keeps the events of the first `max_versions` distinct versions of a request and
/// rejects the others naming `version`: a request's work (and memory) grows with the
/// versions it holds, since every version has profiles of its own.
fn bound_versions(
    events: Vec<PredictionEvent>,
    indexes: Vec<usize>,
    max_versions: usize,
    rejected: &mut Vec<(usize, FieldError)>,
) -> (Vec<PredictionEvent>, Vec<usize>) {
    let mut seen = HashSet::new();
    let mut kept = (
        Vec::with_capacity(events.len()),
        Vec::with_capacity(indexes.len()),
    );
    for (event, index) in events.into_iter().zip(indexes) {
        if seen.contains(event.version.as_str()) || seen.len() < max_versions {
            seen.insert(event.version.clone());
            kept.0.push(event);
            kept.1.push(index);
        } else {
            rejected.push((
                index,
                FieldError::new(
                    "version",
                    format!(
                        "more than {max_versions} versions in one request (limits.max_versions_per_request)"
                    ),
                ),
            ));
        }
    }
    kept
}

/// The `rejected` list of an ingest answer, by index.
fn rejected_json(rejected: &[(usize, FieldError)]) -> Value {
    Value::Array(
        rejected
            .iter()
            .map(|(index, error)| json!({"index": index, "field": error.field, "error": error.to_string()}))
            .collect(),
    )
}

/// The ingest answer: `200` with `body`, or `422` with the same body when records were
/// sent and none was accepted. `rejected` is sorted by index first.
pub(super) fn answer(
    accepted: usize,
    mut rejected: Vec<(usize, FieldError)>,
    mut body: serde_json::Map<String, Value>,
) -> Result<Value, ApiError> {
    rejected.sort_by_key(|(index, _)| *index);
    body.insert("rejected".into(), rejected_json(&rejected));
    match rejected.first() {
        Some((index, reason)) if accepted == 0 => {
            Err(ApiError::nothing_accepted((*index, reason), body))
        }
        _ => Ok(Value::Object(body)),
    }
}

/// Ingests a body of prediction events that arrived at `arrival` (epoch ms).
pub async fn predictions(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    arrival: i64,
    framing: Framing,
    body: bytes::Bytes,
) -> Result<Value, ApiError> {
    let name = entry.model.name.clone();
    let name = name.as_str();
    let (model, pii) = (entry.model.clone(), catalog.pii.clone());
    let reference = catalog.reference(entry.id);
    let max_records = catalog.limits.max_records_per_request;
    let input_limits = catalog.limits.input();
    let max_versions = catalog.limits.max_versions_per_request;
    let (batch, observed, indexes, mut rejected) = blocking(move || {
        let (events, indexes, mut rejected) =
            parse_records(&body, framing, &model, max_records, |record| {
                let mut event =
                    validate_prediction_within(&model, &record, arrival, &input_limits)?;
                pii.protect(&model, &mut event.features);
                Ok(event)
            })?;
        let (events, indexes) = bound_versions(events, indexes, max_versions, &mut rejected);
        let batch = modelwatch_store::prepare(&model, events, reference.as_deref());
        let observed: Vec<Observed> = batch
            .events()
            .iter()
            .map(|e| Observed {
                version: e.version.clone(),
                latency_ms: e.latency_ms,
                labelled: e.label.is_some() && e.prediction.is_some(),
                predicted: e.prediction.is_some(),
            })
            .collect();
        Ok((batch, observed, indexes, rejected))
    })
    .await?;
    let outcome = catalog
        .store
        .ingest(entry, batch, arrival)
        .await
        .inspect_err(|e| {
            if matches!(e, modelwatch_store::StoreError::Overloaded) {
                catalog.telemetry.requests_shed.inc();
            }
        })?;
    catalog
        .alerting
        .data_changed(name, outcome.event_time_range);
    let not_stored: Vec<usize> = outcome
        .too_old
        .iter()
        .chain(&outcome.duplicates)
        .chain(&outcome.version_limit)
        .copied()
        .collect();
    catalog
        .telemetry
        .observe_ingest(name, &observed, &not_stored, &outcome.labelled_from_pending);
    for old in outcome.too_old {
        rejected.push((
            indexes[old],
            FieldError::new(
                "timestamp",
                "older than the raw events kept (retention), so it cannot be checked for duplicates",
            ),
        ));
    }
    for beyond in outcome.version_limit {
        rejected.push((
            indexes[beyond],
            FieldError::new(
                "version",
                format!(
                    "the model holds {} versions already, the most allowed (limits.max_versions_per_model)",
                    catalog.limits.max_versions_per_model
                ),
            ),
        ));
    }
    for duplicate in outcome.duplicates {
        rejected.push((
            indexes[duplicate],
            FieldError::new(
                "id",
                "duplicate id: a prediction with this id is already stored",
            ),
        ));
    }
    let label = ModelLabel {
        model: name.to_string(),
    };
    catalog
        .telemetry
        .predictions_ingested
        .get_or_create(&label)
        .inc_by(outcome.accepted as u64);
    catalog
        .telemetry
        .predictions_rejected
        .get_or_create(&label)
        .inc_by(rejected.len() as u64);
    let mut body = serde_json::Map::new();
    body.insert("accepted".into(), json!(outcome.accepted));
    body.insert("labels_joined".into(), json!(outcome.joined_pending_labels));
    answer(outcome.accepted, rejected, body)
}

/// Ingests a body of labels.
pub async fn labels(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    framing: Framing,
    body: bytes::Bytes,
) -> Result<Value, ApiError> {
    let name = entry.model.name.clone();
    let name = name.as_str();
    let (model, max_records) = (entry.model.clone(), catalog.limits.max_records_per_request);
    let (labels, indexes, mut rejected) = blocking(move || {
        parse_records(&body, framing, &model, max_records, |record| {
            validate_label(&model, &record)
        })
    })
    .await?;
    let outcome = catalog.store.ingest_labels(entry, labels, now_ms()).await?;
    catalog
        .alerting
        .data_changed(name, outcome.event_time_range);
    catalog
        .telemetry
        .observe_labels(name, &outcome.labelled_by_version);
    for (index, error) in outcome.rejected {
        rejected.push((indexes[index], error));
    }
    catalog
        .telemetry
        .labels_ingested
        .get_or_create(&ModelLabel {
            model: name.to_string(),
        })
        .inc_by((outcome.matched + outcome.pending) as u64);
    let accepted = outcome.matched + outcome.pending;
    let mut body = serde_json::Map::new();
    body.insert("accepted".into(), json!(accepted));
    body.insert("matched".into(), json!(outcome.matched));
    body.insert("pending".into(), json!(outcome.pending));
    if !outcome.suspect_ids.is_empty() {
        let warnings = outcome
            .suspect_ids
            .iter()
            .map(|(index, label_id, prediction_id)| {
                json!({
                    "index": indexes[*index],
                    "field": "id",
                    "warning": format!(
                        "label id `{label_id}` waits for its prediction, but a prediction `{prediction_id}` is stored: a float rendering of an integer id is a likely mismatch (send the id as the prediction was sent)"
                    ),
                })
            })
            .collect();
        body.insert("warnings".into(), Value::Array(warnings));
    }
    answer(accepted, rejected, body)
}
