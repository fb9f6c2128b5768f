//! Durable storage for modelwatch: the embedded SQLite store.
//!
//! One writer thread owns the write connection and applies commands from a bounded
//! queue in group commits (see the `writer` module); readers use their own connections, which
//! WAL mode lets run beside the writer. A write is answered only after its
//! transaction is committed with `synchronous=FULL`, i.e. fsynced.
//!
//! Tables: `models`, `predictions` (raw events, features with PII already hashed by
//! the caller), `pending_labels` (labels whose prediction has not arrived) and
//! `profiles` (one encoded [`WindowProfile`] per model, granularity, window start and
//! version).

pub mod alerting;
mod cache;
pub mod error;
mod prepare;
mod schema;
pub mod tokens;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use modelwatch_core::drift::{ReferenceProfile, WindowFeatures};
use modelwatch_core::event::LabelRecord;
use modelwatch_core::{FieldError, Granularity, Model, ModelDefinition, WindowProfile};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

pub use error::StoreError;
pub use prepare::{PreparedBatch, prepare};
use writer::Command;

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
    /// Stored events that picked up a label that had arrived before them.
    pub joined_pending_labels: usize,
    /// Indexes (in the submitted list) of stored events without an inline label that
    /// were labelled by a label that had arrived before them.
    pub labelled_from_pending: Vec<usize>,
    /// Oldest and newest event time among the stored events.
    pub event_time_range: Option<(i64, i64)>,
}

/// What a label ingest did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelOutcome {
    /// Labels joined to their prediction.
    pub matched: usize,
    /// `matched`, by the version of the prediction each label joined.
    pub matched_by_version: std::collections::BTreeMap<String, u64>,
    /// Labels kept until their prediction arrives.
    pub pending: usize,
    /// `(index, reason)` of labels refused (the prediction already has one, or one is already waiting).
    pub rejected: Vec<(usize, FieldError)>,
    /// Oldest and newest event time of the predictions that got their label.
    pub event_time_range: Option<(i64, i64)>,
}

/// Tuning of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Commands the write queue holds before callers are told to back off.
    pub queue_capacity: usize,
    /// How long data is kept, in event time behind each model's newest event.
    pub retention: Retention,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 256,
            retention: Retention::default(),
        }
    }
}

/// How long each kind of data is kept, measured in event time back from a model's
/// newest event (so a replay of old logs is not deleted as it arrives). Day profiles
/// are kept for ever; coarser windows answer queries once finer ones are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Raw events; also how long (in wall-clock time) a label waits for its prediction.
    pub raw_events_ms: i64,
    /// Minute profiles (performance and features).
    pub minute_profiles_ms: i64,
    /// Hour profiles.
    pub hour_profiles_ms: i64,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: i64 = 86_400_000;
        Self {
            raw_events_ms: 30 * DAY,
            minute_profiles_ms: 7 * DAY,
            hour_profiles_ms: 90 * DAY,
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
}

/// The embedded store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    queue: mpsc::Sender<Command>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
    closed: Arc<Closed>,
}

/// Tells when the writer thread has written its last commit and closed the database.
pub struct Closed(Mutex<std::sync::mpsc::Receiver<()>>);

