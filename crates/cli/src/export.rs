//! `modelwatch export tensorboard`: a model's metric series and feature distributions,
//! read from a running server's public HTTP API and written as a TensorBoard event file
//! (see `tensorboard.rs` for the format and docs/TENSORBOARD.md for what is written).
//!
//! It is a client like the dashboard: one `GET .../metrics?step=` for the series, then
//! one `GET .../drift?from=&to=` per window for the distributions, then one
//! `GET .../parameters` for the model internals (`export_internals`). The token, when the
//! server needs one, comes from the environment variable `MODELWATCH_TOKEN` (a flag would
//! show in `ps`) and is sent as `Authorization: Bearer`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use modelwatch_core::answer::drift::{self, DriftAnswer};
use modelwatch_core::answer::metrics::{MetricValue, Metrics, MetricsAnswer};
use modelwatch_core::time::{format_timestamp, parse_duration, parse_timestamp_str};
use serde_json::Value;

use crate::tensorboard::{EventWriter, HistogramProto, SummaryValue, histogram, scalar};
use crate::usage::usage;

/// How many drift queries are in flight at once.
const CONCURRENT_QUERIES: usize = 4;
/// At most this many categories of a categorical feature are exported (by count).
const TOP_CATEGORIES: usize = 20;
/// The category of the categories beyond [`TOP_CATEGORIES`]: the drift answer's own bar
/// for the categories past its 20.
const OTHER_CATEGORIES: &str = "(other values)";

/// Arguments of `modelwatch export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    target: ExportTarget,
}

#[derive(clap::Subcommand)]
enum ExportTarget {
    /// Write the metric series and feature distributions as TensorBoard event files.
    Tensorboard(TensorboardArgs),
}

/// Arguments of `modelwatch export tensorboard`. The token, if the server needs one, is
/// read from the environment variable `MODELWATCH_TOKEN`.
#[derive(clap::Args)]
#[command(
    after_help = "The token, when the server requires one, is read from the environment variable MODELWATCH_TOKEN and sent as `Authorization: Bearer`; a token with the read scope is enough. Tags, steps and approximations: docs/TENSORBOARD.md."
)]
pub struct TensorboardArgs {
    /// The model to export.
    #[arg(long)]
    model: String,
    /// TensorBoard log directory; the run goes to DIR/MODEL (DIR/MODEL/VERSION
    /// with --version).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Base URL of the modelwatch server.
    #[arg(long, default_value = "http://127.0.0.1:8480")]
    url: String,
    /// Start of the range (RFC 3339 or epoch ms); default: the first window with data.
    #[arg(long)]
    from: Option<String>,
    /// End of the range, exclusive; default: the end of the last window with data.
    #[arg(long)]
    to: Option<String>,
    /// Window length: one TensorBoard step per window.
    #[arg(long, default_value = "1d")]
    step: String,
    /// One model version only; default: all versions merged.
    #[arg(long)]
    version: Option<String>,
}

/// Runs an `export` target.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    match args.target {
        ExportTarget::Tensorboard(args) => tensorboard(args).await,
    }
}

/// A client of the server's API that turns its errors into one-line reasons.
struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
    model: String,
}

/// A refusal by the server: an error status with its `error` object.
struct Refusal {
    status: reqwest::StatusCode,
    code: String,
    message: String,
    field: Option<String>,
}

impl Api {
    /// `GET /api/v1/models/{model}/{what}` with `query`: the JSON answer, or the server's
    /// refusal. An unreachable server is a usage error (the URL is the user's).
    async fn request(
        &self,
        what: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Result<Value, Refusal>> {
        let url = format!("{}/api/v1/models/{}/{what}", self.base, self.model);
        let url = reqwest::Url::parse_with_params(&url, query)
            .map_err(|e| usage(format!("--url: `{}` is not a URL: {e}", self.base)))?;
        let mut request = self.client.get(url.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            usage(format!(
                "cannot reach the modelwatch server at {}: {}",
                self.base,
                error_chain(&e)
            ))
        })?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| {
            anyhow::anyhow!("{url}: answer {status} is not JSON: {}", error_chain(&e))
        })?;
        if status.is_success() {
            return Ok(Ok(body));
        }
        let text = |key: &str| body["error"][key].as_str().map(str::to_string);
        Ok(Err(Refusal {
            status,
            code: text("code").unwrap_or_default(),
            message: text("message").unwrap_or_default(),
            field: text("field"),
        }))
    }

    /// As [`Self::request`], with a refusal as an error: exit status 2 for a 4xx.
    async fn get(&self, what: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.request(what, query)
            .await?
            .map_err(|refusal| self.refused(what, refusal))
    }

    fn refused(&self, what: &str, refusal: Refusal) -> anyhow::Error {
        let Refusal {
            status,
            code,
            message,
            field,
        } = refusal;
        let reason = match (status.as_u16(), code.as_str()) {
            (404, "model_not_found") => format!("unknown model `{}`", self.model),
            (401, _) | (403, _) => format!(
                "the server refused the request ({status}: {message}); set MODELWATCH_TOKEN to a token with the read scope"
            ),
            _ => {
                let field = field.map(|f| format!(" ({f})")).unwrap_or_default();
                format!("the server answered {status} to GET {what}{field}: {message}")
            }
        };
        if status.is_client_error() {
            usage(reason)
        } else {
            anyhow::anyhow!(reason)
        }
    }
}

