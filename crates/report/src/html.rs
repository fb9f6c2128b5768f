//! The HTML report: one page with no external resource (styles inline, charts as inline
//! SVG drawn here, the report's JSON embedded), so that it opens offline and can be
//! mailed. The page is a minijinja template (`report.html`, escaped automatically);
//! this module turns the report into the numbers the template draws.

use std::sync::LazyLock;

use minijinja::Environment;
use modelwatch_core::answer::drift::{Distribution, DriftAnswer};
use modelwatch_core::answer::metrics::{ConfusionMatrix, SeriesPoint};
use modelwatch_core::answer::quality::QualityAnswer;
use modelwatch_core::answer::report::Report;
use serde::Serialize;
use serde_json::Value;

use crate::cells::{
    cell, count_cell, inputs, kind_name, metric_cell, new_categories, number_cell, quality_cells,
    scalar_metrics,
};
use crate::world::{WorldMap, world_map};

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
    internals: Vec<InternalsCells>,
    correlations: Option<Heatmap>,
    maps: Vec<WorldMap>,
    data: &'a Value,
}

/// The correlation heatmap: Pearson per pair, coloured by sign and size.
#[derive(Serialize)]
struct Heatmap {
    columns: Vec<String>,
    rows: Vec<(String, Vec<HeatCell>)>,
    summary: String,
}

#[derive(Serialize)]
struct HeatCell {
    text: String,
    /// `hsl(...)` background: blue for positive, red for negative, white at 0.
    background: String,
    /// White text on dark cells.
    dark: bool,
    tip: String,
}

fn heat_cell(a: &str, b: &str, r: Option<f64>) -> HeatCell {
    match r {
        Some(r) => {
            let lightness = 100.0 - 50.0 * r.abs();
            HeatCell {
                text: format!("{r:.2}"),
                background: format!(
                    "hsl({}, 75%, {lightness:.0}%)",
                    if r >= 0.0 { 217 } else { 0 }
                ),
                dark: lightness < 65.0,
                tip: format!("{a} · {b}: {r:.4}"),
            }
        }
        None => HeatCell {
            text: "—".to_string(),
            background: "#f1f3f5".to_string(),
            dark: false,
            tip: format!("{a} · {b}: undefined"),
        },
    }
}

fn heatmap(report: &Report) -> Option<Heatmap> {
    let answer = report.correlations.as_ref()?;
    let names = &answer.features;
    let rows = answer
        .pearson
        .iter()
        .zip(names)
        .map(|(row, a)| {
            let cells = row
                .iter()
                .zip(names)
                .map(|(r, b)| heat_cell(a, b, *r))
                .collect();
            (a.clone(), cells)
        })
        .collect();
    let change = match (answer.max_abs_change, answer.pairs.first()) {
        (Some(change), Some(pair)) => format!(
            " Largest change against the reference: {change:.4} ({} · {}).",
            pair.a, pair.b
        ),
        _ => " No reference correlations to compare with.".to_string(),
    };
    let left_out = if answer.left_out.is_empty() {
        String::new()
    } else {
        format!(
            " Left out past the column cap: {}.",
            answer.left_out.join(", ")
        )
    };
    Some(Heatmap {
        columns: names.clone(),
        rows,
        summary: format!(
            "Pearson correlation over {} rows, each pair over the rows where both are present.{change}{left_out}",
            answer.rows
        ),
    })
}

/// A row of the model-internals table, as text.
#[derive(Serialize)]
struct InternalsCells {
    tensor: String,
    version: String,
    steps: String,
    l2_norm: String,
    l2_norm_change: String,
    non_finite: String,
    bad: bool,
}

fn internals_cells(report: &Report) -> Vec<InternalsCells> {
    report
        .internals
        .iter()
        .flatten()
        .map(|row| InternalsCells {
            tensor: row.tensor.clone(),
            version: row.version.clone(),
            steps: format!("{} to {}", row.first_step, row.last_step),
            l2_norm: number_cell(row.l2_norm),
            l2_norm_change: row
                .l2_norm_change
                .map_or("—".to_string(), |c| format!("{:+.1}%", c * 100.0)),
            non_finite: format!("{} / {}", row.nan, row.inf),
            bad: row.nan + row.inf > 0,
        })
        .collect()
}

