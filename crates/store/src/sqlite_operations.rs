//! The SQLite backend's part of [`OperationsStorage`]: resource use and log counts go
//! into the window profiles through the writer's cache (`writer::put_operations`), the
//! raw log records into the `log_records` table (schema version 9), kept for
//! `retention.log_records` behind the model's newest record and at most
//! `retention.max_log_records` per model.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Transaction, params, params_from_iter};

use modelwatch_core::ops::LogLevel;

use crate::error::StoreError;
use crate::operations::{LogFilter, StoredLog};
use crate::sqlite::SqliteStore;
use crate::storage::OperationsStorage;
use crate::{ModelEntry, OperationsBatch, OperationsOutcome, Retention, StoreFuture};

fn level_code(level: LogLevel) -> i64 {
    LogLevel::ALL.iter().position(|l| *l == level).unwrap_or(0) as i64
}

/// Inserts the log rows of `model_id` (the writer calls it in its transaction).
pub(crate) fn insert_logs(
    tx: &Transaction<'_>,
    model_id: i64,
    logs: &[&StoredLog],
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO log_records (model_id, ts, version, level, message, template, instance, record_id, attributes, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for log in logs {
        insert.execute(params![
            model_id,
            log.timestamp_ms,
            log.version,
            level_code(log.level),
            log.message,
            log.template,
            log.instance,
            log.id,
            log.attributes,
            now_ms
        ])?;
    }
    Ok(())
}

/// Deletes the log records of `model_id` that `retention` no longer keeps: older than
/// `log_records` behind its newest, and past `max_log_records` (oldest first).
pub(crate) fn logs_retention(
    tx: &Transaction<'_>,
    model_id: i64,
    retention: &Retention,
) -> Result<u64, StoreError> {
    let newest: Option<i64> = tx.query_row(
        "SELECT MAX(ts) FROM log_records WHERE model_id = ?1",
        [model_id],
        |row| row.get(0),
    )?;
    let Some(newest) = newest else {
        return Ok(0);
    };
    let mut deleted = tx.execute(
        "DELETE FROM log_records WHERE model_id = ?1 AND ts < ?2",
        params![model_id, newest.saturating_sub(retention.log_records_ms)],
    )?;
    deleted += tx.execute(
        "DELETE FROM log_records WHERE model_id = ?1 AND (ts, seq) <= (
             SELECT ts, seq FROM log_records WHERE model_id = ?1
             ORDER BY ts DESC, seq DESC LIMIT 1 OFFSET ?2)",
        params![model_id, retention.max_log_records.min(i64::MAX as u64) as i64],
    )?;
    Ok(deleted as u64)
}

/// [`logs_retention`] for every model with log records.
pub(crate) fn all_logs_retention(
    tx: &Transaction<'_>,
    retention: &Retention,
) -> Result<u64, StoreError> {
    let models: Vec<i64> = {
        let mut statement = tx.prepare("SELECT DISTINCT model_id FROM log_records")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut deleted = 0;
    for model_id in models {
        deleted += logs_retention(tx, model_id, retention)?;
    }
    Ok(deleted)
}

fn select(
    conn: &Connection,
    model_id: i64,
    filter: &LogFilter,
    limit: usize,
) -> Result<Vec<StoredLog>, StoreError> {
    let mut conditions = vec!["model_id = ?".to_string()];
    let mut values = vec![SqlValue::Integer(model_id)];
    let mut add = |condition: String, value: SqlValue| {
        conditions.push(condition);
        values.push(value);
    };
    if let Some(ms) = filter.from_ms {
        add("ts >= ?".into(), SqlValue::Integer(ms));
    }
    if let Some(ms) = filter.to_ms {
        add("ts < ?".into(), SqlValue::Integer(ms));
    }
    if let Some(version) = &filter.version {
        add("version = ?".into(), SqlValue::Text(version.clone()));
    }
    if let Some(instance) = &filter.instance {
        add("instance = ?".into(), SqlValue::Text(instance.clone()));
    }
    if let Some(text) = &filter.text {
        add(
            "instr(lower(message), ?) > 0".into(),
            SqlValue::Text(text.to_ascii_lowercase()),
        );
    }
    if !filter.levels.is_empty() {
        let codes: Vec<String> = filter
            .levels
            .iter()
            .map(|l| level_code(*l).to_string())
            .collect();
        conditions.push(format!("level IN ({})", codes.join(", ")));
    }
    values.push(SqlValue::Integer(limit.min(i64::MAX as usize) as i64));
    let sql = format!(
        "SELECT ts, version, level, message, template, instance, record_id, attributes
         FROM log_records WHERE {} ORDER BY ts DESC, seq DESC LIMIT ?",
        conditions.join(" AND ")
    );
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(StoredLog {
            timestamp_ms: row.get(0)?,
            version: row.get(1)?,
            level: LogLevel::ALL
                .get(row.get::<_, i64>(2)? as usize)
                .copied()
                .unwrap_or_default(),
            message: row.get(3)?,
            template: row.get(4)?,
            instance: row.get(5)?,
            id: row.get(6)?,
            attributes: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl OperationsStorage for SqliteStore {
    fn put_operations(
        &self,
        entry: std::sync::Arc<ModelEntry>,
        batch: OperationsBatch,
        now_ms: i64,
    ) -> StoreFuture<'_, OperationsOutcome> {
        Box::pin(self.submit(move |reply| crate::writer::Command::Operations {
            entry,
            batch,
            now_ms,
            reply,
        }))
    }

    fn search_logs(
        &self,
        model_id: i64,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<StoredLog>, StoreError> {
        self.read(|conn| select(conn, model_id, filter, limit))
    }
}
