//! The one writer thread: it owns the write connection and the cache of window
//! profiles, and applies queued commands in group commits.
//!
//! Each round takes every queued command (up to a bound on events), applies them all
//! in one transaction — raw rows *and* the profile changes they cause — and commits
//! with one fsync. Only then are the callers answered. Profiles in the database are
//! therefore always exactly the fold of the acknowledged rows, and a crash at any
//! moment leaves both consistent: there is nothing to rebuild at start.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::{Duration, Instant};

use modelwatch_core::drift::{ReferenceProfile, WindowFeatures};
use modelwatch_core::event::{LabelRecord, Score, Target};
use modelwatch_core::schema::Task;
use modelwatch_core::{FieldError, Granularity, Model, WindowProfile};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::cache::ProfileCache;
use crate::prepare::PreparedBatch;
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::{IngestOutcome, LabelOutcome, ModelEntry, PutModelOutcome};

/// A write of `SqliteStore::write`, applied by the writer thread.
pub(crate) type Apply =
    Box<dyn FnOnce(&Transaction<'_>) -> Result<Applied, StoreError> + Send + 'static>;
/// What a write returned, handed back after the commit.
pub(crate) type Applied = Box<dyn std::any::Any + Send>;

/// Bound on the work applied in one transaction, in units of [`Command::weight`]. A
/// group commit stops taking commands once past it, so a command with a heavy profile
/// commits with few others, and what queued behind it goes in the next transaction.
const MAX_WORK_PER_COMMIT: usize = 50_000;

/// A request to the writer.
pub(crate) enum Command {
    PutModel {
        model: Arc<Model>,
        max_models: usize,
        now_ms: i64,
        reply: oneshot::Sender<Result<PutModelOutcome, StoreError>>,
    },
    DeleteModel {
        name: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    Ingest {
        entry: Arc<ModelEntry>,
        batch: PreparedBatch,
        now_ms: i64,
        reply: oneshot::Sender<Result<IngestOutcome, StoreError>>,
    },
    Labels {
        entry: Arc<ModelEntry>,
        labels: Vec<LabelRecord>,
        now_ms: i64,
        reply: oneshot::Sender<Result<LabelOutcome, StoreError>>,
    },
    /// Replaces a model's reference and re-profiles its stored events against it.
    SetReference {
        entry: Arc<ModelEntry>,
        reference: Box<ReferenceProfile>,
        chunks: Vec<u8>,
        now_ms: i64,
        reply: oneshot::Sender<Result<Arc<ReferenceProfile>, StoreError>>,
    },
    /// Deletes what the retention no longer keeps.
    Retention {
        reply: oneshot::Sender<Result<crate::RetentionOutcome, StoreError>>,
    },
    /// Answers once every command queued before it is committed, and every lazily
    /// written aggregate is on disk.
    Flush {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Resource use and logs: profile deltas and raw log records.
    Operations {
        entry: Arc<ModelEntry>,
        batch: crate::OperationsBatch,
        now_ms: i64,
        reply: oneshot::Sender<Result<crate::OperationsOutcome, StoreError>>,
    },
    /// Applies a change of the alerting or token tables in the group commit.
    Write {
        apply: Apply,
        reply: oneshot::Sender<Result<Applied, StoreError>>,
    },
}

impl Command {
    /// The work a command brings to a commit: one unit per event or label, and for
    /// ingest one more per feature of each `(version, minute)` window it touches (the
    /// feature windows are what grows with versions and features).
    fn weight(&self) -> usize {
        match self {
            Command::Ingest { entry, batch, .. } => batch
                .len()
                .saturating_add(batch.windows().saturating_mul(entry.model.features().len())),
            Command::Labels { labels, .. } => labels.len(),
            Command::Operations { batch, .. } => batch.versions.len().max(1),
            _ => 1,
        }
    }
}

/// A computed result waiting for the commit before it is sent.
enum Reply {
    PutModel(
        oneshot::Sender<Result<PutModelOutcome, StoreError>>,
        PutModelOutcome,
    ),
    DeleteModel(oneshot::Sender<Result<bool, StoreError>>, bool),
    Ingest(
        oneshot::Sender<Result<IngestOutcome, StoreError>>,
        IngestOutcome,
    ),
    Labels(
        oneshot::Sender<Result<LabelOutcome, StoreError>>,
        LabelOutcome,
    ),
    Reference(
        oneshot::Sender<Result<Arc<ReferenceProfile>, StoreError>>,
        Arc<ReferenceProfile>,
    ),
    Retention(
        oneshot::Sender<Result<crate::RetentionOutcome, StoreError>>,
        crate::RetentionOutcome,
    ),
    Flush(oneshot::Sender<Result<(), StoreError>>),
    Operations(
        oneshot::Sender<Result<crate::OperationsOutcome, StoreError>>,
        crate::OperationsOutcome,
    ),
    Write(oneshot::Sender<Result<Applied, StoreError>>, Applied),
}

impl Reply {
    fn send(self) {
        // A caller that went away (client disconnected) needs no answer.
        let _ = match self {
            Reply::PutModel(tx, v) => tx.send(Ok(v)).map_err(drop),
            Reply::DeleteModel(tx, v) => tx.send(Ok(v)).map_err(drop),
            Reply::Ingest(tx, v) => tx.send(Ok(v)).map_err(drop),
            Reply::Labels(tx, v) => tx.send(Ok(v)).map_err(drop),
            Reply::Reference(tx, v) => tx.send(Ok(v)).map_err(drop),
            Reply::Retention(tx, v) => tx.send(Ok(v)).map_err(drop),
            Reply::Flush(tx) => tx.send(Ok(())).map_err(drop),
            Reply::Operations(tx, v) => tx.send(Ok(v)).map_err(drop),
            Reply::Write(tx, v) => tx.send(Ok(v)).map_err(drop),
        };
    }

    fn fail(self, error: &StoreError) {
        let error = || StoreError::WriteFailed(error.to_string());
        let _ = match self {
            Reply::PutModel(tx, _) => tx.send(Err(error())).map_err(drop),
            Reply::DeleteModel(tx, _) => tx.send(Err(error())).map_err(drop),
            Reply::Ingest(tx, _) => tx.send(Err(error())).map_err(drop),
            Reply::Labels(tx, _) => tx.send(Err(error())).map_err(drop),
            Reply::Reference(tx, _) => tx.send(Err(error())).map_err(drop),
            Reply::Retention(tx, _) => tx.send(Err(error())).map_err(drop),
            Reply::Flush(tx) => tx.send(Err(error())).map_err(drop),
            Reply::Operations(tx, _) => tx.send(Err(error())).map_err(drop),
            Reply::Write(tx, _) => tx.send(Err(error())).map_err(drop),
        };
    }
}

/// How often the writer applies the retention on its own.
const RETENTION_INTERVAL: Duration = Duration::from_secs(600);

/// How often lazily written aggregates are flushed at the latest.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// What the writer keeps between commits.
struct State {
    performance: ProfileCache<WindowProfile>,
    features: ProfileCache<WindowFeatures>,
    /// Live model ids, and how many labels wait for a prediction in each.
    pending_labels: HashMap<i64, u64>,
    /// The current reference of each model that has one.
    references: HashMap<i64, Arc<ReferenceProfile>>,
    /// A `Flush` asked for the lazy aggregates to be written in this commit.
    flush_requested: bool,
    /// How long data is kept.
    retention: crate::Retention,
    /// Most distinct versions a model may hold.
    max_versions_per_model: usize,
    /// The versions of each model, loaded at its first ingest (dropped on a rollback,
    /// since they may hold versions that were never committed).
    versions: HashMap<i64, std::collections::HashSet<String>>,
}

/// Everything the writer thread owns.
pub(crate) struct Writer {
    conn: Connection,
    state: State,
    last_flush: Instant,
    last_retention: Option<Instant>,
    /// A rollback emptied the feature cache and rebuilding from the store failed: no
    /// batch may be applied until it succeeds (it would build on stale rows).
    needs_recovery: bool,
    /// Writes are no longer taken (`Storage::stop_writes`): commands not yet applied
    /// are dropped, which answers their callers `StoreError::Closed`.
    stopping: Arc<AtomicBool>,
}

impl Writer {
    pub(crate) fn new(
        mut conn: Connection,
        options: &crate::StoreOptions,
        stopping: Arc<AtomicBool>,
    ) -> Result<Self, StoreError> {
        let bound = modelwatch_core::time::now_ms().saturating_add(options.max_event_future_ms);
        let recovered = crate::watermark::recover(&mut conn, bound)?;
        if !recovered.is_empty() {
            tracing::warn!(
                models = ?recovered,
                "event clocks ahead of the server's clock (an outlier stored before the bound) were set back to their newest data"
            );
        }
        let mut pending_labels = HashMap::new();
        let mut references = HashMap::new();
        {
            let mut statement = conn.prepare("SELECT id FROM models")?;
            for id in statement.query_map([], |row| row.get::<_, i64>(0))? {
                pending_labels.insert(id?, 0);
            }
            let mut statement =
                conn.prepare("SELECT model_id, COUNT(*) FROM pending_labels GROUP BY model_id")?;
            for row in
                statement.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))?
            {
                let (id, n) = row?;
                pending_labels.insert(id, n as u64);
            }
            let mut statement = conn.prepare("SELECT model_id, data FROM model_references")?;
            for row in statement.query_map([], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
            })? {
                let (id, bytes) = row?;
                references.insert(id, Arc::new(ReferenceProfile::decode(&bytes)?));
            }
        }
        let recovered = recover_features(&mut conn, &references)?;
        if recovered > 0 {
            tracing::info!(recovered, "rebuilt feature profiles left behind by a crash");
        }
        Ok(Self {
            conn,
            state: State {
                performance: ProfileCache::default(),
                features: ProfileCache::default(),
                pending_labels,
                references,
                flush_requested: false,
                retention: options.retention,
                max_versions_per_model: options.max_versions_per_model,
                versions: HashMap::new(),
            },
            last_flush: Instant::now(),
            last_retention: None,
            needs_recovery: false,
            stopping,
        })
    }

    /// Runs until every sender is dropped.
    pub(crate) fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        // A small runtime of the writer's own, only to wait for the queue with a timeout.
        let timer = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::error!(%error, "the writer cannot start its timer; it stops");
                return;
            }
        };
        loop {
            // Wait for work; when lazy windows wait to be written, wake up in time to
            // write them within the flush interval.
            let first = if self.state.features.has_unflushed() {
                let left = FLUSH_INTERVAL.saturating_sub(self.last_flush.elapsed());
                match timer.block_on(async { tokio::time::timeout(left, queue.recv()).await }) {
                    Ok(Some(command)) => command,
                    Ok(None) => break,
                    Err(_elapsed) => {
                        let (reply, _) = oneshot::channel();
                        Command::Flush { reply }
                    }
                }
            } else {
                match queue.blocking_recv() {
                    Some(command) => command,
                    None => break,
                }
            };
            let mut weight = first.weight();
            let mut batch = vec![first];
            while weight < MAX_WORK_PER_COMMIT {
                match queue.try_recv() {
                    Ok(command) => {
                        weight += command.weight();
                        batch.push(command);
                    }
                    Err(_) => break,
                }
            }
            if self
                .last_retention
                .is_none_or(|at| at.elapsed() >= RETENTION_INTERVAL)
            {
                self.last_retention = Some(Instant::now());
                let (reply, _) = oneshot::channel();
                batch.push(Command::Retention { reply });
            }
            self.commit_batch(batch);
        }
        // Write what is still pending before the store closes.
        let (reply, _) = oneshot::channel();
        self.commit_batch(vec![Command::Flush { reply }]);
    }

    fn commit_batch(&mut self, batch: Vec<Command>) {
        if self.needs_recovery {
            match recover_features(&mut self.conn, &self.state.references) {
                Ok(_) => self.needs_recovery = false,
                Err(error) => {
                    tracing::error!(%error, "rebuilding feature profiles failed again; refusing writes");
                    // Dropping the commands answers their callers with an error.
                    drop(batch);
                    return;
                }
            }
        }
        let pending_before = self.state.pending_labels.clone();
        let references_before = self.state.references.clone();
        let mut replies = Vec::with_capacity(batch.len());
        let flush_due = self.last_flush.elapsed() >= FLUSH_INTERVAL;
        let state = &mut self.state;
        let stopping = &self.stopping;
        let result = (|| -> Result<bool, StoreError> {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for command in batch {
                // Stopping: what is applied commits; the rest is answered, not applied.
                if stopping.load(Ordering::Acquire) && !matches!(command, Command::Flush { .. }) {
                    continue;
                }
                replies.extend(apply(&tx, state, command)?);
            }
            let flush = flush_due || std::mem::take(&mut state.flush_requested);
            state.performance.write(&tx, true)?;
            state.features.write(&tx, flush)?;
            tx.commit()?;
            Ok(flush)
        })();
        match result {
            Ok(flushed) => {
                if flushed {
                    self.last_flush = Instant::now();
                }
                self.state.performance.committed();
                self.state.features.committed();
                for reply in replies {
                    reply.send();
                }
            }
            Err(error) => {
                tracing::error!(%error, "write transaction failed; rolled back");
                self.state.performance.reset();
                self.state.features.reset();
                self.state.pending_labels = pending_before;
                self.state.references = references_before;
                self.state.flush_requested = false;
                self.state.versions.clear();
                // Feature windows that were only in the cache are rebuilt from the store.
                if let Err(error) = recover_features(&mut self.conn, &self.state.references) {
                    tracing::error!(%error, "rebuilding feature profiles failed; writes wait for it");
                    self.needs_recovery = true;
                }
                // Commands not yet applied were dropped with `batch`: their callers see
                // a closed channel, which the store maps to an error too.
                for reply in replies {
                    reply.fail(&error);
                }
            }
        }
    }
}

