//! The TOML configuration file of `modelwatch serve --config FILE`.
//!
//! Every key is optional; command-line flags win over the file, and the file over the
//! defaults. `modelwatch.example.toml` at the repository root lists every key and is
//! loaded by a test, so it cannot drift from this code.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use modelwatch_core::ModelDefinition;
use modelwatch_core::alert::{
    ChannelDefinition, RoutingDefinition, RuleDefinition, SilenceDefinition,
};
use modelwatch_server::{HttpConfig, Limits, MetricsConfig, OutboundConfig};
use modelwatch_store::Retention;

use crate::usage::usage;

/// The contents of a configuration file. Its sections are the server's and the store's
/// own option structs, so each default is written once, where it is used.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded store.
    pub data_dir: Option<PathBuf>,
    /// Request limits.
    pub limits: Limits,
    /// `[retention]`: how long data is kept.
    pub retention: Retention,
    /// `[metrics]`: the model series of `GET /metrics`.
    pub metrics: MetricsConfig,
    /// `[http]`: connection limits and the checks of cross-site requests.
    pub http: HttpConfig,
    /// `[outbound]`: where notifications may go.
    pub outbound: OutboundConfig,
    /// `[correlations]`: columns with co-moments and rows in each scatter sample.
    pub correlations: modelwatch_core::correlation::Limits,
    /// `auto`, `required` or `off` (see `modelwatch serve --help`).
    pub auth: Option<String>,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// `[models.NAME]`: model definitions, applied at start.
    pub models: BTreeMap<String, ModelDefinition>,
    /// `[channels.NAME]`: notification channels, applied at start.
    pub channels: BTreeMap<String, ChannelDefinition>,
    /// `[rules.NAME]`: alert rules, applied at start.
    pub rules: BTreeMap<String, RuleDefinition>,
    /// `[silences.ID]`: silences, applied at start.
    pub silences: BTreeMap<String, SilenceDefinition>,
    /// `[routing]`: the route tree (`[routing.route]`, `[[routing.route.routes]]`) and
    /// `[[routing.inhibit_rules]]`, applied at start (replacing the stored one).
    pub routing: Option<RoutingDefinition>,
}

impl ConfigFile {
    /// Reads and parses `path` (JSON when it ends in `.json`, else TOML); any problem
    /// is a usage error naming the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read config file {}: {e}", path.display())))?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            Self::parse_json(&text)
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
            routing: self.routing.clone(),
        }
    }

    /// Parses TOML text; the error names the key (`retention.raw_events: ...`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let document = toml::Deserializer::parse(text).map_err(|e| e.message().to_string())?;
        let config: Self = serde_path_to_error::deserialize(document)
            .map_err(|e| field_error(e.path(), e.inner().message()))?;
        config.validate()
    }

    /// Parses JSON text; the error names the key.
    fn parse_json(text: &str) -> Result<Self, String> {
        let mut document = serde_json::Deserializer::from_str(text);
        let config: Self = serde_path_to_error::deserialize(&mut document)
            .map_err(|e| field_error(e.path(), &e.inner().to_string()))?;
        config.validate()
    }

    /// What the types do not check.
    fn validate(mut self) -> Result<Self, String> {
        self.metrics
            .validate()
            .map_err(|e| format!("metrics.{e}"))?;
        self.http = self.http.validate().map_err(|e| format!("http.{e}"))?;
        self.outbound
            .validate()
            .map_err(|e| format!("outbound.{e}"))?;
        self.correlations
            .validate()
            .map_err(|e| format!("correlations.{e}"))?;
        Ok(self)
    }
}

