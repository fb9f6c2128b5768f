//! Durable storage for modelwatch, behind a storage boundary.
//!
//! The server reaches a store only through the traits of [`storage`]: [`Storage`]
//! (models, ingest, labels, references, profiles, counts, flush, retention, the write
//! queue), with [`AlertStorage`] (the alerting tables, written through an
//! [`AlertingTx`] in one transaction), [`TokenStorage`] (API tokens) and
//! [`ParameterStorage`] (model internals: tensor summaries). It holds an
//! `Arc<dyn Storage>`, so a second backend implements those traits and nothing in the
//! server changes. [`SqliteStore`] is the one backend today, and the default.
//!
//! Layout:
//!
//! - [`storage`]: the traits, and what every backend must keep (durability, group
//!   commit, one transaction per alerting write);
//! - backend-independent: this file (the types the traits speak: [`ModelEntry`], the
//!   outcomes, [`StoreOptions`], [`Retention`], [`Closed`]), [`error`], `prepare` (the
//!   work done on the caller's thread before a batch is queued), the row types of
//!   [`alerting`] and [`tokens`];
//! - the SQLite backend: `sqlite` ([`SqliteStore`]: opening, the read pool,
//!   [`Storage`]), `writer` (the one writer thread: group commit, ingest, label join,
//!   reference replacement and re-profiling, feature recovery, retention), `cache`
//!   (the writer's profile caches), `schema` (migrations and pragmas), and the SQL of
//!   [`alerting`] and [`tokens`] with their parts of the boundary.
//!
//! A write is answered only after its transaction is committed with
//! `synchronous=FULL`, i.e. fsynced.

pub mod alerting;
mod cache;
pub mod error;
mod log_records;
pub mod operations;
mod prepare;
mod schema;
mod sqlite;
mod sqlite_alerting;
mod sqlite_operations;
mod sqlite_parameters;
pub mod storage;
pub mod tokens;
mod watermark;
mod writer;

use std::sync::{Arc, Mutex};

use modelwatch_core::{FieldError, Model, ModelDefinition};

pub use error::StoreError;
pub use operations::{LogFilter, OperationsBatch, OperationsOutcome, StoredLog};
pub use prepare::{PreparedBatch, prepare};
pub use sqlite::{SqliteStore, database_path};
pub use storage::{
    AlertStorage, AlertingTx, OperationsStorage, ParameterFilter, ParameterRow, ParameterStorage,
    Storage, StoreFuture, TokenStorage,
};

/// A model as stored: its id in the database and its validated definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEntry {
    /// Row id; never reused, so a re-created model starts empty.
    pub id: i64,
    /// The validated definition.
    pub model: Arc<Model>,
    /// When it was created (epoch ms).
    pub created_ms: i64,
    /// When it was last changed (epoch ms).
    pub updated_ms: i64,
}

/// What a `put_model` did.
#[derive(Debug, Clone)]
pub enum PutModelOutcome {
    /// A new model.
    Created(Arc<ModelEntry>),
    /// An existing model, changed compatibly.
    Updated(Arc<ModelEntry>),
    /// The change is not allowed for a model that exists.
    Conflict(FieldError),
    /// A new model, refused: the store already holds this many models, its limit.
    LimitReached(usize),
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestOutcome {
    /// Events stored.
    pub accepted: usize,
    /// Indexes (in the submitted list) of events whose id was already stored.
    pub duplicates: Vec<usize>,
    /// Indexes of events older than the raw-event retention already deleted (they could
    /// not be checked for duplicates).
    pub too_old: Vec<usize>,
    /// Indexes of events of a version the model does not hold yet, while it holds
    /// `StoreOptions::max_versions_per_model` versions already.
    pub version_limit: Vec<usize>,
    /// Stored events that picked up a label that had arrived before them.
    pub joined_pending_labels: usize,
    /// Indexes (in the submitted list) of stored events without an inline label that
    /// were labelled by a label that had arrived before them (events without an output
    /// included: the label is stored, though it labels nothing).
    pub labelled_from_pending: Vec<usize>,
    /// Oldest and newest event time among the stored events.
    pub event_time_range: Option<(i64, i64)>,
}

/// What a label ingest did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelOutcome {
    /// Labels joined to their prediction.
    pub matched: usize,
    /// Labels that made their prediction *labelled* (it has an output; docs/STATISTICS.md),
    /// by its version. A label joined to an `error` record without an output is in
    /// `matched` but not here, as it is not in `labelled_count`.
    pub labelled_by_version: std::collections::BTreeMap<String, u64>,
    /// Labels kept until their prediction arrives.
    pub pending: usize,
    /// `(index, reason)` of labels refused (the prediction already has one, or one is already waiting).
    pub rejected: Vec<(usize, FieldError)>,
    /// Oldest and newest event time of the predictions that got their label.
    pub event_time_range: Option<(i64, i64)>,
    /// `(index, label id, prediction id)` of labels kept waiting whose id is the float
    /// rendering of a stored prediction's integer id (`"17.0"` while `"17"` is stored).
    pub suspect_ids: Vec<(usize, String, String)>,
}

