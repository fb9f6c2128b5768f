//! The writer's cache of window profiles, generic over the kind of profile.
//!
//! Performance profiles (small) are written at every granularity in every commit.
//! Feature profiles (large: up to thousands of slots per feature) are written at the
//! minute granularity in every commit, but their hour and day aggregates only when
//! the cache is flushed (at most once a second, on `Store::flush`, or when the cache
//! is full). Until then a row in `coarse_dirty` marks each aggregate whose stored copy
//! is behind, in the same transaction as the minute rows, so that after a crash the
//! aggregate is rebuilt from its minutes ([`ProfileCache::recover_coarse`]).

use std::collections::{HashMap, HashSet};

use modelwatch_core::drift::WindowFeatures;
use modelwatch_core::profile::DecodeError;
use modelwatch_core::{Granularity, WindowProfile};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::StoreError;

/// A profile kind kept in a table of its own.
pub(crate) trait StoredProfile: Default + Clone {
    /// Table: `(model_id, granularity, start_ms, version, data)`.
    const TABLE: &'static str;
    /// Whether hour and day rows are written lazily (see the module doc).
    const LAZY_COARSE: bool;
    fn merge(&mut self, other: &Self);
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

impl StoredProfile for WindowProfile {
    const TABLE: &'static str = "profiles";
    const LAZY_COARSE: bool = false;
    fn merge(&mut self, other: &Self) {
        WindowProfile::merge(self, other)
    }
    fn encode(&self) -> Vec<u8> {
        WindowProfile::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        WindowProfile::decode(bytes)
    }
}

impl StoredProfile for WindowFeatures {
    const TABLE: &'static str = "feature_profiles";
    const LAZY_COARSE: bool = true;
    fn merge(&mut self, other: &Self) {
        WindowFeatures::merge(self, other)
    }
    fn encode(&self) -> Vec<u8> {
        WindowFeatures::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        WindowFeatures::decode(bytes)
    }
}

/// The storage code of a granularity.
pub(crate) fn code(g: Granularity) -> i64 {
    match g {
        Granularity::Minute => 0,
        Granularity::Hour => 1,
        Granularity::Day => 2,
    }
}

fn from_code(code: i64) -> Option<Granularity> {
    Granularity::ALL
        .into_iter()
        .find(|g| self::code(*g) == code)
}

/// `(model id, granularity, window start, version)`.
pub(crate) type Key = (i64, Granularity, i64, String);

/// Most profiles kept between commits before the cache is emptied.
const CAPACITY: usize = 4_096;

/// Recently used profiles of one kind.
pub(crate) struct ProfileCache<P> {
    profiles: HashMap<Key, P>,
    /// Changed in the current transaction: written at its end.
    dirty: HashSet<Key>,
    /// Coarse rows changed since the last flush (lazy kinds only).
    coarse_dirty: HashSet<Key>,
}

impl<P> Default for ProfileCache<P> {
    fn default() -> Self {
        Self {
            profiles: HashMap::new(),
            dirty: HashSet::new(),
            coarse_dirty: HashSet::new(),
        }
    }
}

pub(crate) fn load<P: StoredProfile>(
    conn: &Connection,
    key: &Key,
) -> Result<Option<P>, StoreError> {
    let stored: Option<Vec<u8>> = conn
        .prepare_cached(&format!(
            "SELECT data FROM {} WHERE model_id = ?1 AND granularity = ?2 AND start_ms = ?3 AND version = ?4",
            P::TABLE
        ))?
        .query_row(params![key.0, code(key.1), key.2, key.3], |row| row.get(0))
        .optional()?;
    Ok(match stored {
        Some(bytes) => Some(P::decode(&bytes)?),
        None => None,
    })
}

fn store<P: StoredProfile>(tx: &Transaction<'_>, key: &Key, profile: &P) -> Result<(), StoreError> {
    tx.prepare_cached(&format!(
        "INSERT INTO {} (model_id, granularity, start_ms, version, data) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (model_id, granularity, start_ms, version) DO UPDATE SET data = excluded.data",
        P::TABLE
    ))?
    .execute(params![key.0, code(key.1), key.2, key.3, profile.encode()])?;
    Ok(())
}

impl<P: StoredProfile> ProfileCache<P> {
    /// Adds `delta` (of one minute window) to that window at every granularity.
    pub(crate) fn apply(
        &mut self,
        tx: &Transaction<'_>,
        model_id: i64,
        version: &str,
        minute_start: i64,
        delta: &P,
    ) -> Result<(), StoreError> {
        for granularity in Granularity::ALL {
            let key = (
                model_id,
                granularity,
                granularity.window_start(minute_start),
                version.to_string(),
            );
            if !self.profiles.contains_key(&key) {
                let profile = load::<P>(tx, &key)?.unwrap_or_default();
                self.profiles.insert(key.clone(), profile);
            }
            if let Some(profile) = self.profiles.get_mut(&key) {
                profile.merge(delta);
            }
            if P::LAZY_COARSE && granularity != Granularity::Minute {
                if self.coarse_dirty.insert(key.clone()) {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO coarse_dirty (model_id, granularity, start_ms, version) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![key.0, code(key.1), key.2, key.3])?;
                }
            } else {
                self.dirty.insert(key);
            }
        }
        Ok(())
    }

