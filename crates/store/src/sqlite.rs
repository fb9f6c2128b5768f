//! The SQLite backend: [`SqliteStore`], the default implementation of [`Storage`].
//!
//! One writer thread owns the write connection and applies commands from a bounded
//! queue in group commits (see the `writer` module); reads take a read-only connection
//! from a small pool, which WAL mode lets run beside the writer. The alerting and token
//! parts of the boundary are implemented beside their tables (`alerting`, `tokens`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use modelwatch_core::drift::{ReferenceProfile, WindowFeatures};
use modelwatch_core::event::LabelRecord;
use modelwatch_core::{Granularity, Model, WindowProfile};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use crate::storage::{Storage, StoreFuture};
use crate::writer::{self, Command};
use crate::{
    Closed, IngestOutcome, LabelOutcome, ModelEntry, PendingLabel, PreparedBatch, PutModelOutcome,
    RetentionOutcome, StoreError, StoreOptions, StoredCounts, cache, parse_stored_model, schema,
};

/// The embedded SQLite store in a data directory. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    queue: mpsc::Sender<Command>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
    closed: Arc<Closed>,
    /// Set by `stop_writes`; shared with the writer thread.
    stopping: Arc<AtomicBool>,
}

/// The database file inside a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("modelwatch.sqlite")
}

