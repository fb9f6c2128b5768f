//! The storage boundary: everything the server asks of a store, as traits. The server
//! holds an `Arc<dyn Storage>` and names no type of a backend, so a second backend
//! (PostgreSQL) is added by implementing these traits, without touching the handlers
//! or the alerting engine. [`crate::SqliteStore`] is the one backend today, and the
//! default.
//!
//! Three traits, one per area, joined by [`Storage`]:
//!
//! - [`Storage`]: models, ingest, labels, references, profile reads, counts, flush,
//!   retention, the write queue and shutdown;
//! - [`AlertStorage`]: alerting definitions, rule states, alerts, the event log,
//!   notification groups and the outbox; its writes run in one transaction through an
//!   [`AlertingTx`];
//! - [`TokenStorage`]: API tokens;
//! - [`ParameterStorage`]: model internals, one tensor summary per model, version,
//!   step and tensor;
//! - [`OperationsStorage`]: resource use and logs of the served model (counts in the
//!   window profiles, raw log records apart).
//!
//! # Why boxed futures, and blocking reads
//!
//! The server picks its backend at start, so the traits must be dyn-compatible: a
//! generic `AppState<S: Storage>` would put a type parameter on every handler, the
//! router and the engine. An `async fn` in a trait is not dyn-compatible, so each write
//! returns a [`StoreFuture`], a boxed `Send` future. The allocation is nothing beside
//! the commit (an fsync) it waits for; it is what the `async-trait` crate would
//! generate, without the macro.
//!
//! Reads are plain blocking methods: their callers already run on a blocking thread,
//! next to the CPU work on what they read (merging profiles, computing drift). A
//! backend with an async driver blocks on its runtime there (`Handle::block_on`).
//!
//! # What a backend must keep
//!
//! - A write's future resolves only after its transaction is durably committed.
//! - Concurrent writes may share a transaction (group commit), but each is all or
//!   nothing, and a failure is reported to every write of the failed transaction.
//! - [`AlertStorage::run_alerting_tx`] runs its closure inside one transaction: the
//!   engine commits a whole round (alerts, events, rule states, groups, outbox) with it.
//! - [`StoreError::Overloaded`] when the write queue is full (answered `503`);
//!   [`StoreError::ModelNotFound`] when a model was deleted meanwhile.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use modelwatch_core::drift::{ReferenceProfile, WindowFeatures};
use modelwatch_core::event::LabelRecord;
use modelwatch_core::{Granularity, Model, WindowProfile};

use crate::{
    Closed, IngestOutcome, LabelOutcome, ModelEntry, PendingLabel, PreparedBatch, PutModelOutcome,
    RetentionOutcome, StoreError, StoredCounts,
};

/// The future of a store write: resolves once the write is committed (or failed).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Alerting changes to apply in one transaction (see [`AlertStorage::run_alerting_tx`]).
pub type AlertingWrite = Box<dyn FnOnce(&mut dyn AlertingTx) -> Result<(), StoreError> + Send>;

