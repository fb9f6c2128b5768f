//! Reference and current distributions of one feature on shared bins, for plots: the
//! dashboard's overlays, the HTML report and the TensorBoard histograms.
//!
//! - A many-valued numeric feature gets [`HISTOGRAM_BINS`] equal-width bins over the
//!   range of both sides (numpy's `histogram` edges: `linspace(lo, hi, bins + 1)`,
//!   each bin `[a, b)` but the last `[a, b]`). Values come from the profiles: exact
//!   current values when a window kept them, otherwise the reference slots, each counted
//!   at its value (a slot on a reference value) or at the mean of its values (a slot
//!   between two). So the counts are exact while the reference has at most
//!   `FINE_STEPS + 1` distinct values and the current side kept its values, and
//!   approximate by at most one fine slot otherwise.
//! - A categorical feature, or a numeric one with few distinct reference values, gets
//!   bars: the [`MAX_CATEGORIES`] most frequent categories (reference first, then
//!   current) and one `(other values)` bar for the rest.

use std::collections::BTreeMap;

use crate::answer::drift::{Bars, Distribution, Histogram};
use crate::drift::features::{FeatureProfile, NumericProfile};
use crate::drift::reference::{NumericReference, ReferenceFeature};
use crate::drift::stats::numeric_as_categories;

/// Bins of a numeric histogram.
pub const HISTOGRAM_BINS: usize = 20;
/// Bars of a categorical distribution, besides `(other values)`.
pub const MAX_CATEGORIES: usize = 20;
/// The bar that collects every category past [`MAX_CATEGORIES`].
pub const OTHER: &str = "(other values)";

/// The distribution entry of a drift answer's feature; `None` without a reference.
pub fn distribution(
    reference: Option<&ReferenceFeature>,
    current: Option<&FeatureProfile>,
    generation: u64,
) -> Option<Distribution> {
    match (reference, current) {
        (Some(ReferenceFeature::Numeric(r)), current) => {
            let current = match current {
                Some(FeatureProfile::Numeric(c)) => Some(c),
                _ => None,
            };
            if r.few_values.is_some() {
                let (reference_counts, current_counts) = current
                    .and_then(|c| numeric_as_categories(r, c, generation))
                    .unwrap_or_else(|| {
                        let reference_counts = r
                            .few_values
                            .iter()
                            .flatten()
                            .map(|(v, n)| (crate::drift::stats::number_as_category(*v), *n))
                            .collect();
                        (reference_counts, BTreeMap::new())
                    });
                Some(Distribution::Bars(bars(&reference_counts, &current_counts)))
            } else {
                Some(Distribution::Histogram(histogram(r, current, generation)))
            }
        }
        (Some(ReferenceFeature::Categorical(r)), current) => {
            let mut current_counts = BTreeMap::new();
            if let Some(FeatureProfile::Categorical(c)) = current {
                current_counts = c.counts.clone();
                if c.other > 0 {
                    *current_counts.entry(OTHER.to_string()).or_insert(0) += c.other;
                }
            }
            Some(Distribution::Bars(bars(&r.counts, &current_counts)))
        }
        (None, _) => None,
    }
}

/// Values with multiplicities: a reference slot is counted at its value or mean.
fn slot_points<'a>(
    edges: &'a [f64],
    slots: impl Iterator<Item = (usize, u64, f64)> + 'a,
) -> impl Iterator<Item = (f64, u64)> + 'a {
    slots.filter(|(_, n, _)| *n > 0).map(move |(slot, n, sum)| {
        let at = if slot % 2 == 1 {
            edges[slot / 2]
        } else {
            sum / n as f64
        };
        (at, n)
    })
}

fn current_points(
    current: &NumericProfile,
    reference: &NumericReference,
    generation: u64,
) -> Vec<(f64, u64)> {
    if let Some(values) = &current.exact {
        return values.iter().map(|v| (*v, 1)).collect();
    }
    match current.bins_for(generation) {
        Some(bins) => slot_points(
            &reference.edges,
            bins.slots
                .iter()
                .map(|(slot, (n, sum))| (*slot as usize, *n, *sum)),
        )
        .collect(),
        None => Vec::new(),
    }
}

/// numpy's `linspace(lo, hi, bins + 1)`.
fn linspace(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let step = (hi - lo) / bins as f64;
    let mut edges: Vec<f64> = (0..bins).map(|i| lo + i as f64 * step).collect();
    edges.push(hi);
    edges
}

