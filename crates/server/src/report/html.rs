//! The HTML report: one page with no external resource (styles inline, charts as inline
//! SVG drawn here, the report's JSON embedded), so that it opens offline and can be
//! mailed. The page is a minijinja template (`report.html`, escaped automatically);
//! this module turns the report JSON into the numbers the template draws.

use std::sync::LazyLock;

use minijinja::Environment;
use serde::Serialize;
use serde_json::Value;

use super::{cell, new_categories};

/// Size of a metric chart's plot area, in SVG units (the axes' labels sit outside).
const CHART: Frame = Frame {
    left: 52.0,
    top: 8.0,
    width: 300.0,
    height: 100.0,
};
/// Size of a distribution plot.
const PLOT: Frame = Frame {
    left: 2.0,
    top: 2.0,
    width: 236.0,
    height: 60.0,
};
/// Markers are drawn (with their value as a tooltip) up to this many points.
const MAX_MARKERS: usize = 90;

struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

/// One metric over time.
#[derive(Serialize)]
struct LineChart {
    metric: String,
    /// SVG path data; a `null` value breaks the line.
    path: String,
    markers: Vec<Marker>,
    y_top: String,
    y_bottom: String,
    x_first: String,
    x_last: String,
    /// `(window start, value)` for the data table under the chart.
    rows: Vec<(String, String)>,
}

#[derive(Serialize)]
struct Marker {
    x: String,
    y: String,
    tip: String,
}

/// Reference and current shares per bin, overlaid.
#[derive(Serialize)]
struct DistributionPlot {
    bars: Vec<Bar>,
    left_label: String,
    right_label: String,
}

#[derive(Serialize)]
struct Bar {
    x: String,
    width: String,
    reference_y: String,
    reference_height: String,
    current_y: String,
    current_height: String,
    tip: String,
}

#[derive(Serialize)]
struct DriftRow {
    name: String,
    kind: String,
    method: String,
    statistic: String,
    threshold: String,
    drifted: Option<bool>,
    plot: Option<DistributionPlot>,
}

#[derive(Serialize)]
struct QualityRow {
    name: String,
    missing: (String, bool),
    type_errors: (String, bool),
    min: String,
    mean: String,
    max: String,
    out_of_range: (String, bool),
    distinct: String,
    new_categories: (String, bool),
}

#[derive(Serialize)]
struct ConfusionCell {
    count: String,
    /// Background lightness, 100 (white) down to 45 for the largest count.
    lightness: u32,
}

#[derive(Serialize)]
struct Confusion {
    labels: Vec<String>,
    rows: Vec<(String, Vec<ConfusionCell>)>,
}

#[derive(Serialize)]
struct AlertRow {
    rule: String,
    state: String,
    value: String,
    threshold: String,
    starts_at: String,
    ends_at: String,
}

#[derive(Serialize)]
struct Page<'a> {
    title: String,
    facts: Vec<(String, String)>,
    summary: Vec<(String, String)>,
    charts: Vec<LineChart>,
    confusion: Option<Confusion>,
    drift_summary: Option<String>,
    drift: Vec<DriftRow>,
    quality: Vec<QualityRow>,
    alerts: Option<Vec<AlertRow>>,
    data: &'a Value,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => cell(other),
    }
}

fn coordinate(v: f64) -> String {
    format!("{v:.1}")
}

fn line_chart(metric: &str, series: &[Value]) -> Option<LineChart> {
    let points: Vec<(String, Option<f64>)> = series
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap_or("").to_string(),
                p["metrics"][metric].as_f64().filter(|v| v.is_finite()),
            )
        })
        .collect();
    let values: Vec<f64> = points.iter().filter_map(|(_, v)| *v).collect();
    if values.is_empty() {
        return None;
    }
    let (mut low, mut high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if low == high {
        let pad = if low == 0.0 { 1.0 } else { low.abs() * 0.1 };
        low -= pad;
        high += pad;
    }
    let last = (points.len().max(2) - 1) as f64;
    let x = |i: usize| CHART.left + CHART.width * i as f64 / last;
    let y = |v: f64| CHART.top + CHART.height * (high - v) / (high - low);
    let mut path = String::new();
    let mut pen_down = false;
    let mut markers = Vec::new();
    for (i, (start, value)) in points.iter().enumerate() {
        match value {
            Some(v) => {
                let command = if pen_down { 'L' } else { 'M' };
                path.push_str(&format!(
                    "{command}{} {} ",
                    coordinate(x(i)),
                    coordinate(y(*v))
                ));
                pen_down = true;
                if points.len() <= MAX_MARKERS {
                    markers.push(Marker {
                        x: coordinate(x(i)),
                        y: coordinate(y(*v)),
                        tip: format!("{start}: {}", cell(&serde_json::json!(v))),
                    });
                }
            }
            None => pen_down = false,
        }
    }
    Some(LineChart {
        metric: metric.to_string(),
        path: path.trim_end().to_string(),
        markers,
        y_top: cell(&serde_json::json!(high)),
        y_bottom: cell(&serde_json::json!(low)),
        x_first: points.first().map(|p| p.0.clone()).unwrap_or_default(),
        x_last: points.last().map(|p| p.0.clone()).unwrap_or_default(),
        rows: series
            .iter()
            .map(|p| {
                (
                    p["start"].as_str().unwrap_or("").to_string(),
                    text(&p["metrics"][metric]),
                )
            })
            .collect(),
    })
}

