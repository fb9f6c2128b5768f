//! The calibration map of CBPE: scikit-learn's isotonic regression
//! (`IsotonicRegression(out_of_bounds="clip")`, the calibrator of NannyML 0.13) fitted on
//! the reference's scores and labels, and NannyML's test of whether it is needed.
//!
//! NannyML keeps the scores as they are when the reference is already calibrated: it
//! compares the expected calibration error (ECE, ten equal-count bins) of the scores
//! with that of isotonically calibrated scores on held-out parts of the reference, and
//! calibrates only when calibration lowers it. NannyML draws its ten held-out parts
//! with `StratifiedShuffleSplit(random_state=42)`; here they are ten stratified folds
//! taken in row order (row `i` of a class goes to fold `i mod 10`), so the verdict is a
//! pure function of the reference, computed with the same criterion.

use serde::{Deserialize, Serialize};

/// Held-out parts in the calibration test (NannyML's `split_count`).
const SPLITS: usize = 10;
/// Equal-count bins of the expected calibration error (NannyML's `bin_count`).
const ECE_BINS: usize = 10;

/// A monotone map from raw score to calibrated probability: linear interpolation
/// between `points` (sorted by score), clipped at both ends (scikit-learn's `predict`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsotonicMap {
    /// `(score, probability)`: the first and last point of every constant run.
    pub points: Vec<(f64, f64)>,
}

impl IsotonicMap {
    /// Fits scikit-learn's isotonic regression of `outcomes` (0 or 1) on `scores`.
    /// `None` without data.
    pub fn fit(pairs: &[(f64, bool)]) -> Option<IsotonicMap> {
        if pairs.is_empty() {
            return None;
        }
        let mut sorted: Vec<(f64, f64)> =
            pairs.iter().map(|(s, y)| (*s, *y as u8 as f64)).collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Equal scores become one point of their mean outcome, weighted by their count
        // (scikit-learn's `_make_unique`).
        let mut unique: Vec<(f64, f64, f64)> = Vec::new(); // (score, Σ y, weight)
        for (s, y) in sorted {
            match unique.last_mut() {
                Some(last) if last.0 == s => {
                    last.1 += y;
                    last.2 += 1.0;
                }
                _ => unique.push((s, y, 1.0)),
            }
        }
        // Pool adjacent violators: blocks of (Σ y, weight, number of unique points).
        let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(unique.len());
        for (_, sum, weight) in &unique {
            blocks.push((*sum, *weight, 1));
            while blocks.len() >= 2 {
                let (s2, w2, n2) = blocks[blocks.len() - 1];
                let (s1, w1, n1) = blocks[blocks.len() - 2];
                if s1 / w1 < s2 / w2 {
                    break;
                }
                blocks.pop();
                *blocks.last_mut().expect("two blocks") = (s1 + s2, w1 + w2, n1 + n2);
            }
        }
        let mut points = Vec::new();
        let mut index = 0;
        for (sum, weight, n) in blocks {
            let value = sum / weight;
            points.push((unique[index].0, value));
            if n > 1 {
                points.push((unique[index + n - 1].0, value));
            }
            index += n;
        }
        Some(IsotonicMap { points })
    }

    /// The calibrated probability of `score`.
    pub fn apply(&self, score: f64) -> f64 {
        let points = &self.points;
        let (first, last) = (points[0], points[points.len() - 1]);
        if score <= first.0 {
            return first.1;
        }
        if score >= last.0 {
            return last.1;
        }
        let upper = points.partition_point(|(x, _)| *x <= score);
        let (x0, y0) = points[upper - 1];
        let (x1, y1) = points[upper];
        if x1 == x0 {
            return y1;
        }
        y0 + (y1 - y0) * (score - x0) / (x1 - x0)
    }
}

/// The calibration of one class's scores: a map, or `None` when the reference's
/// scores are calibrated already (they are used as they are).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassCalibration {
    /// The class (binary: the positive class).
    pub class: String,
    /// The map; `None` = identity.
    pub map: Option<IsotonicMap>,
    /// Reference rows it was decided on.
    pub rows: u64,
}

impl ClassCalibration {
    /// The calibrated probability of a raw score of this class.
    pub fn apply(&self, score: f64) -> f64 {
        match &self.map {
            Some(map) => map.apply(score),
            None => score,
        }
    }

    /// Decides and fits the calibration of `class` from the reference's
    /// `(score, is this class)` pairs, as NannyML does.
    pub fn decide(class: &str, pairs: &[(f64, bool)]) -> ClassCalibration {
        let map = if needs_calibration(pairs) {
            IsotonicMap::fit(pairs)
        } else {
            None
        };
        ClassCalibration {
            class: class.to_string(),
            map,
            rows: pairs.len() as u64,
        }
    }
}

/// NannyML's ECE: bins of equal width in rank over the scores in ascending order
/// (`_get_bin_index_edges`: width `n / 10` rounded down, the last bin taking the rest;
/// `n / 2` bins when there are at most twenty scores), Σ over bins of
/// share × |mean score − mean outcome|.
pub fn expected_calibration_error(pairs: &[(f64, bool)]) -> Option<f64> {
    let n = pairs.len();
    let mut bins = ECE_BINS;
    if n <= 2 * bins {
        bins = n / 2;
        if bins < 2 {
            return None;
        }
    }
    let width = n / bins;
    let mut edges: Vec<usize> = (0..=n).step_by(width).collect();
    *edges.last_mut().expect("n > 0") = n;
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut ece = 0.0;
    for edge in edges.windows(2) {
        let part = &sorted[edge[0]..edge[1]];
        if part.is_empty() {
            continue;
        }
        let len = part.len() as f64;
        let mean_score = part.iter().map(|p| p.0).sum::<f64>() / len;
        let mean_outcome = part.iter().filter(|p| p.1).count() as f64 / len;
        ece += len / n as f64 * (mean_score - mean_outcome).abs();
    }
    Some(ece)
}

