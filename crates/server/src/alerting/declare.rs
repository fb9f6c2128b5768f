//! Definitions kept in a configuration file: models, channels, routing, rules and
//! silences,
//! applied at start through the same validation as the API.

use std::collections::BTreeMap;

use modelwatch_core::ModelDefinition;
use modelwatch_core::alert::{
    ChannelDefinition, RoutingDefinition, RuleDefinition, SilenceDefinition,
};

use crate::error::ApiError;

/// Definitions kept in a configuration file (for those who keep them in git):
/// applied at start, in this order, through the same validation as the API. Existing
/// definitions of the same name are replaced; others are left alone.
#[derive(Debug, Default, Clone)]
pub struct Declarations {
    /// Models by name (the body of `PUT /api/v1/models/{model}`).
    pub models: BTreeMap<String, ModelDefinition>,
    /// Channels by name.
    pub channels: BTreeMap<String, ChannelDefinition>,
    /// Rules by name.
    pub rules: BTreeMap<String, RuleDefinition>,
    /// Silences by id.
    pub silences: BTreeMap<String, SilenceDefinition>,
    /// The route tree and inhibition rules (replacing the stored ones when set).
    pub routing: Option<RoutingDefinition>,
}

/// Applies `declarations`; the error names the section, entry and field.
pub async fn declare(
    catalog: &crate::state::Catalog,
    declarations: &Declarations,
) -> Result<(), String> {
    let describe = |section: &str, name: &str, error: ApiError| match error.field {
        Some(field) => format!("{section}.{name}.{field}: {}", error.message),
        None => format!("{section}.{name}: {}", error.message),
    };
    for (name, definition) in &declarations.models {
        let model = modelwatch_core::Model::new(name, definition.clone())
            .map_err(|e| describe("models", name, ApiError::invalid(e)))?;
        crate::service::models::store_model(catalog, model)
            .await
            .map_err(|e| describe("models", name, e))?;
    }
    for (name, definition) in &declarations.channels {
        catalog
            .alerting
            .put_channel(catalog.store.as_ref(), name, definition.clone())
            .await
            .map_err(|e| describe("channels", name, e))?;
    }
    if let Some(routing) = &declarations.routing {
        catalog
            .alerting
            .put_routing(catalog.store.as_ref(), routing.clone())
            .await
            .map_err(|e| match e.field {
                Some(field) => format!("routing.{field}: {}", e.message),
                None => format!("routing: {}", e.message),
            })?;
    }
    for (name, definition) in &declarations.rules {
        let model = catalog.model(&definition.model);
        catalog
            .alerting
            .put_rule(catalog.store.as_ref(), name, definition.clone(), model)
            .await
            .map_err(|e| describe("rules", name, e))?;
    }
    for (name, definition) in &declarations.silences {
        catalog
            .alerting
            .put_silence(catalog.store.as_ref(), name, definition.clone())
            .await
            .map_err(|e| describe("silences", name, e))?;
    }
    Ok(())
}
