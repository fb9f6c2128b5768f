//! Reports of a model over a range, shared by `GET /api/v1/models/{model}/report` and
//! `modelwatch report`: the report is a JSON value (summary, metric series, drift,
//! quality, alerts), and this module renders it as Markdown or as one self-contained
//! HTML page ([`html`]).

use std::fmt::Write as _;

use serde_json::Value;

mod html;

pub use html::html;

/// A table cell: floats to four decimals, `—` for null.
pub(crate) fn cell(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Value::Object(_) => "(see JSON)".into(),
        other => other.to_string(),
    }
}

fn drift_markdown(out: &mut String, drift: &Value) {
    if !drift.is_object() {
        out.push_str("\n## Drift\n\nNo reference data set, so no drift.\n");
        return;
    }
    let _ = writeln!(
        out,
        "\n## Drift\n\nDataset drift: **{}** ({} of {} features drifted; reference {} rows, current {} rows)\n",
        drift["dataset_drift"],
        drift["drifted_features"],
        drift["features_total"],
        drift["reference_count"],
        drift["current_count"]
    );
    out.push_str("| feature | type | method | statistic | threshold | drifted |\n| --- | --- | --- | --- | --- | --- |\n");
    let mut entries: Vec<&Value> = drift["features"].as_array().into_iter().flatten().collect();
    entries.extend(
        [&drift["prediction"], &drift["score"]]
            .into_iter()
            .filter(|v| v.is_object()),
    );
    for f in entries {
        let verdict = match f["drifted"].as_bool() {
            Some(true) => "**yes**",
            Some(false) => "no",
            None => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {verdict} |",
            f["name"].as_str().unwrap_or(""),
            f["type"].as_str().unwrap_or(""),
            f["method"].as_str().unwrap_or(""),
            cell(&f["statistic"]),
            cell(&f["threshold"]),
        );
    }
}

/// The new categories of a quality answer's feature entry.
pub(crate) fn new_categories(feature: &Value) -> Vec<&str> {
    feature["new_categories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn quality_markdown(out: &mut String, quality: &Value) {
    out.push_str("\n## Data quality\n\n| feature | missing | type errors | min | mean | max | out of range | distinct | new categories |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for f in quality["features"].as_array().into_iter().flatten() {
        let new = new_categories(f);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f["name"].as_str().unwrap_or(""),
            f["missing"],
            f["type_errors"],
            cell(&f["min"]),
            cell(&f["mean"]),
            cell(&f["max"]),
            cell(&f["out_of_range"]),
            cell(&f["distinct"]),
            if new.is_empty() {
                "—".to_string()
            } else {
                new.join(", ")
            },
        );
    }
}

/// Renders the report as Markdown.
pub fn markdown(report: &Value) -> String {
    let mut out = match report["model"].as_str() {
        Some(model) => format!("# modelwatch report: {model}\n\n"),
        None => String::from("# modelwatch report\n\n"),
    };
    let _ = writeln!(out, "Task: `{}`\n", report["task"].as_str().unwrap_or(""));
    for key in ["version", "from", "to", "generated_at"] {
        if let Some(value) = report[key].as_str() {
            let _ = writeln!(out, "- {key}: {value}");
        }
    }
    for part in ["reference", "current"] {
        let p = &report[part];
        if p.is_object() {
            let _ = write!(out, "- {part}: {} rows", p["rows"]);
            if let Some(rejected) = p["rejected"].as_u64() {
                let _ = write!(out, ", {rejected} rejected");
            }
            out.push('\n');
        }
    }
    out.push_str("\n## Summary\n\n| metric | value |\n| --- | --- |\n");
    if let Some(summary) = report["metrics"]["summary"].as_object() {
        for (name, value) in summary {
            if name != "confusion_matrix" {
                let _ = writeln!(out, "| {name} | {} |", cell(value));
            }
        }
        if let Some(matrix) = summary.get("confusion_matrix") {
            out.push_str("\n## Confusion matrix (rows: true class, columns: predicted)\n\n");
            let labels: Vec<String> = matrix["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| l.as_str().unwrap_or("").to_string())
                .collect();
            let _ = writeln!(out, "| | {} |", labels.join(" | "));
            let _ = writeln!(out, "|---|{}", "---|".repeat(labels.len()));
            for (label, row) in labels
                .iter()
                .zip(matrix["matrix"].as_array().into_iter().flatten())
            {
                let cells: Vec<String> = row
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| v.to_string())
                    .collect();
                let _ = writeln!(out, "| **{label}** | {} |", cells.join(" | "));
            }
        }
    }
    drift_markdown(&mut out, &report["drift"]);
    quality_markdown(&mut out, &report["quality"]);
    let _ = writeln!(
        out,
        "\n## Series (step {})\n",
        report["metrics"]["step"].as_str().unwrap_or("")
    );
    let series = report["metrics"]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(first) = series.first().and_then(|p| p["metrics"].as_object()) {
        let names: Vec<&String> = first.keys().filter(|k| *k != "confusion_matrix").collect();
        let _ = writeln!(
            out,
            "| start | {} |",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(out, "|---|{}", "---|".repeat(names.len()));
        for point in &series {
            let values: Vec<String> = names
                .iter()
                .map(|n| cell(&point["metrics"][n.as_str()]))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} |",
                point["start"].as_str().unwrap_or(""),
                values.join(" | ")
            );
        }
    }
    if let Some(alerts) = report["alerts"].as_array() {
        out.push_str("\n## Alerts in the range\n\n");
        if alerts.is_empty() {
            out.push_str("No alert in the range.\n");
        } else {
            out.push_str("| rule | state | value | threshold | starts at | ends at |\n| --- | --- | --- | --- | --- | --- |\n");
            for a in alerts {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    a["rule"].as_str().unwrap_or(""),
                    a["state"].as_str().unwrap_or(""),
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
