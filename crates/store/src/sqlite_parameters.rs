//! The SQLite backend's part of [`ParameterStorage`]: the `parameter_summaries` table
//! (schema version 8), a summary stored as JSON per model, version, step and tensor.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params, params_from_iter};

use crate::error::StoreError;
use crate::sqlite::SqliteStore;
use crate::storage::{ParameterFilter, ParameterRow, ParameterStorage, StoreFuture};

/// Writes the rows; `None` (nothing written) when a model is gone. Not an error in
/// the transaction, which would roll back the other writes of its group commit.
fn insert(
    tx: &Connection,
    rows: &[ParameterRow],
    now_ms: i64,
) -> Result<Option<usize>, StoreError> {
    for model_id in rows
        .iter()
        .map(|row| row.model_id)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM models WHERE id = ?1)",
            [model_id],
            |row| row.get(0),
        )?;
        if !exists {
            return Ok(None);
        }
    }
    let mut statement = tx.prepare_cached(
        "INSERT INTO parameter_summaries (model_id, version, step, tensor, ts, received_ms, summary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (model_id, version, tensor, step) DO UPDATE SET
             ts = excluded.ts, received_ms = excluded.received_ms, summary = excluded.summary",
    )?;
    for row in rows {
        let summary = serde_json::to_string(&row.summary)
            .map_err(|e| StoreError::WriteFailed(format!("summary not encodable: {e}")))?;
        statement.execute(params![
            row.model_id,
            row.version,
            row.step,
            row.tensor,
            row.timestamp_ms,
            now_ms,
            summary
        ])?;
    }
    Ok(Some(rows.len()))
}

fn select(
    conn: &Connection,
    model_id: i64,
    filter: &ParameterFilter,
    limit: usize,
) -> Result<Vec<ParameterRow>, StoreError> {
    let mut conditions = vec!["model_id = ?".to_string()];
    let mut values = vec![SqlValue::Integer(model_id)];
    let mut add = |condition: &str, value: SqlValue| {
        conditions.push(condition.to_string());
        values.push(value);
    };
    if let Some(version) = &filter.version {
        add("version = ?", SqlValue::Text(version.clone()));
    }
    if let Some(tensor) = &filter.tensor {
        add("tensor = ?", SqlValue::Text(tensor.clone()));
    }
    if let Some(step) = filter.from_step {
        add("step >= ?", SqlValue::Integer(step));
    }
    if let Some(step) = filter.to_step {
        add("step <= ?", SqlValue::Integer(step));
    }
    if let Some(ms) = filter.from_ms {
        add("ts >= ?", SqlValue::Integer(ms));
    }
    if let Some(ms) = filter.to_ms {
        add("ts < ?", SqlValue::Integer(ms));
    }
    let passing = conditions.join(" AND ");
    let sql = if filter.last_step_only {
        // The highest passing step of each (version, tensor), through the key's index.
        format!(
            "SELECT p.model_id, p.version, p.step, p.tensor, p.ts, p.summary
             FROM parameter_summaries p
             JOIN (SELECT version, tensor, MAX(step) AS step FROM parameter_summaries
                   WHERE {passing} GROUP BY version, tensor) last
               ON p.model_id = ? AND p.version = last.version AND p.tensor = last.tensor
              AND p.step = last.step
             ORDER BY p.tensor, p.version, p.step LIMIT ?"
        )
    } else {
        format!(
            "SELECT model_id, version, step, tensor, ts, summary FROM parameter_summaries
             WHERE {passing} ORDER BY tensor, version, step LIMIT ?"
        )
    };
    if filter.last_step_only {
        values.push(SqlValue::Integer(model_id));
    }
    values.push(SqlValue::Integer(limit.min(i64::MAX as usize) as i64));
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok((
            ParameterRow {
                model_id: row.get(0)?,
                version: row.get(1)?,
                step: row.get(2)?,
                tensor: row.get(3)?,
                timestamp_ms: row.get(4)?,
                summary: modelwatch_core::parameters::summarise(&[]),
            },
            row.get::<_, String>(5)?,
        ))
    })?;
    rows.map(|row| {
        let (mut row, summary) = row?;
        row.summary = serde_json::from_str(&summary).map_err(|e| {
            StoreError::Unusable(format!("a stored parameter summary is unreadable: {e}"))
        })?;
        Ok(row)
    })
    .collect()
}

impl ParameterStorage for SqliteStore {
    fn put_parameters(&self, rows: Vec<ParameterRow>, now_ms: i64) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            self.write_shedding(move |tx| insert(tx, &rows, now_ms))
                .await?
                .ok_or(StoreError::ModelNotFound)
        })
    }

    fn load_parameters(
        &self,
        model_id: i64,
        filter: &ParameterFilter,
        limit: usize,
    ) -> Result<Vec<ParameterRow>, StoreError> {
        self.read(|conn| select(conn, model_id, filter, limit))
    }
}
