//! The data-quality answer (`GET /api/v1/models/{model}/quality` and a report's
//! `quality`): per feature, missing values and type errors, and the values' summary
//! (numeric) or top categories (categorical), checked against the reference if any.

use serde::{Deserialize, Serialize};

use super::present;
use super::range::AnswerRange;
use crate::schema::FeatureType;

/// A numeric feature's quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericQuality {
    /// Rows in the range.
    pub count: u64,
    /// Largest value.
    pub max: Option<f64>,
    /// Mean value.
    pub mean: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Rows without a value (rows before the feature was added count too).
    pub missing: u64,
    /// `missing / count`.
    pub missing_share: Option<f64>,
    /// The feature.
    pub name: String,
    /// Values outside the reference's range; `None` without a reference to compare.
    pub out_of_range: Option<u64>,
    /// 25th percentile.
    pub p25: Option<f64>,
    /// 5th percentile.
    pub p5: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 75th percentile.
    pub p75: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// Standard deviation.
    pub std: Option<f64>,
    /// `numeric`.
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// Values of the wrong type.
    pub type_errors: u64,
}

/// A categorical feature's quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalQuality {
    /// Rows in the range.
    pub count: u64,
    /// Distinct categories.
    pub distinct: u64,
    /// Rows without a value.
    pub missing: u64,
    /// `missing / count`.
    pub missing_share: Option<f64>,
    /// The feature.
    pub name: String,
    /// Categories the reference does not have; `None` without a reference to compare.
    pub new_categories: Option<Vec<String>>,
    /// The ten most frequent categories with their counts.
    pub top: Vec<(String, u64)>,
    /// `categorical`.
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// Values of the wrong type.
    pub type_errors: u64,
}

/// One feature's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FeatureQuality {
    /// A categorical feature (tried first: only it has `distinct` and `top`).
    Categorical(CategoricalQuality),
    /// A numeric feature.
    Numeric(NumericQuality),
}

impl FeatureQuality {
    /// The feature's name.
    pub fn name(&self) -> &str {
        match self {
            FeatureQuality::Categorical(c) => &c.name,
            FeatureQuality::Numeric(n) => &n.name,
        }
    }

    /// Rows without a value.
    pub fn missing(&self) -> u64 {
        match self {
            FeatureQuality::Categorical(c) => c.missing,
            FeatureQuality::Numeric(n) => n.missing,
        }
    }

    /// Share of rows without a value.
    pub fn missing_share(&self) -> Option<f64> {
        match self {
            FeatureQuality::Categorical(c) => c.missing_share,
            FeatureQuality::Numeric(n) => n.missing_share,
        }
    }

    /// Values of the wrong type.
    pub fn type_errors(&self) -> u64 {
        match self {
            FeatureQuality::Categorical(c) => c.type_errors,
            FeatureQuality::Numeric(n) => n.type_errors,
        }
    }

    /// New categories, for a categorical feature compared with a reference.
    pub fn new_categories(&self) -> Option<&[String]> {
        match self {
            FeatureQuality::Categorical(c) => c.new_categories.as_deref(),
            FeatureQuality::Numeric(_) => None,
        }
    }
}

/// The quality answer. Over HTTP it carries its range (`from`, `model`, `to`,
/// `version`); inside a report it does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityAnswer {
    /// One entry per feature, in the model's order.
    pub features: Vec<FeatureQuality>,
    /// Start of the range (HTTP only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub from: Option<Option<String>>,
    /// The model (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Rows in the range.
    pub rows: u64,
    /// With a step: the answer of each step's window alone, each with its `start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<QualityAnswer>>,
    /// Start of the step's window (RFC 3339), in an entry of `series`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// The step (a duration such as `1d`), with a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// End of the range (HTTP only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub to: Option<Option<String>>,
    /// Values of features the model does not define.
    pub unknown_features: u64,
    /// The version queried (HTTP only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub version: Option<Option<String>>,
}

impl QualityAnswer {
    /// The answer with its range, as HTTP serves it.
    pub fn in_range(mut self, range: AnswerRange) -> Self {
        self.model = Some(range.model);
        self.from = Some(range.from);
        self.to = Some(range.to);
        self.version = Some(range.version);
        self
    }

    /// The answer with a series: `step` written as a duration, and each step's answer
    /// (without range) with the start of its window.
    pub fn with_series(mut self, step: String, series: Vec<(String, QualityAnswer)>) -> Self {
        self.step = Some(step);
        self.series = Some(
            series
                .into_iter()
                .map(|(start, mut entry)| {
                    entry.start = Some(start);
                    entry
                })
                .collect(),
        );
        self
    }

    /// The entry of feature `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureQuality> {
        self.features.iter().find(|f| f.name() == name)
    }
}
