//! The report of a model over a range, built by one function for both makers: the
//! server's `GET /api/v1/models/{model}/report` and the offline `modelwatch report`
//! (through [`crate::offline::OfflineProfiles::report`]). The two differ only in their
//! [`ReportSource`]; see [`crate::answer::report`] for the two shapes.

use serde_json::Value;

use crate::answer::correlation::CorrelationsAnswer;
use crate::answer::metrics::MetricsAnswer;
use crate::answer::report::{InputRows, Report, ReportMetrics, ReportReference, StoredReference};
use crate::correlation::Columns;
use crate::correlation::matrix::correlations_answer;
use crate::drift::features::WindowFeatures;
use crate::drift::map::maps;
use crate::drift::quality::quality_answer;
use crate::drift::reference::ReferenceProfile;
use crate::drift::report::drift_answer;
use crate::schema::Model;
use crate::time::format_timestamp;

/// Where a report's data comes from.
#[derive(Debug)]
pub enum ReportSource<'a> {
    /// A served model's store.
    Served {
        /// The stored reference and when it was uploaded (ms), if any.
        reference: Option<(&'a ReferenceProfile, i64)>,
        /// When the report is made (ms).
        generated_at_ms: i64,
        /// The alerts whose span meets the range, as `GET /api/v1/alerts` lists them.
        alerts: Vec<Value>,
    },
    /// Two CSV files read offline.
    Files {
        /// The reference profiled from its file.
        reference: &'a ReferenceProfile,
        /// The reference file's rows.
        reference_rows: InputRows,
        /// The current file's rows.
        current_rows: InputRows,
    },
}

/// The correlations of `current` against the reference's, for a model with at least
/// two numeric columns.
fn report_correlations(
    model: &Model,
    current: &WindowFeatures,
    reference: Option<&ReferenceProfile>,
) -> Option<CorrelationsAnswer> {
    let columns = Columns::current(model);
    if columns.names.len() < 2 {
        return None;
    }
    let reference = reference
        .map(|r| &r.correlations)
        .filter(|c| !c.columns.is_empty());
    Some(correlations_answer(
        &current.correlations.aligned_to(&columns.names),
        reference,
        current.rows,
        columns.left_out,
    ))
}

/// The report of `model`: `metrics` (with its series) and the drift and quality of the
/// merged feature profiles `current` of the same range.
pub fn build_report(
    model: &Model,
    metrics: MetricsAnswer,
    current: &WindowFeatures,
    source: ReportSource,
) -> Report {
    let profile = match &source {
        ReportSource::Served { reference, .. } => reference.map(|(r, _)| r),
        ReportSource::Files { reference, .. } => Some(*reference),
    };
    let mut report = Report {
        alerts: None,
        correlations: report_correlations(model, current, profile),
        current: None,
        internals: None,
        drift: profile.map(|r| drift_answer(model, r, current)),
        maps: maps(model, profile, current),
        from: None,
        generated_at: None,
        metrics: ReportMetrics {
            series: metrics.series,
            step: metrics.step,
            summary: metrics.summary,
        },
        model: None,
        quality: quality_answer(model, profile, current),
        reference: None,
        task: model.task(),
        to: None,
        version: None,
    };
    match source {
        ReportSource::Served {
            reference,
            generated_at_ms,
            alerts,
        } => {
            report.alerts = Some(alerts);
            report.from = Some(metrics.from);
            report.generated_at = Some(format_timestamp(generated_at_ms));
            report.model = Some(metrics.model);
            report.reference = reference.map(|(r, uploaded_ms)| {
                ReportReference::Stored(StoredReference {
                    generation: r.generation,
                    rows: r.rows,
                    uploaded_at: format_timestamp(uploaded_ms),
                })
            });
            report.to = Some(metrics.to);
            report.version = Some(metrics.version);
        }
        ReportSource::Files {
            reference_rows,
            current_rows,
            ..
        } => {
            report.current = Some(current_rows);
            report.reference = Some(ReportReference::File(reference_rows));
        }
    }
    report
}
