//! The correlations answer (`GET .../correlations`) and the scatter sample answer
//! (`GET .../correlations/sample`).

use serde::{Deserialize, Serialize};

use super::range::AnswerRange;

/// A square matrix over the answer's `features`; `None` (`null`) where undefined.
pub type Matrix = Vec<Vec<Option<f64>>>;

/// Covariance and Pearson correlation of the numeric columns over a range, and the
/// change against the reference's correlations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorrelationsAnswer {
    /// `numpy.cov` (ddof = 1) per pair, over the rows where both are present.
    pub covariance: Matrix,
    /// The columns: numeric features in definition order, then `score` (binary) or
    /// `prediction` and `label` (regression).
    pub features: Vec<String>,
    /// Start of the range (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Option<String>>,
    /// Numeric features past the column cap (`correlations.max_columns`).
    pub left_out: Vec<String>,
    /// The largest |pearson − reference| over pairs of two columns.
    pub max_abs_change: Option<f64>,
    /// The model (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Every pair of two columns, largest |change| first.
    pub pairs: Vec<CorrelationPair>,
    /// `numpy.corrcoef` per pair, over the rows where both are present.
    pub pearson: Matrix,
    /// The reference's Pearson matrix on the same columns; `None` without a reference.
    pub reference_pearson: Option<Matrix>,
    /// Rows in the range.
    pub rows: u64,
    /// End of the range (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Option<String>>,
    /// The version queried (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Option<String>>,
}

/// One pair of columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationPair {
    /// First column.
    pub a: String,
    /// Second column.
    pub b: String,
    /// `pearson − reference`.
    pub change: Option<f64>,
    /// Pearson over the range.
    pub pearson: Option<f64>,
    /// Pearson over the reference.
    pub reference: Option<f64>,
}

impl CorrelationsAnswer {
    /// The answer with its range, as HTTP serves it.
    pub fn in_range(mut self, range: AnswerRange) -> Self {
        self.model = Some(range.model);
        self.from = Some(range.from);
        self.to = Some(range.to);
        self.version = Some(range.version);
        self
    }
}

/// Points of two columns from the scatter sample of a range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleAnswer {
    /// Rows a window's sample keeps at most.
    pub capacity: u64,
    /// Start of the range.
    pub from: Option<String>,
    /// The model.
    pub model: String,
    /// `[x, y]` of the sampled rows where both are present, in sample order.
    pub points: Vec<[f64; 2]>,
    /// Rows in the range (sampled or not).
    pub rows: u64,
    /// Rows in the sample.
    pub sampled: u64,
    /// End of the range.
    pub to: Option<String>,
    /// The version queried.
    pub version: Option<String>,
    /// The column on the horizontal axis.
    pub x: String,
    /// The column on the vertical axis.
    pub y: String,
}