/// An error with its causes, on one line (reqwest's top level alone says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The group a metric's tag is in: what the model is for, or how it runs.
fn metric_group(name: &str) -> &'static str {
    match name {
        "count" | "labelled_count" | "error_rate" | "latency_p50" | "latency_p95"
        | "latency_p99" => "operational",
        _ => "performance",
    }
}

/// The scalars of one window's metrics: every number, and the confusion matrix cell by
/// cell as `confusion/<true>/<predicted>`. `null` metrics are left out.
pub fn metric_scalars(metrics: &Metrics) -> Vec<SummaryValue> {
    let mut values = Vec::new();
    for (name, value) in metrics.entries() {
        match value {
            MetricValue::ConfusionMatrix(matrix) => {
                for (truth, row) in matrix.labels.iter().zip(&matrix.matrix) {
                    for (predicted, n) in matrix.labels.iter().zip(row) {
                        values.push(scalar(format!("confusion/{truth}/{predicted}"), *n as f64));
                    }
                }
            }
            number => {
                if let Some(number) = number.as_f64() {
                    values.push(scalar(format!("{}/{name}", metric_group(name)), number));
                }
            }
        }
    }
    values
}

/// A distribution of the drift answer (`distribution` of a feature entry).
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// Counts in the bins `[edges[i], edges[i+1])`.
    Numeric {
        /// The K + 1 bin edges.
        edges: Vec<f64>,
        /// Reference counts per bin.
        reference: Vec<f64>,
        /// Current counts per bin.
        current: Vec<f64>,
    },
    /// Counts per category.
    Categorical {
        /// The categories.
        categories: Vec<String>,
        /// Reference counts per category.
        reference: Vec<f64>,
        /// Current counts per category.
        current: Vec<f64>,
    },
}

fn numbers(counts: &[u64]) -> Vec<f64> {
    counts.iter().map(|n| *n as f64).collect()
}

impl Distribution {
    /// A drift entry's `distribution`; `None` when its lengths do not agree.
    pub fn from_answer(distribution: &drift::Distribution) -> Option<Distribution> {
        let reference = numbers(distribution.reference());
        let current = numbers(distribution.current());
        match distribution {
            drift::Distribution::Histogram(h) => (h.edges.len() == current.len() + 1
                && reference.len() == current.len())
            .then(|| Distribution::Numeric {
                edges: h.edges.clone(),
                reference,
                current,
            }),
            drift::Distribution::Bars(b) => (b.categories.len() == current.len()
                && reference.len() == current.len())
            .then(|| Distribution::Categorical {
                categories: b.categories.clone(),
                reference,
                current,
            }),
        }
    }
}

/// One entry of the drift answer that has a distribution: a feature, or the model's
/// `prediction` or `score`.
#[derive(Debug, Clone)]
struct Column {
    /// `features` or `outputs`.
    group: &'static str,
    name: String,
    distribution: Distribution,
}

/// The columns of a drift answer that carry a distribution.
fn columns(drift: &DriftAnswer) -> Vec<Column> {
    let features = drift.features.iter().map(|f| ("features", f));
    let outputs = std::iter::once(&drift.prediction)
        .chain(&drift.score)
        .map(|f| ("outputs", f));
    features
        .chain(outputs)
        .filter_map(|(group, entry)| {
            let distribution = Distribution::from_answer(entry.distribution.as_ref()?)?;
            Some(Column {
                group,
                name: entry.name.clone(),
                distribution,
            })
        })
        .collect()
}

/// One window of the series, with what the export writes for it.
struct Window {
    start_ms: i64,
    metrics: Metrics,
    columns: Vec<Column>,
}

/// What an export wrote.
#[derive(Debug, Default)]
struct Written {
    windows: usize,
    scalars: usize,
    histograms: usize,
}