/// An alert's field (alerts are JSON, as `GET /api/v1/alerts` lists them).
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

fn line_chart(metric: &str, series: &[SeriesPoint]) -> Option<LineChart> {
    let points: Vec<(String, Option<f64>)> = series
        .iter()
        .map(|p| {
            (
                p.start.clone(),
                p.metrics.value(metric).filter(|v| v.is_finite()),
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
                        tip: format!("{start}: {}", number_cell(Some(*v))),
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
        y_top: number_cell(Some(high)),
        y_bottom: number_cell(Some(low)),
        x_first: points.first().map(|p| p.0.clone()).unwrap_or_default(),
        x_last: points.last().map(|p| p.0.clone()).unwrap_or_default(),
        rows: series
            .iter()
            .map(|p| {
                (
                    p.start.clone(),
                    p.metrics
                        .get(metric)
                        .map_or_else(|| "—".into(), metric_cell),
                )
            })
            .collect(),
    })
}

fn as_floats(counts: &[u64]) -> Vec<f64> {
    counts.iter().map(|n| *n as f64).collect()
}

fn distribution_plot(distribution: &Distribution) -> Option<DistributionPlot> {
    let reference = as_floats(distribution.reference());
    let current = as_floats(distribution.current());
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
    let edge = |i: usize| match distribution {
        Distribution::Histogram(h) => number_cell(h.edges.get(i).copied()),
        Distribution::Bars(_) => "—".into(),
    };
    let label = |i: usize| -> String {
        match distribution {
            Distribution::Histogram(_) => format!("[{}, {}]", edge(i), edge(i + 1)),
            Distribution::Bars(b) => b.categories.get(i).cloned().unwrap_or_default(),
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
    let (left_label, right_label) = match distribution {
        Distribution::Histogram(_) => (edge(0), edge(bins)),
        Distribution::Bars(_) => (label(0), label(bins - 1)),
    };
    Some(DistributionPlot {
        bars,
        left_label,
        right_label,
    })
}

fn drift_rows(drift: Option<&DriftAnswer>) -> Vec<DriftRow> {
    let Some(drift) = drift else {
        return Vec::new();
    };
    let mut entries: Vec<_> = drift.features.iter().collect();
    // Drifted first, then the rest; within each, the order of the model definition.
    entries.sort_by_key(|f| f.drifted != Some(true));
    entries.push(&drift.prediction);
    entries.extend(&drift.score);
    entries
        .into_iter()
        .map(|f| DriftRow {
            name: f.name.clone(),
            kind: kind_name(f.kind).to_string(),
            method: f.method.name().to_string(),
            statistic: number_cell(f.statistic),
            threshold: number_cell(Some(f.threshold)),
            drifted: f.drifted,
            plot: f.distribution.as_ref().and_then(distribution_plot),
        })
        .collect()
}

fn flagged(value: u64) -> (String, bool) {
    (value.to_string(), value > 0)
}

fn quality_rows(quality: &QualityAnswer) -> Vec<QualityRow> {
    quality
        .features
        .iter()
        .map(|f| {
            let cells = quality_cells(f);
            QualityRow {
                name: f.name().to_string(),
                missing: flagged(f.missing()),
                type_errors: flagged(f.type_errors()),
                min: cells.min,
                mean: cells.mean,
                max: cells.max,
                out_of_range: (
                    count_cell(cells.out_of_range),
                    cells.out_of_range.is_some_and(|n| n > 0),
                ),
                distinct: cells.distinct,
                new_categories: match new_categories(f) {
                    Some(new) => (new, true),
                    None => ("—".into(), false),
                },
            }
        })
        .collect()
}

fn confusion(matrix: &ConfusionMatrix) -> Confusion {
    let largest = matrix
        .matrix
        .iter()
        .flatten()
        .map(|n| *n as f64)
        .fold(0.0f64, f64::max)
        .max(1.0);
    Confusion {
        rows: matrix
            .labels
            .iter()
            .zip(&matrix.matrix)
            .map(|(label, row)| {
                let cells = row
                    .iter()
                    .map(|n| ConfusionCell {
                        count: n.to_string(),
                        lightness: (100.0 - 55.0 * *n as f64 / largest).round() as u32,
                    })
                    .collect();
                (label.clone(), cells)
            })
            .collect(),
        labels: matrix.labels.clone(),
    }
}

fn alert_rows(alerts: Option<&Vec<Value>>) -> Option<Vec<AlertRow>> {
    Some(
        alerts?
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

fn facts(report: &Report) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    let bound = |b: &Option<Option<String>>| b.clone().flatten();
    for (value, name) in [
        (report.model.clone(), "Model"),
        (Some(report.task.as_str().to_string()), "Task"),
        (bound(&report.version), "Version"),
        (bound(&report.from), "From"),
        (bound(&report.to), "To"),
        (report.generated_at.clone(), "Generated"),
    ] {
        if let Some(v) = value {
            facts.push((name.to_string(), v));
        }
    }
    for (part, rows, rejected) in inputs(report) {
        let mut line = format!("{rows} rows");
        if let Some(rejected) = rejected.filter(|n| *n > 0) {
            line.push_str(&format!(", {rejected} rejected"));
        }
        facts.push((format!("{part} data"), line));
    }
    facts
}

/// Renders a report as one self-contained HTML page.
pub fn html(report: &Report) -> Result<String, minijinja::Error> {
    let summary = &report.metrics.summary;
    let series = report.metrics.series.as_deref().unwrap_or_default();
    // The page embeds the report's JSON, as the API serves it.
    let data = serde_json::to_value(report).unwrap_or_default();
    let page = Page {
        title: match &report.model {
            Some(model) => format!("modelwatch report: {model}"),
            None => "modelwatch report".to_string(),
        },
        facts: facts(report),
        summary: scalar_metrics(summary)
            .into_iter()
            .map(|(name, v)| (name.to_string(), metric_cell(v)))
            .collect(),
        // Interval ends are in the summary table, not charted alone.
        charts: scalar_metrics(summary)
            .into_iter()
            .filter(|(name, _)| !name.ends_with("_lower") && !name.ends_with("_upper"))
            .filter_map(|(name, _)| line_chart(name, series))
            .collect(),
        confusion: summary.confusion_matrix.as_ref().map(confusion),
        drift_summary: report.drift.as_ref().map(|d| {
            format!(
                "Dataset drift: {} ({} of {} features drifted; reference {} rows, current {} rows).",
                if d.dataset_drift { "yes" } else { "no" },
                d.drifted_features,
                d.features_total,
                d.reference_count,
                d.current_count,
            )
        }),
        drift: drift_rows(report.drift.as_ref()),
        quality: quality_rows(&report.quality),
        alerts: alert_rows(report.alerts.as_ref()),
        internals: internals_cells(report),
        correlations: heatmap(report),
        maps: report.maps.iter().filter_map(world_map).collect(),
        data: &data,
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
    use modelwatch_core::answer::drift::Bars;
    use modelwatch_core::answer::metrics::Metrics;

    #[test]
    fn a_null_breaks_the_line() {
        let series: Vec<SeriesPoint> = [Some(1.0), None, Some(3.0), Some(2.0)]
            .iter()
            .enumerate()
            .map(|(i, v)| SeriesPoint {
                metrics: Metrics {
                    error_rate: *v,
                    ..Metrics::default()
                },
                start: format!("d{i}"),
            })
            .collect();
        let chart = line_chart("error_rate", &series).unwrap();
        // x spreads over 300 units from 52; y maps 3 to the top (8) and 1 to the bottom (108).
        assert_eq!(chart.path, "M52.0 108.0 M252.0 8.0 L352.0 58.0");
        assert_eq!(chart.rows[1], ("d1".to_string(), "—".to_string()));
        assert_eq!(chart.markers.len(), 3);
    }

    #[test]
    fn bars_are_shares_scaled_to_the_tallest() {
        let plot = distribution_plot(&Distribution::Bars(Bars {
            categories: vec!["a".into(), "b".into()],
            reference: vec![30, 10],
            current: vec![0, 40],
            ..Bars::default()
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
