//! The answer of `GET /api/v1/models/{model}/metrics?segment=`: the metrics of each of
//! the most frequent values of a segment feature, the rest as `(other)` (built by
//! [`crate::groups::select`]).

use serde::{Deserialize, Serialize};

use super::metrics::{Metrics, SeriesPoint};
use crate::schema::Task;

/// One value of the segment feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentGroup {
    /// One point per step, with a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<SeriesPoint>>,
    /// The value's metrics over the whole range.
    pub summary: Metrics,
    /// The value (`(missing)`, `(other)`).
    pub value: String,
}

/// The answer of `GET .../metrics?segment=<feature>&from&to&step&version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentAnswer {
    /// Start of the range.
    pub from: Option<String>,
    /// The values, most predictions first, `(other)` last.
    pub groups: Vec<SegmentGroup>,
    /// The model.
    pub model: String,
    /// The segment feature.
    pub segment: String,
    /// The step, with a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The model's task.
    pub task: Task,
    /// End of the range, exclusive.
    pub to: Option<String>,
    /// The version queried; `None` for all.
    pub version: Option<String>,
}
