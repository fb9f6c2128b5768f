//! Cells of a report's tables, shared by the Markdown and HTML renderers: numbers to
//! four decimals (small ones, such as p-values, in scientific notation), `—` for what
//! is undefined, a quality row's flags.

use modelwatch_core::answer::metrics::{MetricValue, Metrics};
use modelwatch_core::answer::quality::FeatureQuality;
use modelwatch_core::answer::report::Report;
use modelwatch_core::schema::FeatureType;
use serde_json::Value;

/// Below this magnitude a number is written in scientific notation, so that a p-value
/// of 1.3e-5 does not read as `0.0000`.
const SCIENTIFIC_BELOW: f64 = 1e-3;

/// A float: four decimals, or three significant digits in scientific notation when it
/// is not zero but smaller than [`SCIENTIFIC_BELOW`].
fn float_cell(f: f64) -> String {
    if f != 0.0 && f.abs() < SCIENTIFIC_BELOW {
        format!("{f:.2e}")
    } else {
        format!("{f:.4}")
    }
}

/// Text from the data (category values, class labels, names, versions) made inert in
/// Markdown, as the HTML report escapes it: a line break or control character becomes a
/// space (no forged heading or row), `|` cannot end a cell, HTML is written as entities
/// (no tag), and code, emphasis and link punctuation is escaped.
pub(crate) fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '|' | '`' | '*' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A table cell of an alert's field: floats as [`float_cell`], `—` for null.
pub(crate) fn cell(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => float_cell(f),
            _ => n.to_string(),
        },
        Value::Object(_) => "(see JSON)".into(),
        other => other.to_string(),
    }
}

/// A number's cell: as [`float_cell`], `—` when undefined.
pub(crate) fn number_cell(value: Option<f64>) -> String {
    value.map_or_else(|| "—".into(), float_cell)
}

/// A count's cell: `—` when undefined.
pub(crate) fn count_cell(value: Option<u64>) -> String {
    value.map_or_else(|| "—".into(), |n| n.to_string())
}

/// A metric's cell.
pub(crate) fn metric_cell(value: MetricValue) -> String {
    match value {
        MetricValue::Count(n) => n.to_string(),
        MetricValue::Number(x) => number_cell(x),
        MetricValue::ConfusionMatrix(_) => "(see JSON)".into(),
    }
}

/// The scalar metrics of a window (all but the confusion matrix), in wire order.
pub(crate) fn scalar_metrics(metrics: &Metrics) -> Vec<(&'static str, MetricValue<'_>)> {
    metrics
        .entries()
        .into_iter()
        .filter(|(_, v)| !matches!(v, MetricValue::ConfusionMatrix(_)))
        .collect()
}

/// A feature type as the answers write it.
pub(crate) fn kind_name(kind: FeatureType) -> &'static str {
    match kind {
        FeatureType::Numeric => "numeric",
        FeatureType::Categorical => "categorical",
    }
}

/// The rows and rejected rows of the report's `reference` and `current` parts present.
pub(crate) fn inputs(report: &Report) -> Vec<(&'static str, u64, Option<u64>)> {
    let reference = report
        .reference
        .as_ref()
        .map(|r| ("reference", r.rows(), r.rejected()));
    let current = report
        .current
        .as_ref()
        .map(|c| ("current", c.rows, Some(c.rejected)));
    reference.into_iter().chain(current).collect()
}

/// The new categories of a quality answer's feature entry, joined, or `—`.
pub(crate) fn new_categories(feature: &FeatureQuality) -> Option<String> {
    feature
        .new_categories()
        .filter(|new| !new.is_empty())
        .map(|new| new.join(", "))
}

/// A quality row's cells: min, mean, max, out of range (numeric) and distinct
/// (categorical), `—` where the type has none.
pub(crate) struct QualityCells {
    pub min: String,
    pub mean: String,
    pub max: String,
    pub out_of_range: Option<u64>,
    pub distinct: String,
}

pub(crate) fn quality_cells(feature: &FeatureQuality) -> QualityCells {
    match feature {
        FeatureQuality::Numeric(n) => QualityCells {
            min: number_cell(n.min),
            mean: number_cell(n.mean),
            max: number_cell(n.max),
            out_of_range: n.out_of_range,
            distinct: "—".into(),
        },
        FeatureQuality::Categorical(c) => QualityCells {
            min: "—".into(),
            mean: "—".into(),
            max: "—".into(),
            out_of_range: None,
            distinct: c.distinct.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_are_written_in_scientific_notation() {
        // The KS p-value of docs/METRICS.md's example, and its neighbours.
        assert_eq!(number_cell(Some(0.000013380041033885056)), "1.34e-5");
        assert_eq!(number_cell(Some(2.1e-25)), "2.10e-25");
        assert_eq!(number_cell(Some(-4.2e-4)), "-4.20e-4");
        assert_eq!(number_cell(Some(0.0)), "0.0000");
        assert_eq!(number_cell(Some(0.001)), "0.0010");
        assert_eq!(number_cell(Some(0.05)), "0.0500");
        assert_eq!(number_cell(None), "—");
        assert_eq!(cell(&serde_json::json!(3.0e-7)), "3.00e-7");
        assert_eq!(cell(&serde_json::json!(7)), "7");
    }
}
