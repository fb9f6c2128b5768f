//! Alerting in the server: the registry of rules, channels and silences (stored
//! durably, changed over HTTP or from the config file), the engine that judges rules
//! as data arrives and the wall clock moves ([`engine`], [`evaluate`]), and the
//! delivery of notifications ([`deliver`]); definitions from the config file
//! ([`declare`]). The HTTP handlers are in `api::alerting`.
//!
//! Ingest tells the registry which model changed and over which event-time range
//! ([`Alerting::data_changed`]); the engine wakes up, judges the spans that completed
//! or changed, and queues notifications in the outbox in the same transaction as the
//! alert transitions, so a crash loses neither.

pub mod backtest;
pub mod declare;
pub mod deliver;
pub mod engine;
pub mod evaluate;
pub mod grouping;
pub mod outbound;
pub mod providers;
pub mod secrets;
pub mod tune;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use modelwatch_core::FieldError;
use modelwatch_core::alert::{
    Channel, ChannelDefinition, Routing, RoutingDefinition, Rule, RuleDefinition, Silence,
    SilenceDefinition,
};
use modelwatch_store::alerting::Resource;
use modelwatch_store::{ModelEntry, Storage, StoreError};
use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio::sync::Notify;

use crate::error::{ApiError, ErrorCode};

/// Event-time ranges that changed since the engine last looked, by model name.
#[derive(Debug, Default)]
pub struct Changes {
    /// Model → (oldest, newest) event time that changed.
    pub ranges: HashMap<String, (i64, i64)>,
}

/// The alerting registry, shared by the HTTP handlers and the engine.
pub struct Alerting {
    /// Rules by name.
    pub rules: RwLock<BTreeMap<String, Arc<Rule>>>,
    /// Channels by name.
    pub channels: RwLock<BTreeMap<String, Arc<Channel>>>,
    /// Silences by id.
    pub silences: RwLock<BTreeMap<String, Arc<Silence>>>,
    /// The route tree and inhibition rules, if set.
    pub routing: RwLock<Option<Arc<Routing>>>,
    changes: Mutex<Changes>,
    /// Wakes the engine.
    pub wake: Notify,
    /// Seals channel secrets before they are stored.
    secrets: secrets::SecretBox,
}

/// The row of the channels table that holds the routing (not a valid channel name, so
/// it never collides with one; kept there so routing needs no table of its own).
pub const ROUTING_ROW: &str = "_routing";

/// Whether a `PUT` created or replaced.
pub enum Put {
    /// It was new.
    Created,
    /// It replaced an existing one.
    Replaced,
}

/// Stores a validated definition (JSON `text`), then publishes `value` in `registry`
/// (only after the commit, so the registry never holds what the store lost).
async fn store_and_publish<T>(
    store: &dyn Storage,
    resource: Resource,
    name: &str,
    model: Option<String>,
    text: String,
    registry: &RwLock<BTreeMap<String, Arc<T>>>,
    value: T,
) -> Result<(Put, Arc<T>), ApiError> {
    let (owned, now) = (name.to_string(), modelwatch_core::time::now_ms());
    store
        .write_alerting(move |tx| tx.put_definition(resource, &owned, model.as_deref(), &text, now))
        .await?;
    let value = Arc::new(value);
    let previous = registry.write().insert(name.to_string(), value.clone());
    let put = if previous.is_some() {
        Put::Replaced
    } else {
        Put::Created
    };
    Ok((put, value))
}

/// The JSON text a definition is stored as.
fn to_text<T: serde::Serialize>(definition: &T) -> String {
    serde_json::to_string(definition).unwrap_or_default()
}

/// A stored definition, read back; `None` if it no longer parses.
///
/// Before definitions were typed, a rule's `description` and an email channel's
/// `starttls` were stored whatever their type, and used only when they were strings;
/// any other is dropped here, so that what was accepted then still loads.
fn stored<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    let mut value: Value = serde_json::from_str(text).ok()?;
    if let Some(object) = value.as_object_mut() {
        object.retain(|key, field| {
            field.is_string() || !matches!(key.as_str(), "description" | "starttls")
        });
    }
    modelwatch_core::definition::from_json(&value).ok()
}

fn read<T: Clone>(lock: &RwLock<BTreeMap<String, T>>) -> BTreeMap<String, T> {
    lock.read().clone()
}