async fn tensorboard(args: TensorboardArgs) -> anyhow::Result<()> {
    let began = Instant::now();
    modelwatch_core::schema::validate_model_name(&args.model)
        .map_err(|e| usage(format!("--model: {}", e.message)))?;
    let step_ms = parse_duration(&args.step).map_err(|e| usage(format!("--step: {e}")))?;
    if step_ms < 60_000 || step_ms % 60_000 != 0 {
        return Err(usage(format!(
            "--step: `{}` is not a whole number of minutes of at least 1m",
            args.step
        )));
    }
    for (flag, value) in [("--from", &args.from), ("--to", &args.to)] {
        if let Some(value) = value {
            parse_timestamp_str(value).map_err(|e| usage(format!("{flag}: {e}")))?;
        }
    }
    let base = args.url.trim_end_matches('/').to_string();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(usage(format!(
            "--url: `{}` is not an http:// or https:// URL",
            args.url
        )));
    }
    let token = std::env::var("MODELWATCH_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let api = std::sync::Arc::new(Api {
        client,
        base,
        token,
        model: args.model.clone(),
    });

    let mut query = vec![("step", args.step.clone())];
    for (key, value) in [
        ("from", &args.from),
        ("to", &args.to),
        ("version", &args.version),
    ] {
        if let Some(value) = value {
            query.push((key, value.clone()));
        }
    }
    let answer: MetricsAnswer = serde_json::from_value(api.get("metrics", &query).await?)
        .map_err(|e| anyhow::anyhow!("metrics answer: {e}"))?;
    let timestamp = |t: &Option<String>| t.as_deref().and_then(|t| parse_timestamp_str(t).ok());
    let (range_from, range_to) = (timestamp(&answer.from), timestamp(&answer.to));
    let mut windows = Vec::new();
    for point in answer.series.into_iter().flatten() {
        let start_ms = parse_timestamp_str(&point.start).map_err(|e| {
            anyhow::anyhow!(
                "metrics answer: a series point starts at `{}`: {e}",
                point.start
            )
        })?;
        windows.push(Window {
            start_ms,
            metrics: point.metrics,
            columns: Vec::new(),
        });
    }

    // The run directory before the drift queries: a mistake there should not wait for them.
    let mut run_dir = args.out.join(&args.model);
    if let Some(version) = &args.version {
        run_dir = run_dir.join(path_component(version));
    }
    std::fs::create_dir_all(&run_dir)
        .map_err(|e| usage(format!("--out: cannot create {}: {e}", run_dir.display())))?;

    let distributions = fetch_distributions(
        &api,
        &mut windows,
        (range_from, range_to),
        step_ms,
        args.version.as_deref(),
    )
    .await?;
    if !distributions {
        eprintln!(
            "modelwatch: model `{}` has no reference, so no feature distributions are exported (upload one with PUT .../reference)",
            args.model
        );
    }
    // The reference on the bins of the first window with data (the numeric bins span
    // both sides' range, so they differ from window to window).
    let reference: Vec<Column> = windows
        .iter()
        .find(|w| !w.columns.is_empty())
        .map(|w| w.columns.clone())
        .unwrap_or_default();

    let now = modelwatch_core::time::now_ms() as f64 / 1000.0;
    let mut writer = EventWriter::create(&run_dir, now)
        .map_err(|e| usage(format!("--out: cannot write in {}: {e}", run_dir.display())))?;
    let path = writer.path().to_path_buf();
    let written = write_events(&mut writer, &windows, &reference)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    writer
        .finish()
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    remove_earlier_exports(&run_dir, &path)?;
    let internals = export_parameters(
        &api,
        &args.out.join(&args.model),
        args.version.as_deref(),
        now,
    )
    .await?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "modelwatch: wrote {} windows ({} scalars, {} histograms, {size} bytes) of model `{}` to {} in {:.2} s",
        written.windows,
        written.scalars,
        written.histograms,
        args.model,
        path.display(),
        began.elapsed().as_secs_f64()
    );
    println!("{}", path.display());
    if let Some(internals) = internals {
        eprintln!(
            "modelwatch: wrote model internals ({} histograms, {} training scalars) of {} versions",
            internals.histograms,
            internals.scalars,
            internals.runs.len()
        );
        for run in &internals.runs {
            println!("{}", run.display());
        }
    }
    Ok(())
}

