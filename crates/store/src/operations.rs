//! What the store keeps of the served model's operations (`POST .../telemetry` and
//! `POST .../logs`): the batch handed to [`crate::OperationsStorage::put_operations`]
//! (prepared on the caller's thread: profile deltas per `(version, minute)`, the log
//! rows with their templates), its outcome, and the search of stored log records.

use std::collections::{BTreeMap, BTreeSet};

use modelwatch_core::ops::template::template;
use modelwatch_core::ops::{LogLevel, LogRecord, TelemetrySample};
use modelwatch_core::{Granularity, WindowProfile};

/// A log record as stored, with its template.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLog {
    /// Event time (epoch ms).
    pub timestamp_ms: i64,
    /// Model version.
    pub version: String,
    /// Severity.
    pub level: LogLevel,
    /// The message.
    pub message: String,
    /// Its template.
    pub template: String,
    /// The instance that logged it.
    pub instance: Option<String>,
    /// The id of the prediction it concerns.
    pub id: Option<String>,
    /// Further attributes (a JSON object's text).
    pub attributes: Option<String>,
}

/// Samples and log records of one request, ready for the writer.
#[derive(Debug, Default)]
pub struct OperationsBatch {
    /// `(version, minute start)` → the usage and logs of the batch there.
    pub deltas: BTreeMap<(String, i64), WindowProfile>,
    /// The log records, in the order sent.
    pub logs: Vec<StoredLog>,
    /// The version and event time of each sample, then each record, in the order sent.
    pub versions: Vec<(String, i64)>,
}

impl OperationsBatch {
    /// Folds telemetry samples and log records into a batch (call it off the async
    /// runtime: templates are computed here).
    pub fn prepare(samples: &[TelemetrySample], records: Vec<LogRecord>) -> Self {
        let mut batch = OperationsBatch::default();
        let minute = |ms: i64| Granularity::Minute.window_start(ms);
        for sample in samples {
            batch
                .deltas
                .entry((sample.version.clone(), minute(sample.timestamp_ms)))
                .or_default()
                .usage
                .observe(sample);
            batch
                .versions
                .push((sample.version.clone(), sample.timestamp_ms));
        }
        for record in records {
            let template = template(&record.message);
            batch
                .deltas
                .entry((record.version.clone(), minute(record.timestamp_ms)))
                .or_default()
                .logs
                .observe(&record, &template);
            batch
                .versions
                .push((record.version.clone(), record.timestamp_ms));
            batch.logs.push(StoredLog {
                timestamp_ms: record.timestamp_ms,
                version: record.version,
                level: record.level,
                message: record.message,
                template,
                instance: record.instance,
                id: record.id,
                attributes: record.attributes,
            });
        }
        batch
    }
}

/// What [`crate::OperationsStorage::put_operations`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationsOutcome {
    /// Versions refused because the model holds `max_versions_per_model` already: their
    /// samples and records were not stored.
    pub refused_versions: BTreeSet<String>,
    /// Oldest and newest event time stored.
    pub event_time_range: Option<(i64, i64)>,
}

/// Which log records [`crate::OperationsStorage::search_logs`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Event time from (inclusive, epoch ms).
    pub from_ms: Option<i64>,
    /// Event time to (exclusive, epoch ms).
    pub to_ms: Option<i64>,
    /// Of these levels only (all when empty).
    pub levels: Vec<LogLevel>,
    /// Whose message holds this text, ignoring ASCII case.
    pub text: Option<String>,
    /// Of this version only.
    pub version: Option<String>,
    /// Of this instance only.
    pub instance: Option<String>,
}
