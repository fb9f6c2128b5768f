//! The histogram of a tensor's finite values: `numpy.histogram(values, bins=64)`, the
//! same edges (`numpy.linspace(min, max, 65)`, or `min ± 0.5` when every value is the
//! same) and the same counts (each bin half-open but the last, which holds its right
//! edge).

use serde::{Deserialize, Serialize};

/// Bins of a histogram computed from raw values.
pub const HISTOGRAM_BINS: usize = 64;

/// Bin edges (one more than the counts, increasing) and the count in each bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Histogram {
    /// The edges, increasing.
    pub edges: Vec<f64>,
    /// Values per bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Values counted in the bins.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `numpy.histogram(finite, bins)`: `finite` must hold finite values only; an
    /// empty slice gives no bins.
    pub fn of_finite(finite: &[f64], bins: usize) -> Histogram {
        let Some((min, max)) = min_max(finite) else {
            return Histogram {
                edges: Vec::new(),
                counts: Vec::new(),
            };
        };
        let (first, last) = if min == max {
            (min - 0.5, max + 0.5)
        } else {
            (min, max)
        };
        let edges = linspace(first, last, bins + 1);
        let mut counts = vec![0u64; bins];
        for &x in finite {
            counts[bin_of(&edges, x)] += 1;
        }
        Histogram { edges, counts }
    }
}

/// The smallest and largest of `values`, if any.
pub(crate) fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    let first = *values.first()?;
    Some(
        values
            .iter()
            .fold((first, first), |(lo, hi), &x| (lo.min(x), hi.max(x))),
    )
}

/// `numpy.linspace(start, stop, num)`: `start + i · step` with the last set to `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = (num - 1) as f64;
    let delta = stop - start;
    // Past f64's range (numpy's edges would be NaN), step in halves that do not overflow.
    let step = if delta.is_finite() {
        delta / div
    } else {
        stop / div - start / div
    };
    let mut edges: Vec<f64> = (0..num)
        .map(|i| {
            if step == 0.0 {
                i as f64 / div * delta + start
            } else {
                i as f64 * step + start
            }
        })
        .collect();
    edges[num - 1] = stop;
    edges
}

/// The bin of `x` (within the edges): the last edge at or below it, the last bin
/// holding its right edge. The same bin numpy's corrected index gives.
fn bin_of(edges: &[f64], x: f64) -> usize {
    let bins = edges.len() - 1;
    let above = edges[1..].partition_point(|&edge| edge <= x);
    above.min(bins - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_get_a_unit_range_around_them() {
        let h = Histogram::of_finite(&[2.0, 2.0], 4);
        assert_eq!(h.edges, vec![1.5, 1.75, 2.0, 2.25, 2.5]);
        assert_eq!(h.counts, vec![0, 0, 2, 0]);
    }

    #[test]
    fn the_maximum_falls_into_the_last_bin() {
        let h = Histogram::of_finite(&[0.0, 1.0, 2.0, 4.0], 4);
        assert_eq!(h.edges, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(h.counts, vec![1, 1, 1, 1]);
    }
}