fn counts(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c.as_f64().unwrap_or(0.0))
        .collect()
}

fn distribution_plot(distribution: &Value) -> Option<DistributionPlot> {
    let reference = counts(&distribution["reference"]);
    let current = counts(&distribution["current"]);
    if reference.is_empty() {
        return None;
    }
    let share = |c: &[f64]| {
        let total: f64 = c.iter().sum();
        c.iter()
            .map(|n| if total > 0.0 { n / total } else { 0.0 })
            .collect::<Vec<f64>>()
    };
    let (reference_share, current_share) = (share(&reference), share(&current));
    let tallest = reference_share
        .iter()
        .chain(&current_share)
        .fold(0.0f64, |a, b| a.max(*b))
        .max(f64::MIN_POSITIVE);
    let bins = reference.len();
    let width = PLOT.width / bins as f64;
    let label = |i: usize| -> String {
        match distribution["kind"].as_str() {
            Some("histogram") => format!(
                "[{}, {}]",
                cell(&distribution["edges"][i]),
                cell(&distribution["edges"][i + 1])
            ),
            _ => distribution["categories"][i]
                .as_str()
                .unwrap_or("")
                .to_string(),
        }
    };
    let bars = (0..bins)
        .map(|i| {
            let height = |s: f64| PLOT.height * s / tallest;
            let (rh, ch) = (
                height(reference_share[i]),
                height(current_share.get(i).copied().unwrap_or(0.0)),
            );
            Bar {
                x: coordinate(PLOT.left + width * i as f64),
                width: coordinate((width - 1.0).max(0.5)),
                reference_y: coordinate(PLOT.top + PLOT.height - rh),
                reference_height: coordinate(rh),
                current_y: coordinate(PLOT.top + PLOT.height - ch),
                current_height: coordinate(ch),
                tip: format!(
                    "{}: reference {} ({:.1}%), current {} ({:.1}%)",
                    label(i),
                    reference[i],
                    100.0 * reference_share[i],
                    current.get(i).copied().unwrap_or(0.0),
                    100.0 * current_share.get(i).copied().unwrap_or(0.0)
                ),
            }
        })
        .collect();
    let (left_label, right_label) = match distribution["kind"].as_str() {
        Some("histogram") => (
            cell(&distribution["edges"][0]),
            cell(&distribution["edges"][bins]),
        ),
        _ => (label(0), label(bins - 1)),
    };
    Some(DistributionPlot {
        bars,
        left_label,
        right_label,
    })
}

fn drift_rows(drift: &Value) -> Vec<DriftRow> {
    let mut entries: Vec<&Value> = drift["features"].as_array().into_iter().flatten().collect();
    // Drifted first, then the rest; within each, the order of the model definition.
    entries.sort_by_key(|f| !f["drifted"].as_bool().unwrap_or(false));
    entries.extend(
        [&drift["prediction"], &drift["score"]]
            .into_iter()
            .filter(|v| v.is_object()),
    );
    entries
        .into_iter()
        .map(|f| DriftRow {
            name: text(&f["name"]),
            kind: text(&f["type"]),
            method: text(&f["method"]),
            statistic: text(&f["statistic"]),
            threshold: text(&f["threshold"]),
            drifted: f["drifted"].as_bool(),
            plot: distribution_plot(&f["distribution"]),
        })
        .collect()
}

fn flagged(value: &Value) -> (String, bool) {
    (text(value), value.as_f64().is_some_and(|v| v > 0.0))
}

fn quality_rows(quality: &Value) -> Vec<QualityRow> {
    quality["features"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let new = new_categories(f);
            QualityRow {
                name: text(&f["name"]),
                missing: flagged(&f["missing"]),
                type_errors: flagged(&f["type_errors"]),
                min: text(&f["min"]),
                mean: text(&f["mean"]),
                max: text(&f["max"]),
                out_of_range: flagged(&f["out_of_range"]),
                distinct: text(&f["distinct"]),
                new_categories: if new.is_empty() {
                    ("—".into(), false)
                } else {
                    (new.join(", "), true)
                },
            }
        })
        .collect()
}

