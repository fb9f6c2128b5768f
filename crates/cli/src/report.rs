//! `modelwatch report`: the server's numbers, offline, from a schema and CSV files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use modelwatch_core::FieldError;
use modelwatch_core::drift::ReferenceProfile;
use modelwatch_core::drift::report::{drift_answer, quality_answer};
use modelwatch_core::offline::{OfflineProfiles, OfflineReference, reference_from_csv};
use modelwatch_core::time::{MINUTE_MS, format_duration, format_timestamp, now_ms, parse_duration};
use modelwatch_core::{Model, ModelDefinition};
use serde_json::{Value, json};

use crate::usage;

/// Arguments of `modelwatch report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Model definition (JSON, as for `PUT /api/v1/models/{model}`).
    #[arg(long)]
    schema: PathBuf,
    /// Reference data set (CSV), e.g. the training or validation set.
    #[arg(long)]
    reference: PathBuf,
    /// Current data set (CSV) to measure.
    #[arg(long)]
    current: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Write the report here instead of standard output.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Step of the metric series (a duration such as 1h or 1d).
    #[arg(long, default_value = "1d")]
    step: String,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Json,
    Md,
    Html,
}

fn read_schema(path: &Path) -> anyhow::Result<Model> {
    let text = std::fs::read(path)
        .map_err(|e| usage(format!("cannot read schema {}: {e}", path.display())))?;
    let definition: ModelDefinition = serde_json::from_slice(&text).map_err(|e| {
        usage(format!(
            "schema {} is not a valid model definition: {e}",
            path.display()
        ))
    })?;
    Model::new("report", definition).map_err(|e| usage(format!("schema {}: {e}", path.display())))
}

/// Opens `path` for reading, with a progress bar on a terminal for large files.
fn open_with_progress(
    path: &Path,
    what: &str,
) -> anyhow::Result<(impl std::io::Read, indicatif::ProgressBar)> {
    let file = std::fs::File::open(path)
        .map_err(|e| usage(format!("cannot read {what} {}: {e}", path.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // indicatif draws only when stderr is a terminal, so pipes and CI stay quiet.
    let bar = indicatif::ProgressBar::new(size).with_message(format!("reading {what}"));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if size < 8 * 1024 * 1024 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let reader = bar.wrap_read(std::io::BufReader::with_capacity(1 << 20, file));
    Ok((reader, bar))
}

fn profile_current(
    path: &Path,
    model: &Model,
    reference: &ReferenceProfile,
) -> anyhow::Result<OfflineProfiles> {
    let (reader, bar) = open_with_progress(path, "current")?;
    let profiles = OfflineProfiles::from_csv(reader, model, Some(reference), now_ms(), |_| {})
        .map_err(|e| usage(format!("current {}: {e}", path.display())))?;
    bar.finish_and_clear();
    Ok(profiles)
}

fn profile_reference(path: &Path, model: &Model) -> anyhow::Result<OfflineReference> {
    let (reader, bar) = open_with_progress(path, "reference")?;
    let reference = reference_from_csv(reader, model, 1)
        .map_err(|e| usage(format!("reference {}: {e}", path.display())))?;
    bar.finish_and_clear();
    Ok(reference)
}

fn rows_json(accepted: u64, rejected: &[(u64, FieldError)]) -> Value {
    json!({
        "rows": accepted + rejected.len() as u64,
        "accepted": accepted,
        "rejected": rejected.len(),
        "first_rejections": rejected.iter().take(20)
            .map(|(line, e)| json!({"line": line, "field": e.field, "error": e.to_string()}))
            .collect::<Vec<_>>(),
    })
}

/// Builds the report as JSON.
pub fn build(
    model: &Model,
    reference: &OfflineReference,
    current: &OfflineProfiles,
    step_ms: i64,
) -> anyhow::Result<Value> {
    let merged = current.merged(None, Some(step_ms)).map_err(usage)?;
    let features = current.merged_features(None);
    Ok(json!({
        "task": model.task().as_str(),
        "reference": rows_json(reference.accepted, &reference.rejected),
        "current": rows_json(current.accepted, &current.rejected),
        "metrics": {
            "step": format_duration(step_ms),
            "summary": merged.summary.metrics(model),
            "series": merged.series.iter()
                .map(|(start, p)| json!({"start": format_timestamp(*start), "metrics": p.metrics(model)}))
                .collect::<Vec<_>>(),
        },
        "drift": drift_answer(model, &reference.profile, &features),
        "quality": quality_answer(model, Some(&reference.profile), &features),
    }))
}

fn cell(value: &Value) -> String {
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

fn quality_markdown(out: &mut String, quality: &Value) {
    out.push_str("\n## Data quality\n\n| feature | missing | type errors | min | mean | max | out of range | distinct | new categories |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for f in quality["features"].as_array().into_iter().flatten() {
        let new: Vec<&str> = f["new_categories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
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
    let mut out = String::from("# modelwatch report\n\n");
    let _ = writeln!(out, "Task: `{}`\n", report["task"].as_str().unwrap_or(""));
    for part in ["reference", "current"] {
        let p = &report[part];
        let _ = writeln!(
            out,
            "- {part}: {} rows, {} rejected",
            p["rows"], p["rejected"]
        );
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
    out
}

/// Runs the command.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    if args.format == Format::Html {
        return Err(usage("--format html is not available yet; use json or md"));
    }
    let step_ms = parse_duration(&args.step).map_err(|e| usage(format!("--step: {e}")))?;
    if step_ms < MINUTE_MS || step_ms % MINUTE_MS != 0 {
        return Err(usage(
            "--step: must be a whole number of minutes, at least 1m",
        ));
    }
    let model = read_schema(&args.schema)?;
    let reference = profile_reference(&args.reference, &model)?;
    let current = profile_current(&args.current, &model, &reference.profile)?;
    for (what, rejected) in [
        ("reference", reference.rejected.len()),
        ("current", current.rejected.len()),
    ] {
        if rejected > 0 {
            eprintln!("modelwatch: {what}: {rejected} rows rejected (listed in the report)");
        }
    }
    let report = build(&model, &reference, &current, step_ms)?;
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Md | Format::Html => markdown(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(())
}
