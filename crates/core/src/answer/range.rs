//! The model and range an HTTP answer covers: `model`, `from`, `to` and `version`.
//! The metrics answer always has them; the drift and quality answers have them over
//! HTTP and lack them inside a report, whose own fields say the same.

use crate::time::format_timestamp;

/// What a range answer is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerRange {
    /// The model's name.
    pub model: String,
    /// Start (RFC 3339): the query's `from`, or the first window with data; `None`
    /// without either.
    pub from: Option<String>,
    /// End, exclusive: the query's `to`, or the end of the last window with data.
    pub to: Option<String>,
    /// The one version queried; `None` for all versions.
    pub version: Option<String>,
    /// `to − from` in ms when both are known (the length `crash_rate` is per hour of).
    pub span_ms: Option<i64>,
}

impl AnswerRange {
    /// The range of a query over `[from, to)` (milliseconds) of `model`, where the
    /// windows read span `[first, last_end)`: the query's bounds, or else the data's.
    pub fn new(
        model: &str,
        (from, to): (Option<i64>, Option<i64>),
        (first, last_end): (Option<i64>, Option<i64>),
        version: Option<&str>,
    ) -> Self {
        let (start, end) = (from.or(first), to.or(last_end));
        AnswerRange {
            model: model.to_string(),
            from: start.map(format_timestamp),
            to: end.map(format_timestamp),
            version: version.map(str::to_string),
            span_ms: start.zip(end).map(|(start, end)| end - start),
        }
    }
}