/// Models, events, labels, references and the profiles built from them.
///
/// Methods returning a [`StoreFuture`] write; the others read and block (call them
/// from a blocking thread).
pub trait Storage:
    AlertStorage + TokenStorage + ParameterStorage + OperationsStorage + Send + Sync
{
    /// Every stored model, by name.
    fn load_models(&self) -> Result<Vec<ModelEntry>, StoreError>;

    /// Creates or updates a model definition. A new model is refused when the store
    /// already holds `max_models`, counted in the same transaction as the insert, so
    /// concurrent creations cannot pass the limit together.
    fn put_model(
        &self,
        model: Model,
        max_models: usize,
        now_ms: i64,
    ) -> StoreFuture<'_, PutModelOutcome>;

    /// Deletes a model and all its data; `false` if there was none.
    fn delete_model(&self, name: &str) -> StoreFuture<'_, bool>;

    /// Stores a batch (see [`crate::prepare`]) durably; answers once it is committed.
    fn ingest(
        &self,
        entry: Arc<ModelEntry>,
        batch: PreparedBatch,
        now_ms: i64,
    ) -> StoreFuture<'_, IngestOutcome>;

    /// Joins labels to their predictions (or keeps them until the prediction comes).
    fn ingest_labels(
        &self,
        entry: Arc<ModelEntry>,
        labels: Vec<LabelRecord>,
        now_ms: i64,
    ) -> StoreFuture<'_, LabelOutcome>;

    /// Replaces the reference of a model and its chunk profiles (`chunks`, encoded
    /// [`modelwatch_core::alert::baseline::ReferenceChunks`]) in one transaction, and
    /// re-profiles its stored events against it, so that concurrent ingest sees either
    /// the old reference or the new one.
    fn set_reference(
        &self,
        entry: Arc<ModelEntry>,
        reference: ReferenceProfile,
        chunks: Vec<u8>,
        now_ms: i64,
    ) -> StoreFuture<'_, Arc<ReferenceProfile>>;

    /// The current reference of a model and its upload time, if it has one.
    fn load_reference(&self, model_id: i64) -> Result<Option<(ReferenceProfile, i64)>, StoreError>;

    /// The reference chunk profiles of a model (for `baseline: reference`), if saved.
    fn load_reference_chunks(&self, model_id: i64) -> Result<Option<Vec<u8>>, StoreError>;

    /// The performance profiles of `model_id` at `granularity` whose window starts in
    /// `[from, to)`, for one version or all; `(window start, profile)` in start order.
    fn load_profiles(
        &self,
        model_id: i64,
        granularity: Granularity,
        from: Option<i64>,
        to: Option<i64>,
        version: Option<&str>,
    ) -> Result<Vec<(i64, WindowProfile)>, StoreError>;

    /// The feature profiles, as [`Storage::load_profiles`]. Call [`Storage::flush`]
    /// first to include what a backend writes lazily.
    fn load_features(
        &self,
        model_id: i64,
        granularity: Granularity,
        from: Option<i64>,
        to: Option<i64>,
        version: Option<&str>,
    ) -> Result<Vec<(i64, WindowFeatures)>, StoreError>;

    /// The earliest point at or after `from` (and before `to`) that may hold events of
    /// `model_id`, if any: the start of the first minute window with a performance
    /// profile, or, where retention deleted the finer windows, the start (at least
    /// `from`) of an hour or day window without finer ones. How the alerting engine
    /// steps over empty time instead of judging it span by span.
    fn first_window_with_data(
        &self,
        model_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Option<i64>, StoreError>;

    /// The newest event time of every model that has events, by model name.
    fn newest_event_times(&self) -> Result<std::collections::HashMap<String, i64>, StoreError>;

    /// The versions with profiles of `model_id` in minute windows starting in
    /// `[from, to)`, most recent (by newest window) first, at most `limit` of them.
    fn recent_versions(
        &self,
        model_id: i64,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// The versions seen for a model, in order.
    fn versions(&self, model_id: i64) -> Result<Vec<String>, StoreError>;

    /// Counts of stored predictions, labelled predictions and pending labels of a model.
    fn counts(&self, model_id: i64) -> Result<StoredCounts, StoreError>;

    /// Up to `limit` labels of a model waiting for their prediction, oldest arrival
    /// first (ties by id).
    fn pending_labels(&self, model_id: i64, limit: usize) -> Result<Vec<PendingLabel>, StoreError>;

    /// Waits until every write queued so far is committed and every lazily written
    /// aggregate is stored.
    fn flush(&self) -> StoreFuture<'_, ()>;

    /// Deletes what is older than the retention allows, now.
    fn apply_retention(&self) -> StoreFuture<'_, RetentionOutcome>;

    /// How many writes the queue holds before [`StoreError::Overloaded`].
    fn queue_capacity(&self) -> usize;

    /// Writes waiting in the queue.
    fn queue_depth(&self) -> usize;

    /// The store's files on disk and their sizes in bytes, by a short name
    /// (`modelwatch_store_size_bytes{file=...}`); empty for a remote database.
    fn files_on_disk(&self) -> Vec<(&'static str, u64)>;

    /// Stops taking writes, for a bounded shutdown: the commit in progress finishes
    /// (its writes are answered as usual), and every write still queued or sent later
    /// is answered [`StoreError::Closed`] without being applied.
    fn stop_writes(&self);

    /// A handle that tells when the store has written its last commit and closed,
    /// after the last reference to it is dropped.
    fn closed(&self) -> Arc<Closed>;
}

/// The alerting tables: definitions, rule states, alerts, the event log, notification
/// groups and the outbox.
pub trait AlertStorage: Send + Sync {
    /// Runs `apply` inside one write transaction and commits it (waiting for room in
    /// the queue rather than shedding it). Callers use `write_alerting` on
    /// `dyn Storage`, which returns a typed value.
    fn run_alerting_tx(&self, apply: AlertingWrite) -> StoreFuture<'_, ()>;

    /// Every definition of a kind: `(name, definition JSON)`, by name.
    fn load_definitions(&self, resource: Resource) -> Result<Vec<(String, String)>, StoreError>;

    /// Every saved rule state.
    fn load_rule_states(&self) -> Result<Vec<SavedRuleState>, StoreError>;

    /// Every notification group: `(channel, key, state JSON)`.
    fn load_groups(&self) -> Result<Vec<(String, String, String)>, StoreError>;

    /// Every queued notification, oldest first.
    fn load_outbox(&self) -> Result<Vec<OutboxRow>, StoreError>;

    /// At most `limit` alerts, newest first: only those in `state`, of `model` and of
    /// the `visible` models when given (filtered before the limit counts).
    fn list_alerts(
        &self,
        state: Option<&str>,
        model: Option<&str>,
        visible: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<AlertRow>, StoreError>;

    /// At most `limit` log entries, newest first, of `model` and of the `visible`
    /// models when given (filtered before the limit counts), with ids below `before`
    /// when given.
    fn list_events(
        &self,
        model: Option<&str>,
        visible: Option<&[String]>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError>;
}

/// The alerting writes, inside one transaction of [`AlertStorage::run_alerting_tx`].
pub trait AlertingTx {
    /// Creates or replaces a definition; `model` only for rules.
    fn put_definition(
        &mut self,
        resource: Resource,
        name: &str,
        model: Option<&str>,
        definition: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Deletes a definition; `false` if there was none. A deleted rule's state stays
    /// until the engine has resolved its alert and deletes it.
    fn delete_definition(&mut self, resource: Resource, name: &str) -> Result<bool, StoreError>;

    /// Saves the evaluator's state of a rule (encoded by the caller), with the
    /// definition (JSON) and model it was judged under.
    fn save_rule_state(
        &mut self,
        rule: &str,
        state: &[u8],
        definition: &str,
        model: &str,
    ) -> Result<(), StoreError>;

    /// Forgets a rule's state.
    fn delete_rule_state(&mut self, rule: &str) -> Result<(), StoreError>;

    /// Inserts a new alert (its `id` is ignored); returns its id.
    fn insert_alert(&mut self, alert: &AlertRow) -> Result<i64, StoreError>;

    /// Marks an alert resolved at `ends_at_ms` (event time).
    fn resolve_alert(&mut self, id: i64, ends_at_ms: i64, now_ms: i64) -> Result<(), StoreError>;

    /// Marks every firing alert of `rule` resolved at `ends_at_ms`; the ids resolved.
    fn resolve_rule_alerts(
        &mut self,
        rule: &str,
        ends_at_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<i64>, StoreError>;

    /// Appends to the event log (which keeps the newest
    /// [`EVENTS_KEPT`](crate::alerting::EVENTS_KEPT) entries).
    fn log_event(
        &mut self,
        at_ms: i64,
        model: Option<&str>,
        rule: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<(), StoreError>;

    /// Saves a notification group's state (JSON), or deletes it when `state` is `None`.
    fn save_group(
        &mut self,
        channel: &str,
        key: &str,
        state: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Queues a notification for delivery, due now; returns its id.
    fn enqueue(&mut self, channel: &str, payload: &str, now_ms: i64) -> Result<i64, StoreError>;

    /// Removes a delivered (or abandoned) notification.
    fn dequeue(&mut self, id: i64) -> Result<(), StoreError>;

    /// Records a failed try and when to try again.
    fn reschedule(
        &mut self,
        id: i64,
        attempts: i64,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError>;
}

/// API tokens, stored as hashes of their secret.
pub trait TokenStorage: Send + Sync {
    /// Stores a new token; returns its id.
    fn create_token(
        &self,
        name: &str,
        hash: &str,
        scopes: &str,
        models: Option<&str>,
        now_ms: i64,
    ) -> StoreFuture<'_, i64>;

    /// Revokes a token; `false` if there is no such token or it was already revoked.
    fn revoke_token(&self, id: i64, now_ms: i64) -> StoreFuture<'_, bool>;

    /// The token with this hash, revoked or not.
    fn find_token(&self, hash: &str) -> Result<Option<TokenRow>, StoreError>;

    /// Every token, oldest first.
    fn list_tokens(&self) -> Result<Vec<TokenRow>, StoreError>;

    /// Tokens not revoked.
    fn count_active_tokens(&self) -> Result<u64, StoreError>;
}

/// Model internals: tensor summaries per model, version, step and tensor. Deleted
/// with their model, and by retention (`hour_profiles` behind the model's newest
/// summary time).
pub trait ParameterStorage: Send + Sync {
    /// Stores the summaries of one request in one transaction, replacing those of the
    /// same version, step and tensor; sheds with [`StoreError::Overloaded`] when the
    /// queue is full. Answers the rows written.
    fn put_parameters(&self, rows: Vec<ParameterRow>, now_ms: i64) -> StoreFuture<'_, usize>;

    /// The summaries of `model_id` that pass `filter`, ordered by tensor, version and
    /// step; at most `limit` rows.
    fn load_parameters(
        &self,
        model_id: i64,
        filter: &ParameterFilter,
        limit: usize,
    ) -> Result<Vec<ParameterRow>, StoreError>;
}

/// Resource use and logs of the served model: samples and records fold into the window
/// profiles (read with [`Storage::load_profiles`]); the raw log records are kept apart
/// for search, within `retention.log_records` and `retention.max_log_records`.
pub trait OperationsStorage: Send + Sync {
    /// Stores a batch in one transaction (shed with [`StoreError::Overloaded`] when
    /// the queue is full); answers once it is committed.
    fn put_operations(
        &self,
        entry: Arc<ModelEntry>,
        batch: crate::OperationsBatch,
        now_ms: i64,
    ) -> StoreFuture<'_, crate::OperationsOutcome>;

    /// The log records of `model_id` that pass `filter`, newest first (event time, then
    /// arrival); at most `limit`.
    fn search_logs(
        &self,
        model_id: i64,
        filter: &crate::LogFilter,
        limit: usize,
    ) -> Result<Vec<crate::StoredLog>, StoreError>;
}

/// Which summaries [`ParameterStorage::load_parameters`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParameterFilter {
    /// Of this version only.
    pub version: Option<String>,
    /// Of this tensor only.
    pub tensor: Option<String>,
    /// Steps from this one (inclusive).
    pub from_step: Option<i64>,
    /// Steps up to this one (inclusive).
    pub to_step: Option<i64>,
    /// Taken at or after this time (epoch ms).
    pub from_ms: Option<i64>,
    /// Taken before this time (epoch ms).
    pub to_ms: Option<i64>,
    /// Only the highest step of each tensor and version among those that pass.
    pub last_step_only: bool,
}

/// One stored tensor summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterRow {
    /// The model's id.
    pub model_id: i64,
    /// Model version.
    pub version: String,
    /// Training step.
    pub step: i64,
    /// Tensor name.
    pub tensor: String,
    /// When the tensors were taken (epoch ms).
    pub timestamp_ms: i64,
    /// The summary.
    pub summary: modelwatch_core::parameters::TensorSummary,
}

impl dyn Storage + '_ {
    /// Runs `apply` inside one write transaction (see
    /// [`AlertStorage::run_alerting_tx`]) and returns what it returned, once committed.
    pub async fn write_alerting<T: Send + 'static>(
        &self,
        apply: impl FnOnce(&mut dyn AlertingTx) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (result, answer) = tokio::sync::oneshot::channel();
        self.run_alerting_tx(Box::new(move |tx| {
            // The receiver is only dropped if the caller stopped waiting.
            let _ = result.send(apply(tx)?);
            Ok(())
        }))
        .await?;
        answer
            .await
            .map_err(|_| StoreError::WriteFailed("the write returned no value".into()))
    }
}

/// A kind of named definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Alert rules.
    Rules,
    /// Notification channels.
    Channels,
    /// Silences.
    Silences,
}

/// A rule's saved state and what it was judged under.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedRuleState {
    /// The rule's name.
    pub rule: String,
    /// The encoded state.
    pub state: Vec<u8>,
    /// The definition (JSON) it was judged under; empty for states saved before
    /// schema version 6.
    pub definition: String,
    /// The model it was judged on (empty before version 6).
    pub model: String,
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    /// Row id.
    pub id: i64,
    /// The rule that raised it.
    pub rule: String,
    /// The model it is about.
    pub model: String,
    /// Hash of its labels.
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// Event time it started.
    pub starts_at_ms: i64,
    /// Event time it ended.
    pub ends_at_ms: Option<i64>,
    /// Labels, annotations, value and threshold (JSON).
    pub detail: String,
    /// Wall-clock time of the last change.
    pub updated_ms: i64,
}

/// An entry of the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Increasing id.
    pub id: i64,
    /// Wall-clock time.
    pub at_ms: i64,
    /// The model concerned, if any.
    pub model: Option<String>,
    /// The rule concerned, if any.
    pub rule: Option<String>,
    /// What happened: `firing`, `resolved`, `notified`, `delivery_failed`, …
    pub kind: String,
    /// Details (JSON).
    pub detail: String,
}

/// A notification waiting to be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// The channel it goes to.
    pub channel: String,
    /// When it was queued (wall clock).
    pub created_ms: i64,
    /// When the next try is due.
    pub next_attempt_ms: i64,
    /// Tries so far.
    pub attempts: i64,
    /// The notification (JSON: the alerts and the group).
    pub payload: String,
}

/// A token as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    /// Its id (what `modelwatch token revoke` takes).
    pub id: i64,
    /// A name for people.
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub hash: String,
    /// Comma-separated scopes: `ingest`, `read`, `admin`.
    pub scopes: String,
    /// Models it is restricted to (comma-separated), or `None` for every model.
    pub models: Option<String>,
    /// When it was created.
    pub created_ms: i64,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<i64>,
}