/// Tuning of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Commands the write queue holds before callers are told to back off.
    pub queue_capacity: usize,
    /// How long data is kept, in event time behind each model's newest event.
    pub retention: Retention,
    /// How far ahead of the clock an event time may be. At start, a model's newest
    /// event time beyond it (moved there by an outlier stored before the bound) is
    /// recovered from the newest data within it.
    pub max_event_future_ms: i64,
    /// Most distinct versions a model may hold; events of a further version are
    /// rejected (`IngestOutcome::version_limit`).
    pub max_versions_per_model: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 256,
            retention: Retention::default(),
            max_event_future_ms: modelwatch_core::time::DAY_MS,
            max_versions_per_model: 1_000,
        }
    }
}

/// How long each kind of data is kept, measured in event time back from a model's
/// newest event (so a replay of old logs is not deleted as it arrives). Day profiles
/// are kept for ever; coarser windows answer queries once finer ones are gone.
/// `[retention]` of the configuration file, in durations (`raw_events = "30d"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Raw events.
    #[serde(rename = "raw_events", with = "modelwatch_core::time::duration_ms")]
    pub raw_events_ms: i64,
    /// Minute profiles (performance and features).
    #[serde(
        rename = "minute_profiles",
        with = "modelwatch_core::time::duration_ms"
    )]
    pub minute_profiles_ms: i64,
    /// Hour profiles, and the parameter summaries of model internals (behind the
    /// model's newest summary).
    #[serde(rename = "hour_profiles", with = "modelwatch_core::time::duration_ms")]
    pub hour_profiles_ms: i64,
    /// How long (in wall-clock time, since it arrived) a label waits for its
    /// prediction before it is deleted, so waiting labels cannot grow without bound.
    #[serde(rename = "pending_labels", with = "modelwatch_core::time::duration_ms")]
    pub pending_labels_ms: i64,
    /// Raw log records (`POST .../logs`), behind the model's newest record.
    #[serde(rename = "log_records", with = "modelwatch_core::time::duration_ms")]
    pub log_records_ms: i64,
    /// Most raw log records kept per model; past it the oldest (in event time) go.
    /// With messages of at most 16 KiB, this bounds their size too.
    pub max_log_records: u64,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: i64 = 86_400_000;
        Self {
            raw_events_ms: 30 * DAY,
            minute_profiles_ms: 7 * DAY,
            hour_profiles_ms: 90 * DAY,
            pending_labels_ms: 30 * DAY,
            log_records_ms: 7 * DAY,
            max_log_records: 100_000,
        }
    }
}

/// What a retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Raw events deleted.
    pub events: u64,
    /// Profile rows (of both kinds) deleted.
    pub profiles: u64,
    /// Parameter summaries deleted.
    pub parameters: u64,
    /// Raw log records deleted.
    pub log_records: u64,
}

/// Tells when a store has written its last commit and closed (for a clean stop).
pub struct Closed(Mutex<std::sync::mpsc::Receiver<()>>);

impl Closed {
    /// A handle that is closed once something is sent on the other end of `done`, or
    /// that end is dropped.
    pub fn new(done: std::sync::mpsc::Receiver<()>) -> Self {
        Self(Mutex::new(done))
    }

    /// Waits (at most `timeout`) until the store has closed; `true` if it has. A store
    /// closes once every reference to it is dropped.
    pub fn wait(&self, timeout: std::time::Duration) -> bool {
        match self.0.lock() {
            Ok(receiver) => !matches!(
                receiver.recv_timeout(timeout),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            ),
            Err(_) => false,
        }
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    modelwatch_core::time::now_ms()
}

pub(crate) fn parse_stored_model(name: &str, definition: &str) -> Result<Model, StoreError> {
    let invalid = |reason: String| StoreError::InvalidStoredModel {
        name: name.to_string(),
        reason,
    };
    let definition: ModelDefinition =
        serde_json::from_str(definition).map_err(|e| invalid(e.to_string()))?;
    Model::new(name, definition).map_err(|e| invalid(e.to_string()))
}

/// Row counts of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StoredCounts {
    /// Stored predictions.
    pub predictions: u64,
    /// Predictions with an output and a label (`labelled_count`'s meaning).
    pub labelled: u64,
    /// Labels waiting for their prediction.
    pub pending_labels: u64,
    /// The newest event time seen.
    pub newest_event_ms: Option<i64>,
}

/// A label waiting for its prediction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLabel {
    /// The id of the prediction it waits for.
    pub id: String,
    /// When it arrived (epoch ms, wall clock).
    pub received_ms: i64,
}
