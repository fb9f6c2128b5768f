//! The drift statistics of API.md, computed from a reference profile and the merged
//! window profiles of the current range.
//!
//! Numeric features (see `reference` for the slots):
//! - **KS**: the largest gap between the two empirical CDFs, evaluated just before and
//!   at every fine edge. Inside an open slot the reference CDF rises by at most the
//!   slot's reference share (≈ 1/1000), which bounds the error.
//! - **Wasserstein-1** = ∫|F_c − F_r|. Per slot the signed integral is exact from the
//!   slot's counts and sums (∫ₐᵇ F = F(a)(b−a) + Σ_{v∈(a,b)} (b−v)/n); below the minimum
//!   and above the maximum the reference CDF is 0 or 1, so those parts are exact too.
//!   Only a slot in which the CDFs cross is approximated.
//! - **PSI** and **Jensen–Shannon** on the reference deciles; **KS p-value** from the
//!   limiting Kolmogorov distribution.
//!
//! Categorical features: chi-squared contingency test on the 2×K table (with Yates'
//! correction when dof = 1, as scipy), PSI and Jensen–Shannon on category shares.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::drift::features::{Binned, CategoricalProfile, NumericProfile};
use crate::drift::reference::{CategoricalReference, NumericReference};
use crate::drift::special::{chi2_sf, kolmogorov_sf};

/// Shares below this are floored in PSI (API.md).
pub const PSI_FLOOR: f64 = 1e-4;

/// Numeric two-sample statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericStats {
    /// Kolmogorov–Smirnov D.
    pub ks_statistic: f64,
    /// Asymptotic p-value of D.
    pub ks_p_value: f64,
    /// Wasserstein-1 distance.
    pub wasserstein: f64,
    /// Wasserstein-1 / reference population std (floored at 0.001).
    pub wasserstein_norm: f64,
    /// Population stability index on the reference deciles.
    pub psi: f64,
    /// Jensen–Shannon distance on the reference deciles.
    pub jensen_shannon: f64,
    /// Current values compared.
    pub current_count: u64,
}

/// Categorical two-sample statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalStats {
    /// Chi-squared statistic of the contingency table.
    pub chi2_statistic: f64,
    /// Its p-value.
    pub chi2_p_value: f64,
    /// Population stability index on category shares.
    pub psi: f64,
    /// Jensen–Shannon distance on category shares.
    pub jensen_shannon: f64,
    /// Categories in the current data that the reference lacks.
    pub new_categories: Vec<String>,
    /// Current values compared.
    pub current_count: u64,
}

