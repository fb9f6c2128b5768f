//! The `log_records` table (schema version 9) as the writer changes it: the raw log
//! records inserted in the group commit, and their retention: `retention.log_records`
//! behind the model's newest record, at most `retention.max_log_records` per model.

use rusqlite::{Transaction, params};

use modelwatch_core::ops::LogLevel;

use crate::Retention;
use crate::error::StoreError;
use crate::operations::StoredLog;

/// The stored code of a level (its rank, least severe first).
pub(crate) fn level_code(level: LogLevel) -> i64 {
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
        params![
            model_id,
            retention.max_log_records.min(i64::MAX as u64) as i64
        ],
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
