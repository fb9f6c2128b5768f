//! A rank-accurate, mergeable quantile sketch (the KLL idea), for the quantiles of numeric
//! features, where API.md asks for a rank guarantee rather than a relative one.
//!
//! Values live in levels: an item of level `h` stands for `2^h` values. When a level holds
//! its capacity, it is sorted and *compacted*: every other item (starting at the first or
//! the second, by a coin) moves up one level with twice the weight; an odd item out stays.
//! A compaction of level `h` moves the rank of any value by at most `2^h`, up or down with
//! equal chance, so the errors of many compactions mostly cancel. Capacities shrink by 2/3
//! per level below the top one, which holds [`TOP_CAPACITY`] items, so the sketch holds
//! about `3·TOP_CAPACITY` values however many it has seen.
//!
//! Rank error: the sum of independent ±2^h terms has a standard deviation of about
//! `0.8·n / TOP_CAPACITY`; with 1,024 that is 0.08% of `n`, so the guarantee of API.md
//! (±0.5% of `n`) holds six standard deviations out. Up to [`TOP_CAPACITY`] values nothing
//! is compacted and the answer is exact.
//!
//! The coin is a pseudo-random generator kept in the sketch and advanced at each
//! compaction (merges mix both states), so the same values in the same order, merged in
//! the same grouping, always give the same sketch.

use serde::{Deserialize, Serialize};

/// Items the top level holds before it is compacted.
pub const TOP_CAPACITY: usize = 1024;
/// The smallest capacity of any level.
const MIN_CAPACITY: usize = 8;
/// Each level below the top holds this share of the capacity of the one above.
const SHRINK: f64 = 2.0 / 3.0;
/// The coin's starting state (any constant would do).
const COIN_SEED: u64 = 0x5EED_0FC0_FFEE;

/// A mergeable quantile sketch with a rank guarantee; see the module doc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankSketch {
    /// `levels[h]`: values standing for `2^h` values each, in no particular order.
    levels: Vec<Vec<f64>>,
    count: u64,
    min: f64,
    max: f64,
    /// State of the coin that picks which half of a compacted level moves up.
    coin: u64,
}

impl Default for RankSketch {
    fn default() -> Self {
        Self {
            levels: Vec::new(),
            count: 0,
            min: 0.0,
            max: 0.0,
            coin: COIN_SEED,
        }
    }
}