/// PSI of two count vectors on the same bins.
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    let (r_total, c_total): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    reference
        .iter()
        .zip(current)
        .map(|(r, c)| {
            let r = (r / r_total).max(PSI_FLOOR);
            let c = (c / c_total).max(PSI_FLOOR);
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// Jensen–Shannon distance (natural log) of two count vectors, as scipy's
/// `jensenshannon`, which normalises both.
pub fn jensen_shannon(reference: &[f64], current: &[f64]) -> f64 {
    let (r_total, c_total): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    let mut divergence = 0.0;
    for (r, c) in reference.iter().zip(current) {
        let (p, q) = (r / r_total, c / c_total);
        let m = (p + q) / 2.0;
        if p > 0.0 {
            divergence += p * (p / m).ln();
        }
        if q > 0.0 {
            divergence += q * (q / m).ln();
        }
    }
    (divergence / 2.0).max(0.0).sqrt()
}

/// scipy's `chi2_contingency` on a 2×K table: `(statistic, p-value)`.
pub fn chi2_contingency(reference: &[f64], current: &[f64]) -> (f64, f64) {
    let columns: Vec<(f64, f64)> = reference
        .iter()
        .zip(current)
        .map(|(r, c)| (*r, *c))
        .filter(|(r, c)| r + c > 0.0)
        .collect();
    let (r_total, c_total): (f64, f64) = columns
        .iter()
        .fold((0.0, 0.0), |(a, b), (r, c)| (a + r, b + c));
    let total = r_total + c_total;
    let dof = columns.len() as f64 - 1.0;
    if dof < 1.0 || r_total == 0.0 || c_total == 0.0 {
        return (0.0, 1.0);
    }
    let mut statistic = 0.0;
    for (r, c) in &columns {
        let column = r + c;
        for (observed, row_total) in [(*r, r_total), (*c, c_total)] {
            let expected = row_total * column / total;
            let mut difference = observed - expected;
            if dof == 1.0 {
                // Yates' continuity correction, as scipy applies it.
                difference = difference.signum() * (difference.abs() - 0.5).max(0.0);
            }
            statistic += difference * difference / expected;
        }
    }
    (statistic, chi2_sf(statistic, dof))
}

/// Numeric statistics of `current` (binned against `reference`), or `None` when either
/// side has no values.
pub fn numeric_stats(reference: &NumericReference, current: &Binned) -> Option<NumericStats> {
    let n = reference.count as f64;
    let m: u64 = current.slots.iter().map(|(_, (c, _))| c).sum();
    if reference.count == 0 || m == 0 {
        return None;
    }
    let m_f = m as f64;
    let mut current_slots = vec![(0u64, 0.0f64); reference.slots.len()];
    for (slot, (count, sum)) in &current.slots {
        if let Some(entry) = current_slots.get_mut(*slot as usize) {
            *entry = (*count, *sum);
        }
    }
    let edges = &reference.edges;
    let last = reference.slots.len() - 1;
    // Walk the slots in order, tracking both CDFs.
    // CDFs from integer counts: equal samples give a KS of exactly 0.
    let (mut r_below, mut c_below) = (0u64, 0u64);
    let (mut f_r, mut f_c) = (0.0f64, 0.0f64);
    let mut ks = 0.0f64;
    let mut wasserstein = 0.0;
    for slot in 0..=last {
        let (r_count, r_sum) = reference.slots[slot];
        let (c_count, c_sum) = current_slots[slot];
        if slot == 0 {
            // Below the reference minimum: F_r = 0, ∫ F_c = Σ (min − v) / m.
            wasserstein += (c_count as f64 * edges[0] - c_sum) / m_f;
        } else if slot == last {
            // Above the maximum: F_r = 1, ∫ (1 − F_c) = Σ (v − max) / m.
            wasserstein += (c_sum - c_count as f64 * edges[edges.len() - 1]) / m_f;
        } else if slot % 2 == 0 {
            // The open interval (a, b) between two edges.
            let (a, b) = (edges[slot / 2 - 1], edges[slot / 2]);
            let integral_c = f_c * (b - a) + (c_count as f64 * b - c_sum) / m_f;
            let integral_r = f_r * (b - a) + (r_count as f64 * b - r_sum) / n;
            // Exact unless the CDFs cross inside the slot (then a lower bound); with
            // the reference's tail slots narrow, the measured error stays under 1%.
            wasserstein += (integral_c - integral_r).abs();
        }
        r_below += r_count;
        c_below += c_count;
        f_r = r_below as f64 / n;
        f_c = c_below as f64 / m_f;
        ks = ks.max((f_c - f_r).abs());
    }
    let lambda = (n * m_f / (n + m_f)).sqrt() * ks;
    let reference_deciles: Vec<f64> = reference.decile_counts.iter().map(|c| *c as f64).collect();
    let mut current_deciles: Vec<f64> = current.deciles.iter().map(|c| *c as f64).collect();
    current_deciles.resize(reference_deciles.len(), 0.0);
    Some(NumericStats {
        ks_statistic: ks,
        ks_p_value: kolmogorov_sf(lambda),
        wasserstein,
        wasserstein_norm: wasserstein / reference.std_population.max(0.001),
        psi: psi(&reference_deciles, &current_deciles),
        jensen_shannon: jensen_shannon(&reference_deciles, &current_deciles),
        current_count: m,
    })
}

/// ∫ |c − (y0 + (y1 − y0)·t)| dt over t ∈ [0, w]: the gap between a constant and a
/// line, which may cross.
fn abs_linear_integral(y0: f64, y1: f64, w: f64) -> f64 {
    if y0 * y1 >= 0.0 {
        w * (y0 + y1).abs() / 2.0
    } else {
        w * (y0 * y0 + y1 * y1) / (2.0 * (y0.abs() + y1.abs()))
    }
}

/// KS and Wasserstein of exact current values against the reference slots. Inside an
/// open slot the reference CDF is taken as linear (exact when the slot holds no
/// reference values, as with every reference of at most 1,000 distinct values).
fn exact_current_ks_wasserstein(reference: &NumericReference, values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let (n, m) = (reference.count as f64, values.len() as f64);
    let edges = &reference.edges;
    let mut next = 0; // index of the next current value to account for
    // The reference CDF from an integer count, so that equal samples give a KS of exactly 0
    // (a running sum of shares drifts by rounding).
    let mut below = 0u64;
    let (mut ks, mut wasserstein) = (0.0f64, 0.0);
    // Below the minimum: F_r = 0.
    while next < values.len() && values[next] < edges[0] {
        wasserstein += (edges[0] - values[next]) / m;
        next += 1;
    }
    ks = ks.max(next as f64 / m);
    for (i, edge) in edges.iter().enumerate() {
        // The point slot at the edge.
        below += reference.slots[2 * i + 1].0;
        let f_r = below as f64 / n;
        while next < values.len() && values[next] == *edge {
            next += 1;
        }
        ks = ks.max((next as f64 / m - f_r).abs());
        let Some(b) = edges.get(i + 1) else { break };
        // The open slot (edge, b), cut at each current value inside it.
        let (a, b) = (*edge, *b);
        let slope = reference.slots[2 * i + 2].0 as f64 / n / (b - a);
        let mut from = a;
        loop {
            let to = if next < values.len() && values[next] < b {
                values[next]
            } else {
                b
            };
            let c = next as f64 / m;
            let (r0, r1) = (f_r + slope * (from - a), f_r + slope * (to - a));
            wasserstein += abs_linear_integral(c - r0, c - r1, to - from);
            ks = ks.max((c - r0).abs()).max((c - r1).abs());
            if to == b {
                break;
            }
            while next < values.len() && values[next] == to {
                next += 1;
            }
            from = to;
            ks = ks.max((next as f64 / m - (f_r + slope * (to - a))).abs());
        }
        below += reference.slots[2 * i + 2].0;
    }
    // Above the maximum: F_r = 1.
    let max = edges[edges.len() - 1];
    for v in &values[next..] {
        wasserstein += (v - max) / m;
    }
    (ks, wasserstein)
}

/// Numeric statistics from exact current values (see [`numeric_stats`] for binned ones).
pub fn numeric_stats_exact(
    reference: &NumericReference,
    current: &[f64],
    deciles: &Binned,
) -> Option<NumericStats> {
    if reference.count == 0 || current.is_empty() {
        return None;
    }
    let mut values = current.to_vec();
    let (ks, wasserstein) = exact_current_ks_wasserstein(reference, &mut values);
    let mut stats = numeric_stats(reference, deciles)?;
    let (n, m) = (reference.count as f64, values.len() as f64);
    stats.ks_statistic = ks;
    stats.ks_p_value = kolmogorov_sf((n * m / (n + m)).sqrt() * ks);
    stats.wasserstein = wasserstein;
    stats.wasserstein_norm = wasserstein / reference.std_population.max(0.001);
    Some(stats)
}

/// Statistics of two category-count maps, or `None` when either side is empty.
pub fn categorical_stats(
    reference: &BTreeMap<String, u64>,
    current: &BTreeMap<String, u64>,
) -> Option<CategoricalStats> {
    let current_count: u64 = current.values().sum();
    if current_count == 0 || reference.values().sum::<u64>() == 0 {
        return None;
    }
    let categories: BTreeSet<&String> = reference.keys().chain(current.keys()).collect();
    let r: Vec<f64> = categories
        .iter()
        .map(|c| reference.get(*c).copied().unwrap_or(0) as f64)
        .collect();
    let c: Vec<f64> = categories
        .iter()
        .map(|k| current.get(*k).copied().unwrap_or(0) as f64)
        .collect();
    let (chi2_statistic, chi2_p_value) = chi2_contingency(&r, &c);
    Some(CategoricalStats {
        chi2_statistic,
        chi2_p_value,
        psi: psi(&r, &c),
        jensen_shannon: jensen_shannon(&r, &c),
        new_categories: current
            .keys()
            .filter(|k| !reference.contains_key(*k))
            .cloned()
            .collect(),
        current_count,
    })
}

/// A numeric value as category text (`1`, `2.5`), as classes are written.
pub fn number_as_category(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The categorical view of a low-cardinality numeric feature: exact value counts when
/// the window kept them, else reference values plus one bucket for everything else.
pub fn numeric_as_categories(
    reference: &NumericReference,
    current: &NumericProfile,
    generation: u64,
) -> Option<(BTreeMap<String, u64>, BTreeMap<String, u64>)> {
    let few = reference.few_values.as_ref()?;
    let reference_counts: BTreeMap<String, u64> = few
        .iter()
        .map(|(v, n)| (number_as_category(*v), *n))
        .collect();
    let current_counts: BTreeMap<String, u64> =
        match (&current.small_values, current.bins_for(generation)) {
            (Some(values), _) => values
                .iter()
                .map(|(v, n)| (number_as_category(*v), *n))
                .collect(),
            (None, Some(bins)) => {
                let mut counts = BTreeMap::new();
                for (slot, (n, _)) in &bins.slots {
                    let key = if slot % 2 == 1 {
                        number_as_category(reference.edges[*slot as usize / 2])
                    } else {
                        "(other values)".to_string()
                    };
                    *counts.entry(key).or_insert(0) += n;
                }
                counts
            }
            (None, None) => return None,
        };
    Some((reference_counts, current_counts))
}

/// Categorical statistics of a categorical feature's window profile.
pub fn categorical_feature_stats(
    reference: &CategoricalReference,
    current: &CategoricalProfile,
) -> Option<CategoricalStats> {
    let mut counts = current.counts.clone();
    if current.other > 0 {
        counts.insert("(other values)".to_string(), current.other);
    }
    categorical_stats(&reference.counts, &counts)
}

/// `null` for a non-finite number.
pub fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_hand_worked() {
        // scipy.stats.chi2_contingency([[10, 20, 30], [20, 20, 10]])
        let (statistic, p) = chi2_contingency(&[10.0, 20.0, 30.0], &[20.0, 20.0, 10.0]);
        assert!(
            (statistic - 12.527_777_777_777_78).abs() < 1e-9,
            "{statistic}"
        );
        assert!((p - 0.001_903_827_607_695_494_3).abs() < 1e-12, "{p}");
    }

    #[test]
    fn chi2_two_by_two_uses_yates() {
        // scipy.stats.chi2_contingency([[10, 20], [25, 12]])
        let (statistic, p) = chi2_contingency(&[10.0, 20.0], &[25.0, 12.0]);
        assert!(
            (statistic - 6.470_536_317_567_568).abs() < 1e-9,
            "{statistic}"
        );
        assert!((p - 0.010_967_742_913_603_307).abs() < 1e-12, "{p}");
    }

    #[test]
    fn psi_and_js_hand_worked() {
        // scipy.spatial.distance.jensenshannon([1, 1], [1, 3]) == 0.18...;
        let js = jensen_shannon(&[1.0, 1.0], &[1.0, 3.0]);
        let p = [0.5, 0.5];
        let q = [0.25, 0.75];
        let m = [0.375, 0.625];
        let kl = |a: &[f64; 2]| a[0] * (a[0] / m[0]).ln() + a[1] * (a[1] / m[1]).ln();
        assert!((js - ((kl(&p) + kl(&q)) / 2.0).sqrt()).abs() < 1e-15);
        // PSI of identical shares is 0; of [0.5,0.5] vs [0.25,0.75] by hand:
        assert_eq!(psi(&[5.0, 5.0], &[1.0, 1.0]), 0.0);
        let by_hand = (0.25 - 0.5) * (0.25f64 / 0.5).ln() + (0.75 - 0.5) * (0.75f64 / 0.5).ln();
        assert!((psi(&[1.0, 1.0], &[1.0, 3.0]) - by_hand).abs() < 1e-15);
    }
}