fn apply(
    tx: &Transaction<'_>,
    state: &mut State,
    command: Command,
) -> Result<Option<Reply>, StoreError> {
    Ok(Some(match command {
        Command::Flush { reply } => {
            state.flush_requested = true;
            Reply::Flush(reply)
        }
        Command::Write { apply, reply } => Reply::Write(reply, apply(tx)?),
        Command::PutModel {
            model,
            max_models,
            now_ms,
            reply,
        } => {
            let outcome = put_model(tx, &model, max_models, now_ms)?;
            if let PutModelOutcome::Created(entry) | PutModelOutcome::Updated(entry) = &outcome {
                state.pending_labels.entry(entry.id).or_insert(0);
            }
            Reply::PutModel(reply, outcome)
        }
        Command::DeleteModel { name, reply } => {
            let id: Option<i64> = tx
                .query_row("SELECT id FROM models WHERE name = ?1", [&name], |row| {
                    row.get(0)
                })
                .optional()?;
            if let Some(id) = id {
                for table in [
                    "predictions",
                    "pending_labels",
                    "profiles",
                    "feature_profiles",
                    "lazy_dirty",
                    "model_references",
                    "reference_chunks",
                    "parameter_summaries",
                    "log_records",
                ] {
                    tx.execute(&format!("DELETE FROM {table} WHERE model_id = ?1"), [id])?;
                }
                tx.execute("DELETE FROM models WHERE id = ?1", [id])?;
                state.performance.forget_model(id);
                state.features.forget_model(id);
                state.pending_labels.remove(&id);
                state.references.remove(&id);
                state.versions.remove(&id);
            }
            Reply::DeleteModel(reply, id.is_some())
        }
        Command::Ingest {
            entry,
            batch,
            now_ms,
            reply,
        } => {
            if !state.pending_labels.contains_key(&entry.id) {
                let _ = reply.send(Err(StoreError::ModelNotFound));
                return Ok(None);
            }
            let outcome = ingest(tx, state, &entry, batch, now_ms)?;
            Reply::Ingest(reply, outcome)
        }
        Command::Labels {
            entry,
            labels,
            now_ms,
            reply,
        } => {
            if !state.pending_labels.contains_key(&entry.id) {
                let _ = reply.send(Err(StoreError::ModelNotFound));
                return Ok(None);
            }
            let outcome = join_labels(tx, state, &entry, &labels, now_ms)?;
            Reply::Labels(reply, outcome)
        }
        Command::Retention { reply } => Reply::Retention(reply, apply_retention(tx, state)?),
        Command::Operations {
            entry,
            batch,
            now_ms,
            reply,
        } => {
            if !state.pending_labels.contains_key(&entry.id) {
                let _ = reply.send(Err(StoreError::ModelNotFound));
                return Ok(None);
            }
            let outcome = put_operations(tx, state, &entry, batch, now_ms)?;
            Reply::Operations(reply, outcome)
        }
        Command::SetReference {
            entry,
            mut reference,
            chunks,
            now_ms,
            reply,
        } => {
            if !state.pending_labels.contains_key(&entry.id) {
                let _ = reply.send(Err(StoreError::ModelNotFound));
                return Ok(None);
            }
            reference.generation = state
                .references
                .get(&entry.id)
                .map_or(1, |r| r.generation + 1);
            let reference: Arc<ReferenceProfile> = Arc::from(reference);
            tx.execute(
                "INSERT INTO model_references (model_id, generation, rows, uploaded_ms, data) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (model_id) DO UPDATE SET generation = excluded.generation, rows = excluded.rows,
                   uploaded_ms = excluded.uploaded_ms, data = excluded.data",
                params![entry.id, reference.generation as i64, reference.rows as i64, now_ms, reference.encode()],
            )?;
            crate::alerting::save_reference_chunks(tx, entry.id, &chunks)?;
            state.references.insert(entry.id, reference.clone());
            reprofile_features(tx, state, &entry)?;
            Reply::Reference(reply, reference)
        }
    }))
}

