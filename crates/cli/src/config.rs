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
    }

    /// 10,000 finite doubles from a fixed SplitMix64 stream: any bit pattern, or
    /// everyday magnitudes.
    fn random_doubles() -> Vec<f64> {
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut out = vec![-0.10436552421115437];
        while out.len() < 10_000 {
            let value = if next().is_multiple_of(2) {
                f64::from_bits(next())
            } else {
                ((next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e3
            };
            if value.is_finite() {
                out.push(value);
            }
        }
        out
    }

    fn thresholds(config: &ConfigFile, count: usize) -> Vec<f64> {
        (0..count)
            .map(|i| {
                config.rules[&format!("r{i:05}")]["condition"]["threshold"]
                    .as_f64()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn numbers_in_toml_and_json_configs_are_read_exactly() {
        let values = random_doubles();
        let mut toml_text = String::new();
        let mut json_rules = serde_json::Map::new();
        for (i, v) in values.iter().enumerate() {
            // TOML wants a float to have a fraction or an exponent: `{:e}` always has one.
            toml_text.push_str(&format!(
                "[rules.r{i:05}]\ncondition = {{ threshold = {v:e} }}\n"
            ));
            let shortest = if i.is_multiple_of(2) {
                format!("{v}")
            } else {
                format!("{v:e}")
            };
            json_rules.insert(
                format!("r{i:05}"),
                serde_json::from_str(&format!(r#"{{"condition":{{"threshold":{shortest}}}}}"#))
                    .unwrap(),
            );
        }
        let from_toml = ConfigFile::parse(&toml_text).unwrap();
        let json_text = serde_json::json!({ "rules": json_rules }).to_string();
        let from_json: ConfigFile = serde_json::from_str(&json_text).unwrap();
        for (path, config) in [("TOML", &from_toml), ("JSON", &from_json)] {
            let read = thresholds(config, values.len());
            let wrong = read
                .iter()
                .zip(&values)
                .filter(|(r, v)| r.to_bits() != v.to_bits() && !(**r == 0.0 && **v == 0.0))
                .count();
            assert_eq!(wrong, 0, "{path}: {wrong} thresholds read inexactly");
        }
    }
}
