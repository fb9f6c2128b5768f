//! The SQLite backend's part of [`OperationsStorage`]: resource use and log counts go
//! into the window profiles through the writer's cache (`writer::put_operations`), the
//! raw log records into the `log_records` table (schema version 9, written and trimmed
//! by `log_records`); here, the queueing of a batch and the search.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use modelwatch_core::ops::LogLevel;

use crate::error::StoreError;
use crate::log_records::level_code;
use crate::operations::{LogFilter, StoredLog};
use crate::sqlite::SqliteStore;
use crate::storage::OperationsStorage;
use crate::{ModelEntry, OperationsBatch, OperationsOutcome, StoreFuture};

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
        Box::pin(
            self.submit(move |reply| crate::writer::Command::Operations {
                entry,
                batch,
                now_ms,
                reply,
            }),
        )
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