impl Closed {
    /// Waits (at most `timeout`) until the writer has finished; `true` if it has. It
    /// finishes once every clone of the [`Store`] is dropped.
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

/// The database file inside a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("modelwatch.sqlite")
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

impl Store {
    /// Opens (creating if needed) the store in `data_dir` and starts its writer thread.
    pub fn open(data_dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Unusable(format!(
                "cannot create data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = database_path(data_dir);
        let mut conn = Connection::open(&path)?;
        schema::configure(&conn)?;
        // Fail now, not on first use, if the file is not a database or is damaged.
        let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
        if check != "ok" {
            return Err(StoreError::Unusable(format!(
                "integrity check of {} failed: {check}",
                path.display()
            )));
        }
        schema::migrate(&mut conn)?;
        let writer = writer::Writer::new(conn, options.retention)?;
        let (queue, receiver) = mpsc::channel(options.queue_capacity.max(1));
        let (done, closed) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("modelwatch-writer".into())
            .spawn(move || {
                writer.run(receiver);
                // The connection is closed (and the WAL checkpointed) when `run` returns.
                let _ = done.send(());
            })
            .map_err(|e| StoreError::Unusable(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            queue,
            readers: Arc::new(Mutex::new(Vec::new())),
            path,
            closed: Arc::new(Closed(Mutex::new(closed))),
        })
    }

    /// A handle that tells when the writer has shut down (after the last clone of the
    /// store is dropped), for a clean stop.
    pub fn closed(&self) -> Arc<Closed> {
        self.closed.clone()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(make(reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
        })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Creates or updates a model definition. A new model is refused when the store
    /// already holds `max_models`, counted in the same transaction as the insert, so
    /// concurrent creations cannot pass the limit together.
    pub async fn put_model(
        &self,
        model: Model,
        max_models: usize,
        now_ms: i64,
    ) -> Result<PutModelOutcome, StoreError> {
        self.submit(|reply| Command::PutModel {
            model: Arc::new(model),
            max_models,
            now_ms,
            reply,
        })
        .await
    }

    /// Deletes a model and all its data; `false` if there was none.
    pub async fn delete_model(&self, name: &str) -> Result<bool, StoreError> {
        self.submit(|reply| Command::DeleteModel {
            name: name.to_string(),
            reply,
        })
        .await
    }

    /// Stores a batch (see [`prepare`]) durably; answers once it is committed.
    pub async fn ingest(
        &self,
        entry: Arc<ModelEntry>,
        batch: PreparedBatch,
        now_ms: i64,
    ) -> Result<IngestOutcome, StoreError> {
        self.submit(|reply| Command::Ingest {
            entry,
            batch,
            now_ms,
            reply,
        })
        .await
    }

    /// Joins labels to their predictions (or keeps them until the prediction comes).
    pub async fn ingest_labels(
        &self,
        entry: Arc<ModelEntry>,
        labels: Vec<LabelRecord>,
        now_ms: i64,
    ) -> Result<LabelOutcome, StoreError> {
        self.submit(|reply| Command::Labels {
            entry,
            labels,
            now_ms,
            reply,
        })
        .await
    }

    /// Replaces the reference of a model and its chunk profiles (`chunks`, encoded
    /// [`modelwatch_core::alert::baseline::ReferenceChunks`]) in one transaction, and
    /// re-profiles its stored events against it (in the writer, so that concurrent
    /// ingest sees either the old or the new one).
    pub async fn set_reference(
        &self,
        entry: Arc<ModelEntry>,
        reference: ReferenceProfile,
        chunks: Vec<u8>,
        now_ms: i64,
    ) -> Result<Arc<ReferenceProfile>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::SetReference {
            entry,
            reference: Box::new(reference),
            chunks,
            now_ms,
            reply,
        };
        // Uploading a reference is rare and large: wait for room rather than shed it.
        self.queue
            .send(command)
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// The current reference of a model, if it has one.
    pub fn load_reference(
        &self,
        model_id: i64,
    ) -> Result<Option<(ReferenceProfile, i64)>, StoreError> {
        self.read(|conn| {
            let row: Option<(Vec<u8>, i64)> = conn
                .query_row(
                    "SELECT data, uploaded_ms FROM model_references WHERE model_id = ?1",
                    [model_id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            match row {
                Some((bytes, uploaded)) => Ok(Some((ReferenceProfile::decode(&bytes)?, uploaded))),
                None => Ok(None),
            }
        })
    }

    /// The feature profiles of `model_id` at `granularity` whose window starts in
    /// `[from, to)`, for one version or all. Call [`Store::flush`] first to include
    /// the aggregates the writer has not written yet.
    pub fn load_features(
        &self,
        model_id: i64,
        granularity: Granularity,
        from: Option<i64>,
        to: Option<i64>,
        version: Option<&str>,
    ) -> Result<Vec<(i64, WindowFeatures)>, StoreError> {
        self.load_windows(model_id, granularity, from, to, version)
    }

    /// Rows of one profile table: `(window start, profile)` in start order.
    fn load_windows<P: cache::StoredProfile>(
        &self,
        model_id: i64,
        granularity: Granularity,
        from: Option<i64>,
        to: Option<i64>,
        version: Option<&str>,
    ) -> Result<Vec<(i64, P)>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT start_ms, data FROM {}
                 WHERE model_id = ?1 AND granularity = ?2 AND start_ms >= ?3 AND start_ms < ?4
                   AND (?5 IS NULL OR version = ?5)
                 ORDER BY start_ms",
                P::TABLE
            ))?;
            let rows = statement.query_map(
                params![
                    model_id,
                    cache::code(granularity),
                    from.unwrap_or(i64::MIN),
                    to.unwrap_or(i64::MAX),
                    version
                ],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
            )?;
            let mut profiles = Vec::new();
            for row in rows {
                let (start, bytes) = row?;
                profiles.push((start, P::decode(&bytes)?));
            }
            Ok(profiles)
        })
    }

