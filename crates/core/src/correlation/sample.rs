//! A bounded uniform sample of a window's rows for scatter plots, mergeable.
//!
//! Every row gets a key, a 64-bit hash of its event id; a sample keeps the rows with
//! the `capacity` smallest keys (bottom-k, which is priority sampling with equal
//! weights). The keys behave as independent uniform draws, so the kept rows are a
//! uniform sample without replacement of the rows seen, and the sample of a merge is
//! the bottom-k of the union: exactly the sample of the union, whatever the grouping
//! or order of merges. Because the key depends only on the id, a row re-profiled from
//! the store gets the same key, and a value that arrives later (a late label) is filled
//! into its row by merging an entry with the same key.

use serde::{Deserialize, Serialize};

/// One sampled row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampledRow {
    /// The row's key ([`row_key`]).
    pub key: u64,
    /// One value per column of the correlations, NaN where missing.
    pub values: Vec<f64>,
}

/// The rows with the smallest keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reservoir {
    /// Rows kept at most (0: not set yet, taken from the first merge).
    pub capacity: u32,
    /// Rows offered, kept or not.
    pub offered: u64,
    /// Kept rows. Between normalisations (see [`Reservoir::normalize`]) they may be
    /// unsorted and up to twice the capacity; after one, sorted by key and bounded.
    pub rows: Vec<SampledRow>,
    /// Once the reservoir has been full: keys at or above this one are not kept.
    #[serde(skip)]
    threshold: Option<u64>,
}

impl PartialEq for Reservoir {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.normalized(), other.normalized());
        a.capacity == b.capacity && a.offered == b.offered && a.rows == b.rows
    }
}

/// FNV-1a of `id` from a basis mixed with `seed`, then SplitMix64's finaliser, so that
/// keys of similar ids are unrelated. The server uses seed 0.
pub fn row_key(seed: u64, id: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for byte in id.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

impl Reservoir {
    /// An empty sample of at most `capacity` rows.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
            ..Self::default()
        }
    }

    /// Offers a row with `key`; `values` is called only if the row may be kept.
    pub fn offer(&mut self, key: u64, values: impl FnOnce() -> Vec<f64>) {
        self.offered += 1;
        self.insert(key, values);
    }

    /// Fills a value that arrived after its row (a late label): an entry with only that
    /// value, kept if the row is.
    pub fn fill(&mut self, key: u64, values: impl FnOnce() -> Vec<f64>) {
        self.insert(key, values);
    }

    fn insert(&mut self, key: u64, values: impl FnOnce() -> Vec<f64>) {
        if self.capacity == 0 || self.threshold.is_some_and(|t| key > t) {
            return;
        }
        self.rows.push(SampledRow {
            key,
            values: values(),
        });
        if self.rows.len() >= 2 * self.capacity as usize {
            self.normalize();
        }
    }

    /// Sorts by key, joins rows with the same key (a value missing in one is taken
    /// from the other) and keeps the `capacity` smallest.
    pub fn normalize(&mut self) {
        self.rows.sort_by_key(|row| row.key);
        let mut joined: Vec<SampledRow> = Vec::with_capacity(self.rows.len());
        for row in self.rows.drain(..) {
            match joined.last_mut() {
                Some(last) if last.key == row.key => {
                    for (ours, theirs) in last.values.iter_mut().zip(&row.values) {
                        if ours.is_nan() {
                            *ours = *theirs;
                        }
                    }
                }
                _ => joined.push(row),
            }
        }
        joined.truncate(self.capacity as usize);
        if self.capacity > 0 && joined.len() == self.capacity as usize {
            self.threshold = joined.last().map(|row| row.key);
        }
        self.rows = joined;
    }

    /// This sample normalised (a copy only when it is not already).
    pub fn normalized(&self) -> std::borrow::Cow<'_, Reservoir> {
        let sorted = self.rows.windows(2).all(|w| w[0].key < w[1].key);
        if sorted && self.rows.len() <= self.capacity as usize {
            std::borrow::Cow::Borrowed(self)
        } else {
            let mut copy = self.clone();
            copy.normalize();
            std::borrow::Cow::Owned(copy)
        }
    }

    /// Adds the rows of `other` (whose values are in the same columns).
    pub fn merge(&mut self, other: &Reservoir) {
        self.capacity = match (self.capacity, other.capacity) {
            (0, c) | (c, 0) => c,
            (a, b) => a.min(b),
        };
        self.offered += other.offered;
        let threshold = self.threshold;
        self.rows.extend(
            other
                .rows
                .iter()
                .filter(|row| threshold.is_none_or(|t| row.key <= t))
                .cloned(),
        );
        self.normalize();
    }

    /// The same sample with its values rearranged: `positions[c]` is the column of
    /// this sample that becomes column `c` (NaN where `None`).
    pub fn reshaped(&self, positions: &[Option<usize>]) -> Reservoir {
        let mut out = self.clone();
        for row in &mut out.rows {
            row.values = positions
                .iter()
                .map(|p| p.map_or(f64::NAN, |p| row.values[p]))
                .collect();
        }
        out
    }
}
