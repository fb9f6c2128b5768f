//! The answer of `GET /api/v1/models/{model}/fairness?feature=`: per group counts and
//! rates, and fairlearn's between-group metrics (computed in [`crate::groups::fairness`]).

use serde::{Deserialize, Serialize};

/// One group of a sensitive feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessGroup {
    /// Predictions of a class.
    pub count: u64,
    /// FP / (FP + TN) of the labelled predictions (0 without a negative label); `null`
    /// without labelled predictions.
    pub false_positive_rate: Option<f64>,
    /// Predictions with a label.
    pub labelled_count: u64,
    /// Share of predictions of the positive class.
    pub selection_rate: Option<f64>,
    /// TP / (TP + FN) of the labelled predictions (0 without a positive label); `null`
    /// without labelled predictions.
    pub true_positive_rate: Option<f64>,
    /// The feature's value (`(missing)`, `(other)`).
    pub value: String,
}

/// fairlearn's between-group metrics; `null` where undefined.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FairnessMetrics {
    /// max − min of the selection rates.
    pub demographic_parity_difference: Option<f64>,
    /// min / max of the selection rates.
    pub demographic_parity_ratio: Option<f64>,
    /// max − min of the true positive rates.
    pub equal_opportunity_difference: Option<f64>,
    /// The larger of the true and false positive rate differences.
    pub equalized_odds_difference: Option<f64>,
}

impl FairnessMetrics {
    /// A metric by name (`fairness.<feature>.<name>` rules).
    pub fn value(&self, name: &str) -> Option<f64> {
        match name {
            "demographic_parity_difference" => self.demographic_parity_difference,
            "demographic_parity_ratio" => self.demographic_parity_ratio,
            "equal_opportunity_difference" => self.equal_opportunity_difference,
            "equalized_odds_difference" => self.equalized_odds_difference,
            _ => None,
        }
    }
}

/// The groups and metrics of one span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessPoint {
    /// The groups, most predictions first.
    pub groups: Vec<FairnessGroup>,
    /// The between-group metrics.
    pub metrics: FairnessMetrics,
    /// Start of the step (RFC 3339); absent on the whole range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

/// The answer of `GET .../fairness?feature=&from&to&step&version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessAnswer {
    /// The sensitive feature.
    pub feature: String,
    /// Start of the range.
    pub from: Option<String>,
    /// The model.
    pub model: String,
    /// One point per step, with a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<FairnessPoint>>,
    /// The step, with a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The whole range.
    pub summary: FairnessPoint,
    /// End of the range, exclusive.
    pub to: Option<String>,
    /// The version queried; `None` for all.
    pub version: Option<String>,
}
