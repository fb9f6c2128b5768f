//! Authentication and authorisation: API tokens with scopes, optionally restricted to
//! a set of models.
//!
//! A token is `mw_` followed by 40 hex digits (160 random bits). Only its SHA-256 is
//! stored; `modelwatch token create` shows the secret once. Requests carry it as
//! `Authorization: Bearer <token>`. Scopes:
//!
//! - `ingest`: `POST .../predictions` and `POST .../labels`;
//! - `read`: every `GET`;
//! - `admin`: everything, including changes to models, references, rules, channels and
//!   silences.
//!
//! A token restricted to models may only touch paths of those models, sees only them in
//! lists, and may not touch server-wide resources (channels, silences, `/metrics`).
//! `/healthz` needs no token. Lookups are cached for one second, so a revocation takes
//! effect within a second.
//!
//! What each route needs is declared with the route (`api::access`); this module holds
//! the tokens, their scopes and the cache of lookups.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use modelwatch_store::Storage;
use parking_lot::Mutex;
use rand::Rng;
use sha2::{Digest, Sha256};

pub use crate::config::AuthMode;
use crate::error::ApiError;

/// How long a token lookup is trusted.
const CACHE_TTL: Duration = Duration::from_secs(1);

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Send predictions and labels.
    Ingest,
    /// Read anything.
    Read,
    /// Change anything.
    Admin,
}

impl Scope {
    /// Parses `ingest`, `read` or `admin`.
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// A valid token, as attached to the requests it authorises.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The token's id.
    pub id: i64,
    /// Its scopes.
    pub scopes: BTreeSet<Scope>,
    /// The models it is restricted to; `None` for all.
    pub models: Option<BTreeSet<String>>,
}

impl Grant {
    /// Whether it may act with `scope` (`admin` may do everything).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    /// Whether it may touch `model`.
    pub fn covers(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.contains(model))
    }
}

/// The model filter a handler applies to lists: `None` when everything may be seen.
pub fn visible_models(grant: Option<&Grant>) -> Option<BTreeSet<String>> {
    grant.and_then(|g| g.models.clone())
}

/// A new secret: `mw_` and 40 hex digits.
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::rng().random();
    format!("mw_{}", hex::encode(bytes))
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A lookup's result (`None`: unknown or revoked) and when it was made.
type CachedLookup = (Option<Arc<Grant>>, Instant);

/// Cached token lookups by hash.
#[derive(Default)]
pub struct TokenCache(Mutex<HashMap<String, CachedLookup>>);

fn grant_of(row: &modelwatch_store::tokens::TokenRow) -> Option<Grant> {
    if row.revoked_ms.is_some() {
        return None;
    }
    Some(Grant {
        id: row.id,
        scopes: row.scopes.split(',').filter_map(Scope::parse).collect(),
        models: row
            .models
            .as_ref()
            .map(|m| m.split(',').map(str::to_string).collect()),
    })
}

impl TokenCache {
    /// The grant of `secret` (`None`: unknown or revoked), from the cache when the last
    /// lookup is younger than a second.
    pub async fn lookup(
        &self,
        store: &Arc<dyn Storage>,
        secret: &str,
    ) -> Result<Option<Arc<Grant>>, ApiError> {
        let key = hash(secret);
        if let Some((grant, at)) = self.0.lock().get(&key)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(grant.clone());
        }
        let store = store.clone();
        let lookup_key = key.clone();
        let row = tokio::task::spawn_blocking(move || store.find_token(&lookup_key))
            .await
            .map_err(|e| ApiError::internal(format!("token lookup failed: {e}")))??;
        let grant = row.as_ref().and_then(grant_of).map(Arc::new);
        let mut cache = self.0.lock();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (grant.clone(), Instant::now()));
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("mw_") && a.len() == 43);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
        // sha256("abc"), from FIPS 180-2.
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
