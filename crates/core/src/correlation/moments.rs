//! Pairwise-complete co-moments of a set of numeric columns, mergeable.
//!
//! For every pair of columns `(i, j)` with `i ≤ j` (the diagonal holds each column
//! alone) the count, both means, both second moments and the co-moment over the rows
//! where both values are present. A row updates them with Welford's step; two sets
//! merge with Chan, Golub and LeVeque's pairwise formulas, so the merge is associative
//! and commutative up to rounding and stays accurate for data far from zero.

use serde::{Deserialize, Serialize};

/// The moments of one pair of columns over the rows where both are present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PairMoments {
    /// Rows with both values.
    pub n: u64,
    /// Mean of the first column over those rows.
    pub mean_a: f64,
    /// Mean of the second column over those rows.
    pub mean_b: f64,
    /// Σ (a − mean_a)².
    pub m2_a: f64,
    /// Σ (b − mean_b)².
    pub m2_b: f64,
    /// Σ (a − mean_a)(b − mean_b).
    pub co_moment: f64,
}

impl PairMoments {
    /// Adds one row (Welford's update).
    #[inline]
    pub fn add(&mut self, a: f64, b: f64) {
        self.n += 1;
        let inverse = 1.0 / self.n as f64;
        let delta_a = a - self.mean_a;
        let delta_b = b - self.mean_b;
        self.mean_a += delta_a * inverse;
        self.mean_b += delta_b * inverse;
        let after_b = b - self.mean_b;
        self.m2_a += delta_a * (a - self.mean_a);
        self.m2_b += delta_b * after_b;
        self.co_moment += delta_a * after_b;
    }

    /// Adds the rows of `other` (Chan et al.).
    pub fn merge(&mut self, other: &PairMoments) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let (left, right, total) = (self.n as f64, other.n as f64, n as f64);
        let delta_a = other.mean_a - self.mean_a;
        let delta_b = other.mean_b - self.mean_b;
        let weight = left * right / total;
        self.mean_a += delta_a * right / total;
        self.mean_b += delta_b * right / total;
        self.m2_a += other.m2_a + delta_a * delta_a * weight;
        self.m2_b += other.m2_b + delta_b * delta_b * weight;
        self.co_moment += other.co_moment + delta_a * delta_b * weight;
        self.n = n;
    }

    /// The same moments with the two columns swapped.
    pub fn swapped(&self) -> PairMoments {
        PairMoments {
            n: self.n,
            mean_a: self.mean_b,
            mean_b: self.mean_a,
            m2_a: self.m2_b,
            m2_b: self.m2_a,
            co_moment: self.co_moment,
        }
    }

    /// `numpy.cov` of the pair (ddof = 1): `None` below two rows or when not finite.
    pub fn covariance(&self) -> Option<f64> {
        (self.n >= 2)
            .then(|| self.co_moment / (self.n - 1) as f64)
            .filter(|v| v.is_finite())
    }

    /// `numpy.corrcoef` of the pair (clipped to [−1, 1] as numpy does): `None` below two
    /// rows, when a column is constant over the pair's rows, or when not finite.
    pub fn pearson(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let denominator = (self.m2_a * self.m2_b).sqrt();
        let r = self.co_moment / denominator;
        (denominator > 0.0 && r.is_finite()).then(|| r.clamp(-1.0, 1.0))
    }
}

/// Co-moments of named columns: the upper triangle of pairs, row by row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoMoments {
    /// Column names.
    pub columns: Vec<String>,
    /// Pair `(i, j)`, `i ≤ j`, at [`pair_index`]`(columns.len(), i, j)`.
    pub pairs: Vec<PairMoments>,
}

/// Where pair `(i, j)` (`i ≤ j`) of `k` columns sits in the upper triangle.
pub fn pair_index(k: usize, i: usize, j: usize) -> usize {
    debug_assert!(i <= j && j < k);
    i * k - i * i.saturating_sub(1) / 2 + (j - i)
}

impl CoMoments {
    /// Empty co-moments of `columns`.
    pub fn new(columns: Vec<String>) -> Self {
        let k = columns.len();
        Self {
            columns,
            pairs: vec![PairMoments::default(); k * (k + 1) / 2],
        }
    }

    /// Adds a row: one value per column, NaN where missing.
    pub fn observe(&mut self, values: &[f64]) {
        let k = self.columns.len();
        debug_assert_eq!(values.len(), k);
        let mut at = 0;
        for i in 0..k {
            let a = values[i];
            if a.is_nan() {
                at += k - i;
                continue;
            }
            for (pair, &b) in self.pairs[at..at + (k - i)].iter_mut().zip(&values[i..]) {
                if !b.is_nan() {
                    pair.add(a, b);
                }
            }
            at += k - i;
        }
    }

    /// Adds only the pairs of a row that involve `column` (a value that arrived after
    /// the row, such as a late label).
    pub fn observe_column(&mut self, column: usize, values: &[f64]) {
        let k = self.columns.len();
        let value = values[column];
        if value.is_nan() {
            return;
        }
        for (other, &b) in values.iter().enumerate() {
            if b.is_nan() {
                continue;
            }
            if other <= column {
                self.pairs[pair_index(k, other, column)].add(b, value);
            } else {
                self.pairs[pair_index(k, column, other)].add(value, b);
            }
        }
    }

    /// The moments of columns `i` and `j` (either order).
    pub fn pair(&self, i: usize, j: usize) -> PairMoments {
        let k = self.columns.len();
        if i <= j {
            self.pairs[pair_index(k, i, j)]
        } else {
            self.pairs[pair_index(k, j, i)].swapped()
        }
    }

    /// The same moments over `columns` (a superset or any order): pairs of columns not
    /// held here are empty.
    pub fn reshaped(&self, columns: &[String]) -> CoMoments {
        let positions: Vec<Option<usize>> = columns
            .iter()
            .map(|name| self.columns.iter().position(|c| c == name))
            .collect();
        let mut out = CoMoments::new(columns.to_vec());
        let k = columns.len();
        for i in 0..k {
            for j in i..k {
                if let (Some(a), Some(b)) = (positions[i], positions[j]) {
                    out.pairs[pair_index(k, i, j)] = self.pair(a, b);
                }
            }
        }
        out
    }

    /// Adds everything in `other`. Columns are matched by name; a column only `other`
    /// has is appended.
    pub fn merge(&mut self, other: &CoMoments) {
        if other.columns.is_empty() {
            return;
        }
        if self.columns.is_empty() {
            *self = other.clone();
            return;
        }
        if self.columns != other.columns {
            let mut columns = self.columns.clone();
            columns.extend(
                other
                    .columns
                    .iter()
                    .filter(|c| !self.columns.contains(c))
                    .cloned(),
            );
            if columns != self.columns {
                *self = self.reshaped(&columns);
            }
            let aligned = other.reshaped(&columns);
            self.merge_aligned(&aligned);
        } else {
            self.merge_aligned(other);
        }
    }

    fn merge_aligned(&mut self, other: &CoMoments) {
        for (ours, theirs) in self.pairs.iter_mut().zip(&other.pairs) {
            ours.merge(theirs);
        }
    }
}
