//! A report as Markdown: facts, the metrics summary and series, drift and quality tables,
//! the countries of geographic features, alerts.

use std::fmt::Write as _;

use modelwatch_core::answer::drift::DriftAnswer;
use modelwatch_core::answer::map::MapAnswer;
use modelwatch_core::answer::quality::QualityAnswer;
use modelwatch_core::answer::report::Report;

use crate::cells::{
    cell, count_cell, inputs, kind_name, markdown_text as md, metric_cell, new_categories,
    number_cell, quality_cells, scalar_metrics,
};

fn drift_markdown(out: &mut String, drift: Option<&DriftAnswer>) {
    let Some(drift) = drift else {
        out.push_str("\n## Drift\n\nNo reference data set, so no drift.\n");
        return;
    };
    let _ = writeln!(
        out,
        "\n## Drift\n\nDataset drift: **{}** ({} of {} features drifted; reference {} rows, current {} rows)\n",
        drift.dataset_drift,
        drift.drifted_features,
        drift.features_total,
        drift.reference_count,
        drift.current_count
    );
    out.push_str("| feature | type | method | statistic | threshold | drifted |\n| --- | --- | --- | --- | --- | --- |\n");
    for f in drift.entries() {
        let verdict = match f.drifted {
            Some(true) => "**yes**",
            Some(false) => "no",
            None => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {verdict} |",
            md(&f.name),
            kind_name(f.kind),
            f.method.name(),
            number_cell(f.statistic),
            number_cell(Some(f.threshold)),
        );
    }
}

fn quality_markdown(out: &mut String, quality: &QualityAnswer) {
    out.push_str("\n## Data quality\n\n| feature | missing | type errors | min | mean | max | out of range | distinct | new categories |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for f in &quality.features {
        let cells = quality_cells(f);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md(f.name()),
            f.missing(),
            f.type_errors(),
            cells.min,
            cells.mean,
            cells.max,
            count_cell(cells.out_of_range),
            cells.distinct,
            new_categories(f).map_or_else(|| "—".to_string(), |new| md(&new)),
        );
    }
}

/// A geographic feature's countries, the busiest first.
fn map_markdown(out: &mut String, map: &MapAnswer) {
    let _ = writeln!(
        out,
        "\n## Countries of {}\n\n{} rows name no country; {} have none.\n\n| country | rows | share | reference share | change |\n| --- | --- | --- | --- | --- |",
        md(&map.feature),
        map.not_a_country,
        map.missing
    );
    let mut ranked: Vec<_> = map.countries.iter().filter(|c| c.count > 0).collect();
    ranked.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    let percent = |s: Option<f64>| s.map_or("—".to_string(), |s| format!("{:.1}%", s * 100.0));
    for c in ranked {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            c.code,
            c.count,
            percent(Some(c.share)),
            percent(c.reference_share),
            c.share_change
                .map_or("—".to_string(), |d| format!("{:+.1} pt", d * 100.0)),
        );
    }
}

/// Renders the report as Markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = match &report.model {
        Some(model) => format!("# modelwatch report: {}\n\n", md(model)),
        None => String::from("# modelwatch report\n\n"),
    };
    let _ = writeln!(out, "Task: `{}`\n", report.task.as_str());
    let bound = |b: &Option<Option<String>>| b.clone().flatten();
    for (key, value) in [
        ("version", bound(&report.version)),
        ("from", bound(&report.from)),
        ("to", bound(&report.to)),
        ("generated_at", report.generated_at.clone()),
    ] {
        if let Some(value) = value {
            let _ = writeln!(out, "- {key}: {}", md(&value));
        }
    }
    for (part, rows, rejected) in inputs(report) {
        let _ = write!(out, "- {part}: {rows} rows");
        if let Some(rejected) = rejected {
            let _ = write!(out, ", {rejected} rejected");
        }
        out.push('\n');
    }
    out.push_str("\n## Summary\n\n| metric | value |\n| --- | --- |\n");
    let summary = &report.metrics.summary;
    for (name, value) in scalar_metrics(summary) {
        let _ = writeln!(out, "| {name} | {} |", metric_cell(value));
    }
    if let Some(matrix) = &summary.confusion_matrix {
        out.push_str("\n## Confusion matrix (rows: true class, columns: predicted)\n\n");
        let labels: Vec<String> = matrix.labels.iter().map(|l| md(l)).collect();
        let _ = writeln!(out, "| | {} |", labels.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(matrix.labels.len()));
        for (label, row) in labels.iter().zip(&matrix.matrix) {
            let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            let _ = writeln!(out, "| **{label}** | {} |", cells.join(" | "));
        }
    }
    drift_markdown(&mut out, report.drift.as_ref());
    quality_markdown(&mut out, &report.quality);
    let _ = writeln!(
        out,
        "\n## Series (step {})\n",
        report.metrics.step.as_deref().unwrap_or("")
    );
    let series = report.metrics.series.as_deref().unwrap_or_default();
    if let Some(first) = series.first() {
        let names: Vec<&str> = scalar_metrics(&first.metrics)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let _ = writeln!(out, "| start | {} |", names.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(names.len()));
        for point in series {
            let values: Vec<String> = names
                .iter()
                .map(|n| point.metrics.get(n).map_or_else(|| "—".into(), metric_cell))
                .collect();
            let _ = writeln!(out, "| {} | {} |", point.start, values.join(" | "));
        }
    }
    for map in &report.maps {
        map_markdown(&mut out, map);
    }
    if let Some(alerts) = &report.alerts {
        out.push_str("\n## Alerts in the range\n\n");
        if alerts.is_empty() {
            out.push_str("No alert in the range.\n");
        } else {
            out.push_str("| rule | state | value | threshold | starts at | ends at |\n| --- | --- | --- | --- | --- | --- |\n");
            for a in alerts {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    md(a["rule"].as_str().unwrap_or("")),
                    md(a["state"].as_str().unwrap_or("")),
                    cell(&a["value"]),
                    cell(&a["threshold"]),
                    a["starts_at"].as_str().unwrap_or(""),
                    a["ends_at"].as_str().unwrap_or("—"),
                );
            }
        }
    }
    out
}
