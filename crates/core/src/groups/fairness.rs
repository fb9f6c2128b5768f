//! Fairness of a binary classifier across the groups of a sensitive feature, as
//! fairlearn 0.15 defines it.
//!
//! Per group: `selection_rate` is the share of predictions of the positive class (over
//! every prediction of the group, labelled or not: it needs no label);
//! `true_positive_rate` and `false_positive_rate` come from the labelled predictions,
//! 0 where the group has no positive (negative) label, as scikit-learn's
//! `confusion_matrix(normalize="true")` that fairlearn uses gives. Overall, over the
//! groups (fairlearn's `method="between_groups"`):
//!
//! - `demographic_parity_difference`: max − min of the selection rates;
//! - `demographic_parity_ratio`: min / max of the selection rates (`null` when every
//!   rate is 0, where fairlearn divides 0 by 0);
//! - `equal_opportunity_difference`: max − min of the true positive rates;
//! - `equalized_odds_difference`: the larger of the true and false positive rate
//!   differences (`agg="worst_case"`).
//!
//! The rate differences use the groups that have labelled predictions; with every
//! prediction labelled, every number equals fairlearn's on the same rows.

use serde::{Deserialize, Serialize};

use super::bounded::GroupState;
use crate::answer::fairness::{FairnessGroup, FairnessMetrics};
use crate::schema::Model;

/// The counts of one group in one window; all additive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOutcomes {
    /// Predictions of a class.
    pub count: u64,
    /// Of those, predictions of the positive class.
    pub selected: u64,
    /// Labelled: positive label, positive prediction.
    pub true_positive: u64,
    /// Labelled: negative label, positive prediction.
    pub false_positive: u64,
    /// Labelled: positive label, negative prediction.
    pub false_negative: u64,
    /// Labelled: negative label, negative prediction.
    pub true_negative: u64,
}

impl GroupState for GroupOutcomes {
    fn merge_from(&mut self, other: &Self) {
        self.count += other.count;
        self.selected += other.selected;
        self.true_positive += other.true_positive;
        self.false_positive += other.false_positive;
        self.false_negative += other.false_negative;
        self.true_negative += other.true_negative;
    }
}

fn is_positive(model: &Model, class: &str) -> bool {
    model.positive_class.as_deref() == Some(class)
}

impl GroupOutcomes {
    /// Adds a prediction of class `predicted`.
    pub fn observe_prediction(&mut self, model: &Model, predicted: &str) {
        self.count += 1;
        self.selected += is_positive(model, predicted) as u64;
    }

    /// Adds the label `truth` of a prediction of `predicted` (counted before).
    pub fn observe_label(&mut self, model: &Model, predicted: &str, truth: &str) {
        match (is_positive(model, truth), is_positive(model, predicted)) {
            (true, true) => self.true_positive += 1,
            (false, true) => self.false_positive += 1,
            (true, false) => self.false_negative += 1,
            (false, false) => self.true_negative += 1,
        }
    }

    /// Predictions with a label.
    pub fn labelled(&self) -> u64 {
        self.true_positive + self.false_positive + self.false_negative + self.true_negative
    }

    /// The group's entry of the answer.
    pub fn group(&self, value: &str) -> FairnessGroup {
        let rate = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        let labelled = self.labelled() > 0;
        FairnessGroup {
            count: self.count,
            false_positive_rate: labelled.then(|| {
                rate(
                    self.false_positive,
                    self.false_positive + self.true_negative,
                )
            }),
            labelled_count: self.labelled(),
            selection_rate: (self.count > 0).then(|| rate(self.selected, self.count)),
            true_positive_rate: labelled
                .then(|| rate(self.true_positive, self.true_positive + self.false_negative)),
            value: value.to_string(),
        }
    }
}

/// max − min of the present values; `None` without any.
fn spread(values: impl Iterator<Item = Option<f64>>) -> Option<(f64, f64)> {
    values.flatten().fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((low, high)) => Some((low.min(v), high.max(v))),
    })
}

/// fairlearn's four between-group metrics over `groups`.
pub fn fairness_metrics(groups: &[FairnessGroup]) -> FairnessMetrics {
    let selection = spread(groups.iter().map(|g| g.selection_rate));
    let tpr = spread(groups.iter().map(|g| g.true_positive_rate));
    let fpr = spread(groups.iter().map(|g| g.false_positive_rate));
    let difference = |s: Option<(f64, f64)>| s.map(|(low, high)| high - low);
    let equalized_odds = match (difference(tpr), difference(fpr)) {
        (Some(t), Some(f)) => Some(t.max(f)),
        _ => None,
    };
    FairnessMetrics {
        demographic_parity_difference: difference(selection),
        demographic_parity_ratio: selection
            .and_then(|(low, high)| crate::answer::finite(low / high)),
        equal_opportunity_difference: difference(tpr),
        equalized_odds_difference: equalized_odds,
    }
}

/// The names of the overall fairness metrics (`fairness.<feature>.<name>` in rules).
pub const FAIRNESS_METRIC_NAMES: &[&str] = &[
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn group(value: &str, counts: [u64; 6]) -> FairnessGroup {
        let [count, selected, tp, fp, fneg, tn] = counts;
        GroupOutcomes {
            count,
            selected,
            true_positive: tp,
            false_positive: fp,
            false_negative: fneg,
            true_negative: tn,
        }
        .group(value)
    }

    /// Worked by hand: a: 4 predictions, 3 positive (tp 2, fp 1, fn 0, tn 1);
    /// b: 4 predictions, 1 positive (tp 1, fp 0, fn 2, tn 1).
    #[test]
    fn hand_worked_two_groups() {
        let groups = [
            group("a", [4, 3, 2, 1, 0, 1]),
            group("b", [4, 1, 1, 0, 2, 1]),
        ];
        assert_eq!(groups[0].selection_rate, Some(0.75));
        assert_eq!(groups[1].true_positive_rate, Some(1.0 / 3.0));
        let m = fairness_metrics(&groups);
        assert_eq!(m.demographic_parity_difference, Some(0.5));
        assert_eq!(m.demographic_parity_ratio, Some(0.25 / 0.75));
        assert_eq!(m.equal_opportunity_difference, Some(1.0 - 1.0 / 3.0));
        // FPR: a 1/2, b 0/1 = 0 → 0.5; TPR difference 2/3 is the larger.
        assert_eq!(m.equalized_odds_difference, Some(1.0 - 1.0 / 3.0));
    }

    #[test]
    fn no_selection_anywhere_has_no_ratio() {
        let groups = [
            group("a", [2, 0, 0, 0, 1, 1]),
            group("b", [1, 0, 0, 0, 0, 1]),
        ];
        let m = fairness_metrics(&groups);
        assert_eq!(m.demographic_parity_difference, Some(0.0));
        assert_eq!(m.demographic_parity_ratio, None);
        // b has no positive label: its TPR is 0, as scikit-learn's normalisation says.
        assert_eq!(groups[1].true_positive_rate, Some(0.0));
    }
}