impl Alerting {
    /// Loads the stored definitions. A stored rule whose model is gone, or that no
    /// longer validates, is skipped with a warning (it stays stored, to be fixed).
    pub fn load(
        store: &dyn Storage,
        models: &HashMap<String, Arc<ModelEntry>>,
        secrets: secrets::SecretBox,
    ) -> Result<Self, StoreError> {
        let now = modelwatch_core::time::now_ms();
        let load = |resource| store.load_definitions(resource);
        let mut channels = BTreeMap::new();
        let mut routing_text = None;
        for (name, text) in load(Resource::Channels)? {
            if name == ROUTING_ROW {
                routing_text = Some(text);
                continue;
            }
            let opened = stored(&text).and_then(|d| secrets.open_definition(d).ok());
            match opened.and_then(|d| Channel::from_definition(&name, d).ok()) {
                Some(channel) => {
                    channels.insert(name, Arc::new(channel));
                }
                None => {
                    tracing::warn!(channel = %name, "stored channel does not validate; skipped")
                }
            }
        }
        let mut rules = BTreeMap::new();
        for (name, text) in load(Resource::Rules)? {
            let rule = stored::<RuleDefinition>(&text).and_then(|d| {
                let model = models.get(&d.model)?;
                Rule::from_definition(&name, d, &model.model).ok()
            });
            match rule {
                Some(rule) => {
                    rules.insert(name, Arc::new(rule));
                }
                None => {
                    tracing::warn!(rule = %name, "stored rule does not validate against its model; skipped")
                }
            }
        }
        let mut silences = BTreeMap::new();
        for (name, text) in load(Resource::Silences)? {
            match stored(&text).and_then(|d| Silence::from_definition(&name, d, now).ok()) {
                Some(silence) => {
                    silences.insert(name, Arc::new(silence));
                }
                None => {
                    tracing::warn!(silence = %name, "stored silence does not validate; skipped")
                }
            }
        }
        let routing = routing_text.and_then(|text| {
            let names = channels.keys().cloned().collect();
            let routing = stored::<RoutingDefinition>(&text)
                .and_then(|d| Routing::from_definition(d, &names).ok());
            if routing.is_none() {
                tracing::warn!(
                    "stored routing does not validate; alerts without channels are not notified"
                );
            }
            routing.map(Arc::new)
        });
        Ok(Self {
            rules: RwLock::new(rules),
            channels: RwLock::new(channels),
            silences: RwLock::new(silences),
            routing: RwLock::new(routing),
            changes: Mutex::new(Changes::default()),
            wake: Notify::new(),
            secrets,
        })
    }

    /// Notes that `model`'s data changed over `[oldest, newest]` event time, and wakes
    /// the engine.
    pub fn data_changed(&self, model: &str, range: Option<(i64, i64)>) {
        let Some((oldest, newest)) = range else {
            return;
        };
        self.changes
            .lock()
            .ranges
            .entry(model.to_string())
            .and_modify(|(low, high)| {
                *low = (*low).min(oldest);
                *high = (*high).max(newest);
            })
            .or_insert((oldest, newest));
        self.wake.notify_one();
    }

    /// Takes the changes noted so far.
    pub fn take_changes(&self) -> Changes {
        std::mem::take(&mut *self.changes.lock())
    }

    /// A snapshot of the rules.
    pub fn rules(&self) -> BTreeMap<String, Arc<Rule>> {
        read(&self.rules)
    }

    /// A snapshot of the channels.
    pub fn channels(&self) -> BTreeMap<String, Arc<Channel>> {
        read(&self.channels)
    }

    /// A snapshot of the silences.
    pub fn silences(&self) -> BTreeMap<String, Arc<Silence>> {
        read(&self.silences)
    }

    /// The routing, if set.
    pub fn routing(&self) -> Option<Arc<Routing>> {
        self.routing.read().clone()
    }

    /// Validates and stores the routing (replacing any).
    pub async fn put_routing(
        &self,
        store: &dyn Storage,
        definition: RoutingDefinition,
    ) -> Result<(Put, Arc<Routing>), ApiError> {
        let names = self.channels.read().keys().cloned().collect();
        let routing = Routing::from_definition(definition, &names).map_err(ApiError::invalid)?;
        let text = to_text(&routing.definition);
        let now = modelwatch_core::time::now_ms();
        store
            .write_alerting(move |tx| {
                tx.put_definition(Resource::Channels, ROUTING_ROW, None, &text, now)
            })
            .await?;
        let routing = Arc::new(routing);
        let previous = self.routing.write().replace(routing.clone());
        self.wake.notify_one();
        let put = if previous.is_some() {
            Put::Replaced
        } else {
            Put::Created
        };
        Ok((put, routing))
    }

    /// Removes the routing; `false` if there was none.
    pub async fn delete_routing(&self, store: &dyn Storage) -> Result<bool, ApiError> {
        let existed = store
            .write_alerting(|tx| tx.delete_definition(Resource::Channels, ROUTING_ROW))
            .await?;
        let removed = self.routing.write().take().is_some();
        self.wake.notify_one();
        Ok(existed || removed)
    }

    /// Validates a rule for `model` (looked up by the caller from `definition.model`)
    /// as a `PUT` would, without storing it: its name, its definition against the
    /// model, and that its channels exist.
    pub fn validate_rule(
        &self,
        name: &str,
        definition: RuleDefinition,
        model: Option<Arc<ModelEntry>>,
    ) -> Result<Rule, FieldError> {
        Rule::check_name(name)?;
        let model = model.ok_or_else(|| {
            FieldError::new(
                "model",
                format!(
                    "no model named `{}`",
                    modelwatch_core::time::truncate(&definition.model, 64)
                ),
            )
        })?;
        let rule = Rule::from_definition(name, definition, &model.model)?;
        let channels = self.channels();
        if let Some((i, missing)) = rule
            .channels
            .iter()
            .enumerate()
            .find(|(_, c)| !channels.contains_key(*c))
        {
            return Err(FieldError::new(
                format!("channels[{i}]"),
                format!(
                    "no channel named `{}`; create it with PUT /api/v1/channels/{{channel}}",
                    modelwatch_core::time::truncate(missing, 64)
                ),
            ));
        }
        Ok(rule)
    }