    /// Deletes what is older than the retention allows, now (the writer also does it
    /// every ten minutes on its own).
    pub async fn apply_retention(&self) -> Result<RetentionOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Command::Retention { reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Applies alerting changes in one transaction of the writer (waiting for room in
    /// the queue rather than shedding them) and returns what `apply` returned.
    pub async fn write<T: Send + 'static>(
        &self,
        apply: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let apply: alerting::Apply =
            Box::new(move |tx| apply(tx).map(|v| Box::new(v) as alerting::Applied));
        self.queue
            .send(Command::Alerting { apply, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        let applied = answer.await.map_err(|_| StoreError::Closed)??;
        applied
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| StoreError::WriteFailed("unexpected answer type".into()))
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Command::Flush { reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// How many commands the write queue holds.
    pub fn queue_capacity(&self) -> usize {
        self.queue.max_capacity()
    }

    /// Commands waiting in the write queue.
    pub fn queue_depth(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Runs `f` on a read connection (blocking: call it from a blocking thread).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self
            .readers
            .lock()
            .map(|mut pool| pool.pop())
            .unwrap_or(None);
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                conn
            }
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < 8
        {
            pool.push(conn);
        }
        result
    }

    /// Every stored model.
    pub fn load_models(&self) -> Result<Vec<ModelEntry>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT id, name, definition, created_ms, updated_ms FROM models ORDER BY name",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })?;
            let mut models = Vec::new();
            for row in rows {
                let (id, name, definition, created_ms, updated_ms) = row?;
                let model = parse_stored_model(&name, &definition)?;
                models.push(ModelEntry {
                    id,
                    model: Arc::new(model),
                    created_ms,
                    updated_ms,
                });
            }
            Ok(models)
        })
    }

    /// The profiles of `model_id` at `granularity` whose window starts in `[from, to)`,
    /// for one version or all; `(window start, profile)` in start order.
    pub fn load_profiles(
        &self,
        model_id: i64,
        granularity: Granularity,
        from: Option<i64>,
        to: Option<i64>,
        version: Option<&str>,
    ) -> Result<Vec<(i64, WindowProfile)>, StoreError> {
        self.load_windows(model_id, granularity, from, to, version)
    }

    /// The newest event time of every model that has events, by model name.
    pub fn newest_event_times(&self) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT name, newest_event_ms FROM models WHERE newest_event_ms IS NOT NULL",
            )?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The versions with profiles of `model_id` in minute windows starting in
    /// `[from, to)`, most recent (by newest window) first, at most `limit` of them.
    pub fn recent_versions(
        &self,
        model_id: i64,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT version FROM profiles
                 WHERE model_id = ?1 AND granularity = ?2 AND start_ms >= ?3 AND start_ms < ?4
                 GROUP BY version ORDER BY MAX(start_ms) DESC, version LIMIT ?5",
            )?;
            let rows = statement.query_map(
                params![
                    model_id,
                    cache::code(Granularity::Minute),
                    from,
                    to,
                    limit as i64
                ],
                |row| row.get(0),
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The versions seen for a model.
    pub fn versions(&self, model_id: i64) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT DISTINCT version FROM profiles WHERE model_id = ?1 AND granularity = ?2 ORDER BY version",
            )?;
            let rows = statement.query_map(params![model_id, cache::code(Granularity::Day)], |row| row.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Counts of stored predictions, labelled predictions and pending labels of a model.
    pub fn counts(&self, model_id: i64) -> Result<StoredCounts, StoreError> {
        self.read(|conn| {
            let (predictions, labelled): (i64, i64) = conn.query_row(
                "SELECT COUNT(*), COUNT(label) FROM predictions WHERE model_id = ?1",
                [model_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let pending: i64 = conn.query_row(
                "SELECT COUNT(*) FROM pending_labels WHERE model_id = ?1",
                [model_id],
                |row| row.get(0),
            )?;
            let newest_event_ms = conn
                .query_row(
                    "SELECT newest_event_ms FROM models WHERE id = ?1",
                    [model_id],
                    |row| row.get(0),
                )
                .optional()?
                .flatten();
            Ok(StoredCounts {
                predictions: predictions as u64,
                labelled: labelled as u64,
                pending_labels: pending as u64,
                newest_event_ms,
            })
        })
    }
}

/// Row counts of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StoredCounts {
    /// Stored predictions.
    pub predictions: u64,
    /// Predictions with a label.
    pub labelled: u64,
    /// Labels waiting for their prediction.
    pub pending_labels: u64,
    /// The newest event time seen.
    pub newest_event_ms: Option<i64>,
}
