//! A histogram of binary classifier scores split by true class, from which ROC AUC
//! is computed.
//!
//! Scores in [0, 1] fall into [`BINS`] equal bins. AUC is the probability that a random
//! positive scores above a random negative (ties count one half), which the histogram
//! gives exactly except for positive–negative pairs that share a bin: those count as
//! ties. The error is therefore at most `½ · Σ_b pos_b·neg_b / (P·N)`, which
//! [`ScoreHistogram::roc_auc_error_bound`] reports; for scores spread over [0, 1] it is
//! of the order of 1e-4, and in practice far smaller because pairs inside a bin split
//! almost evenly.
//!
//! Storage is a sorted list of occupied bins (at most [`BINS`] entries), so a sparse
//! window stays small and two histograms merge in one linear pass.

use serde::{Deserialize, Serialize};

/// Number of equal-width score bins.
pub const BINS: u32 = 8192;

/// Counts of negatives and positives in the occupied bins, sorted by bin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreHistogram {
    bins: Vec<(u16, [u64; 2])>,
}

fn bin_of(score: f64) -> u16 {
    ((score.clamp(0.0, 1.0) * BINS as f64) as u32).min(BINS - 1) as u16
}

impl ScoreHistogram {
    /// Adds one scored outcome: `positive` is whether the true class is the positive one.
    pub fn insert(&mut self, score: f64, positive: bool) {
        let bin = bin_of(score);
        match self.bins.binary_search_by_key(&bin, |(b, _)| *b) {
            Ok(i) => self.bins[i].1[positive as usize] += 1,
            Err(i) => {
                let mut counts = [0, 0];
                counts[positive as usize] = 1;
                self.bins.insert(i, (bin, counts));
            }
        }
    }

    /// Occupied bins (a measure of the histogram's size).
    pub fn len(&self) -> usize {
        self.bins.len()
    }

    /// Whether no score was added.
    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// Adds every count of `other` (a linear merge of the two sorted lists).
    pub fn merge(&mut self, other: &ScoreHistogram) {
        super::merge_sorted(&mut self.bins, &other.bins, |x, y| {
            [x[0] + y[0], x[1] + y[1]]
        });
    }

    fn totals(&self) -> (u64, u64) {
        self.bins
            .iter()
            .fold((0, 0), |(n, p), (_, c)| (n + c[0], p + c[1]))
    }

    /// ROC AUC, or `None` when either class is absent (scikit-learn raises there).
    pub fn roc_auc(&self) -> Option<f64> {
        let (negatives, positives) = self.totals();
        if negatives == 0 || positives == 0 {
            return None;
        }
        let mut negatives_below = 0.0;
        let mut wins = 0.0;
        for (_, [neg, pos]) in &self.bins {
            let (neg, pos) = (*neg as f64, *pos as f64);
            wins += pos * (negatives_below + 0.5 * neg);
            negatives_below += neg;
        }
        Some(wins / (negatives as f64 * positives as f64))
    }

    /// The largest possible difference between [`Self::roc_auc`] and the exact AUC.
    pub fn roc_auc_error_bound(&self) -> Option<f64> {
        let (negatives, positives) = self.totals();
        if negatives == 0 || positives == 0 {
            return None;
        }
        let shared: f64 = self
            .bins
            .iter()
            .map(|(_, c)| c[0] as f64 * c[1] as f64)
            .sum();
        Some(0.5 * shared / (negatives as f64 * positives as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AUC by counting every pair, as the definition says.
    fn exact_auc(scored: &[(f64, bool)]) -> f64 {
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (sp, _) in scored.iter().filter(|s| s.1) {
            for (sn, _) in scored.iter().filter(|s| !s.1) {
                pairs += 1.0;
                wins += if sp > sn {
                    1.0
                } else if sp == sn {
                    0.5
                } else {
                    0.0
                };
            }
        }
        wins / pairs
    }

    #[test]
    fn matches_pairwise_auc_within_bound() {
        let scored: Vec<(f64, bool)> = (0..2000)
            .map(|i| {
                let u = (i as f64 * 0.754_877_666_2) % 1.0;
                let positive = (i * 7919) % 3 == 0;
                let score = if positive { u.powf(0.6) } else { u.powf(1.4) };
                (score, positive)
            })
            .collect();
        let mut histogram = ScoreHistogram::default();
        for (s, p) in &scored {
            histogram.insert(*s, *p);
        }
        let exact = exact_auc(&scored);
        let estimate = histogram.roc_auc().unwrap();
        let bound = histogram.roc_auc_error_bound().unwrap();
        assert!(
            (estimate - exact).abs() <= bound + 1e-12,
            "{estimate} vs {exact} (bound {bound})"
        );
        assert!(bound < 0.001, "bound {bound}");
    }

    #[test]
    fn merge_equals_inserting_everything() {
        let mut all = ScoreHistogram::default();
        let mut left = ScoreHistogram::default();
        let mut right = ScoreHistogram::default();
        for i in 0..500 {
            let score = ((i * 37) % 101) as f64 / 100.0;
            let positive = i % 3 == 0;
            all.insert(score, positive);
            if i % 2 == 0 {
                left.insert(score, positive)
            } else {
                right.insert(score, positive)
            }
        }
        left.merge(&right);
        assert_eq!(left, all);
    }

    #[test]
    fn hand_worked() {
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        let mut histogram = ScoreHistogram::default();
        for (s, p) in [(0.1, false), (0.4, false), (0.35, true), (0.8, true)] {
            histogram.insert(s, p);
        }
        assert_eq!(histogram.roc_auc(), Some(0.75));
        // Ties count one half: roc_auc_score([0, 1], [0.5, 0.5]) == 0.5
        let mut tied = ScoreHistogram::default();
        tied.insert(0.5, false);
        tied.insert(0.5, true);
        assert_eq!(tied.roc_auc(), Some(0.5));
        let mut one_class = ScoreHistogram::default();
        one_class.insert(0.5, true);
        assert_eq!(one_class.roc_auc(), None);
    }
}
