//! The alerting tables: rule, channel and silence definitions, the evaluator's state
//! per rule, alerts, the event log, notification groups and the outbox.
//!
//! The SQL of the SQLite backend; the row types are the storage boundary's
//! ([`crate::storage`]), and `sqlite_alerting` implements [`crate::AlertStorage`] with
//! these functions.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
pub use crate::storage::{AlertRow, EventRow, OutboxRow, Resource, SavedRuleState};

/// The table of a kind of definition.
fn table(resource: Resource) -> &'static str {
    match resource {
        Resource::Rules => "rules",
        Resource::Channels => "channels",
        Resource::Silences => "silences",
    }
}

/// Events kept in the log; older ones are deleted by the retention pass.
pub const EVENTS_KEPT: i64 = 100_000;

/// Creates or replaces a definition; `model` only for rules.
pub(crate) fn put_definition(
    conn: &Connection,
    resource: Resource,
    name: &str,
    model: Option<&str>,
    definition: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    if resource == Resource::Rules {
        conn.execute(
            "INSERT INTO rules (name, model, definition, updated_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET model = excluded.model, definition = excluded.definition,
               updated_ms = excluded.updated_ms",
            params![name, model.unwrap_or_default(), definition, now_ms],
        )?;
    } else {
        conn.execute(
            &format!(
                "INSERT INTO {} (name, definition, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_ms = excluded.updated_ms",
                table(resource)
            ),
            params![name, definition, now_ms],
        )?;
    }
    Ok(())
}

/// Deletes a definition; `false` if there was none.
pub(crate) fn delete_definition(
    conn: &Connection,
    resource: Resource,
    name: &str,
) -> Result<bool, StoreError> {
    let deleted = conn.execute(
        &format!("DELETE FROM {} WHERE name = ?1", table(resource)),
        [name],
    )?;
    // A deleted rule's state stays until the alerting engine has resolved its alert
    // (it deletes the state then), so a crash in between cannot orphan a firing alert.
    Ok(deleted > 0)
}

/// Every definition of a kind: `(name, definition JSON)`, by name.
pub(crate) fn load_definitions(
    conn: &Connection,
    resource: Resource,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut statement = conn.prepare(&format!(
        "SELECT name, definition FROM {} ORDER BY name",
        table(resource)
    ))?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Saves the evaluator's state of a rule (encoded by the caller), with the definition
/// (JSON) and model it was judged under.
pub(crate) fn save_rule_state(
    conn: &Connection,
    rule: &str,
    state: &[u8],
    definition: &str,
    model: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO rule_states (rule, state, definition, model) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (rule) DO UPDATE SET state = excluded.state,
             definition = excluded.definition, model = excluded.model",
        params![rule, state, definition, model],
    )?;
    Ok(())
}

/// Forgets a rule's state (its rule was deleted or redefined and its alert resolved).
pub(crate) fn delete_rule_state(conn: &Connection, rule: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM rule_states WHERE rule = ?1", [rule])?;
    Ok(())
}

