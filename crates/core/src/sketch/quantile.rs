//! A relative-error quantile sketch (the DDSketch idea: logarithmic buckets, so every
//! value is known to within ±α of itself), used for latencies. (Numeric features used it
//! until their profiles moved to the rank sketch, encoding 2 of `WindowFeatures`; profiles
//! stored before are carried over with [`QuantileSketch::weighted_values`].)
//!
//! A value `x` with `|x| ≥` [`MIN_TRACKED`] goes to bucket `ceil(ln|x| / ln γ)` of the
//! store for its sign, with `γ = (1+α)/(1−α)`; the bucket's representative
//! `±2γ^i/(γ+1)` is within `α` (relative) of every value in it. Smaller values share
//! one bucket represented by 0. A quantile is read with numpy's default linear
//! interpolation between the two neighbouring order statistics; as each is off by at
//! most `α`, so is their interpolation (for same-signed neighbours), and the extremes
//! are exact. With `α = 0.005` the answer is within 0.5% of the exact quantile, inside
//! API.md's 1%. Buckets grow with `ln(max/min)/ln γ ≈ ln(max/min)/2α`: about 1,400
//! for values spanning 1 ms to 1,000 s (six decades); each decade adds about 230.

use serde::{Deserialize, Serialize};

/// The relative accuracy of every value's bucket.
pub const RELATIVE_ACCURACY: f64 = 0.005;
/// Values smaller than this in magnitude are counted as zero.
pub const MIN_TRACKED: f64 = 1e-9;

/// A mergeable quantile sketch with relative error [`RELATIVE_ACCURACY`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuantileSketch {
    /// Buckets of negative values, by magnitude bucket, sorted by bucket.
    negative: Vec<(i32, u64)>,
    zero_count: u64,
    /// Buckets of positive values, sorted by bucket.
    positive: Vec<(i32, u64)>,
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
}

/// The latency sketch is the quantile sketch (latencies are never negative).
pub type LatencySketch = QuantileSketch;

fn ln_gamma() -> f64 {
    ((1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)).ln()
}

fn bucket_of(magnitude: f64) -> i32 {
    (magnitude.ln() / ln_gamma()).ceil() as i32
}

fn representative(bucket: i32) -> f64 {
    let gamma = ln_gamma().exp();
    2.0 * (bucket as f64 * ln_gamma()).exp() / (gamma + 1.0)
}

fn add_to(store: &mut Vec<(i32, u64)>, bucket: i32, n: u64) {
    match store.binary_search_by_key(&bucket, |(b, _)| *b) {
        Ok(i) => store[i].1 += n,
        Err(i) => store.insert(i, (bucket, n)),
    }
}

impl QuantileSketch {
    /// Adds one value (non-finite values are ignored; validation keeps them out).
    pub fn insert(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if value.abs() < MIN_TRACKED {
            self.zero_count += 1;
        } else if value > 0.0 {
            add_to(&mut self.positive, bucket_of(value), 1);
        } else {
            add_to(&mut self.negative, bucket_of(-value), 1);
        }
        if self.count == 0 || value < self.min {
            self.min = value;
        }
        if self.count == 0 || value > self.max {
            self.max = value;
        }
        self.count += 1;
        self.sum += value;
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &QuantileSketch) {
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
        self.zero_count += other.zero_count;
        super::merge_sorted(&mut self.positive, &other.positive, |a, b| a + b);
        super::merge_sorted(&mut self.negative, &other.negative, |a, b| a + b);
        self.count += other.count;
        self.sum += other.sum;
    }

    /// Buckets in use (a measure of the sketch's size).
    pub fn bucket_count(&self) -> usize {
        self.negative.len() + self.positive.len()
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The exact minimum.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// The exact maximum.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    /// Every value as the sketch knows it, with counts, ascending: each bucket's
    /// representative, except that the smallest and the largest value are the exact
    /// minimum and maximum (as [`Self::quantile`] answers them).
    pub fn weighted_values(&self) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = Vec::new();
        out.extend(
            self.negative
                .iter()
                .rev()
                .map(|(b, n)| (-representative(*b), *n)),
        );
        if self.zero_count > 0 {
            out.push((0.0, self.zero_count));
        }
        out.extend(self.positive.iter().map(|(b, n)| (representative(*b), *n)));
        // (A well-formed sketch has `count` values in its buckets; a damaged one is read
        // without panicking.)
        if self.count >= 1 && !out.is_empty() {
            out[0].1 = out[0].1.saturating_sub(1);
            out.insert(0, (self.min, 1));
        }
        if self.count >= 2 && out.len() >= 2 {
            let last = out.len() - 1;
            out[last].1 = out[last].1.saturating_sub(1);
            out.push((self.max, 1));
        }
        out.retain(|(_, n)| *n > 0);
        out
    }

