//! Alerts and the event log as the API lists them. A reader restricted to some models
//! is filtered inside the query, so a page holds `limit` of what it may see.

use std::collections::BTreeSet;

use modelwatch_core::time::{format_timestamp, now_ms};
use serde_json::{Value, json};

use super::blocking;
use crate::error::ApiError;
use crate::state::Catalog;

/// Most alerts or events one answer lists.
pub const MAX_LIST: i64 = 1_000;

/// Which alerts or events to list.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Only this model.
    pub model: Option<String>,
    /// Only these models (a restricted token's); `None`: all.
    pub visible: Option<BTreeSet<String>>,
    /// At most this many.
    pub limit: i64,
}

impl Listing {
    fn visible(&self) -> Option<Vec<String>> {
        self.visible.as_ref().map(|v| v.iter().cloned().collect())
    }
}

/// Alerts, newest first: all of them or those in `state` (`firing`, `resolved`).
pub async fn alerts(
    catalog: &Catalog,
    filter: Option<String>,
    listing: Listing,
) -> Result<Vec<Value>, ApiError> {
    let store = catalog.store.clone();
    let rows = blocking(move || {
        let visible = listing.visible();
        Ok(store.list_alerts(
            filter.as_deref(),
            listing.model.as_deref(),
            visible.as_deref(),
            listing.limit,
        )?)
    })
    .await?;
    let now = now_ms();
    let silences = catalog.alerting.silences();
    Ok(rows
        .into_iter()
        .map(|row| {
            let detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
            let labels: std::collections::BTreeMap<String, String> =
                serde_json::from_value(detail["labels"].clone()).unwrap_or_default();
            let silenced_by: Vec<&str> = silences
                .values()
                .filter(|s| row.state == "firing" && s.mutes(&labels, now))
                .map(|s| s.id.as_str())
                .collect();
            json!({
                "id": row.id,
                "rule": row.rule,
                "model": row.model,
                "state": row.state,
                "value": detail["value"],
                "threshold": detail["threshold"],
                "op": detail["op"],
                "lower": detail["lower"],
                "upper": detail["upper"],
                "metric": detail["metric"],
                "window": detail["window"],
                "span_end": detail["span_end"],
                "starts_at": format_timestamp(row.starts_at_ms),
                "ends_at": row.ends_at_ms.map(format_timestamp),
                "labels": detail["labels"],
                "annotations": detail["annotations"],
                "fingerprint": row.fingerprint,
                "silenced_by": silenced_by,
                "updated_at": format_timestamp(row.updated_ms),
            })
        })
        .collect())
}

/// What only an admin sees of an event's detail: a queued notification's payload and
/// what a receiver answered.
pub const ADMIN_ONLY_DETAIL: [&str; 2] = ["payload", "response"];

/// The event log, newest first; `before` pages back by id. A restricted reader sees
/// only its models' entries, not server-wide ones; a non-admin sees no payload nor
/// receiver's answer ([`ADMIN_ONLY_DETAIL`]).
pub async fn events(
    catalog: &Catalog,
    before: Option<i64>,
    listing: Listing,
    admin: bool,
) -> Result<Vec<Value>, ApiError> {
    let store = catalog.store.clone();
    let rows = blocking(move || {
        let visible = listing.visible();
        Ok(store.list_events(
            listing.model.as_deref(),
            visible.as_deref(),
            before,
            listing.limit,
        )?)
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut detail = serde_json::from_str::<Value>(&row.detail).unwrap_or(Value::Null);
            if !admin && let Some(detail) = detail.as_object_mut() {
                for key in ADMIN_ONLY_DETAIL {
                    detail.remove(key);
                }
            }
            json!({
                "id": row.id,
                "at": format_timestamp(row.at_ms),
                "model": row.model,
                "rule": row.rule,
                "kind": row.kind,
                "detail": detail,
            })
        })
        .collect())
}
