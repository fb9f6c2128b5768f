//! Models: look one up, store a definition within the limits, delete one with its
//! rules, and the JSON a model is shown as.

use std::collections::BTreeSet;
use std::sync::Arc;

use modelwatch_core::time::{format_timestamp, now_ms};
use modelwatch_core::{FieldError, Model};
use modelwatch_store::{ModelEntry, PutModelOutcome};
use serde_json::{Value, json};

use super::blocking;
use super::reference::reference_json;
use crate::error::{ApiError, ErrorCode};
use crate::state::Catalog;

/// The model called `name`, or `404`.
pub fn model_entry(catalog: &Catalog, name: &str) -> Result<Arc<ModelEntry>, ApiError> {
    catalog
        .model(name)
        .ok_or_else(|| ApiError::model_not_found(name))
}

/// A model as the API shows it: its name, its definition and when it was created and
/// last changed.
pub fn model_json(entry: &ModelEntry) -> Value {
    let mut object = json!({"name": entry.model.name});
    if let (Some(object), Value::Object(definition)) = (
        object.as_object_mut(),
        serde_json::to_value(&entry.model.definition).unwrap_or(Value::Null),
    ) {
        object.extend(definition);
        object.insert(
            "created_at".into(),
            json!(format_timestamp(entry.created_ms)),
        );
        object.insert(
            "updated_at".into(),
            json!(format_timestamp(entry.updated_ms)),
        );
    }
    object
}

/// Every model `visible` lets the caller see (`None`: all), by name.
pub fn list(catalog: &Catalog, visible: Option<&BTreeSet<String>>) -> Value {
    let models: Vec<Value> = catalog
        .models
        .all()
        .iter()
        .filter(|e| visible.is_none_or(|v| v.contains(&e.model.name)))
        .map(|e| model_json(e))
        .collect();
    json!({"models": models})
}

/// A model with what is stored of it: counts, versions and its reference.
pub async fn with_stats(catalog: &Catalog, name: &str) -> Result<Value, ApiError> {
    let entry = model_entry(catalog, name)?;
    let store = catalog.store.clone();
    let id = entry.id;
    let (counts, versions) = blocking(move || Ok((store.counts(id)?, store.versions(id)?))).await?;
    let mut body = model_json(&entry);
    body["stats"] = json!({
        "predictions": counts.predictions,
        "labelled": counts.labelled,
        "pending_labels": counts.pending_labels,
        "newest_event": counts.newest_event_ms.map(format_timestamp),
        "versions": versions,
        "reference": catalog
            .reference_with_time(id)
            .map(|(reference, uploaded)| reference_json(&reference, uploaded)),
    });
    Ok(body)
}

/// Whether a stored model was new or changed.
pub enum Stored {
    /// A new model.
    Created(Arc<ModelEntry>),
    /// An existing model, changed compatibly.
    Updated(Arc<ModelEntry>),
}

/// Stores a validated model definition (creating or updating it) within the limits,
/// and caches it. The model limit is checked in the store's transaction, so
/// concurrent creations cannot pass it together.
pub async fn store_model(catalog: &Catalog, model: Model) -> Result<Stored, ApiError> {
    let limits = &catalog.limits;
    if model.features().len() > limits.max_features_per_model {
        return Err(ApiError::invalid(FieldError::new(
            "features",
            format!(
                "{} features; at most {} are allowed (limits.max_features_per_model)",
                model.features().len(),
                limits.max_features_per_model
            ),
        )));
    }
    if let Some(class) = model
        .classes
        .iter()
        .find(|c| c.len() > limits.max_label_bytes)
    {
        return Err(ApiError::invalid(FieldError::new(
            "classes",
            format!(
                "class `{}…` is {} bytes; at most {} are allowed (limits.max_label_bytes)",
                class.chars().take(20).collect::<String>(),
                class.len(),
                limits.max_label_bytes
            ),
        )));
    }
    let stored = match catalog
        .store
        .put_model(model, limits.max_models, now_ms())
        .await?
    {
        PutModelOutcome::Created(entry) => Stored::Created(entry),
        PutModelOutcome::Updated(entry) => Stored::Updated(entry),
        PutModelOutcome::Conflict(conflict) => {
            return Err(
                ApiError::new(ErrorCode::SchemaConflict, conflict.message).field(conflict.field)
            );
        }
        PutModelOutcome::LimitReached(count) => {
            return Err(ApiError::new(
                ErrorCode::ModelLimitReached,
                format!("the server already holds {count} models, its limit (limits.max_models)"),
            )
            .field("model"));
        }
    };
    let (Stored::Created(entry) | Stored::Updated(entry)) = &stored;
    catalog.models.insert(entry.clone());
    Ok(stored)
}

/// Deletes a model, its rules and all its data.
pub async fn delete(catalog: &Catalog, name: &str) -> Result<(), ApiError> {
    let entry = model_entry(catalog, name)?;
    catalog
        .alerting
        .delete_rules_of(catalog.store.as_ref(), name)
        .await?;
    let existed = catalog.store.delete_model(name).await?;
    catalog.models.remove(name);
    catalog.references.remove(entry.id);
    catalog.telemetry.forget_model(name);
    if existed {
        Ok(())
    } else {
        Err(ApiError::model_not_found(name))
    }
}