fn field_error(path: &serde_path_to_error::Path, message: &str) -> String {
    modelwatch_core::definition::field_error(path, message).to_string()
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
            config.limits.max_event_future,
            modelwatch_core::time::DAY_MS
        );
        assert_eq!(
            (
                config.limits.max_versions_per_request,
                config.limits.max_versions_per_model
            ),
            (100, 1_000)
        );
        // A duration the config file cannot mean is refused.
        assert!(ConfigFile::parse("[limits]\nmax_event_future = \"soon\"").is_err());
        assert_eq!(config.retention, Retention::default());
        assert_eq!(config.metrics, MetricsConfig::default());
        assert_eq!(config.http, HttpConfig::default());
        assert_eq!(config.outbound, OutboundConfig::default());
        assert_eq!(
            config.correlations,
            modelwatch_core::correlation::Limits::default()
        );
        assert_eq!(config.rules["low-accuracy"].metric, "accuracy");
    }

    #[test]
    fn correlation_limits_are_read_and_checked() {
        let config = ConfigFile::parse(
            "[correlations]
max_columns = 8
sample_size = 50",
        )
        .unwrap();
        assert_eq!(config.correlations.max_columns, 8);
        assert_eq!(config.correlations.sample_size, 50);
        let error = ConfigFile::parse(
            "[correlations]
max_columns = 0",
        )
        .unwrap_err();
        assert!(error.starts_with("correlations.max_columns"), "{error}");
        let error = ConfigFile::parse(
            "[correlations]
sample_size = 100001",
        )
        .unwrap_err();
        assert!(error.starts_with("correlations.sample_size"), "{error}");
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
            ConfigFile::parse("[outbound]\ndeny_networks = [\"10.0.0.0/40\"]")
                .unwrap_err()
                .contains("outbound.deny_networks[0]")
        );
        assert!(
            ConfigFile::parse("[http]\nheader_read_timeout = \"0s\"")
                .unwrap_err()
                .contains("http.header_read_timeout")
        );
        assert!(
            ConfigFile::parse("[http]\nallowed_origins = [\"evil.example\"]")
                .unwrap_err()
                .contains("http.allowed_origins[0]")
        );
        assert!(
            ConfigFile::parse("[metrics]\nwindow = \"90s\"")
                .unwrap_err()
                .contains("metrics.window")
        );
        assert!(ConfigFile::parse("[metrics]\nmax_versions = 0").is_err());
        assert!(ConfigFile::parse("[metrics]\ndrift_min_rows = -1").is_err());
    }

    #[test]
    fn the_drift_gauges_minimum_is_configurable() {
        let config = ConfigFile::parse("[metrics]\ndrift_min_rows = 500").unwrap();
        assert_eq!(config.metrics.drift_min_rows, 500);
        let default = ConfigFile::parse("").unwrap();
        assert_eq!(default.metrics.drift_min_rows, 100);
    }

    #[test]
    fn errors_in_sections_name_the_key() {
        let error = |text: &str| ConfigFile::parse(text).unwrap_err();
        for (text, path) in [
            (
                "[retention]\nraw_events_days = 3",
                "retention.raw_events_days",
            ),
            ("[metrics]\ncache_ttl = \"soon\"", "metrics.cache_ttl"),
            ("[metrics]\nmax_versions = 0", "metrics.max_versions"),
            ("[limits]\nmax_body = 1", "limits.max_body"),
            (
                "[models.m]\ntask = \"regression\"\nallowed_lateness = \"soon\"",
                "models.m.allowed_lateness",
            ),
            (
                "[rules.r]\nmodel = \"m\"\nmetric = \"mae\"\ncolour = \"red\"",
                "rules.r.colour",
            ),
            (
                "[rules.r]\nmodel = \"m\"\nmetric = \"mae\"\ncondition = { op = \">\", threshold = 1, unit = \"%\" }",
                "rules.r.condition.unit",
            ),
            (
                "[rules.r]\nmodel = \"m\"\nmetric = \"mae\"\nfor = \"a bit\"",
                "rules.r.for",
            ),
            ("[rules.r]\nmodel = \"m\"", "rules.r.metric"),
            (
                "[channels.c]\ntype = \"webhook\"\nurl = \"http://h\"\ngroup_wait = \"a bit\"",
                "channels.c.group_wait",
            ),
            (
                "[channels.c]\ntype = \"webhook\"\nurl = \"http://h\"\nretries = 3",
                "channels.c.retries",
            ),
            (
                "[silences.s]\nmatchers = { model = \"m\" }\nends_at = \"2099-01-01T00:00:00Z\"\nuntil = 1",
                "silences.s.until",
            ),
            (
                "[routing.route]\nchannels = []\n[[routing.route.routes]]\nmatchers = []\nreceiver = \"x\"",
                "routing.route.routes[0].receiver",
            ),
        ] {
            let error = error(text);
            assert!(error.starts_with(&format!("{path}: ")), "{text} → {error}");
        }
    }

    #[test]
    fn a_routing_tree_is_read_from_toml() {
        let config = ConfigFile::parse(
            "[routing.route]\nchannels = [\"chat\"]\ngroup_by = [\"model\"]\n\n[[routing.route.routes]]\nmatchers = [\"severity=critical\"]\nchannels = [\"phone\"]\ngroup_wait = \"0s\"\ncontinue = true\n\n[[routing.inhibit_rules]]\nsource_matchers = [\"severity=critical\"]\ntarget_matchers = [\"severity=warning\"]\nequal = [\"model\"]\n",
        )
        .unwrap();
        let routing = config.declarations().routing.unwrap();
        let child = &routing.route.routes.as_ref().unwrap()[0];
        assert_eq!(child.channels.as_deref(), Some(&["phone".to_string()][..]));
        assert_eq!(child.group_wait.as_ref().unwrap().ms(), 0);
        assert_eq!(child.continue_matching, Some(true));
        let inhibit = routing.inhibit_rules.unwrap();
        assert_eq!(
            inhibit[0].equal.as_deref(),
            Some(&["model".to_string()][..])
        );
    }

    #[test]
    fn a_json_config_is_read_the_same_way() {
        let config = ConfigFile::parse_json(
            r#"{"retention": {"raw_events": "10d"}, "rules": {"r": {"model": "m", "metric": "mae", "window": "1d"}}}"#,
        )
        .unwrap();
        assert_eq!(config.retention.raw_events_ms, 10 * 86_400_000);
        assert_eq!(
            config.retention.hour_profiles_ms,
            Retention::default().hour_profiles_ms
        );
        assert_eq!(config.rules["r"].window.as_ref().unwrap().ms(), 86_400_000);
        let error = ConfigFile::parse_json(r#"{"metrics": {"window": "90s"}}"#).unwrap_err();
        assert!(error.starts_with("metrics.window: "), "{error}");
        let error = ConfigFile::parse_json(r#"{"silences": {"s": {"matchers": {}, "ends": 1}}}"#)
            .unwrap_err();
        assert!(error.starts_with("silences.s.ends: "), "{error}");
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
                let condition = config.rules[&format!("r{i:05}")].condition.as_ref();
                condition
                    .and_then(|c| c.threshold.as_ref()?.as_f64())
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
                "[rules.r{i:05}]\nmodel = \"m\"\nmetric = \"mae\"\nwindow = \"1d\"\ncondition = {{ threshold = {v:e} }}\n"
            ));
            let shortest = if i.is_multiple_of(2) {
                format!("{v}")
            } else {
                format!("{v:e}")
            };
            json_rules.insert(
                format!("r{i:05}"),
                serde_json::from_str(&format!(
                    r#"{{"model":"m","metric":"mae","window":"1d","condition":{{"threshold":{shortest}}}}}"#
                ))
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