/// The bin of `x` among `edges` (`[a, b)`, the last bin closed).
fn bin_of(edges: &[f64], x: f64) -> usize {
    let bins = edges.len() - 1;
    edges
        .partition_point(|e| *e <= x)
        .saturating_sub(1)
        .min(bins - 1)
}

fn histogram(
    reference: &NumericReference,
    current: Option<&NumericProfile>,
    generation: u64,
) -> Histogram {
    let reference_points: Vec<(f64, u64)> = slot_points(
        &reference.edges,
        reference
            .slots
            .iter()
            .enumerate()
            .map(|(slot, (n, sum))| (slot, *n, *sum)),
    )
    .collect();
    let current_points =
        current.map_or_else(Vec::new, |c| current_points(c, reference, generation));
    let (lo, hi) = reference_points
        .iter()
        .chain(&current_points)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (x, _)| {
            (lo.min(*x), hi.max(*x))
        });
    if !lo.is_finite() {
        return Histogram::default();
    }
    // numpy widens an empty range by 0.5 on each side.
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let edges = linspace(lo, hi, HISTOGRAM_BINS);
    let count = |points: &[(f64, u64)]| {
        let mut counts = vec![0u64; HISTOGRAM_BINS];
        for (x, n) in points {
            counts[bin_of(&edges, *x)] += n;
        }
        counts
    };
    Histogram {
        current: count(&current_points),
        reference: count(&reference_points),
        edges,
        ..Histogram::default()
    }
}

fn bars(reference: &BTreeMap<String, u64>, current: &BTreeMap<String, u64>) -> Bars {
    let mut categories: Vec<(&String, u64, u64)> = reference
        .keys()
        .chain(current.keys())
        .filter(|k| k.as_str() != OTHER)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|k| {
            (
                k,
                reference.get(k).copied().unwrap_or(0),
                current.get(k).copied().unwrap_or(0),
            )
        })
        .collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(b.0)));
    let mut other = (
        reference.get(OTHER).copied().unwrap_or(0),
        current.get(OTHER).copied().unwrap_or(0),
    );
    for (_, r, c) in categories.iter().skip(MAX_CATEGORIES) {
        other.0 += r;
        other.1 += c;
    }
    categories.truncate(MAX_CATEGORIES);
    let mut names: Vec<String> = categories.iter().map(|(k, _, _)| k.to_string()).collect();
    let mut reference_counts: Vec<u64> = categories.iter().map(|(_, r, _)| *r).collect();
    let mut current_counts: Vec<u64> = categories.iter().map(|(_, _, c)| *c).collect();
    if other != (0, 0) {
        names.push(OTHER.to_string());
        reference_counts.push(other.0);
        current_counts.push(other.1);
    }
    Bars {
        categories: names,
        current: current_counts,
        reference: reference_counts,
        ..Bars::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_follow_numpy_edges() {
        // numpy.histogram([0, 1, 2, 3, 4, 5, 9.5, 10], bins=4, range=(0, 10)):
        // edges [0, 2.5, 5, 7.5, 10], counts [3, 2, 1, 2]; 10 falls in the closed last bin.
        let edges = linspace(0.0, 10.0, 4);
        assert_eq!(edges, vec![0.0, 2.5, 5.0, 7.5, 10.0]);
        let mut counts = [0; 4];
        for x in [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 9.5, 10.0] {
            counts[bin_of(&edges, x)] += 1;
        }
        assert_eq!(counts, [3, 2, 1, 2]);
    }

    #[test]
    fn bars_keep_the_most_frequent_and_sum_the_rest() {
        let reference: BTreeMap<String, u64> = (0..25)
            .map(|i| (format!("c{i:02}"), 100 - i as u64))
            .collect();
        let current: BTreeMap<String, u64> =
            [("new".to_string(), 7), ("c00".to_string(), 3)].into();
        let answer = bars(&reference, &current);
        let names = &answer.categories;
        assert_eq!(names.len(), MAX_CATEGORIES + 1);
        assert_eq!(names[0], "c00");
        assert_eq!(names[MAX_CATEGORIES], OTHER);
        // c20..c24 (80+79+78+77+76) and the new category go to the other bar.
        assert_eq!(answer.reference[MAX_CATEGORIES], 390);
        assert_eq!(answer.current[MAX_CATEGORIES], 7);
        assert_eq!(answer.current[0], 3);
    }
}