/// The model's internals (tensor summaries of `version`, or of every version) as runs
/// under `model_dir/parameters/VERSION`; `None` when it has none.
async fn export_parameters(
    api: &Api,
    model_dir: &std::path::Path,
    version: Option<&str>,
    now: f64,
) -> anyhow::Result<Option<crate::export_internals::Written>> {
    let query: Vec<(&str, String)> = version
        .map(|v| ("version", v.to_string()))
        .into_iter()
        .collect();
    let answer = api.get("parameters", &query).await?;
    if answer["tensors"].as_array().is_none_or(|t| t.is_empty()) {
        return Ok(None);
    }
    let dir = model_dir.join("parameters");
    let written = crate::export_internals::write(&dir, answer, now, path_component)?;
    for run in &written.runs {
        if let Some(run_dir) = run.parent() {
            remove_earlier_exports(run_dir, run)?;
        }
    }
    Ok(Some(written))
}

/// Drift answers for every window with predictions (windows clipped to `range`), at most
/// [`CONCURRENT_QUERIES`] at a time, into each window's `columns`. `false` when the
/// model has no reference (then no window has columns).
async fn fetch_distributions(
    api: &std::sync::Arc<Api>,
    windows: &mut [Window],
    range: (Option<i64>, Option<i64>),
    step_ms: i64,
    version: Option<&str>,
) -> anyhow::Result<bool> {
    let mut pending = windows
        .iter()
        .enumerate()
        .filter(|(_, w)| w.metrics.count != 0)
        .map(|(i, w)| {
            let end = w.start_ms + step_ms;
            let from = range.0.map_or(w.start_ms, |f| f.max(w.start_ms));
            let to = range.1.map_or(end, |t| t.min(end));
            (i, from, to)
        })
        .collect::<Vec<_>>()
        .into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.len() < CONCURRENT_QUERIES {
            let Some((i, from, to)) = pending.next() else {
                break;
            };
            let mut query = vec![
                ("from", format_timestamp(from)),
                ("to", format_timestamp(to)),
            ];
            if let Some(version) = version {
                query.push(("version", version.to_string()));
            }
            let api = api.clone();
            tasks.spawn(async move { (i, api.request("drift", &query).await) });
        }
        let Some(joined) = tasks.join_next().await else {
            return Ok(true);
        };
        let (i, result) = joined?;
        match result? {
            Ok(drift) => {
                let drift: DriftAnswer = serde_json::from_value(drift)
                    .map_err(|e| anyhow::anyhow!("drift answer: {e}"))?;
                windows[i].columns = columns(&drift);
            }
            Err(refusal) if refusal.code == "no_reference" => {
                for window in windows.iter_mut() {
                    window.columns.clear();
                }
                return Ok(false);
            }
            Err(refusal) => return Err(api.refused("drift", refusal)),
        }
    }
}