    /// Validates ([`Alerting::validate_rule`]) and stores a rule for `model`.
    pub async fn put_rule(
        &self,
        store: &dyn Storage,
        name: &str,
        definition: RuleDefinition,
        model: Option<Arc<ModelEntry>>,
    ) -> Result<(Put, Arc<Rule>), ApiError> {
        let rule = self
            .validate_rule(name, definition, model)
            .map_err(ApiError::invalid)?;
        let (text, model) = (to_text(&rule.definition), Some(rule.model.clone()));
        let stored =
            store_and_publish(store, Resource::Rules, name, model, text, &self.rules, rule).await?;
        self.wake.notify_one();
        Ok(stored)
    }

    /// Validates and stores a channel.
    pub async fn put_channel(
        &self,
        store: &dyn Storage,
        name: &str,
        definition: ChannelDefinition,
    ) -> Result<(Put, Arc<Channel>), ApiError> {
        let channel = Channel::from_definition(name, definition).map_err(ApiError::invalid)?;
        use modelwatch_core::alert::ChannelKind;
        if let ChannelKind::Webhook { url }
        | ChannelKind::Alertmanager { url }
        | ChannelKind::Slack { url }
        | ChannelKind::PagerDuty { url, .. }
        | ChannelKind::Twilio { url, .. }
        | ChannelKind::Opsgenie { url, .. } = &channel.kind
        {
            reqwest::Url::parse(url).map_err(|e| {
                ApiError::invalid(FieldError::new("url", format!("not a valid URL: {e}")))
            })?;
        }
        // The secrets are stored sealed, to be used; `GET` hides them.
        let text = to_text(&self.secrets.seal_definition(&channel.definition));
        store_and_publish(
            store,
            Resource::Channels,
            name,
            None,
            text,
            &self.channels,
            channel,
        )
        .await
    }

    /// Validates and stores a silence.
    pub async fn put_silence(
        &self,
        store: &dyn Storage,
        id: &str,
        definition: SilenceDefinition,
    ) -> Result<(Put, Arc<Silence>), ApiError> {
        let now = modelwatch_core::time::now_ms();
        let silence = Silence::from_definition(id, definition, now).map_err(ApiError::invalid)?;
        // Stored with its start filled in, so a restart does not move it.
        let text = to_text(&silence.definition());
        let stored = store_and_publish(
            store,
            Resource::Silences,
            id,
            None,
            text,
            &self.silences,
            silence,
        )
        .await?;
        self.wake.notify_one();
        Ok(stored)
    }

    /// Deletes a definition; `false` if there was none. A channel still used by a rule
    /// is refused (`409`).
    pub async fn delete(
        &self,
        store: &dyn Storage,
        resource: Resource,
        name: &str,
    ) -> Result<bool, ApiError> {
        if resource == Resource::Channels && name == ROUTING_ROW {
            return Ok(false);
        }
        if resource == Resource::Channels
            && self
                .routing()
                .is_some_and(|r| r.channels_used().contains(name))
        {
            return Err(ApiError::new(
                ErrorCode::ChannelInUse,
                format!("channel `{name}` is used by the routing tree; change it first"),
            )
            .field("channel"));
        }
        if resource == Resource::Channels {
            let users: Vec<String> = self
                .rules()
                .values()
                .filter(|r| r.channels.iter().any(|c| c == name))
                .map(|r| r.name.clone())
                .collect();
            if !users.is_empty() {
                return Err(ApiError::new(
                    ErrorCode::ChannelInUse,
                    format!(
                        "channel `{name}` is used by rules {}; change them first",
                        users.join(", ")
                    ),
                )
                .field("channel"));
            }
        }
        let owned = name.to_string();
        let existed = store
            .write_alerting(move |tx| tx.delete_definition(resource, &owned))
            .await?;
        let removed = match resource {
            Resource::Rules => self.rules.write().remove(name).is_some(),
            Resource::Channels => self.channels.write().remove(name).is_some(),
            Resource::Silences => self.silences.write().remove(name).is_some(),
        };
        self.wake.notify_one();
        Ok(existed || removed)
    }

    /// Deletes every rule of a deleted model.
    pub async fn delete_rules_of(&self, store: &dyn Storage, model: &str) -> Result<(), ApiError> {
        let names: Vec<String> = self
            .rules()
            .values()
            .filter(|r| r.model == model)
            .map(|r| r.name.clone())
            .collect();
        for name in names {
            self.delete(store, Resource::Rules, &name).await?;
        }
        Ok(())
    }
}
