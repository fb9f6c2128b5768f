//! Recovery of a model's event clock (`models.newest_event_ms`, its watermark) that
//! an outlier moved ahead of the server's clock.
//!
//! Before event times were bounded (`max_event_future`), one event dated in year 9999
//! moved the watermark there for good: event-clock rules then judged toward it and the
//! retention measured from it. At start, every watermark beyond the bound is set back
//! to the newest data within the bound, automatically; the outlier's rows stay stored.

use rusqlite::{Connection, params};

use crate::error::StoreError;

/// Length of a minute window, the finest a watermark is recovered to.
const MINUTE_MS: i64 = 60_000;

/// Sets back every watermark later than `bound_ms` to the newest event time at or
/// before it (from raw events, or from minute windows when retention deleted the raw
/// ones), and returns the names of the models it changed.
///
/// Retention that ran under such a watermark may have cut raw events up to a point
/// far ahead (`raw_kept_from_ms`), which would refuse every real event as too old: the
/// cut is set back to the end of the newest minute with data, so events after it are
/// accepted while those that could duplicate a deleted one are still refused.
pub(crate) fn recover(conn: &mut Connection, bound_ms: i64) -> Result<Vec<String>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let moved: Vec<(i64, String)> = {
        let mut statement =
            tx.prepare("SELECT id, name FROM models WHERE newest_event_ms > ?1 ORDER BY name")?;
        let rows = statement.query_map([bound_ms], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, _) in &moved {
        let raw: Option<i64> = tx.query_row(
            "SELECT MAX(ts) FROM predictions WHERE model_id = ?1 AND ts <= ?2",
            params![id, bound_ms],
            |row| row.get(0),
        )?;
        let window: Option<i64> = tx.query_row(
            "SELECT MAX(start_ms) FROM profiles WHERE model_id = ?1 AND granularity = 0 AND start_ms <= ?2",
            params![id, bound_ms],
            |row| row.get(0),
        )?;
        let newest = match (raw, window) {
            (Some(raw), Some(window)) => Some(raw.max(window)),
            (a, b) => a.or(b),
        };
        tx.execute(
            "UPDATE models SET newest_event_ms = ?2,
               raw_kept_from_ms = CASE WHEN raw_kept_from_ms > ?3 THEN ?4 ELSE raw_kept_from_ms END
             WHERE id = ?1",
            params![
                id,
                newest,
                bound_ms,
                newest.map(|n| n - n.rem_euclid(MINUTE_MS) + MINUTE_MS)
            ],
        )?;
    }
    tx.commit()?;
    Ok(moved.into_iter().map(|(_, name)| name).collect())
}
