//! The server's shared state, built once at start, in parts: the [`Catalog`] (store,
//! caches, alerting registry) that the service layer and the data routes work on, the
//! [`Gate`] of authentication, ingest admission, the `/metrics` model gauges, the HTTP
//! checks and the notifications' [`Dispatch`]. The router's state is [`AppState`]; each
//! route, middleware and task extracts only the parts it needs ([`FromRef`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::FromRef;
use modelwatch_core::drift::ReferenceProfile;
use modelwatch_store::{ModelEntry, SqliteStore, Storage};

use crate::config::{AuthMode, HttpConfig, Limits, MetricsConfig, ServerConfig};
use crate::pii::PiiKey;
use crate::registry::{Models, References, UploadedReference};

/// The server's state, in parts: each route, middleware and task takes only the parts
/// it needs (axum's [`FromRef`]), never the whole. Cloning it clones pointers.
#[derive(Clone)]
pub struct AppState {
    /// The store, its caches and the alerting registry: what the service layer works on.
    pub catalog: Arc<Catalog>,
    /// Who may call: the authentication mode and the token cache.
    pub gate: Arc<Gate>,
    /// Admission of ingest requests (see [`Limits::max_concurrent_ingest`]).
    pub ingest_permits: IngestPermits,
    /// The model series of `GET /metrics`.
    pub monitoring: Arc<Monitoring>,
    /// Connection limits and the checks of cross-site requests.
    pub http: Arc<HttpConfig>,
    /// How notifications leave the server.
    pub dispatch: Arc<Dispatch>,
}

/// The store, its caches and the alerting registry.
pub struct Catalog {
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
}

/// Who may call.
pub struct Gate {
    /// Whether requests need a token.
    pub auth: AuthMode,
    /// Recent token lookups.
    pub tokens: crate::auth::TokenCache,
    /// Where tokens are kept.
    pub store: Arc<dyn Storage>,
}

/// The permits of ingest requests being read.
#[derive(Clone)]
pub struct IngestPermits(pub Arc<tokio::sync::Semaphore>);

/// The model series of `GET /metrics`: what they cover and when they were computed.
pub struct Monitoring {
    /// The models whose series are computed.
    pub catalog: Arc<Catalog>,
    /// Which series, over what window.
    pub metrics: MetricsConfig,
    /// When the model gauges were last computed (one computation at a time).
    pub refreshed: tokio::sync::Mutex<Option<std::time::Instant>>,
}

/// How notifications leave the server.
pub struct Dispatch {
    /// Where notifications may go.
    pub destinations: Arc<crate::alerting::outbound::Destinations>,
    /// The HTTP client of the channels (no redirect elsewhere, permitted networks only).
    pub outbound: reqwest::Client,
}

impl FromRef<AppState> for Arc<Catalog> {
    fn from_ref(state: &AppState) -> Self {
        state.catalog.clone()
    }
}

impl FromRef<AppState> for Arc<Gate> {
    fn from_ref(state: &AppState) -> Self {
        state.gate.clone()
    }
}

impl FromRef<AppState> for AuthMode {
    fn from_ref(state: &AppState) -> Self {
        state.gate.auth
    }
}

impl FromRef<AppState> for IngestPermits {
    fn from_ref(state: &AppState) -> Self {
        state.ingest_permits.clone()
    }
}

impl FromRef<AppState> for Arc<Monitoring> {
    fn from_ref(state: &AppState) -> Self {
        state.monitoring.clone()
    }
}

impl FromRef<AppState> for Arc<HttpConfig> {
    fn from_ref(state: &AppState) -> Self {
        state.http.clone()
    }
}

impl FromRef<AppState> for Arc<Dispatch> {
    fn from_ref(state: &AppState) -> Self {
        state.dispatch.clone()
    }
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
        // Process-wide: every profile built from here on uses these bounds.
        config.correlations.install();
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
        let catalog = Arc::new(Catalog {
            store: store.clone(),
            models,
            references: References::new(references),
            pii,
            limits: config.limits.clone(),
            telemetry: crate::telemetry::Telemetry::new(config.metrics.max_versions),
            data_dir: config.data_dir.clone(),
            alerting,
        });
        Ok(Arc::new(Self {
            gate: Arc::new(Gate {
                auth: config.auth,
                tokens: crate::auth::TokenCache::default(),
                store,
            }),
            ingest_permits: IngestPermits(Arc::new(tokio::sync::Semaphore::new(
                config.limits.max_concurrent_ingest.max(1),
            ))),
            monitoring: Arc::new(Monitoring {
                catalog: catalog.clone(),
                metrics: config.metrics.clone(),
                refreshed: tokio::sync::Mutex::new(None),
            }),
            http: Arc::new(config.http.clone()),
            dispatch: Arc::new(Dispatch {
                destinations: destinations.clone(),
                outbound: crate::alerting::outbound::client(&config.outbound, destinations),
            }),
            catalog,
        }))
    }
}

impl Catalog {
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