/// SplitMix64's step: a well-mixed next state.
fn mix(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RankSketch {
    /// Adds one value (non-finite values are ignored; validation keeps them out).
    pub fn insert(&mut self, value: f64) {
        self.insert_weighted(value, 1);
    }

    /// Adds `weight` copies of `value`, one item per set bit of `weight` (used to carry
    /// over the buckets of profiles stored before this sketch existed).
    pub fn insert_weighted(&mut self, value: f64, weight: u64) {
        if !value.is_finite() || weight == 0 {
            return;
        }
        if self.count == 0 || value < self.min {
            self.min = value;
        }
        if self.count == 0 || value > self.max {
            self.max = value;
        }
        self.count = self.count.saturating_add(weight);
        let mut bits = weight;
        while bits != 0 {
            let level = bits.trailing_zeros() as usize;
            self.level_mut(level).push(value);
            bits &= bits - 1;
        }
        self.compress();
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &RankSketch) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.count = self.count.saturating_add(other.count);
        for (h, items) in other.levels.iter().enumerate() {
            self.level_mut(h).extend_from_slice(items);
        }
        self.coin = mix(self.coin ^ other.coin.rotate_left(17));
        self.compress();
    }

    fn level_mut(&mut self, level: usize) -> &mut Vec<f64> {
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, Vec::new);
        }
        &mut self.levels[level]
    }

    /// The capacity of level `h` while there are `height` levels.
    fn capacity(h: usize, height: usize) -> usize {
        let depth = (height - 1 - h) as i32;
        ((TOP_CAPACITY as f64 * SHRINK.powi(depth)).ceil() as usize).max(MIN_CAPACITY)
    }

    /// Compacts, bottom up, every level that holds its capacity.
    fn compress(&mut self) {
        let mut h = 0;
        while h < self.levels.len() {
            if self.levels[h].len() >= Self::capacity(h, self.levels.len()) {
                self.compact(h);
            }
            h += 1;
        }
    }

    /// Moves every other item of level `h` (sorted) up a level; an odd one stays.
    fn compact(&mut self, h: usize) {
        self.coin = mix(self.coin);
        let offset = (self.coin >> 63) as usize;
        let mut items = std::mem::take(&mut self.levels[h]);
        items.sort_unstable_by(f64::total_cmp);
        if !items.len().is_multiple_of(2) {
            // The odd item out: the largest stays, with its weight, at this level.
            let last = items.pop().expect("odd length is at least 1");
            self.levels[h].push(last);
        }
        let promoted: Vec<f64> = items.iter().skip(offset).step_by(2).copied().collect();
        self.level_mut(h + 1).extend(promoted);
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Items held (a measure of the sketch's size).
    pub fn item_count(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// The exact minimum.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// The exact maximum.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    /// The held items with their weights, sorted by value.
    fn weighted_items(&self) -> Vec<(f64, u64)> {
        let mut items: Vec<(f64, u64)> = self
            .levels
            .iter()
            .enumerate()
            .flat_map(|(h, level)| {
                let weight = 1u64.checked_shl(h as u32).unwrap_or(u64::MAX);
                level.iter().map(move |v| (*v, weight))
            })
            .collect();
        items.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        items
    }

    /// The `q`-quantiles (each in [0, 1]) with numpy's linear interpolation between the
    /// two neighbouring ranks, or `None` when empty. Exact while nothing was compacted.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        if self.count == 0 {
            return vec![None; qs.len()];
        }
        let items = self.weighted_items();
        let value_at_rank = |rank: u64| -> f64 {
            if rank == 0 {
                return self.min;
            }
            if rank + 1 >= self.count {
                return self.max;
            }
            let mut seen = 0u64;
            for (value, weight) in &items {
                seen = seen.saturating_add(*weight);
                if rank < seen {
                    return *value;
                }
            }
            self.max
        };
        qs.iter()
            .map(|q| {
                let position = q.clamp(0.0, 1.0) * (self.count - 1) as f64;
                let lower = position.floor() as u64;
                let fraction = position - lower as f64;
                let low = value_at_rank(lower);
                let value = if fraction > 0.0 {
                    low + fraction * (value_at_rank(lower + 1) - low)
                } else {
                    low
                };
                Some(value.clamp(self.min, self.max))
            })
            .collect()
    }

    /// The `q`-quantile alone; see [`Self::quantiles`].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantiles(&[q])[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy's default (`linear`) quantile of sorted values.
    fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
        let position = q * (sorted.len() - 1) as f64;
        let lower = position.floor() as usize;
        let fraction = position - lower as f64;
        if lower + 1 < sorted.len() {
            sorted[lower] + fraction * (sorted[lower + 1] - sorted[lower])
        } else {
            sorted[lower]
        }
    }

    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = mix(state);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                (-(1.0 - u).ln()).powi(3) * 100.0
            })
            .collect()
    }

    #[test]
    fn exact_up_to_the_top_capacity() {
        let data = values(TOP_CAPACITY - 1, 1);
        let mut sketch = RankSketch::default();
        data.iter().for_each(|v| sketch.insert(*v));
        let mut sorted = data.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0] {
            assert_eq!(
                sketch.quantile(q),
                Some(exact_quantile(&sorted, q)),
                "q={q}"
            );
        }
    }

    #[test]
    fn ranks_within_half_a_percent_and_size_bounded() {
        for seed in 0..4 {
            let data = values(200_000, seed);
            let mut sketch = RankSketch::default();
            data.iter().for_each(|v| sketch.insert(*v));
            assert!(
                sketch.item_count() < 4 * TOP_CAPACITY,
                "{}",
                sketch.item_count()
            );
            let mut sorted = data.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len() as f64;
            for q in [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] {
                let estimate = sketch.quantile(q).unwrap();
                let rank = sorted.partition_point(|v| *v < estimate) as f64 / n;
                assert!((rank - q).abs() <= 0.005, "seed {seed}, q={q}: rank {rank}");
            }
        }
    }

    #[test]
    fn weighted_inserts_count_every_copy() {
        let mut sketch = RankSketch::default();
        sketch.insert_weighted(1.0, 5);
        sketch.insert_weighted(3.0, 3);
        assert_eq!(sketch.count(), 8);
        // numpy.percentile([1]*5 + [3]*3, [0, 50, 100]) == [1, 1, 3]
        assert_eq!(
            sketch.quantiles(&[0.0, 0.5, 1.0]),
            [Some(1.0), Some(1.0), Some(3.0)]
        );
    }

    #[test]
    fn the_same_input_gives_the_same_sketch() {
        let data = values(50_000, 9);
        let build = || {
            let mut parts: Vec<RankSketch> = data
                .chunks(700)
                .map(|chunk| {
                    let mut s = RankSketch::default();
                    chunk.iter().for_each(|v| s.insert(*v));
                    s
                })
                .collect();
            let mut all = parts.remove(0);
            parts.iter().for_each(|p| all.merge(p));
            all
        };
        assert_eq!(build(), build());
        assert_eq!(build().count(), 50_000);
    }
}
