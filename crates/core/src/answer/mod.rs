//! The answers of the API as types: what the server serializes, what `modelwatch report`
//! writes, and what clients (the CLI's export, tests, a Python binding) deserialize.
//!
//! - [`metrics`]: the metrics of a window ([`Metrics`]) and the metrics answer.
//! - [`drift`]: the drift answer, its feature entries, statistics and distributions.
//! - [`quality`]: the data-quality answer.
//! - [`map`]: a geographic feature's countries.
//! - [`correlation`]: the correlations answer and the scatter sample.
//! - [`method`]: the drift methods.
//! - [`report`]: the report of a model over a range, served or built from files
//!   ([`crate::report::build_report`] builds it).
//! - [`segments`]: the metrics answer per segment value.
//! - [`fairness`]: the fairness answer of a sensitive feature.
//! - [`range`]: the model and range fields that the HTTP answers carry.
//!
//! These are data: the numbers are computed in [`crate::profile`], [`crate::query`],
//! [`crate::drift`] and [`crate::report`], which build these types.
//!
//! Field order is wire order: every struct declares its fields in alphabetical order, the
//! order in which the API has always written them (`serde_json` maps are sorted). A
//! field that one answer has and another lacks is an `Option` skipped when `None`; one
//! that may be `null` where present is an `Option<Option<_>>` (see [`present`]). Floats
//! are finite or `None` (`null`).

pub mod correlation;
pub mod drift;
pub mod fairness;
pub mod map;
pub mod method;
pub mod metrics;
pub mod quality;
pub mod range;
pub mod report;
pub mod segments;

pub use correlation::{CorrelationsAnswer, SampleAnswer};
pub use drift::{DriftAnswer, DriftVerdict, FeatureDrift};
pub use map::MapAnswer;
pub use method::Method;
pub use metrics::{Metrics, MetricsAnswer};
pub use quality::{FeatureQuality, QualityAnswer};
pub use range::AnswerRange;
pub use report::Report;

use serde::{Deserialize, Deserializer};

/// Deserializes a field that may be absent (`None`, with `#[serde(default)]`) or present
/// and `null` (`Some(None)`); serde alone reads both as `None`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `x` when finite: the API writes `null` for NaN and infinities.
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}
