//! The TOML configuration file of `modelwatch serve --config FILE`.
//!
//! Every key is optional; command-line flags win over the file, and the file over the
//! defaults. `modelwatch.example.toml` at the repository root lists every key and is
//! loaded by a test, so it cannot drift from this code.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use modelwatch_server::Limits;

use crate::usage::usage;

/// The contents of a configuration file.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded store.
    pub data_dir: Option<PathBuf>,
    /// Request limits.
    pub limits: Limits,
    /// How long data is kept.
    pub retention: RetentionConfig,
    /// `[metrics]`: the model series of `GET /metrics`.
    pub metrics: MetricsConfig,
    /// `[http]`: connection limits and the checks of cross-site requests.
    pub http: HttpSection,
    /// `auto`, `required` or `off` (see `modelwatch serve --help`).
    pub auth: Option<String>,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// `[models.NAME]`: model definitions, applied at start.
    pub models: BTreeMap<String, serde_json::Value>,
    /// `[channels.NAME]`: notification channels, applied at start.
    pub channels: BTreeMap<String, serde_json::Value>,
    /// `[rules.NAME]`: alert rules, applied at start.
    pub rules: BTreeMap<String, serde_json::Value>,
    /// `[silences.ID]`: silences, applied at start.
    pub silences: BTreeMap<String, serde_json::Value>,
}

/// `[retention]`: durations in event time behind each model's newest event.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Raw events (default 30d).
    pub raw_events: String,
    /// Minute profiles (default 7d).
    pub minute_profiles: String,
    /// Hour profiles (default 90d). Day profiles are kept for ever.
    pub hour_profiles: String,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            raw_events: "30d".into(),
            minute_profiles: "7d".into(),
            hour_profiles: "90d".into(),
        }
    }
}

impl RetentionConfig {
    /// The store's retention, or which key is wrong.
    pub fn resolve(&self) -> Result<modelwatch_store::Retention, String> {
        let parse = |key: &str, text: &str| {
            modelwatch_core::time::parse_duration(text).map_err(|e| format!("retention.{key}: {e}"))
        };
        Ok(modelwatch_store::Retention {
            raw_events_ms: parse("raw_events", &self.raw_events)?,
            minute_profiles_ms: parse("minute_profiles", &self.minute_profiles)?,
            hour_profiles_ms: parse("hour_profiles", &self.hour_profiles)?,
        })
    }
}

/// `[metrics]`: what `GET /metrics` computes per model (see docs/METRICS.md).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Trailing window of event time of the model gauges, whole minutes (default 1h).
    pub window: String,
    /// How long computed model gauges are served before being computed again (default 10s).
    pub cache_ttl: String,
    /// Versions per model with series of their own (default 5).
    pub max_versions: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            window: "1h".into(),
            cache_ttl: "10s".into(),
            max_versions: 5,
        }
    }
}

impl MetricsConfig {
    /// The server's metrics configuration, or which key is wrong.
    pub fn resolve(&self) -> Result<modelwatch_server::MetricsConfig, String> {
        use modelwatch_core::time::{MINUTE_MS, parse_duration};
        let window_ms = parse_duration(&self.window).map_err(|e| format!("metrics.window: {e}"))?;
        if window_ms < MINUTE_MS || window_ms % MINUTE_MS != 0 {
            return Err("metrics.window: must be a whole number of minutes, at least 1m".into());
        }
        let ttl_ms =
            parse_duration(&self.cache_ttl).map_err(|e| format!("metrics.cache_ttl: {e}"))?;
        if self.max_versions == 0 {
            return Err("metrics.max_versions: must be at least 1".into());
        }
        Ok(modelwatch_server::MetricsConfig {
            window_ms,
            cache_ttl: std::time::Duration::from_millis(ttl_ms.max(0) as u64),
            max_versions: self.max_versions,
        })
    }
}

/// `[http]`: connection limits and the checks of cross-site requests.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// From connecting, or from a further request's first byte, to the end of the
    /// request's headers (default 10s).
    pub header_read_timeout: String,
    /// A connection silent this long, with no request being worked on, is closed
    /// (default 60s).
    pub idle_timeout: String,
    /// Most connections open at once (default 4096).
    pub max_connections: usize,
    /// Origins besides the server's own from which browsers may send writes.
    pub allowed_origins: Vec<String>,
    /// Host names served with authentication off, besides IP addresses and localhost.
    pub allowed_hosts: Vec<String>,
}