/// Rebuilds every feature window marked in `lazy_dirty` (written lazily and lost with
/// the cache): a minute from its raw events, then hours and days from their minutes.
fn recover_features(
    conn: &mut Connection,
    references: &HashMap<i64, Arc<ReferenceProfile>>,
) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let marked = crate::cache::marked_windows(&tx)?;
    let mut models: HashMap<i64, Option<Model>> = HashMap::new();
    for key in &marked {
        if key.1 != Granularity::Minute {
            crate::cache::rebuild_from_minutes::<WindowFeatures>(&tx, key)?;
            continue;
        }
        let model = match models.entry(key.0) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let definition: Option<(String, String)> = tx
                    .query_row(
                        "SELECT name, definition FROM models WHERE id = ?1",
                        [key.0],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                entry.insert(
                    definition
                        .map(|(name, d)| crate::parse_stored_model(&name, &d))
                        .transpose()?,
                )
            }
        };
        let Some(model) = model.as_ref() else {
            continue;
        };
        let reference = references.get(&key.0).map(|r| r.as_ref());
        let mut features = WindowFeatures::default();
        let mut statement = tx.prepare_cached(&format!(
            "SELECT {STORED_COLUMNS} FROM predictions
             WHERE model_id = ?1 AND ts >= ?2 AND ts < ?3 AND version = ?4"
        ))?;
        let mut rows = statement.query(params![key.0, key.2, key.2 + key.1.ms(), key.3])?;
        while let Some(row) = rows.next()? {
            let event = stored_event_of_row(model, row)?;
            features.observe(model, &event, reference);
        }
        crate::cache::store_row(&tx, key, &features)?;
    }
    tx.execute("DELETE FROM lazy_dirty", [])?;
    tx.commit()?;
    Ok(marked.len())
}