    /// Writes what the transaction changed, and the lazy coarse rows too when `flush`
    /// (or when the cache is full).
    pub(crate) fn write(&mut self, tx: &Transaction<'_>, flush: bool) -> Result<(), StoreError> {
        for key in &self.dirty {
            if let Some(profile) = self.profiles.get(key) {
                store(tx, key, profile)?;
            }
        }
        if flush || self.profiles.len() > CAPACITY {
            for key in &self.coarse_dirty {
                if let Some(profile) = self.profiles.get(key) {
                    store(tx, key, profile)?;
                }
                tx.prepare_cached(
                    "DELETE FROM coarse_dirty WHERE model_id = ?1 AND granularity = ?2 AND start_ms = ?3 AND version = ?4",
                )?
                .execute(params![key.0, code(key.1), key.2, key.3])?;
            }
            self.coarse_dirty.clear();
        }
        Ok(())
    }

    /// After a commit: forget what was written; empty the cache when it is full.
    pub(crate) fn committed(&mut self) {
        self.dirty.clear();
        if self.profiles.len() > CAPACITY && self.coarse_dirty.is_empty() {
            self.profiles.clear();
        }
    }

    /// Whether lazy coarse rows wait to be written.
    pub(crate) fn has_unflushed(&self) -> bool {
        !self.coarse_dirty.is_empty()
    }

    /// Drops a deleted model's profiles.
    pub(crate) fn forget_model(&mut self, model_id: i64) {
        self.profiles.retain(|key, _| key.0 != model_id);
        self.dirty.retain(|key| key.0 != model_id);
        self.coarse_dirty.retain(|key| key.0 != model_id);
    }

    /// Empties the cache (after a rolled-back transaction).
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Rebuilds every coarse row marked in `coarse_dirty` from its minute rows: after a
    /// crash, or after a rolled-back transaction emptied the cache.
    pub(crate) fn recover_coarse(conn: &mut Connection) -> Result<usize, StoreError> {
        let tx = conn.transaction()?;
        let marked: Vec<(i64, i64, i64, String)> = {
            let mut statement =
                tx.prepare("SELECT model_id, granularity, start_ms, version FROM coarse_dirty ORDER BY granularity")?;
            let rows = statement.query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (model_id, granularity_code, start, version) in &marked {
            let Some(granularity) = from_code(*granularity_code) else {
                continue;
            };
            let mut merged = P::default();
            {
                let mut statement = tx.prepare_cached(&format!(
                    "SELECT data FROM {} WHERE model_id = ?1 AND granularity = 0 AND start_ms >= ?2 AND start_ms < ?3 AND version = ?4",
                    P::TABLE
                ))?;
                let rows = statement.query_map(
                    params![model_id, start, start + granularity.ms(), version],
                    |row| row.get::<_, Vec<u8>>(0),
                )?;
                for bytes in rows {
                    merged.merge(&P::decode(&bytes?)?);
                }
            }
            store(
                &tx,
                &(*model_id, granularity, *start, version.clone()),
                &merged,
            )?;
        }
        tx.execute("DELETE FROM coarse_dirty", [])?;
        tx.commit()?;
        Ok(marked.len())
    }
}
