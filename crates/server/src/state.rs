//! The server's shared state: the store, the caches of models and references, the
//! alerting registry, telemetry and the configuration. Built once at start; every
//! handler, the service layer and the alerting engine read it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use modelwatch_core::drift::ReferenceProfile;
use modelwatch_store::{ModelEntry, SqliteStore, Storage};

use crate::config::{AuthMode, HttpConfig, Limits, MetricsConfig, ServerConfig};
use crate::pii::PiiKey;
use crate::registry::{Models, References, UploadedReference};

/// Shared by every request handler.
pub struct AppState {
    /// The durable store, behind the storage boundary.
    pub store: Arc<dyn Storage>,
    /// Models by name (a cache of the store's).
    pub models: Models,
    /// Current references by model id, with their upload time (a cache of the store's).
    pub references: References,
    /// Key for hashing PII features.
    pub pii: PiiKey,
    /// Request limits.
    pub limits: Limits,
    /// Counters for `/metrics`.
    pub telemetry: crate::telemetry::Telemetry,
    /// The data directory (temporary files of reference uploads go here).
    pub data_dir: PathBuf,
    /// Rules, channels and silences.
    pub alerting: crate::alerting::Alerting,
    /// Whether requests need a token.
    pub auth: AuthMode,
    /// Recent token lookups.
    pub tokens: crate::auth::TokenCache,
    /// Admission of ingest requests (see [`Limits::max_concurrent_ingest`]).
    pub ingest_permits: Arc<tokio::sync::Semaphore>,
    /// The model series of `GET /metrics`.
    pub metrics: MetricsConfig,
    /// When the model gauges were last computed (one computation at a time).
    pub model_gauges_refreshed: tokio::sync::Mutex<Option<std::time::Instant>>,
    /// Connection limits and the checks of cross-site requests.
    pub http: HttpConfig,
    /// Where notifications may go.
    pub destinations: Arc<crate::alerting::outbound::Destinations>,
    /// The HTTP client of the channels (no redirect elsewhere, permitted networks only).
    pub outbound: reqwest::Client,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] modelwatch_store::StoreError),
    /// The PII key could not be read or created.
    #[error("cannot read or create the PII key: {0}")]
    PiiKey(#[from] std::io::Error),
    /// `[outbound]` names a network that does not parse.
    #[error("outbound: {0}")]
    Outbound(String),
}

impl AppState {
    /// Opens the SQLite store in `config.data_dir` and loads the models.
    pub fn open(config: &ServerConfig) -> Result<Arc<Self>, StartError> {
        let mut options = config.store.clone();
        options.max_event_future_ms = config.limits.max_event_future;
        options.max_versions_per_model = config.limits.max_versions_per_model;
        let store = SqliteStore::open(&config.data_dir, options)?;
        Self::with_storage(config, Arc::new(store))
    }

    /// Loads the models, references and alerting definitions of `store`, any backend.
    pub fn with_storage(
        config: &ServerConfig,
        store: Arc<dyn Storage>,
    ) -> Result<Arc<Self>, StartError> {
        let pii = PiiKey::load_or_create(&config.data_dir)?;
        let entries = store.load_models()?;
        let mut references = HashMap::new();
        for entry in &entries {
            if let Some((reference, uploaded)) = store.load_reference(entry.id)? {
                references.insert(entry.id, (Arc::new(reference), uploaded));
            }
        }
        let models = Models::new(entries);
        let alerting = crate::alerting::Alerting::load(
            &*store,
            &models.by_name(),
            crate::alerting::secrets::SecretBox::new(&pii),
        )?;
        let destinations = Arc::new(
            crate::alerting::outbound::Destinations::new(&config.outbound)
                .map_err(StartError::Outbound)?,
        );
        Ok(Arc::new(Self {
            store,
            models,
            references: References::new(references),
            pii,
            limits: config.limits.clone(),
            telemetry: crate::telemetry::Telemetry::new(config.metrics.max_versions),
            data_dir: config.data_dir.clone(),
            alerting,
            auth: config.auth,
            tokens: crate::auth::TokenCache::default(),
            ingest_permits: Arc::new(tokio::sync::Semaphore::new(
                config.limits.max_concurrent_ingest.max(1),
            )),
            metrics: config.metrics.clone(),
            model_gauges_refreshed: tokio::sync::Mutex::new(None),
            http: config.http.clone(),
            destinations: destinations.clone(),
            outbound: crate::alerting::outbound::client(&config.outbound, destinations),
        }))
    }

    /// The current reference of a model, if any.
    pub fn reference(&self, model_id: i64) -> Option<Arc<ReferenceProfile>> {
        self.references.get(model_id)
    }

    /// The current reference of a model with its upload time, if any.
    pub fn reference_with_time(&self, model_id: i64) -> Option<UploadedReference> {
        self.references.with_time(model_id)
    }

    /// The model called `name`, if any.
    pub fn model(&self, name: &str) -> Option<Arc<ModelEntry>> {
        self.models.get(name)
    }
}