fn confusion(matrix: &Value) -> Option<Confusion> {
    let labels: Vec<String> = matrix["labels"].as_array()?.iter().map(text).collect();
    let rows = matrix["matrix"].as_array()?;
    let largest = rows
        .iter()
        .flat_map(|r| r.as_array().into_iter().flatten())
        .filter_map(Value::as_f64)
        .fold(0.0f64, f64::max)
        .max(1.0);
    Some(Confusion {
        rows: labels
            .iter()
            .zip(rows)
            .map(|(label, row)| {
                let cells = row
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| ConfusionCell {
                        count: text(n),
                        lightness: (100.0 - 55.0 * n.as_f64().unwrap_or(0.0) / largest).round()
                            as u32,
                    })
                    .collect();
                (label.clone(), cells)
            })
            .collect(),
        labels,
    })
}

fn alert_rows(alerts: &Value) -> Option<Vec<AlertRow>> {
    Some(
        alerts
            .as_array()?
            .iter()
            .map(|a| AlertRow {
                rule: text(&a["rule"]),
                state: text(&a["state"]),
                value: text(&a["value"]),
                threshold: text(&a["threshold"]),
                starts_at: text(&a["starts_at"]),
                ends_at: text(&a["ends_at"]),
            })
            .collect(),
    )
}

fn facts(report: &Value) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    for (key, name) in [
        ("model", "Model"),
        ("task", "Task"),
        ("version", "Version"),
        ("from", "From"),
        ("to", "To"),
        ("generated_at", "Generated"),
    ] {
        if let Some(v) = report.get(key).filter(|v| !v.is_null()) {
            facts.push((name.to_string(), text(v)));
        }
    }
    for part in ["reference", "current"] {
        let p = &report[part];
        if p.is_object() {
            let mut line = format!("{} rows", text(&p["rows"]));
            if p["rejected"].as_u64().is_some_and(|n| n > 0) {
                line.push_str(&format!(", {} rejected", text(&p["rejected"])));
            }
            facts.push((format!("{part} data"), line));
        }
    }
    facts
}

/// Renders a report (the JSON of [`super`]) as one self-contained HTML page.
pub fn html(report: &Value) -> Result<String, minijinja::Error> {
    let summary = report["metrics"]["summary"].as_object();
    let series: Vec<Value> = report["metrics"]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let page = Page {
        title: match report["model"].as_str() {
            Some(model) => format!("modelwatch report: {model}"),
            None => "modelwatch report".to_string(),
        },
        facts: facts(report),
        summary: summary
            .into_iter()
            .flatten()
            .filter(|(name, _)| *name != "confusion_matrix")
            .map(|(name, v)| (name.clone(), text(v)))
            .collect(),
        charts: summary
            .into_iter()
            .flatten()
            .filter(|(name, _)| *name != "confusion_matrix")
            .filter_map(|(name, _)| line_chart(name, &series))
            .collect(),
        confusion: summary
            .and_then(|s| s.get("confusion_matrix"))
            .and_then(confusion),
        drift_summary: report["drift"].is_object().then(|| {
            let d = &report["drift"];
            format!(
                "Dataset drift: {} ({} of {} features drifted; reference {} rows, current {} rows).",
                if d["dataset_drift"].as_bool() == Some(true) { "yes" } else { "no" },
                text(&d["drifted_features"]),
                text(&d["features_total"]),
                text(&d["reference_count"]),
                text(&d["current_count"]),
            )
        }),
        drift: drift_rows(&report["drift"]),
        quality: quality_rows(&report["quality"]),
        alerts: alert_rows(&report["alerts"]),
        data: report,
    };
    let templates = TEMPLATES
        .as_ref()
        .map_err(|e| minijinja::Error::new(e.kind(), e.to_string()))?;
    templates.get_template("report.html")?.render(&page)
}

/// The report's template, parsed once.
static TEMPLATES: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    environment.add_template("report.html", include_str!("report.html"))?;
    Ok(environment)
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_null_breaks_the_line() {
        let series: Vec<Value> = [Some(1.0), None, Some(3.0), Some(2.0)]
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"start": format!("d{i}"), "metrics": {"m": v}}))
            .collect();
        let chart = line_chart("m", &series).unwrap();
        // x spreads over 300 units from 52; y maps 3 to the top (8) and 1 to the bottom (108).
        assert_eq!(chart.path, "M52.0 108.0 M252.0 8.0 L352.0 58.0");
        assert_eq!(chart.rows[1], ("d1".to_string(), "—".to_string()));
        assert_eq!(chart.markers.len(), 3);
    }

    #[test]
    fn bars_are_shares_scaled_to_the_tallest() {
        let plot = distribution_plot(&json!({
            "kind": "bars", "categories": ["a", "b"], "reference": [30, 10], "current": [0, 40]
        }))
        .unwrap();
        // Shares: reference 0.75 / 0.25, current 0 / 1; the tallest (1.0) fills 60 units.
        assert_eq!(plot.bars[0].reference_height, "45.0");
        assert_eq!(plot.bars[1].current_height, "60.0");
        assert_eq!(plot.bars[0].current_height, "0.0");
        assert!(
            plot.bars[1]
                .tip
                .starts_with("b: reference 10 (25.0%), current 40 (100.0%)")
        );
    }
}
