//! Where notifications may go, and how much of an answer is read: the HTTP client of
//! the channels follows no redirect to another origin (none at all by default), reaches
//! only the destination networks `[outbound]` allows (link-local and cloud metadata
//! addresses are denied by default), and reads at most [`MAX_ANSWER_BYTES`] of any
//! answer. Email channels' SMTP hosts are checked against the same networks.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Where notifications may go; `[outbound]` of the configuration file (see
/// `docs/ALERTING.md`, "Outbound requests").
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// Networks (`10.0.0.0/8`) channels may reach; empty: any that is not denied.
    pub allow_networks: Vec<String>,
    /// Networks channels may never reach; they win over `allow_networks`. By default
    /// the link-local networks and the cloud metadata addresses.
    pub deny_networks: Vec<String>,
    /// Whether a webhook's redirect to the same origin (scheme, host and port) is
    /// followed; a redirect elsewhere never is.
    pub same_origin_redirects: bool,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow_networks: Vec::new(),
            deny_networks: [
                "169.254.0.0/16",
                "fe80::/10",
                "fd00:ec2::254/128",
                "100.100.100.200/32",
            ]
            .map(String::from)
            .to_vec(),
            same_origin_redirects: false,
        }
    }
}

impl OutboundConfig {
    /// Checks that every network parses.
    pub fn validate(&self) -> Result<(), modelwatch_core::FieldError> {
        for (key, list) in [
            ("allow_networks", &self.allow_networks),
            ("deny_networks", &self.deny_networks),
        ] {
            for (i, network) in list.iter().enumerate() {
                network
                    .parse::<Network>()
                    .map_err(|e| modelwatch_core::FieldError::new(format!("{key}[{i}]"), e))?;
            }
        }
        Ok(())
    }
}

/// The most of a receiver's answer that is read.
pub const MAX_ANSWER_BYTES: usize = 4096;

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `fe80::/10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
        let base: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not a network such as 10.0.0.0/8"))?;
        let bits = if base.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            bits
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {bits}"))?
        };
        Ok(Self { base, prefix })
    }
}

impl Network {
    /// Whether `ip` lies in the network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.base, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The destination networks notifications may reach.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    allow: Vec<Network>,
    deny: Vec<Network>,
}

impl Destinations {
    /// From the configuration (already validated: every network parses).
    pub fn new(config: &OutboundConfig) -> Result<Self, String> {
        let parse = |list: &[String]| {
            list.iter()
                .map(|n| n.parse::<Network>())
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            allow: parse(&config.allow_networks)?,
            deny: parse(&config.deny_networks)?,
        })
    }

    /// Whether `ip` may be reached: not denied, and allowed when an allow list is set.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !self.deny.iter().any(|n| n.contains(ip))
            && (self.allow.is_empty() || self.allow.iter().any(|n| n.contains(ip)))
    }

    /// The addresses of `host` that may be reached, or why none may.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect(),
        };
        let permitted: Vec<SocketAddr> = addresses
            .iter()
            .copied()
            .filter(|a| self.permits(a.ip()))
            .collect();
        if permitted.is_empty() {
            return Err(format!(
                "{host} resolves to no address outbound.allow_networks and outbound.deny_networks permit"
            ));
        }
        Ok(permitted)
    }

    /// Checks the host of an `http(s)://` URL (an IP literal is not resolved by the
    /// client's resolver, so it is checked here).
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), String> {
        let host = url.host_str().unwrap_or("");
        let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return Ok(());
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(format!(
                "{ip} is not a destination outbound.allow_networks and outbound.deny_networks permit"
            ))
        }
    }
}

/// The client's resolver: only the permitted addresses of a name.
struct PermittedResolver(Arc<Destinations>);

impl reqwest::dns::Resolve for PermittedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let destinations = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses = destinations.resolve(&host, 0).await?;
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// The HTTP client of the channels.
pub fn client(config: &OutboundConfig, destinations: Arc<Destinations>) -> reqwest::Client {
    let redirects = if config.same_origin_redirects {
        reqwest::redirect::Policy::custom(|attempt| {
            let same = attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() == attempt.url().origin());
            if same && attempt.previous().len() < 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        })
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .redirect(redirects)
        .dns_resolver(PermittedResolver(destinations))
        .build()
        .unwrap_or_default()
}

/// The start of an answer's body, at most [`MAX_ANSWER_BYTES`]; the rest is never read.
pub async fn answer_start(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ANSWER_BYTES);
    String::from_utf8_lossy(&body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses() {
        let link_local: Network = "169.254.0.0/16".parse().unwrap();
        assert!(link_local.contains("169.254.169.254".parse().unwrap()));
        assert!(link_local.contains("::ffff:169.254.169.254".parse().unwrap()));
        assert!(!link_local.contains("169.255.0.1".parse().unwrap()));
        let v6: Network = "fe80::/10".parse().unwrap();
        assert!(v6.contains("fe80::1".parse().unwrap()));
        assert!(!v6.contains("fec0::1".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example.org/8".parse::<Network>().is_err());
    }

    #[test]
    fn the_default_denies_metadata_and_allows_the_rest() {
        let destinations = Destinations::new(&OutboundConfig::default()).unwrap();
        assert!(!destinations.permits("169.254.169.254".parse().unwrap()));
        assert!(!destinations.permits("fd00:ec2::254".parse().unwrap()));
        assert!(destinations.permits("127.0.0.1".parse().unwrap()));
        assert!(destinations.permits("10.1.2.3".parse().unwrap()));
        let only_ten = Destinations::new(&OutboundConfig {
            allow_networks: vec!["10.0.0.0/8".into()],
            ..OutboundConfig::default()
        })
        .unwrap();
        assert!(only_ten.permits("10.1.2.3".parse().unwrap()));
        assert!(!only_ten.permits("127.0.0.1".parse().unwrap()));
    }
}