/// Removes the event files of earlier exports from `run_dir` (all but `keep`), so that
/// TensorBoard does not show their points twice. Other files are left alone.
fn remove_earlier_exports(run_dir: &std::path::Path, keep: &std::path::Path) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(run_dir)
        .map_err(|e| usage(format!("--out: cannot read {}: {e}", run_dir.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path != keep
            && entry
                .file_name()
                .to_str()
                .is_some_and(crate::tensorboard::is_own_file)
        {
            std::fs::remove_file(&path)
                .map_err(|e| usage(format!("--out: cannot replace {}: {e}", path.display())))?;
        }
    }
    Ok(())
}

/// `text` as one safe path component (a version may hold any character).
fn path_component(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.as_str() {
        "" | "." | ".." => format!("_{cleaned}"),
        _ => cleaned,
    }
}

/// The events of an export: one per window (step = the window's index from the first
/// window, wall time = the window's start), with the reference histograms at step 0.
fn write_events(
    writer: &mut EventWriter,
    windows: &[Window],
    reference: &[Column],
) -> std::io::Result<Written> {
    let mut written = Written::default();
    let top = top_categories(windows);
    for (index, window) in windows.iter().enumerate() {
        let mut values = metric_scalars(&window.metrics);
        if index == 0 {
            for column in reference {
                if let Distribution::Numeric {
                    edges, reference, ..
                } = &column.distribution
                    && let Some(histo) = HistogramProto::from_bins(edges, reference)
                {
                    values.push(histogram(format!("reference/{}", column.name), histo));
                }
            }
        }
        for column in &window.columns {
            match &column.distribution {
                Distribution::Numeric { edges, current, .. } => {
                    if let Some(histo) = HistogramProto::from_bins(edges, current) {
                        values.push(histogram(
                            format!("{}/{}", column.group, column.name),
                            histo,
                        ));
                    }
                }
                Distribution::Categorical {
                    categories,
                    current,
                    ..
                } => {
                    let total: f64 = current.iter().sum();
                    if total <= 0.0 {
                        continue;
                    }
                    let chosen = top.get(&column.name);
                    let mut other = 0.0;
                    let mut any_other = false;
                    for (category, &count) in categories.iter().zip(current) {
                        if category != OTHER_CATEGORIES
                            && chosen.is_some_and(|c| c.contains(category))
                        {
                            values.push(scalar(
                                format!("categories/{}/{category}", column.name),
                                count / total,
                            ));
                        } else {
                            other += count;
                            any_other = true;
                        }
                    }
                    if any_other {
                        values.push(scalar(
                            format!("categories/{}/{OTHER_CATEGORIES}", column.name),
                            other / total,
                        ));
                    }
                }
            }
        }
        for value in &values {
            match value.value {
                Some(crate::tensorboard::Value::Histo(_)) => written.histograms += 1,
                _ => written.scalars += 1,
            }
        }
        writer.write_summary(window.start_ms as f64 / 1000.0, index as i64, values)?;
        written.windows += 1;
    }
    Ok(written)
}

/// Per categorical column, the [`TOP_CATEGORIES`] categories with the most current
/// values over all windows (ties by name).
fn top_categories(windows: &[Window]) -> BTreeMap<String, Vec<String>> {
    let mut totals: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for column in windows.iter().flat_map(|w| &w.columns) {
        if let Distribution::Categorical {
            categories,
            current,
            ..
        } = &column.distribution
        {
            let counts = totals.entry(column.name.clone()).or_default();
            for (category, count) in categories.iter().zip(current) {
                if category != OTHER_CATEGORIES {
                    *counts.entry(category.clone()).or_default() += count;
                }
            }
        }
    }
    totals
        .into_iter()
        .map(|(name, counts)| {
            let mut sorted: Vec<(String, f64)> = counts.into_iter().collect();
            sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let top = sorted
                .into_iter()
                .take(TOP_CATEGORIES)
                .map(|(c, _)| c)
                .collect();
            (name, top)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metrics_become_grouped_scalars_and_confusion_cells() {
        let metrics: Metrics = serde_json::from_value(json!({"count": 4, "labelled_count": 0,
            "accuracy": 0.5, "roc_auc": null, "latency_p95": 12.5,
            "confusion_matrix": {"labels": ["0", "1"], "matrix": [[1, 2], [0, 1]]}}))
        .unwrap();
        let values = metric_scalars(&metrics);
        let tags: Vec<(String, f32)> = values
            .iter()
            .map(|v| match v.value {
                Some(crate::tensorboard::Value::SimpleValue(x)) => (v.tag.clone(), x),
                _ => panic!("not a scalar"),
            })
            .collect();
        assert_eq!(
            tags,
            [
                ("performance/accuracy".to_string(), 0.5),
                ("confusion/0/0".into(), 1.0),
                ("confusion/0/1".into(), 2.0),
                ("confusion/1/0".into(), 0.0),
                ("confusion/1/1".into(), 1.0),
                ("operational/count".into(), 4.0),
                ("operational/labelled_count".into(), 0.0),
                ("operational/latency_p95".into(), 12.5),
            ]
        );
    }

    #[test]
    fn distributions_of_both_shapes_are_read_and_malformed_ones_refused() {
        let read = |value: Value| {
            let answer: drift::Distribution = serde_json::from_value(value).unwrap();
            Distribution::from_answer(&answer)
        };
        assert_eq!(
            read(
                json!({"kind": "histogram", "edges": [0, 1, 2], "reference": [1, 2], "current": [3, 4]})
            ),
            Some(Distribution::Numeric {
                edges: vec![0.0, 1.0, 2.0],
                reference: vec![1.0, 2.0],
                current: vec![3.0, 4.0]
            })
        );
        assert_eq!(
            read(json!({"kind": "bars", "categories": ["a"], "reference": [1], "current": [2]})),
            Some(Distribution::Categorical {
                categories: vec!["a".into()],
                reference: vec![1.0],
                current: vec![2.0]
            })
        );
        assert_eq!(
            read(
                json!({"kind": "histogram", "edges": [0, 1], "reference": [1, 2], "current": [3, 4]})
            ),
            None
        );
        assert_eq!(
            read(
                json!({"kind": "bars", "categories": ["a"], "reference": [1, 2], "current": [3, 4]})
            ),
            None
        );
    }

    #[test]
    fn versions_become_safe_directory_names() {
        assert_eq!(path_component("v1.2-rc_3"), "v1.2-rc_3");
        assert_eq!(path_component("a/b c"), "a_b_c");
        assert_eq!(path_component(".."), "_..");
        assert_eq!(path_component(""), "_");
    }
}
