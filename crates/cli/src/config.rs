//! The TOML configuration file of `modelwatch serve --config FILE`.
//!
//! Every key is optional; command-line flags win over the file, and the file over the
//! defaults. `modelwatch.example.toml` at the repository root lists every key and is
//! loaded by a test, so it cannot drift from this code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use modelwatch_server::Limits;

use crate::usage;

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
}

impl ConfigFile {
    /// Reads and parses `path`; any problem is a usage error naming the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read config file {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| usage(format!("config file {}: {e}", path.display())))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.message().to_string())
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
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(
            ConfigFile::parse("lisen = \"127.0.0.1:1\"")
                .unwrap_err()
                .contains("lisen")
        );
        assert!(ConfigFile::parse("[limits]\nmax_body = 1").is_err());
    }
}
