//! How the server is configured: request limits, the model series of `/metrics`,
//! authentication, and where the data lives. Plain data, read once at start.

use std::path::PathBuf;

use modelwatch_store::StoreOptions;

pub use crate::alerting::outbound::OutboundConfig;

/// Whether requests must carry a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication (the default on loopback).
    Off,
    /// Every request but `/healthz` and the dashboard's files needs a valid token.
    Required,
}

/// Limits on what one request may carry. All are configurable (see `modelwatch.example.toml`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most records (predictions or labels) in one request.
    pub max_records_per_request: usize,
    /// Most models the server holds.
    pub max_models: usize,
    /// Largest reference upload, in bytes (it is streamed, not held).
    pub max_reference_bytes: usize,
    /// Ingest requests (predictions and labels) read and parsed at once; one more is
    /// answered `503` with `Retry-After` before its body is read, so memory under
    /// overload stays bounded.
    pub max_concurrent_ingest: usize,
    /// Most features one model may declare (at most 1,000, the schema's own bound).
    pub max_features_per_model: usize,
    /// Longest class label a model may declare, in bytes; predictions and labels must be
    /// one of the declared classes, so this bounds them too (at most 256).
    pub max_label_bytes: usize,
    /// Longest categorical feature value in a prediction, in bytes.
    pub max_string_bytes: usize,
    /// How far ahead of the server's clock an event time may be (ms; a duration such as
    /// `"1d"` in the config file). A record beyond it is rejected naming `timestamp`.
    #[serde(with = "modelwatch_core::time::duration_ms")]
    pub max_event_future: i64,
    /// Most distinct versions one ingest request may carry; records of further versions
    /// are rejected naming `version`.
    pub max_versions_per_request: usize,
    /// Most distinct versions a model may hold; records of a version beyond them are
    /// rejected naming `version`.
    pub max_versions_per_model: usize,
}

impl Limits {
    /// The bounds event validation applies.
    pub fn input(&self) -> modelwatch_core::event::InputLimits {
        modelwatch_core::event::InputLimits {
            max_string_bytes: self.max_string_bytes,
            max_future_ms: Some(self.max_event_future),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 * 1024 * 1024,
            max_records_per_request: 50_000,
            max_models: 1_000,
            max_reference_bytes: 2 * 1024 * 1024 * 1024,
            max_concurrent_ingest: 16,
            max_features_per_model: modelwatch_core::schema::MAX_FEATURES,
            max_label_bytes: modelwatch_core::schema::MAX_NAME_LEN,
            max_string_bytes: modelwatch_core::event::MAX_STRING_LEN,
            max_event_future: modelwatch_core::time::DAY_MS,
            max_versions_per_request: 100,
            max_versions_per_model: 1_000,
        }
    }
}

/// What `GET /metrics` computes per model (see `docs/METRICS.md`); `[metrics]` of the
/// configuration file, checked by [`MetricsConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// The trailing window of event time the model gauges cover, ending at the end of
    /// the minute that holds each model's newest event; a whole number of minutes.
    #[serde(rename = "window", with = "modelwatch_core::time::duration_ms")]
    pub window_ms: i64,
    /// How long computed model gauges are served before they are computed again.
    #[serde(with = "modelwatch_core::time::std_duration")]
    pub cache_ttl: std::time::Duration,
    /// Versions per model with series of their own; others share `version="_other"`.
    pub max_versions: usize,
    /// Fewest rows the window must hold for a model's drift gauges to be published: on
    /// a handful of rows almost every feature looks drifted.
    pub drift_min_rows: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            window_ms: modelwatch_core::time::HOUR_MS,
            cache_ttl: std::time::Duration::from_secs(10),
            max_versions: 5,
            drift_min_rows: 100,
        }
    }
}

impl MetricsConfig {
    /// Checks what the types do not: the window is whole minutes, and at least one
    /// version has series of its own.
    pub fn validate(&self) -> Result<(), modelwatch_core::FieldError> {
        use modelwatch_core::{FieldError, time::MINUTE_MS};
        if self.window_ms < MINUTE_MS || self.window_ms % MINUTE_MS != 0 {
            return Err(FieldError::new(
                "window",
                "must be a whole number of minutes, at least 1m",
            ));
        }
        if self.max_versions == 0 {
            return Err(FieldError::new("max_versions", "must be at least 1"));
        }
        Ok(())
    }
}

/// How connections are accepted and which requests are let in; `[http]` of the
/// configuration file (see `docs/API-NOTES.md`, "Connections and cross-site requests").
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Longest a client may take from connecting (TLS handshake included), or from the
    /// first byte of a further request, to the end of the request's headers.
    #[serde(with = "modelwatch_core::time::std_duration")]
    pub header_read_timeout: std::time::Duration,
    /// Longest a connection may stay without a byte in either direction while the
    /// server is not working on one of its requests.
    #[serde(with = "modelwatch_core::time::std_duration")]
    pub idle_timeout: std::time::Duration,
    /// Most connections open at once. When full, the connection that has waited longest
    /// for a request is closed to make room; if every connection is busy with a
    /// request, new ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Origins (`scheme://host[:port]`) besides the server's own from which browsers
    /// may send writes.
    pub allowed_origins: Vec<String>,
    /// Host names, besides IP addresses and `localhost`, the server answers to when
    /// authentication is off (a guard against DNS rebinding).
    pub allowed_hosts: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(60),
            max_connections: 4096,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }
}

impl HttpConfig {
    /// Checks what the types do not, and writes origins and hosts in lowercase.
    pub fn validate(mut self) -> Result<Self, modelwatch_core::FieldError> {
        use modelwatch_core::FieldError;
        for (key, timeout) in [
            ("header_read_timeout", self.header_read_timeout),
            ("idle_timeout", self.idle_timeout),
        ] {
            if timeout.is_zero() {
                return Err(FieldError::new(key, "must be positive"));
            }
        }
        if self.max_connections == 0 {
            return Err(FieldError::new("max_connections", "must be at least 1"));
        }
        for (i, origin) in self.allowed_origins.iter_mut().enumerate() {
            let trimmed = origin.trim_end_matches('/').to_ascii_lowercase();
            let host = trimmed
                .strip_prefix("http://")
                .or_else(|| trimmed.strip_prefix("https://"));
            if host.is_none_or(|h| h.is_empty() || h.contains('/')) {
                return Err(FieldError::new(
                    format!("allowed_origins[{i}]"),
                    "expected an origin: http(s)://host[:port]",
                ));
            }
            *origin = trimmed;
        }
        for host in &mut self.allowed_hosts {
            *host = host.to_ascii_lowercase();
        }
        Ok(self)
    }
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the embedded store and the PII key live.
    pub data_dir: PathBuf,
    /// Request limits.
    pub limits: Limits,
    /// Store tuning.
    pub store: StoreOptions,
    /// Whether requests need a token.
    pub auth: AuthMode,
    /// The model series of `GET /metrics`.
    pub metrics: MetricsConfig,
    /// Connections and the checks of cross-site requests.
    pub http: HttpConfig,
    /// Where notifications may go.
    pub outbound: OutboundConfig,
    /// `[correlations]`: columns with co-moments and rows in each scatter sample.
    pub correlations: modelwatch_core::correlation::Limits,
}

impl ServerConfig {
    /// Defaults for `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            limits: Limits::default(),
            store: StoreOptions::default(),
            auth: AuthMode::Off,
            metrics: MetricsConfig::default(),
            http: HttpConfig::default(),
            outbound: OutboundConfig::default(),
            correlations: modelwatch_core::correlation::Limits::default(),
        }
    }
}
