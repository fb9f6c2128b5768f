//! The change of one tensor between two summaries (two versions, or two steps):
//! `mean_change` and `std_change` (to − from), `l2_norm_change` relative to the
//! earlier norm, and the Wasserstein-1 distance between the two histograms, each read
//! as a density uniform within its bins (the area between the two piecewise-linear
//! CDFs).

use serde::{Deserialize, Serialize};

use super::histogram::Histogram;
use super::summary::TensorSummary;

/// The change of one tensor; field order is the wire order (alphabetical).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorDiff {
    /// `(to.l2_norm − from.l2_norm) / from.l2_norm`; `0` when both are 0, `null`
    /// when only the earlier is 0 or either is undefined.
    pub l2_norm_change: Option<f64>,
    /// `to.mean − from.mean`.
    pub mean_change: Option<f64>,
    /// `to.std − from.std`.
    pub std_change: Option<f64>,
    /// The tensor's name.
    pub tensor: String,
    /// Wasserstein-1 distance between the histograms.
    pub wasserstein: Option<f64>,
}

/// The change of tensor `name` from `from` to `to`.
pub fn diff(name: &str, from: &TensorSummary, to: &TensorSummary) -> TensorDiff {
    let change = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    TensorDiff {
        l2_norm_change: relative_change(from.l2_norm, to.l2_norm),
        mean_change: change(from.mean, to.mean),
        std_change: change(from.std, to.std),
        tensor: name.to_string(),
        wasserstein: wasserstein(&from.histogram, &to.histogram),
    }
}

/// `(to − from) / from`: `0` for two zeros, undefined from zero to non-zero.
pub fn relative_change(from: Option<f64>, to: Option<f64>) -> Option<f64> {
    let (from, to) = (from?, to?);
    if from == 0.0 {
        return (to == 0.0).then_some(0.0);
    }
    Some((to - from) / from)
}

/// The CDF of a histogram at `x`, its mass spread evenly within each bin.
fn cdf(histogram: &Histogram, total: f64, x: f64) -> f64 {
    let edges = &histogram.edges;
    let mut below = 0.0;
    for (i, &count) in histogram.counts.iter().enumerate() {
        let (lo, hi) = (edges[i], edges[i + 1]);
        if x >= hi {
            below += count as f64;
        } else {
            if x > lo {
                below += count as f64 * (x - lo) / (hi - lo);
            }
            break;
        }
    }
    below / total
}

/// ∫ |F_a − F_b| dx over the union of the edges; `None` when either is empty.
pub fn wasserstein(a: &Histogram, b: &Histogram) -> Option<f64> {
    let (total_a, total_b) = (a.total() as f64, b.total() as f64);
    if total_a == 0.0 || total_b == 0.0 {
        return None;
    }
    let mut points: Vec<f64> = a.edges.iter().chain(&b.edges).copied().collect();
    points.sort_by(f64::total_cmp);
    points.dedup();
    let mut area = 0.0;
    for pair in points.windows(2) {
        let (x0, x1) = (pair[0], pair[1]);
        // Both CDFs are linear between consecutive points, so is their difference.
        let d0 = cdf(a, total_a, x0) - cdf(b, total_b, x0);
        let d1 = cdf(a, total_a, x1) - cdf(b, total_b, x1);
        let width = x1 - x0;
        area += if d0 * d1 >= 0.0 {
            (d0.abs() + d1.abs()) / 2.0 * width
        } else {
            // The difference crosses zero: two triangles.
            (d0 * d0 + d1 * d1) / (2.0 * (d0.abs() + d1.abs())) * width
        };
    }
    Some(area)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(edges: &[f64], counts: &[u64]) -> Histogram {
        Histogram {
            edges: edges.to_vec(),
            counts: counts.to_vec(),
        }
    }

    #[test]
    fn a_histogram_shifted_by_one_is_one_away() {
        // Uniform on [0, 2) against uniform on [1, 3): the CDFs differ by x/2 on
        // [0, 1], by 1/2 on [1, 2], by (3 − x)/2 on [2, 3]: 1/4 + 1/2 + 1/4 = 1.
        let a = histogram(&[0.0, 1.0, 2.0], &[5, 5]);
        let b = histogram(&[1.0, 2.0, 3.0], &[3, 3]);
        assert!((wasserstein(&a, &b).unwrap() - 1.0).abs() < 1e-12);
        assert!((wasserstein(&b, &a).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn crossing_cdfs_count_both_triangles() {
        // a uniform on [0, 1], b uniform on [0, 2]. By hand: on [0, 1] F_a − F_b = x − x/2 = x/2 (area 1/4); on [1, 2] it is
        // 1 − (1/2 + (x − 1)/2) = (2 − x)/2 (area 1/4). W = 1/2, the mean shift.
        let a = histogram(&[0.0, 1.0], &[4]);
        let b = histogram(&[0.0, 1.0, 2.0], &[2, 2]);
        assert!((wasserstein(&a, &b).unwrap() - 0.5).abs() < 1e-12);
        // Same mean, different spread: U[0,1] against half on [−1, 0], half on [1, 2]:
        // F_a − F_c is −(x + 1)/2 on [−1, 0], x − 1/2 on [0, 1] (crossing at 1/2) and
        // (2 − x)/2 on [1, 2]: areas 1/4 + 1/4 + 1/4 = 3/4.
        let c = histogram(&[-1.0, 0.0, 1.0, 2.0], &[1, 0, 1]);
        assert!((wasserstein(&a, &c).unwrap() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn changes_are_to_minus_from_and_relative_for_the_norm() {
        let mut from = super::super::summary::summarise(&[1.0, 3.0]);
        let to = super::super::summary::summarise(&[2.0, 6.0]);
        let d = diff("w", &from, &to);
        // mean 2 → 4, std 1 → 2, norm √10 → √40 = 2√10: change 1.
        assert_eq!(d.mean_change, Some(2.0));
        assert_eq!(d.std_change, Some(1.0));
        assert!((d.l2_norm_change.unwrap() - 1.0).abs() < 1e-12);
        from.l2_norm = Some(0.0);
        assert_eq!(diff("w", &from, &to).l2_norm_change, None);
        assert_eq!(relative_change(Some(0.0), Some(0.0)), Some(0.0));
    }
}
