//! The report of a model over a range: summary, metric series, drift, quality, and what
//! it was computed from. One type serves both makers:
//!
//! - `GET /api/v1/models/{model}/report` (served): `model`, `from`, `to`, `version`,
//!   `generated_at` and `alerts` are present; `reference` is the stored reference
//!   ([`StoredReference`]: rows, generation, upload time) or `null` without one, and
//!   `drift` is then `null` too.
//! - `modelwatch report` (files): those fields are absent; `reference` and `current`
//!   count the rows of the two CSV files ([`InputRows`]).
//!
//! [`crate::report::build_report`] builds it.

use serde::{Deserialize, Serialize};

use super::correlation::CorrelationsAnswer;
use serde_json::Value;

use super::drift::DriftAnswer;
use super::map::MapAnswer;
use super::metrics::{Metrics, SeriesPoint};
use super::present;
use super::quality::QualityAnswer;
use crate::error::FieldError;
use crate::schema::Task;

/// Rejected rows listed in a report, at most.
pub const MAX_LISTED_REJECTIONS: usize = 20;

/// A row of an input file that was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Why.
    pub error: String,
    /// The field at fault.
    pub field: String,
    /// The line of the file.
    pub line: u64,
}

/// The rows of an input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRows {
    /// Rows accepted.
    pub accepted: u64,
    /// The first [`MAX_LISTED_REJECTIONS`] rejected rows.
    pub first_rejections: Vec<Rejection>,
    /// Rows rejected.
    pub rejected: u64,
    /// Rows read.
    pub rows: u64,
}

impl InputRows {
    /// `accepted` rows and the `(line, reason)` of every rejected one.
    pub fn new(accepted: u64, rejected: &[(u64, FieldError)]) -> Self {
        InputRows {
            accepted,
            first_rejections: rejected
                .iter()
                .take(MAX_LISTED_REJECTIONS)
                .map(|(line, e)| Rejection {
                    error: e.to_string(),
                    field: e.field.clone(),
                    line: *line,
                })
                .collect(),
            rejected: rejected.len() as u64,
            rows: accepted + rejected.len() as u64,
        }
    }
}

/// The stored reference a served report compares with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReference {
    /// Its generation (each upload is the next).
    pub generation: u64,
    /// Its rows.
    pub rows: u64,
    /// When it was uploaded (RFC 3339).
    pub uploaded_at: String,
}

/// A report's `reference`: the stored one (served) or the file's rows (offline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReportReference {
    /// The stored reference of a served model.
    Stored(StoredReference),
    /// The rows of the reference file.
    File(InputRows),
}

impl ReportReference {
    /// Rows: of the stored reference, or read from the file.
    pub fn rows(&self) -> u64 {
        match self {
            ReportReference::Stored(s) => s.rows,
            ReportReference::File(f) => f.rows,
        }
    }

    /// Rows the file had rejected; `None` for a stored reference.
    pub fn rejected(&self) -> Option<u64> {
        match self {
            ReportReference::Stored(_) => None,
            ReportReference::File(f) => Some(f.rejected),
        }
    }
}

/// A report's metrics: the summary and the series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportMetrics {
    /// One point per step.
    pub series: Option<Vec<SeriesPoint>>,
    /// The step.
    pub step: Option<String>,
    /// The whole range.
    pub summary: Metrics,
}

/// One tensor of the model's internals over a report's range: its summaries taken in
/// the range, of one version, from the first step to the last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InternalsRow {
    /// The first step in the range.
    pub first_step: i64,
    /// Infinite values at the last step.
    pub inf: u64,
    /// L2 norm at the last step.
    pub l2_norm: Option<f64>,
    /// Relative change of the L2 norm from the first step to the last.
    pub l2_norm_change: Option<f64>,
    /// The last step in the range.
    pub last_step: i64,
    /// NaN values at the last step.
    pub nan: u64,
    /// The tensor.
    pub tensor: String,
    /// The version.
    pub version: String,
}

/// The report (see the module's documentation for its two shapes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Alerts whose span meets the range, as `GET /api/v1/alerts` lists them (served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<Value>>,
    /// Correlations of the numeric columns, against the reference's when it has them;
    /// `None` for a model with fewer than two numeric columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlations: Option<CorrelationsAnswer>,
    /// The rows of the current file (offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<InputRows>,
    /// Drift; `None` without a reference.
    pub drift: Option<DriftAnswer>,
    /// Start of the range (served).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub from: Option<Option<String>>,
    /// When the report was made (served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    /// Model internals taken in the range (served, when there are any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internals: Option<Vec<InternalsRow>>,
    /// The countries of each geographic feature (when the model has one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maps: Vec<MapAnswer>,
    /// Summary and series.
    pub metrics: ReportMetrics,
    /// The model (served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Data quality.
    pub quality: QualityAnswer,
    /// What drift was measured against; `None` (served) without a reference.
    pub reference: Option<ReportReference>,
    /// The model's task.
    pub task: Task,
    /// End of the range (served).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub to: Option<Option<String>>,
    /// The version (served).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub version: Option<Option<String>>,
}