impl Default for HttpSection {
    fn default() -> Self {
        let defaults = modelwatch_server::HttpConfig::default();
        Self {
            header_read_timeout: "10s".into(),
            idle_timeout: "60s".into(),
            max_connections: defaults.max_connections,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }
}

impl HttpSection {
    /// The server's connection settings, or which key is wrong.
    pub fn resolve(&self) -> Result<modelwatch_server::HttpConfig, String> {
        let positive = |key: &str, text: &str| {
            let ms = modelwatch_core::time::parse_duration(text)
                .map_err(|e| format!("http.{key}: {e}"))?;
            if ms <= 0 {
                return Err(format!("http.{key}: must be positive"));
            }
            Ok(std::time::Duration::from_millis(ms as u64))
        };
        if self.max_connections == 0 {
            return Err("http.max_connections: must be at least 1".into());
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.trim_end_matches('/').matches('/').count() != 2
            {
                return Err(format!(
                    "http.allowed_origins: `{origin}` is not an origin (scheme://host[:port])"
                ));
            }
        }
        Ok(modelwatch_server::HttpConfig {
            header_read_timeout: positive("header_read_timeout", &self.header_read_timeout)?,
            idle_timeout: positive("idle_timeout", &self.idle_timeout)?,
            max_connections: self.max_connections,
            allowed_origins: self
                .allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            allowed_hosts: self
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        })
    }
}

impl ConfigFile {
    /// Reads and parses `path` (JSON when it ends in `.json`, else TOML); any problem
    /// is a usage error naming the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read config file {}: {e}", path.display())))?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str::<Self>(&text)
                .map_err(|e| e.to_string())
                .and_then(|config| config.retention.resolve().map(|_| config))
                .and_then(|config| config.metrics.resolve().map(|_| config))
                .and_then(|config| config.http.resolve().map(|_| config))
        } else {
            Self::parse(&text)
        };
        parsed.map_err(|e| usage(format!("config file {}: {e}", path.display())))
    }

    /// The definitions to apply at start.
    pub fn declarations(&self) -> modelwatch_server::alerting::declare::Declarations {
        modelwatch_server::alerting::declare::Declarations {
            models: self.models.clone(),
            channels: self.channels.clone(),
            rules: self.rules.clone(),
            silences: self.silences.clone(),
        }
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.message().to_string())?;
        config.retention.resolve()?;
        config.metrics.resolve()?;
        config.http.resolve()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../../modelwatch.example.toml");
        let config = ConfigFile::parse(text).unwrap();
        assert_eq!(config.listen, Some("127.0.0.1:8480".parse().unwrap()));
        assert_eq!(config.limits.max_records_per_request, 50_000);
        assert_eq!(
            config.retention.resolve().unwrap(),
            modelwatch_store::Retention::default()
        );
        assert_eq!(
            config.metrics.resolve().unwrap(),
            modelwatch_server::MetricsConfig::default()
        );
        assert_eq!(
            config.http.resolve().unwrap(),
            modelwatch_server::HttpConfig::default()
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(
            ConfigFile::parse("lisen = \"127.0.0.1:1\"")
                .unwrap_err()
                .contains("lisen")
        );
        assert!(ConfigFile::parse("[limits]\nmax_body = 1").is_err());
        assert!(
            ConfigFile::parse("[retention]\nraw_events = \"a while\"")
                .unwrap_err()
                .contains("retention.raw_events")
        );
        assert!(
            ConfigFile::parse("[metrics]\nwindow = \"90s\"")
                .unwrap_err()
                .contains("metrics.window")
        );
        assert!(ConfigFile::parse("[metrics]\nmax_versions = 0").is_err());
        assert!(
            ConfigFile::parse("[http]\nheader_read_timeout = \"0s\"")
                .unwrap_err()
                .contains("http.header_read_timeout")
        );
        assert!(
            ConfigFile::parse("[http]\nallowed_origins = [\"evil.example\"]")
                .unwrap_err()
                .contains("http.allowed_origins")
        );
    }
}