/// Deletes, per model, raw events and minute and hour profiles older than the
/// retention allows (in event time, behind the model's newest event).
fn apply_retention(
    tx: &Transaction<'_>,
    state: &mut State,
) -> Result<crate::RetentionOutcome, StoreError> {
    let retention = state.retention;
    // Write every lazy window in this commit: a marker must never outlive the minute
    // rows its hour or day would be rebuilt from.
    state.flush_requested = true;
    let models: Vec<(i64, i64)> = {
        let mut statement =
            tx.prepare("SELECT id, newest_event_ms FROM models WHERE newest_event_ms IS NOT NULL")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut outcome = crate::RetentionOutcome::default();
    for (model_id, newest) in models {
        let cutoff = newest - retention.raw_events_ms;
        let deleted = tx.execute(
            "DELETE FROM predictions WHERE model_id = ?1 AND ts < ?2",
            params![model_id, cutoff],
        )?;
        if deleted > 0 {
            outcome.events += deleted as u64;
            tx.execute(
                "UPDATE models SET raw_kept_from_ms = MAX(COALESCE(raw_kept_from_ms, ?2), ?2) WHERE id = ?1",
                params![model_id, cutoff],
            )?;
        }
        for (granularity, keep) in [
            (Granularity::Minute, retention.minute_profiles_ms),
            (Granularity::Hour, retention.hour_profiles_ms),
        ] {
            let cutoff = granularity.window_start(newest - keep);
            for table in ["profiles", "feature_profiles", "lazy_dirty"] {
                let deleted = tx.execute(
                    &format!("DELETE FROM {table} WHERE model_id = ?1 AND granularity = ?2 AND start_ms < ?3"),
                    params![model_id, crate::cache::code(granularity), cutoff],
                )?;
                if table != "lazy_dirty" {
                    outcome.profiles += deleted as u64;
                }
            }
            state
                .performance
                .forget_before(model_id, granularity, cutoff);
            state.features.forget_before(model_id, granularity, cutoff);
        }
    }
    outcome.parameters = parameters_retention(tx, retention.hour_profiles_ms)?;
    outcome.log_records = crate::log_records::all_logs_retention(tx, &retention)?;
    crate::alerting::trim_log(tx)?;
    // Labels that waited longer than `pending_labels` (wall clock) are given up on, so
    // labels for predictions never sent cannot pile up.
    let stale_labels = tx.execute(
        "DELETE FROM pending_labels WHERE received_ms < ?1",
        [crate::now_ms() - retention.pending_labels_ms],
    )?;
    if stale_labels > 0 {
        let mut statement =
            tx.prepare("SELECT model_id, COUNT(*) FROM pending_labels GROUP BY model_id")?;
        let counts: HashMap<i64, u64> = statement
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        for (model_id, waiting) in state.pending_labels.iter_mut() {
            *waiting = counts.get(model_id).copied().unwrap_or(0);
        }
    }
    if outcome.events + outcome.profiles + outcome.parameters + outcome.log_records > 0 {
        tracing::info!(
            events = outcome.events,
            profiles = outcome.profiles,
            parameters = outcome.parameters,
            log_records = outcome.log_records,
            "retention deleted old data"
        );
    }
    Ok(outcome)
}

/// Deletes, per model, the parameter summaries taken longer than `keep_ms` before its
/// newest (the `parameter_summaries` table of `sqlite_parameters`).
fn parameters_retention(tx: &Transaction<'_>, keep_ms: i64) -> Result<u64, StoreError> {
    let deleted = tx.execute(
        "DELETE FROM parameter_summaries WHERE id IN (
             SELECT p.id FROM parameter_summaries p
             JOIN (SELECT model_id, MAX(ts) AS newest FROM parameter_summaries GROUP BY model_id) n
               ON p.model_id = n.model_id
             WHERE p.ts < n.newest - ?1)",
        [keep_ms],
    )?;
    Ok(deleted as u64)
}

