//! Ingest of predictions and labels: split and validate the records off the async
//! workers, store the valid ones (answered once durable), tell the alerting engine
//! which event time changed, count them for `/metrics`, and list what was rejected
//! with its index and reason.

use std::sync::Arc;

use modelwatch_core::FieldError;
use modelwatch_core::body::{BodyFormat, RecordResult, split_records};
use modelwatch_core::event::{validate_label, validate_prediction_within};
use modelwatch_core::time::now_ms;
use modelwatch_store::ModelEntry;
use serde_json::{Value, json};

use super::blocking;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::telemetry::ModelLabel;
use crate::telemetry::Observed;

/// Valid items, the indexes they had in the body, and the rejected records.
type Parsed<T> = (Vec<T>, Vec<usize>, Vec<(usize, FieldError)>);

/// Splits and validates a body (call it off the async runtime).
fn parse_records<T>(
    body: &[u8],
    format: BodyFormat,
    max_records: usize,
    validate: impl Fn(serde_json::Map<String, Value>) -> Result<T, FieldError>,
) -> Result<Parsed<T>, ApiError> {
    let records: Vec<RecordResult> = split_records(body, format).map_err(ApiError::invalid)?;
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

/// The `rejected` list of an ingest answer, by index.
fn rejected_json(mut rejected: Vec<(usize, FieldError)>) -> Value {
    rejected.sort_by_key(|(index, _)| *index);
    Value::Array(
        rejected
            .into_iter()
            .map(|(index, error)| json!({"index": index, "field": error.field, "error": error.to_string()}))
            .collect(),
    )
}

/// Ingests a body of prediction events that arrived at `arrival` (epoch ms).
pub async fn predictions(
    state: &AppState,
    entry: Arc<ModelEntry>,
    arrival: i64,
    format: BodyFormat,
    body: bytes::Bytes,
) -> Result<Value, ApiError> {
    let name = entry.model.name.clone();
    let name = name.as_str();
    let (model, pii) = (entry.model.clone(), state.pii.clone());
    let reference = state.reference(entry.id);
    let max_records = state.limits.max_records_per_request;
    let input_limits = state.limits.input();
    let (batch, observed, indexes, mut rejected) = blocking(move || {
        let (events, indexes, rejected) = parse_records(&body, format, max_records, |record| {
            let mut event = validate_prediction_within(&model, &record, arrival, &input_limits)?;
            pii.protect(&model, &mut event.features);
            Ok(event)
        })?;
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
    let outcome = state
        .store
        .ingest(entry, batch, arrival)
        .await
        .inspect_err(|e| {
            if matches!(e, modelwatch_store::StoreError::Overloaded) {
                state.telemetry.requests_shed.inc();
            }
        })?;
    state.alerting.data_changed(name, outcome.event_time_range);
    let not_stored: Vec<usize> = outcome
        .too_old
        .iter()
        .chain(&outcome.duplicates)
        .copied()
        .collect();
    state
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
    state
        .telemetry
        .predictions_ingested
        .get_or_create(&label)
        .inc_by(outcome.accepted as u64);
    state
        .telemetry
        .predictions_rejected
        .get_or_create(&label)
        .inc_by(rejected.len() as u64);
    Ok(json!({
        "accepted": outcome.accepted,
        "labels_joined": outcome.joined_pending_labels,
        "rejected": rejected_json(rejected),
    }))
}

/// Ingests a body of labels.
pub async fn labels(
    state: &AppState,
    entry: Arc<ModelEntry>,
    format: BodyFormat,
    body: bytes::Bytes,
) -> Result<Value, ApiError> {
    let name = entry.model.name.clone();
    let name = name.as_str();
    let (model, max_records) = (entry.model.clone(), state.limits.max_records_per_request);
    let (labels, indexes, mut rejected) = blocking(move || {
        parse_records(&body, format, max_records, |record| {
            validate_label(&model, &record)
        })
    })
    .await?;
    let outcome = state.store.ingest_labels(entry, labels, now_ms()).await?;
    state.alerting.data_changed(name, outcome.event_time_range);
    state
        .telemetry
        .observe_labels(name, &outcome.labelled_by_version);
    for (index, error) in outcome.rejected {
        rejected.push((indexes[index], error));
    }
    state
        .telemetry
        .labels_ingested
        .get_or_create(&ModelLabel {
            model: name.to_string(),
        })
        .inc_by((outcome.matched + outcome.pending) as u64);
    Ok(json!({
        "accepted": outcome.matched + outcome.pending,
        "matched": outcome.matched,
        "pending": outcome.pending,
        "rejected": rejected_json(rejected),
    }))
}