/// Every saved rule state.
pub(crate) fn load_rule_states(conn: &Connection) -> Result<Vec<SavedRuleState>, StoreError> {
    let mut statement = conn.prepare("SELECT rule, state, definition, model FROM rule_states")?;
    let rows = statement.query_map([], |row| {
        Ok(SavedRuleState {
            rule: row.get(0)?,
            state: row.get(1)?,
            definition: row.get(2)?,
            model: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks every firing alert of `rule` resolved at `ends_at_ms`; the ids resolved.
pub(crate) fn resolve_rule_alerts(
    conn: &Connection,
    rule: &str,
    ends_at_ms: i64,
    now_ms: i64,
) -> Result<Vec<i64>, StoreError> {
    let ids: Vec<i64> = {
        let mut statement =
            conn.prepare("SELECT id FROM alerts WHERE rule = ?1 AND state = 'firing'")?;
        let rows = statement.query_map([rule], |row| row.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for id in &ids {
        resolve_alert(conn, *id, ends_at_ms, now_ms)?;
    }
    Ok(ids)
}

/// Inserts a new alert; returns its id.
pub(crate) fn insert_alert(conn: &Connection, alert: &AlertRow) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO alerts (rule, model, fingerprint, state, starts_at_ms, ends_at_ms, detail, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            alert.rule,
            alert.model,
            alert.fingerprint,
            alert.state,
            alert.starts_at_ms,
            alert.ends_at_ms,
            alert.detail,
            alert.updated_ms
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Marks an alert resolved at `ends_at_ms` (event time).
pub(crate) fn resolve_alert(
    conn: &Connection,
    id: i64,
    ends_at_ms: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE alerts SET state = 'resolved', ends_at_ms = ?2, updated_ms = ?3 WHERE id = ?1",
        params![id, ends_at_ms, now_ms],
    )?;
    Ok(())
}

/// Alerts, newest first: only those in `state`, of `model` and of the `visible`
/// models when given.
pub(crate) fn list_alerts(
    conn: &Connection,
    state: Option<&str>,
    model: Option<&str>,
    visible: Option<&[String]>,
    limit: i64,
) -> Result<Vec<AlertRow>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, rule, model, fingerprint, state, starts_at_ms, ends_at_ms, detail, updated_ms FROM alerts
         WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR model = ?2)
           AND (?4 IS NULL OR model IN (SELECT value FROM json_each(?4)))
         ORDER BY id DESC LIMIT ?3",
    )?;
    let visible = visible_json(visible);
    let rows = statement.query_map(params![state, model, limit, visible], |row| {
        Ok(AlertRow {
            id: row.get(0)?,
            rule: row.get(1)?,
            model: row.get(2)?,
            fingerprint: row.get(3)?,
            state: row.get(4)?,
            starts_at_ms: row.get(5)?,
            ends_at_ms: row.get(6)?,
            detail: row.get(7)?,
            updated_ms: row.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Appends to the event log.
pub(crate) fn log_event(
    conn: &Connection,
    at_ms: i64,
    model: Option<&str>,
    rule: Option<&str>,
    kind: &str,
    detail: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO alert_events (at_ms, model, rule, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![at_ms, model, rule, kind, detail],
    )?;
    Ok(())
}

/// Log entries, newest first, of `model` and of the `visible` models when given, with
/// ids below `before` when given.
pub(crate) fn list_events(
    conn: &Connection,
    model: Option<&str>,
    visible: Option<&[String]>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, at_ms, model, rule, kind, detail FROM alert_events
         WHERE (?1 IS NULL OR model = ?1) AND id < ?2
           AND (?4 IS NULL OR model IN (SELECT value FROM json_each(?4)))
         ORDER BY id DESC LIMIT ?3",
    )?;
    let visible = visible_json(visible);
    let rows = statement.query_map(
        params![model, before.unwrap_or(i64::MAX), limit, visible],
        |row| {
            Ok(EventRow {
                id: row.get(0)?,
                at_ms: row.get(1)?,
                model: row.get(2)?,
                rule: row.get(3)?,
                kind: row.get(4)?,
                detail: row.get(5)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The models a restricted reader may see, as the JSON array `json_each` reads in the
/// query itself (so that `LIMIT` counts only what it may see); `None`: all.
pub(crate) fn visible_json(visible: Option<&[String]>) -> Option<String> {
    visible.map(|models| serde_json::to_string(models).unwrap_or_else(|_| "[]".into()))
}

/// Deletes log entries beyond the newest [`EVENTS_KEPT`].
pub(crate) fn trim_log(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM alert_events WHERE id <= (SELECT MAX(id) FROM alert_events) - ?1",
        [EVENTS_KEPT],
    )?;
    Ok(())
}

/// Saves a notification group's state (JSON), or deletes it when `state` is `None`.
pub(crate) fn save_group(
    conn: &Connection,
    channel: &str,
    key: &str,
    state: Option<&str>,
) -> Result<(), StoreError> {
    match state {
        Some(state) => conn.execute(
            "INSERT INTO notify_groups (channel, group_key, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel, group_key) DO UPDATE SET state = excluded.state",
            params![channel, key, state],
        )?,
        None => conn.execute(
            "DELETE FROM notify_groups WHERE channel = ?1 AND group_key = ?2",
            params![channel, key],
        )?,
    };
    Ok(())
}

/// Every notification group: `(channel, key, state JSON)`.
pub(crate) fn load_groups(conn: &Connection) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut statement = conn.prepare("SELECT channel, group_key, state FROM notify_groups")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Queues a notification for delivery; returns its id.
pub(crate) fn enqueue(
    conn: &Connection,
    channel: &str,
    payload: &str,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO outbox (channel, created_ms, next_attempt_ms, attempts, payload) VALUES (?1, ?2, ?2, 0, ?3)",
        params![channel, now_ms, payload],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Every queued notification, oldest first.
pub(crate) fn load_outbox(conn: &Connection) -> Result<Vec<OutboxRow>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT id, channel, created_ms, next_attempt_ms, attempts, payload FROM outbox ORDER BY id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(OutboxRow {
            id: row.get(0)?,
            channel: row.get(1)?,
            created_ms: row.get(2)?,
            next_attempt_ms: row.get(3)?,
            attempts: row.get(4)?,
            payload: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes a delivered (or abandoned) notification.
pub(crate) fn dequeue(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
    Ok(())
}

/// Records a failed try and when to try again.
pub(crate) fn reschedule(
    conn: &Connection,
    id: i64,
    attempts: i64,
    next_attempt_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE outbox SET attempts = ?2, next_attempt_ms = ?3 WHERE id = ?1",
        params![id, attempts, next_attempt_ms],
    )?;
    Ok(())
}

/// Saves the reference chunk profiles of a model (for `baseline: reference`).
pub(crate) fn save_reference_chunks(
    conn: &Connection,
    model_id: i64,
    data: &[u8],
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO reference_chunks (model_id, data) VALUES (?1, ?2)
         ON CONFLICT (model_id) DO UPDATE SET data = excluded.data",
        params![model_id, data],
    )?;
    Ok(())
}

/// The reference chunk profiles of a model, if saved.
pub(crate) fn load_reference_chunks(
    conn: &Connection,
    model_id: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT data FROM reference_chunks WHERE model_id = ?1",
            [model_id],
            |row| row.get(0),
        )
        .optional()?)
}