/// Rebuilds every feature profile of a model from its stored events, against its
/// current reference (after a reference upload).
fn reprofile_features(
    tx: &Transaction<'_>,
    state: &mut State,
    entry: &ModelEntry,
) -> Result<(), StoreError> {
    // Where retention has deleted raw events, windows before the next whole day keep
    // their old bins (reported as stale values); everything after is rebuilt.
    let kept_from: Option<i64> = tx
        .query_row(
            "SELECT raw_kept_from_ms FROM models WHERE id = ?1",
            [entry.id],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    let from = kept_from.map_or(i64::MIN, |ms| {
        Granularity::Day.window_start(ms) + Granularity::Day.ms()
    });
    // Write every pending window first, then delete what is rebuilt: windows before
    // `from` keep their rows, and a pending window after it cannot be written back on
    // top of its rebuilt self (which counted its events twice).
    state.features.write(tx, true)?;
    tx.execute(
        "DELETE FROM feature_profiles WHERE model_id = ?1 AND start_ms >= ?2",
        params![entry.id, from],
    )?;
    tx.execute("DELETE FROM lazy_dirty WHERE model_id = ?1", [entry.id])?;
    state.features.forget_model(entry.id);
    let reference = state.references.get(&entry.id).cloned();
    let mut statement = tx.prepare(&format!(
        "SELECT {STORED_COLUMNS} FROM predictions WHERE model_id = ?1 AND ts >= ?2 ORDER BY ts"
    ))?;
    let mut rows = statement.query(params![entry.id, from])?;
    let mut window: Option<(String, i64)> = None;
    let mut current = WindowFeatures::default();
    while let Some(row) = rows.next()? {
        let event = stored_event_of_row(&entry.model, row)?;
        let key = (
            event.version.clone(),
            Granularity::Minute.window_start(event.timestamp_ms),
        );
        if window.as_ref() != Some(&key) {
            if let Some((version, minute)) = window.take() {
                state
                    .features
                    .apply(tx, entry.id, &version, minute, &current)?;
                if state.features.over_budget() {
                    // Keep memory bounded on a large history: write and evict as we go.
                    state.features.write(tx, true)?;
                    state.features.committed();
                }
            }
            current = WindowFeatures::default();
            window = Some(key);
        }
        current.observe(&entry.model, &event, reference.as_deref());
    }
    if let Some((version, minute)) = window {
        state
            .features
            .apply(tx, entry.id, &version, minute, &current)?;
    }
    state.flush_requested = true;
    Ok(())
}

fn put_model(
    tx: &Transaction<'_>,
    model: &Model,
    max_models: usize,
    now_ms: i64,
) -> Result<PutModelOutcome, StoreError> {
    let existing: Option<(i64, String, i64)> = tx
        .query_row(
            "SELECT id, definition, created_ms FROM models WHERE name = ?1",
            [&model.name],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let definition = crate::prepare::to_json(&model.definition);
    match existing {
        None => {
            let count: i64 = tx.query_row("SELECT COUNT(*) FROM models", [], |row| row.get(0))?;
            if count as usize >= max_models {
                return Ok(PutModelOutcome::LimitReached(count as usize));
            }
            tx.execute(
                "INSERT INTO models (name, definition, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?3)",
                params![model.name, definition, now_ms],
            )?;
            let id = tx.last_insert_rowid();
            Ok(PutModelOutcome::Created(Arc::new(ModelEntry {
                id,
                model: Arc::new(model.clone()),
                created_ms: now_ms,
                updated_ms: now_ms,
            })))
        }
        Some((id, old_definition, created_ms)) => {
            let old = crate::parse_stored_model(&model.name, &old_definition)?;
            if let Err(conflict) = model.check_update_from(&old) {
                return Ok(PutModelOutcome::Conflict(conflict));
            }
            tx.execute(
                "UPDATE models SET definition = ?1, updated_ms = ?2 WHERE id = ?3",
                params![definition, now_ms, id],
            )?;
            Ok(PutModelOutcome::Updated(Arc::new(ModelEntry {
                id,
                model: Arc::new(model.clone()),
                created_ms,
                updated_ms: now_ms,
            })))
        }
    }
}

fn ingest(
    tx: &Transaction<'_>,
    state: &mut State,
    entry: &ModelEntry,
    batch: PreparedBatch,
    now_ms: i64,
) -> Result<IngestOutcome, StoreError> {
    let model = &entry.model;
    let PreparedBatch {
        events,
        rows,
        mut deltas,
        mut feature_deltas,
        reference_generation,
    } = batch;
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO predictions
         (model_id, id, ts, version, prediction, score, label, latency_ms, error, features, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut outcome = IngestOutcome::default();
    let mut newest = None::<i64>;
    // Events older than where retention cut the raw rows cannot be checked for
    // duplicates any more: refuse them rather than risk counting one twice.
    let (kept_from, newest_stored): (Option<i64>, Option<i64>) = tx.query_row(
        "SELECT raw_kept_from_ms, newest_event_ms FROM models WHERE id = ?1",
        [entry.id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let mut stored_flags = vec![true; events.len()];
    let mut versions = match state.versions.remove(&entry.id) {
        Some(versions) => versions,
        None => model_versions(tx, entry.id)?,
    };
    for (index, (event, row)) in events.iter().zip(&rows).enumerate() {
        if kept_from.is_some_and(|cut| event.timestamp_ms < cut) {
            outcome.too_old.push(index);
            stored_flags[index] = false;
            continue;
        }
        if !versions.contains(&event.version) && versions.len() >= state.max_versions_per_model {
            outcome.version_limit.push(index);
            stored_flags[index] = false;
            continue;
        }
        let inserted = insert.execute(params![
            entry.id,
            event.id,
            event.timestamp_ms,
            event.version,
            row.prediction,
            row.score,
            row.label,
            event.latency_ms,
            event.error,
            row.features,
            now_ms,
        ])?;
        if inserted == 0 {
            outcome.duplicates.push(index);
            stored_flags[index] = false;
        } else {
            outcome.accepted += 1;
            if !versions.contains(&event.version) {
                versions.insert(event.version.clone());
            }
            newest = newest.max(Some(event.timestamp_ms));
            outcome.event_time_range = Some(match outcome.event_time_range {
                Some((low, high)) => (low.min(event.timestamp_ms), high.max(event.timestamp_ms)),
                None => (event.timestamp_ms, event.timestamp_ms),
            });
        }
    }
    state.versions.insert(entry.id, versions);
    let stored = |index: usize| stored_flags[index];
    let reference = state.references.get(&entry.id).cloned();
    let current_generation = reference.as_ref().map(|r| r.generation);
    if stored_flags.contains(&false) || reference_generation != current_generation {
        // Rare: the prepared deltas counted events that were not stored, or binned them
        // against a reference that has since been replaced.
        let kept = || {
            events
                .iter()
                .enumerate()
                .filter(|(i, _)| stored(*i))
                .map(|(_, e)| e)
        };
        deltas = crate::prepare::deltas(model, kept());
        feature_deltas = crate::prepare::feature_deltas(model, kept(), reference.as_deref());
    }
    let waiting = state.pending_labels.get(&entry.id).copied().unwrap_or(0);
    if waiting > 0 {
        let mut take_pending = tx.prepare_cached(
            "DELETE FROM pending_labels WHERE model_id = ?1 AND id = ?2 RETURNING label",
        )?;
        let mut set_label =
            tx.prepare_cached("UPDATE predictions SET label = ?3 WHERE model_id = ?1 AND id = ?2")?;
        for (index, event) in events.iter().enumerate() {
            if !stored(index) {
                continue;
            }
            let pending: Option<String> = take_pending
                .query_row(params![entry.id, event.id], |row| row.get(0))
                .optional()?;
            let Some(label_json) = pending else { continue };
            if let Some(n) = state.pending_labels.get_mut(&entry.id) {
                *n = n.saturating_sub(1);
            }
            outcome.joined_pending_labels += 1;
            // A label sent inline with the prediction wins over an earlier one.
            if event.label.is_some() {
                continue;
            }
            outcome.labelled_from_pending.push(index);
            set_label.execute(params![entry.id, event.id, label_json])?;
            let Ok(label) = serde_json::from_str::<Target>(&label_json) else {
                continue;
            };
            let window = (
                event.version.clone(),
                Granularity::Minute.window_start(event.timestamp_ms),
            );
            if let Some(prediction) = &event.prediction {
                deltas
                    .entry(window.clone())
                    .or_default()
                    .observe_label_grouped(
                        model,
                        &event.features,
                        prediction,
                        event.score.as_ref(),
                        &label,
                    );
            }
            if model.task() == Task::Regression {
                let mut labelled = event.clone();
                labelled.label = Some(label);
                feature_deltas
                    .entry(window)
                    .or_default()
                    .observe_late_label(model, &labelled);
            }
        }
    }
    for ((version, minute), delta) in &deltas {
        state
            .performance
            .apply(tx, entry.id, version, *minute, delta)?;
    }
    // A window old enough that retention may delete its minutes before the next flush
    // is written in this commit (its hour or day could not be rebuilt from minutes).
    let keep = state
        .retention
        .minute_profiles_ms
        .min(state.retention.raw_events_ms);
    let horizon = newest_stored.max(newest).map(|n| n - keep);
    for ((version, minute), delta) in &feature_deltas {
        state
            .features
            .apply(tx, entry.id, version, *minute, delta)?;
        if horizon.is_some_and(|h| Granularity::Day.window_start(*minute) < h) {
            state.flush_requested = true;
        }
    }
    if let Some(newest) = newest {
        tx.execute(
            "UPDATE models SET newest_event_ms = MAX(COALESCE(newest_event_ms, ?2), ?2) WHERE id = ?1",
            params![entry.id, newest],
        )?;
    }
    Ok(outcome)
}

/// The columns [`stored_event_of_row`] reads, in its order.
const STORED_COLUMNS: &str = "id, ts, version, prediction, score, label, features";

/// An event rebuilt from a row of [`STORED_COLUMNS`].
fn stored_event_of_row(
    model: &modelwatch_core::Model,
    row: &rusqlite::Row<'_>,
) -> Result<modelwatch_core::PredictionEvent, StoreError> {
    let text = |index: usize| row.get::<_, Option<String>>(index);
    let (prediction, score, label, features) = (text(3)?, text(4)?, text(5)?, text(6)?);
    Ok(crate::prepare::stored_event(
        model,
        crate::prepare::StoredColumns {
            id: row.get(0)?,
            timestamp_ms: row.get(1)?,
            version: row.get(2)?,
            prediction: prediction.as_deref(),
            score: score.as_deref(),
            label: label.as_deref(),
            features: features.as_deref(),
        },
    ))
}

/// Stores resource use and logs: the profile deltas through the cache (as ingest's),
/// the raw log records, then the log retention of the model. A version the model
/// cannot take any more (`max_versions_per_model`) is refused with its samples and
/// records.
fn put_operations(
    tx: &Transaction<'_>,
    state: &mut State,
    entry: &ModelEntry,
    batch: crate::OperationsBatch,
    now_ms: i64,
) -> Result<crate::OperationsOutcome, StoreError> {
    let mut outcome = crate::OperationsOutcome::default();
    let mut versions = match state.versions.remove(&entry.id) {
        Some(versions) => versions,
        None => model_versions(tx, entry.id)?,
    };
    for (version, _) in &batch.versions {
        if !versions.contains(version) {
            if versions.len() >= state.max_versions_per_model {
                outcome.refused_versions.insert(version.clone());
            } else {
                versions.insert(version.clone());
            }
        }
    }
    state.versions.insert(entry.id, versions);
    let mut range: Option<(i64, i64)> = None;
    for ((version, minute), delta) in &batch.deltas {
        if outcome.refused_versions.contains(version) {
            continue;
        }
        state
            .performance
            .apply(tx, entry.id, version, *minute, delta)?;
    }
    let kept: Vec<&crate::StoredLog> = batch
        .logs
        .iter()
        .filter(|log| !outcome.refused_versions.contains(&log.version))
        .collect();
    crate::log_records::insert_logs(tx, entry.id, &kept, now_ms)?;
    if !kept.is_empty() {
        crate::log_records::logs_retention(tx, entry.id, &state.retention)?;
    }
    for (version, ms) in &batch.versions {
        if !outcome.refused_versions.contains(version) {
            range = Some(range.map_or((*ms, *ms), |(low, high)| (low.min(*ms), high.max(*ms))));
        }
    }
    outcome.event_time_range = range;
    if let Some((_, newest)) = range {
        tx.execute(
            "UPDATE models SET newest_event_ms = MAX(COALESCE(newest_event_ms, ?2), ?2) WHERE id = ?1",
            params![entry.id, newest],
        )?;
    }
    Ok(outcome)
}

/// Every version `model_id` holds (day windows are kept for ever, so none is missed).
fn model_versions(
    tx: &Transaction<'_>,
    model_id: i64,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut statement = tx.prepare_cached(
        "SELECT DISTINCT version FROM profiles WHERE model_id = ?1 AND granularity = ?2",
    )?;
    let rows = statement.query_map(
        params![model_id, crate::cache::code(Granularity::Day)],
        |row| row.get(0),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn join_labels(
    tx: &Transaction<'_>,
    state: &mut State,
    entry: &ModelEntry,
    labels: &[LabelRecord],
    now_ms: i64,
) -> Result<LabelOutcome, StoreError> {
    let model = &entry.model;
    let mut find = tx.prepare_cached(
        "SELECT ts, version, prediction, score, label, features FROM predictions WHERE model_id = ?1 AND id = ?2",
    )?;
    let mut set_label =
        tx.prepare_cached("UPDATE predictions SET label = ?3 WHERE model_id = ?1 AND id = ?2")?;
    let mut keep_pending = tx.prepare_cached(
        "INSERT OR IGNORE INTO pending_labels (model_id, id, label, received_ms) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut outcome = LabelOutcome::default();
    // Rows read here own their strings, so deltas are keyed by owned versions.
    let mut deltas: BTreeMap<(String, i64), WindowProfile> = BTreeMap::new();
    // Regression labels also join the correlations of the prediction's feature window.
    let mut feature_deltas: BTreeMap<(String, i64), WindowFeatures> = BTreeMap::new();
    for (index, record) in labels.iter().enumerate() {
        let label_json = crate::prepare::to_json(&record.label);
        type Row = (
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let found: Option<Row> = find
            .query_row(params![entry.id, record.id], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .optional()?;
        match found {
            Some((_, _, _, _, Some(_), _)) => outcome.rejected.push((
                index,
                FieldError::new(
                    "id",
                    format!("prediction `{}` already has a label", record.id),
                ),
            )),
            Some((ts, version, prediction, score, None, features)) => {
                set_label.execute(params![entry.id, record.id, label_json])?;
                if model.task() == Task::Regression {
                    let event = crate::prepare::stored_event(
                        model,
                        crate::prepare::StoredColumns {
                            id: record.id.clone(),
                            timestamp_ms: ts,
                            version: version.clone(),
                            prediction: prediction.as_deref(),
                            score: score.as_deref(),
                            label: Some(&label_json),
                            features: features.as_deref(),
                        },
                    );
                    feature_deltas
                        .entry((version.clone(), Granularity::Minute.window_start(ts)))
                        .or_default()
                        .observe_late_label(model, &event);
                }
                outcome.matched += 1;
                if prediction.is_some() {
                    *outcome
                        .labelled_by_version
                        .entry(version.clone())
                        .or_insert(0) += 1;
                }
                outcome.event_time_range = Some(match outcome.event_time_range {
                    Some((low, high)) => (low.min(ts), high.max(ts)),
                    None => (ts, ts),
                });
                let prediction: Option<Target> =
                    prediction.and_then(|p| serde_json::from_str(&p).ok());
                let score: Option<Score> = score.and_then(|s| serde_json::from_str(&s).ok());
                if let Some(prediction) = prediction {
                    // The groups (segments, sensitive features) of the prediction are
                    // read back from its stored features, as ingest saw them.
                    let grouped =
                        !(model.segment_features.is_empty() && model.sensitive_features.is_empty());
                    let features = if grouped {
                        crate::prepare::stored_event(
                            model,
                            crate::prepare::StoredColumns {
                                id: String::new(),
                                timestamp_ms: ts,
                                version: String::new(),
                                prediction: None,
                                score: None,
                                label: None,
                                features: features.as_deref(),
                            },
                        )
                        .features
                    } else {
                        Vec::new()
                    };
                    deltas
                        .entry((version, Granularity::Minute.window_start(ts)))
                        .or_default()
                        .observe_label_grouped(
                            model,
                            &features,
                            &prediction,
                            score.as_ref(),
                            &record.label,
                        );
                }
            }
            None => {
                if keep_pending.execute(params![entry.id, record.id, label_json, now_ms])? == 0 {
                    outcome.rejected.push((
                        index,
                        FieldError::new(
                            "id",
                            format!(
                                "a label for `{}` is already waiting for its prediction",
                                record.id
                            ),
                        ),
                    ));
                } else {
                    *state.pending_labels.entry(entry.id).or_insert(0) += 1;
                    outcome.pending += 1;
                    let integer_id = modelwatch_core::class::normalize_class_text(&record.id);
                    if integer_id != record.id
                        && find
                            .query_row(params![entry.id, integer_id], |_| Ok(()))
                            .optional()?
                            .is_some()
                    {
                        outcome
                            .suspect_ids
                            .push((index, record.id.clone(), integer_id));
                    }
                }
            }
        }
    }
    for ((version, minute), delta) in &deltas {
        state
            .performance
            .apply(tx, entry.id, version, *minute, delta)?;
    }
    if !feature_deltas.is_empty() {
        // As in ingest: a window whose minutes retention may delete before the next
        // flush is written in this commit.
        let newest_stored: Option<i64> = tx.query_row(
            "SELECT newest_event_ms FROM models WHERE id = ?1",
            [entry.id],
            |row| row.get(0),
        )?;
        let keep = state
            .retention
            .minute_profiles_ms
            .min(state.retention.raw_events_ms);
        let horizon = newest_stored.map(|n| n - keep);
        for ((version, minute), delta) in &feature_deltas {
            state
                .features
                .apply(tx, entry.id, version, *minute, delta)?;
            if horizon.is_some_and(|h| Granularity::Day.window_start(*minute) < h) {
                state.flush_requested = true;
            }
        }
    }
    Ok(outcome)
}