/// Creates `dir` and its missing parents readable by the owner only (0700 on Unix).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the database file readable by the owner only (0600 on Unix), or makes an
/// existing one and its WAL and shared-memory files so. SQLite creates the WAL and
/// shared-memory files with the database file's mode.
fn make_private(database: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(database)?);
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut file = database.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir` and starts its writer thread.
    pub fn open(data_dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        create_private_dir(data_dir).map_err(|e| {
            StoreError::Unusable(format!(
                "cannot create data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = database_path(data_dir);
        make_private(&path).map_err(|e| {
            StoreError::Unusable(format!("cannot make {} private: {e}", path.display()))
        })?;
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
        let stopping = Arc::new(AtomicBool::new(false));
        let writer = writer::Writer::new(conn, &options, stopping.clone())?;
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
            closed: Arc::new(Closed::new(closed)),
            stopping,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(make(reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
        })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues a command, waiting for room in the queue rather than shedding it (for
    /// rare writes that must not fail under load), and waits for its answer.
    async fn submit_waiting<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(make(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Applies `apply` in one transaction of the writer's group commit (waiting for
    /// room in the queue) and returns what it returned, once committed.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        apply: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let apply: writer::Apply =
            Box::new(move |tx| apply(tx).map(|v| Box::new(v) as writer::Applied));
        let applied = self
            .submit_waiting(|reply| Command::Write { apply, reply })
            .await?;
        applied
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| StoreError::WriteFailed("unexpected answer type".into()))
    }

    /// As [`SqliteStore::write`], but shed with [`StoreError::Overloaded`] when the
    /// queue is full (for writes clients send at will and retry).
    pub(crate) async fn write_shedding<T: Send + 'static>(
        &self,
        apply: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let apply: writer::Apply =
            Box::new(move |tx| apply(tx).map(|v| Box::new(v) as writer::Applied));
        let applied = self.submit(|reply| Command::Write { apply, reply }).await?;
        applied
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| StoreError::WriteFailed("unexpected answer type".into()))
    }

    /// Runs `f` on a read connection (blocking: call it from a blocking thread).
    pub(crate) fn read<T>(
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
}

impl Storage for SqliteStore {
    fn load_models(&self) -> Result<Vec<ModelEntry>, StoreError> {
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

    fn put_model(
        &self,
        model: Model,
        max_models: usize,
        now_ms: i64,
    ) -> StoreFuture<'_, PutModelOutcome> {
        Box::pin(self.submit(move |reply| Command::PutModel {
            model: Arc::new(model),
            max_models,
            now_ms,
            reply,
        }))
    }

    fn delete_model(&self, name: &str) -> StoreFuture<'_, bool> {
        let name = name.to_string();
        Box::pin(self.submit(move |reply| Command::DeleteModel { name, reply }))
    }

    fn ingest(
        &self,
        entry: Arc<ModelEntry>,
        batch: PreparedBatch,
        now_ms: i64,
    ) -> StoreFuture<'_, IngestOutcome> {
        Box::pin(self.submit(move |reply| Command::Ingest {
            entry,
            batch,
            now_ms,
            reply,
        }))
    }

    fn ingest_labels(
        &self,
        entry: Arc<ModelEntry>,
        labels: Vec<LabelRecord>,
        now_ms: i64,
    ) -> StoreFuture<'_, LabelOutcome> {
        Box::pin(self.submit(move |reply| Command::Labels {
            entry,
            labels,
            now_ms,
            reply,
        }))
    }

    fn set_reference(
        &self,
        entry: Arc<ModelEntry>,
        reference: ReferenceProfile,
        chunks: Vec<u8>,
        now_ms: i64,
    ) -> StoreFuture<'_, Arc<ReferenceProfile>> {
        // Uploading a reference is rare and large: wait for room rather than shed it.
        Box::pin(self.submit_waiting(move |reply| Command::SetReference {
            entry,
            reference: Box::new(reference),
            chunks,
            now_ms,
            reply,
        }))
    }

    fn load_reference(&self, model_id: i64) -> Result<Option<(ReferenceProfile, i64)>, StoreError> {
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

    fn load_reference_chunks(&self, model_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| crate::alerting::load_reference_chunks(conn, model_id))
    }

    fn load_profiles(
        &self,
        model_id: i64,
        granularity: Granularity,
        from: Option<i64>,
        to: Option<i64>,
        version: Option<&str>,
    ) -> Result<Vec<(i64, WindowProfile)>, StoreError> {
        self.load_windows(model_id, granularity, from, to, version)
    }

    fn load_features(
        &self,
        model_id: i64,
        granularity: Granularity,
        from: Option<i64>,
        to: Option<i64>,
        version: Option<&str>,
    ) -> Result<Vec<(i64, WindowFeatures)>, StoreError> {
        self.load_windows(model_id, granularity, from, to, version)
    }

    fn first_window_with_data(
        &self,
        model_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Option<i64>, StoreError> {
        use modelwatch_core::time::{DAY_MS, HOUR_MS, align_down};
        self.read(|conn| {
            let minute: Option<i64> = conn
                .prepare_cached(
                    "SELECT MIN(start_ms) FROM profiles
                     WHERE model_id = ?1 AND granularity = 0 AND start_ms >= ?2 AND start_ms < ?3",
                )?
                .query_row(params![model_id, from, to], |row| row.get(0))?;
            // Where retention deleted the finer windows, an hour (day) window without
            // minutes (hours) holds data too; its earliest possible point is its start,
            // or `from`. Only windows before the answer so far can change it, so each
            // scan stops early.
            let mut first = minute;
            for (coarse, finer, length) in [(1, 0, HOUR_MS), (2, 1, DAY_MS)] {
                let until = first.map_or(to, |f| f.min(to));
                let orphan: Option<i64> = conn
                    .prepare_cached(
                        "SELECT c.start_ms FROM profiles c
                         WHERE c.model_id = ?1 AND c.granularity = ?2 AND c.start_ms >= ?3 AND c.start_ms < ?4
                           AND NOT EXISTS (SELECT 1 FROM profiles f WHERE f.model_id = ?1
                               AND f.granularity = ?5 AND f.start_ms >= c.start_ms AND f.start_ms < c.start_ms + ?6)
                         ORDER BY c.start_ms LIMIT 1",
                    )?
                    .query_row(
                        params![model_id, coarse, align_down(from, length), until, finer, length],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(orphan) = orphan {
                    let point = orphan.max(from);
                    first = Some(first.map_or(point, |f| f.min(point)));
                }
            }
            Ok(first)
        })
    }

    fn newest_event_times(&self) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT name, newest_event_ms FROM models WHERE newest_event_ms IS NOT NULL",
            )?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn recent_versions(
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

    fn versions(&self, model_id: i64) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT DISTINCT version FROM profiles WHERE model_id = ?1 AND granularity = ?2 ORDER BY version",
            )?;
            let rows = statement.query_map(params![model_id, cache::code(Granularity::Day)], |row| row.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn counts(&self, model_id: i64) -> Result<StoredCounts, StoreError> {
        self.read(|conn| {
            let (predictions, labelled): (i64, i64) = conn.query_row(
                "SELECT COUNT(*), COUNT(label) FILTER (WHERE prediction IS NOT NULL) FROM predictions WHERE model_id = ?1",
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

    fn pending_labels(&self, model_id: i64, limit: usize) -> Result<Vec<PendingLabel>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, received_ms FROM pending_labels WHERE model_id = ?1 ORDER BY received_ms, id LIMIT ?2",
            )?;
            let rows = statement.query_map(params![model_id, limit as i64], |row| {
                Ok(PendingLabel {
                    id: row.get(0)?,
                    received_ms: row.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        Box::pin(self.submit_waiting(|reply| Command::Flush { reply }))
    }

    fn apply_retention(&self) -> StoreFuture<'_, RetentionOutcome> {
        // The writer also applies it every ten minutes on its own.
        Box::pin(self.submit_waiting(|reply| Command::Retention { reply }))
    }

    fn queue_capacity(&self) -> usize {
        self.queue.max_capacity()
    }

    fn queue_depth(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    fn files_on_disk(&self) -> Vec<(&'static str, u64)> {
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        vec![
            ("database", size(&self.path)),
            ("wal", size(Path::new(&wal))),
        ]
    }

    fn stop_writes(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    fn closed(&self) -> Arc<Closed> {
        self.closed.clone()
    }
}
