//! Labels waiting for their prediction: how many, and which ids (oldest arrival
//! first), with when each arrived.

use modelwatch_core::time::format_timestamp;
use modelwatch_store::ModelEntry;
use serde_json::{Value, json};

use super::blocking;
use crate::error::{ApiError, ErrorCode};
use crate::state::Catalog;

/// Labels listed when the query names no limit.
pub const DEFAULT_LIMIT: usize = 100;
/// Most labels one answer lists.
pub const MAX_LIMIT: usize = 1_000;

/// `{"model", "pending", "labels": [{"id", "received"}]}`: the count of every waiting
/// label, and up to `limit` of them.
pub async fn list(
    catalog: &Catalog,
    entry: &ModelEntry,
    limit: Option<usize>,
) -> Result<Value, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit must be 1 to {MAX_LIMIT}, got {limit}"),
        )
        .field("limit"));
    }
    let store = catalog.store.clone();
    let id = entry.id;
    let (counts, labels) =
        blocking(move || Ok((store.counts(id)?, store.pending_labels(id, limit)?))).await?;
    let labels: Vec<Value> = labels
        .into_iter()
        .map(|label| json!({"id": label.id, "received": format_timestamp(label.received_ms)}))
        .collect();
    Ok(json!({
        "model": entry.model.name,
        "pending": counts.pending_labels,
        "labels": labels,
    }))
}