    /// The mean, exact up to floating-point rounding.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The value of the `rank`-th smallest item (0-based), to within the sketch's accuracy.
    fn value_at_rank(&self, rank: u64) -> f64 {
        // The extremes are known exactly.
        if rank == 0 {
            return self.min;
        }
        if rank + 1 >= self.count {
            return self.max;
        }
        let mut seen = 0;
        for (bucket, n) in self.negative.iter().rev() {
            seen += n;
            if rank < seen {
                return -representative(*bucket);
            }
        }
        seen += self.zero_count;
        if rank < seen {
            return 0.0;
        }
        for (bucket, n) in &self.positive {
            seen += n;
            if rank < seen {
                return representative(*bucket);
            }
        }
        self.max
    }

    /// The `q`-quantile (`q` in [0, 1]) with numpy's linear interpolation, or `None`
    /// when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let position = q.clamp(0.0, 1.0) * (self.count - 1) as f64;
        let lower = position.floor() as u64;
        let fraction = position - lower as f64;
        let low = self.value_at_rank(lower);
        let value = if fraction > 0.0 {
            let high = self.value_at_rank(lower + 1);
            low + fraction * (high - low)
        } else {
            low
        };
        Some(value.clamp(self.min, self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn check(mut values: Vec<f64>) {
        let mut sketch = QuantileSketch::default();
        for v in &values {
            sketch.insert(*v);
        }
        values.sort_by(f64::total_cmp);
        for q in [
            0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0,
        ] {
            let exact = exact_quantile(&values, q);
            let estimate = sketch.quantile(q).unwrap();
            assert!(
                (estimate - exact).abs() <= RELATIVE_ACCURACY * exact.abs() + 1e-12,
                "q={q}: {estimate} vs {exact}"
            );
        }
    }

    #[test]
    fn quantiles_within_half_a_percent() {
        // A deterministic long-tailed sample (a log-normal-like spread over 4 decades).
        check(
            (0..20_000)
                .map(|i| {
                    let u = ((i as f64 * 0.618_033_988_75) % 1.0).max(1e-6);
                    10.0 * (-2.0 * u.ln()).sqrt().exp()
                })
                .collect(),
        );
    }

    #[test]
    fn negative_values() {
        check(
            (0..5_000)
                .map(|i| -1000.0 + (i as f64).powf(1.3) * 0.11)
                .collect(),
        );
    }

    #[test]
    fn small_samples_and_zeros() {
        let mut sketch = QuantileSketch::default();
        assert_eq!(sketch.quantile(0.5), None);
        for v in [0.0, 0.0, 10.0, 20.0] {
            sketch.insert(v);
        }
        assert_eq!(sketch.quantile(0.0), Some(0.0));
        // numpy.percentile([0, 0, 10, 20], 50) == 5.0
        assert!((sketch.quantile(0.5).unwrap() - 5.0).abs() < 0.05);
        assert_eq!(sketch.quantile(1.0), Some(20.0));
        assert_eq!(sketch.mean(), Some(7.5));
    }

    #[test]
    fn merge_equals_batch() {
        let values: Vec<f64> = (1..1000)
            .map(|i| (i as f64).powf(1.7) / 13.0 - 300.0)
            .collect();
        let mut all = QuantileSketch::default();
        let mut left = QuantileSketch::default();
        let mut right = QuantileSketch::default();
        for (i, v) in values.iter().enumerate() {
            all.insert(*v);
            if i % 3 == 0 {
                left.insert(*v)
            } else {
                right.insert(*v)
            }
        }
        right.merge(&left);
        assert_eq!(right.positive, all.positive);
        assert_eq!(right.negative, all.negative);
        assert_eq!(right.quantile(0.99), all.quantile(0.99));
    }

    #[test]
    fn weighted_values_answer_as_the_sketch_does() {
        let mut sketch = QuantileSketch::default();
        for v in [-3.0, 0.0, 0.0, 1.0, 1.001, 7.5, 120.0] {
            sketch.insert(v);
        }
        let values = sketch.weighted_values();
        assert_eq!(values.iter().map(|(_, n)| n).sum::<u64>(), 7);
        assert_eq!(values.first(), Some(&(-3.0, 1)));
        assert_eq!(values.last(), Some(&(120.0, 1)));
        let expanded: Vec<f64> = values
            .iter()
            .flat_map(|(v, n)| std::iter::repeat_n(*v, *n as usize))
            .collect();
        // In the sketch's order (a bucket's representative may lie just past min or max).
        for q in [0.0, 0.2, 0.5, 0.8, 1.0] {
            assert_eq!(
                sketch.quantile(q),
                Some(exact_quantile(&expanded, q)),
                "q={q}"
            );
        }
    }
}
