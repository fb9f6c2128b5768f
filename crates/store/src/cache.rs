//! The writer's cache of window profiles, generic over the kind of profile.
//!
//! Performance profiles (small) are written at every granularity in every commit.
//! Feature profiles (large: thousands of slots and up to 4,096 exact values per
//! feature) would cost a rewrite of every touched window at every commit, so they are
//! written *lazily*: when the cache is flushed (at most a second after a change, on
//! `Storage::flush`, or when the cache is full). Until then a row in `lazy_dirty` marks
//! each window whose stored copy is behind, inserted in the same transaction as the
//! raw events, so that after a crash the window is rebuilt: a minute from its raw
//! events, an hour or a day from its minutes (see `writer::recover_features`).

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
    /// Whether rows are written lazily (see the module doc).
    const LAZY: bool;
    /// Bytes of profiles kept in memory between commits.
    const BUDGET_BYTES: usize;
    /// Roughly the bytes a profile holds.
    fn weight(&self) -> usize;
    fn merge(&mut self, other: &Self);
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

impl StoredProfile for WindowProfile {
    const TABLE: &'static str = "profiles";
    const LAZY: bool = false;
    const BUDGET_BYTES: usize = 32 << 20;
    fn weight(&self) -> usize {
        // Dominated by the score histogram (at most 8,192 bins), and the log templates.
        256 + 24 * self.classification.scores.len() + self.logs.approximate_bytes()
    }
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
    const LAZY: bool = true;
    const BUDGET_BYTES: usize = 32 << 20;
    fn weight(&self) -> usize {
        self.approximate_bytes()
    }
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

/// Recently used profiles of one kind.
pub(crate) struct ProfileCache<P> {
    profiles: HashMap<Key, P>,
    /// Changed in the current transaction: written at its end.
    dirty: HashSet<Key>,
    /// Rows changed since the last flush (lazy kinds only).
    lazy_dirty: HashSet<Key>,
    /// The weight of each cached profile when it was last changed, and their sum.
    weights: HashMap<Key, usize>,
    total_weight: usize,
}

impl<P> Default for ProfileCache<P> {
    fn default() -> Self {
        Self {
            profiles: HashMap::new(),
            dirty: HashSet::new(),
            lazy_dirty: HashSet::new(),
            weights: HashMap::new(),
            total_weight: 0,
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
                let weight = profile.weight();
                let old = self.weights.insert(key.clone(), weight).unwrap_or(0);
                self.total_weight = self.total_weight + weight - old;
            }
            if P::LAZY {
                if self.lazy_dirty.insert(key.clone()) {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO lazy_dirty (model_id, granularity, start_ms, version) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![key.0, code(key.1), key.2, key.3])?;
                }
            } else {
                self.dirty.insert(key);
            }
        }
        Ok(())
    }

    /// Writes what the transaction changed, and the lazy rows too when `flush` (or
    /// when the cache is full).
    pub(crate) fn write(&mut self, tx: &Transaction<'_>, flush: bool) -> Result<(), StoreError> {
        for key in &self.dirty {
            if let Some(profile) = self.profiles.get(key) {
                store(tx, key, profile)?;
            }
        }
        if flush || self.over_budget() {
            for key in &self.lazy_dirty {
                if let Some(profile) = self.profiles.get(key) {
                    store(tx, key, profile)?;
                }
                tx.prepare_cached(
                    "DELETE FROM lazy_dirty WHERE model_id = ?1 AND granularity = ?2 AND start_ms = ?3 AND version = ?4",
                )?
                .execute(params![key.0, code(key.1), key.2, key.3])?;
            }
            self.lazy_dirty.clear();
        }
        Ok(())
    }

    pub(crate) fn over_budget(&self) -> bool {
        self.total_weight > P::BUDGET_BYTES
    }

    /// Keeps the profiles `keep` says to, and the weights in step.
    fn retain(&mut self, keep: impl Fn(&Key) -> bool) {
        self.profiles.retain(|key, _| keep(key));
        self.weights.retain(|key, _| keep(key));
        self.total_weight = self.weights.values().sum();
    }

    /// After a commit: forget what was written. Over budget, drop clean minute windows
    /// first (they are many and rarely touched again), then everything clean; hour and
    /// day windows are costly to reload.
    pub(crate) fn committed(&mut self) {
        self.dirty.clear();
        if self.over_budget() {
            let lazy_dirty = std::mem::take(&mut self.lazy_dirty);
            self.retain(|key| key.1 != Granularity::Minute || lazy_dirty.contains(key));
            if self.over_budget() {
                self.retain(|key| lazy_dirty.contains(key));
            }
            self.lazy_dirty = lazy_dirty;
        }
    }

    /// Whether lazy rows wait to be written.
    pub(crate) fn has_unflushed(&self) -> bool {
        !self.lazy_dirty.is_empty()
    }

    /// Drops a deleted model's profiles.
    pub(crate) fn forget_model(&mut self, model_id: i64) {
        self.retain(|key| key.0 != model_id);
        self.dirty.retain(|key| key.0 != model_id);
        self.lazy_dirty.retain(|key| key.0 != model_id);
    }

    /// Drops a model's cached windows of `granularity` that start before `cutoff`
    /// (retention deleted them).
    pub(crate) fn forget_before(&mut self, model_id: i64, granularity: Granularity, cutoff: i64) {
        let gone = |key: &Key| key.0 == model_id && key.1 == granularity && key.2 < cutoff;
        self.dirty.retain(|key| !gone(key));
        self.lazy_dirty.retain(|key| !gone(key));
        self.retain(|key| !gone(key));
    }

    /// Empties the cache (after a rolled-back transaction).
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Windows marked in `lazy_dirty`, finest first: `(model id, granularity, start, version)`.
pub(crate) fn marked_windows(tx: &Transaction<'_>) -> Result<Vec<Key>, StoreError> {
    let mut statement =
        tx.prepare("SELECT model_id, granularity, start_ms, version FROM lazy_dirty ORDER BY granularity, start_ms")?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut keys = Vec::new();
    for row in rows {
        let (model_id, granularity, start, version) = row?;
        if let Some(granularity) = from_code(granularity) {
            keys.push((model_id, granularity, start, version));
        }
    }
    Ok(keys)
}

/// Rebuilds an hour or day row from its minute rows.
pub(crate) fn rebuild_from_minutes<P: StoredProfile>(
    tx: &Transaction<'_>,
    key: &Key,
) -> Result<(), StoreError> {
    let mut merged = P::default();
    {
        let mut statement = tx.prepare_cached(&format!(
            "SELECT data FROM {} WHERE model_id = ?1 AND granularity = 0 AND start_ms >= ?2 AND start_ms < ?3 AND version = ?4",
            P::TABLE
        ))?;
        let rows = statement
            .query_map(params![key.0, key.2, key.2 + key.1.ms(), key.3], |row| {
                row.get::<_, Vec<u8>>(0)
            })?;
        for bytes in rows {
            merged.merge(&P::decode(&bytes?)?);
        }
    }
    store(tx, key, &merged)
}

/// Writes one row (used by recovery).
pub(crate) fn store_row<P: StoredProfile>(
    tx: &Transaction<'_>,
    key: &Key,
    profile: &P,
) -> Result<(), StoreError> {
    store(tx, key, profile)
}