/// ROC AUC of the pairs (ties count one half).
fn roc_auc(pairs: &[(f64, bool)]) -> f64 {
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut negatives_below, mut wins, mut i) = (0.0, 0.0, 0);
    while i < sorted.len() {
        let mut j = i;
        let (mut negatives, mut positives) = (0.0, 0.0);
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            if sorted[j].1 {
                positives += 1.0;
            } else {
                negatives += 1.0;
            }
            j += 1;
        }
        wins += positives * (negatives_below + 0.5 * negatives);
        negatives_below += negatives;
        i = j;
    }
    let positives = sorted.iter().filter(|p| p.1).count() as f64;
    wins / (positives * negatives_below)
}

/// Whether isotonic calibration lowers the expected calibration error on held-out
/// parts of the reference (NannyML's `needs_calibration`): `false`, as there, when every
/// outcome is the same or the scores rank the outcomes almost perfectly (ROC AUC above
/// 0.999).
pub fn needs_calibration(pairs: &[(f64, bool)]) -> bool {
    let positives = pairs.iter().filter(|p| p.1).count();
    if positives == 0 || positives == pairs.len() {
        return false;
    }
    if roc_auc(pairs) > 0.999 {
        return false;
    }
    // Stratified folds in row order.
    let mut seen = [0usize; 2];
    let fold_of: Vec<usize> = pairs
        .iter()
        .map(|(_, y)| {
            let i = seen[*y as usize];
            seen[*y as usize] += 1;
            i % SPLITS
        })
        .collect();
    let mut raw = Vec::with_capacity(pairs.len());
    let mut calibrated = Vec::with_capacity(pairs.len());
    for fold in 0..SPLITS {
        let train: Vec<(f64, bool)> = pairs
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f != fold)
            .map(|(p, _)| *p)
            .collect();
        let Some(map) = IsotonicMap::fit(&train) else {
            continue;
        };
        for (pair, _) in pairs.iter().zip(&fold_of).filter(|(_, f)| **f == fold) {
            raw.push(*pair);
            calibrated.push((map.apply(pair.0), pair.1));
        }
    }
    match (
        expected_calibration_error(&raw),
        expected_calibration_error(&calibrated),
    ) {
        (Some(before), Some(after)) => before > after,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_hand_worked() {
        // sklearn IsotonicRegression().fit([1, 2, 3, 4], [1, 0, 1, 1]):
        // predictions [0.5, 0.5, 1, 1]; predict(2.5) = 0.75, predict(0) = 0.5.
        let map = IsotonicMap::fit(&[(1.0, true), (2.0, false), (3.0, true), (4.0, true)]).unwrap();
        assert_eq!(map.apply(1.0), 0.5);
        assert_eq!(map.apply(2.0), 0.5);
        assert_eq!(map.apply(2.5), 0.75);
        assert_eq!(map.apply(4.0), 1.0);
        assert_eq!(map.apply(0.0), 0.5);
        assert_eq!(map.apply(9.0), 1.0);
    }

    #[test]
    fn skewed_scores_need_calibration_and_perfect_or_one_class_ones_do_not() {
        // Outcomes drawn (deterministically) at exactly the score's rate, then the
        // scores squared: calibration must lower the ECE.
        let calibrated: Vec<(f64, bool)> = (0..4000)
            .map(|i| {
                let score = (i % 100) as f64 / 100.0 + 0.005;
                let u = ((i / 100) as f64 * 0.618_033_988_75) % 1.0;
                (score, u < score)
            })
            .collect();
        let skewed: Vec<(f64, bool)> = calibrated.iter().map(|(s, y)| (s * s, *y)).collect();
        assert!(needs_calibration(&skewed));
        let perfect: Vec<(f64, bool)> = (0..100).map(|i| (i as f64 / 100.0, i >= 50)).collect();
        assert!(!needs_calibration(&perfect));
        let one_class: Vec<(f64, bool)> = (0..100).map(|i| (i as f64 / 100.0, true)).collect();
        assert!(!needs_calibration(&one_class));
    }

    #[test]
    fn ece_bins_as_nannyml() {
        // _get_bin_index_edges(25, 10): width 2, edges 0, 2, …, 22, 25 (12 bins).
        let pairs: Vec<(f64, bool)> = (0..25).map(|i| (i as f64 / 25.0, i % 2 == 0)).collect();
        let mut expected = 0.0;
        let edges = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 25];
        for w in edges.windows(2) {
            let part = &pairs[w[0]..w[1]];
            let len = part.len() as f64;
            let score = part.iter().map(|p| p.0).sum::<f64>() / len;
            let outcome = part.iter().filter(|p| p.1).count() as f64 / len;
            expected += len / 25.0 * (score - outcome).abs();
        }
        assert!((expected_calibration_error(&pairs).unwrap() - expected).abs() < 1e-15);
    }
}
