//! Model metrics and drift as Prometheus gauges, computed at scrape time over each
//! model's trailing window of event time ([`crate::config::MetricsConfig::window_ms`], ending at
//! the end of the minute that holds the model's newest event).
//!
//! This module holds the gauge families and the [`Snapshot`] of values applied to them
//! at once; [`crate::service::gauges`] computes the values with the same service calls
//! as the HTTP answers (the drift gauges from the verdicts alone, without the
//! distributions). They are computed at most once per [`crate::config::MetricsConfig::cache_ttl`], one
//! computation at a time, off the async runtime; scrapes in between serve the last
//! result. Headline gauges exist for all versions together (`version="_all"`) and for
//! the model's most recent versions in the window (at most `max_versions`); drift for
//! all versions together, for models with a reference.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use modelwatch_core::answer::drift::DriftVerdicts;
use modelwatch_core::answer::metrics::Metrics;
use modelwatch_core::drift::reference::PREDICTION;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::labels::{ModelLabel, VersionLabel};

type FloatGauge = Gauge<f64, AtomicU64>;

/// Reads one metric of a window; `None` when undefined or not a metric of the task.
pub type MetricField = fn(&Metrics) -> Option<f64>;

/// The headline metrics of the metrics answer with a gauge of their own:
/// `(the metric, series name, help)`. Latency percentiles are in [`WINDOW_LATENCY`]
/// instead.
pub const WINDOW_METRICS: &[(MetricField, &str, &str)] = &[
    (
        |m| Some(m.count as f64),
        "modelwatch_window_predictions",
        "Predictions in the trailing window",
    ),
    (
        |m| Some(m.labelled_count as f64),
        "modelwatch_window_labelled_predictions",
        "Labelled predictions in the trailing window",
    ),
    (
        |m| m.error_rate,
        "modelwatch_window_error_ratio",
        "Share of predictions flagged as errors in the trailing window",
    ),
    (
        |m| m.accuracy.flatten(),
        "modelwatch_window_accuracy",
        "Accuracy over the trailing window",
    ),
    (
        |m| m.precision.flatten(),
        "modelwatch_window_precision",
        "Precision of the positive class over the trailing window",
    ),
    (
        |m| m.recall.flatten(),
        "modelwatch_window_recall",
        "Recall of the positive class over the trailing window",
    ),
    (
        |m| m.f1.flatten(),
        "modelwatch_window_f1",
        "F1 of the positive class over the trailing window",
    ),
    (
        |m| m.roc_auc.flatten(),
        "modelwatch_window_roc_auc",
        "ROC AUC over the trailing window",
    ),
    (
        |m| m.log_loss.flatten(),
        "modelwatch_window_log_loss",
        "Log loss (natural log) over the trailing window",
    ),
    (
        |m| m.precision_macro.flatten(),
        "modelwatch_window_precision_macro",
        "Macro-averaged precision over the trailing window",
    ),
    (
        |m| m.recall_macro.flatten(),
        "modelwatch_window_recall_macro",
        "Macro-averaged recall over the trailing window",
    ),
    (
        |m| m.f1_macro.flatten(),
        "modelwatch_window_f1_macro",
        "Macro-averaged F1 over the trailing window",
    ),
    (
        |m| m.precision_weighted.flatten(),
        "modelwatch_window_precision_weighted",
        "Support-weighted precision over the trailing window",
    ),
    (
        |m| m.recall_weighted.flatten(),
        "modelwatch_window_recall_weighted",
        "Support-weighted recall over the trailing window",
    ),
    (
        |m| m.f1_weighted.flatten(),
        "modelwatch_window_f1_weighted",
        "Support-weighted F1 over the trailing window",
    ),
    (
        |m| m.mae.flatten(),
        "modelwatch_window_mae",
        "Mean absolute error over the trailing window",
    ),
    (
        |m| m.rmse.flatten(),
        "modelwatch_window_rmse",
        "Root mean squared error over the trailing window",
    ),
    (
        |m| m.mape.flatten(),
        "modelwatch_window_mape",
        "Mean absolute percentage error (a fraction) over the trailing window",
    ),
    (
        |m| m.r2.flatten(),
        "modelwatch_window_r2",
        "Coefficient of determination over the trailing window",
    ),
    (
        |m| m.mean_error.flatten(),
        "modelwatch_window_mean_error",
        "Mean of prediction minus label over the trailing window",
    ),
    (
        |m| m.estimated_accuracy.flatten(),
        "modelwatch_window_estimated_accuracy",
        "Estimated accuracy (CBPE, no labels needed) over the trailing window",
    ),
    (
        |m| m.estimated_precision.flatten(),
        "modelwatch_window_estimated_precision",
        "Estimated precision (CBPE; macro for multiclass) over the trailing window",
    ),
    (
        |m| m.estimated_recall.flatten(),
        "modelwatch_window_estimated_recall",
        "Estimated recall (CBPE; macro for multiclass) over the trailing window",
    ),
    (
        |m| m.estimated_f1.flatten(),
        "modelwatch_window_estimated_f1",
        "Estimated F1 (CBPE; macro for multiclass) over the trailing window",
    ),
    (
        |m| m.estimated_roc_auc.flatten(),
        "modelwatch_window_estimated_roc_auc",
        "Estimated ROC AUC (CBPE; macro for multiclass) over the trailing window",
    ),
    (
        |m| m.label_coverage.flatten(),
        "modelwatch_window_label_coverage",
        "Share of the trailing window's predictions that have a label",
    ),
    (
        |m| m.cpu_percent_mean.flatten(),
        "modelwatch_window_cpu_percent_mean",
        "Mean CPU use of the served model's instances over the trailing window, percent of a core",
    ),
    (
        |m| m.cpu_percent_max.flatten(),
        "modelwatch_window_cpu_percent_max",
        "Largest CPU use sampled over the trailing window, percent of a core",
    ),
    (
        |m| m.memory_bytes_max.flatten(),
        "modelwatch_window_memory_max_bytes",
        "Largest resident memory sampled over the trailing window",
    ),
    (
        |m| m.gpu_utilization_mean.flatten(),
        "modelwatch_window_gpu_utilization_mean_ratio",
        "Mean GPU utilisation sampled over the trailing window",
    ),
    (
        |m| m.gpu_memory_bytes_max.flatten(),
        "modelwatch_window_gpu_memory_max_bytes",
        "Largest GPU memory in use sampled over the trailing window",
    ),
    (
        |m| m.instances.map(|n| n as f64),
        "modelwatch_window_instances",
        "Distinct instances that sent telemetry in the trailing window",
    ),
    (
        |m| m.log_errors.map(|n| n as f64),
        "modelwatch_window_log_errors",
        "Log records of level error or fatal in the trailing window",
    ),
    (
        |m| m.crashes.map(|n| n as f64),
        "modelwatch_window_crashes",
        "Crashes (fatal log records) in the trailing window",
    ),
    (
        |m| m.crash_rate.flatten(),
        "modelwatch_window_crashes_per_hour",
        "Crashes per hour over the trailing window",
    ),
];
/// Latency percentiles of the trailing window, seconds, by `percentile` (`quantile`
/// is reserved for summaries, and promtool says so).
pub const WINDOW_LATENCY: &str = "modelwatch_window_latency_seconds";
/// Start of the trailing window (event time), seconds since the epoch.
pub const WINDOW_START: &str = "modelwatch_window_start_timestamp_seconds";
/// End of the trailing window (event time, exclusive), seconds since the epoch.
pub const WINDOW_END: &str = "modelwatch_window_end_timestamp_seconds";
/// A feature's drift statistic under its method.
pub const DRIFT_STATISTIC: &str = "modelwatch_drift_statistic";
/// The threshold the statistic is judged against.
pub const DRIFT_THRESHOLD: &str = "modelwatch_drift_threshold";
/// Whether a feature drifted (1) or not (0).
pub const DRIFT_DETECTED: &str = "modelwatch_drift_detected";
/// Share of judged features that drifted.
pub const DRIFT_SHARE: &str = "modelwatch_drift_share";
/// Whether the data set drifted (`drift_share` ≥ 0.5).
pub const DATASET_DRIFT: &str = "modelwatch_dataset_drift";
/// The largest change of a Pearson correlation against the reference's.
pub const CORRELATION_CHANGE: &str = "modelwatch_correlation_change";
/// A tensor's L2 norm at its newest summary.
pub const PARAMETERS_L2_NORM: &str = "modelwatch_parameters_l2_norm";
/// NaN values in a tensor's newest summary.
pub const PARAMETERS_NAN: &str = "modelwatch_parameters_nan_values";
/// Infinite values in a tensor's newest summary.
pub const PARAMETERS_INF: &str = "modelwatch_parameters_inf_values";
/// Tensors per model with series of their own (the most recently summarised), so a
/// model with thousands of layers cannot flood the exposition.
pub const MAX_TENSOR_SERIES: usize = 100;
/// Models the server holds.
pub const MODELS: &str = "modelwatch_models";
/// Time the last computation of the model gauges took.
pub const COMPUTE_SECONDS: &str = "modelwatch_model_gauges_compute_seconds";

/// The label set of the latency percentiles.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PercentileLabel {
    /// The model's name.
    pub model: String,
    /// The version or `_all`.
    pub version: String,
    /// `50`, `95` or `99`.
    pub percentile: String,
}

/// The label set of a drift statistic.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftLabel {
    /// The model's name.
    pub model: String,
    /// The feature, or `prediction` for the model's output.
    pub feature: String,
    /// The drift method, as in the drift answer.
    pub method: String,
}

/// The label set of a drift verdict.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeatureLabel {
    /// The model's name.
    pub model: String,
    /// The feature, or `prediction`.
    pub feature: String,
}

/// The label set of a tensor's gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TensorLabel {
    /// The model's name.
    pub model: String,
    /// The tensor's name.
    pub tensor: String,
    /// The version of its newest summary.
    pub version: String,
}

/// The newest summary of one tensor, as the gauges show it.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorGauge {
    /// The tensor's name.
    pub tensor: String,
    /// The version of the summary.
    pub version: String,
    /// Its L2 norm over the finite values (`None` without one).
    pub l2_norm: Option<f64>,
    /// NaN values.
    pub nan: u64,
    /// Infinite values.
    pub inf: u64,
}

/// The computed values, applied all at once.
#[derive(Debug, Default)]
pub struct Snapshot {
    window: Vec<(usize, VersionLabel, f64)>,
    latency: Vec<(PercentileLabel, f64)>,
    bounds: Vec<(ModelLabel, f64, f64)>,
    drift_statistic: Vec<(DriftLabel, f64)>,
    drift_threshold: Vec<(DriftLabel, f64)>,
    drift_detected: Vec<(FeatureLabel, i64)>,
    drift_share: Vec<(ModelLabel, f64)>,
    dataset_drift: Vec<(ModelLabel, i64)>,
    correlation_change: Vec<(ModelLabel, f64)>,
    tensors: Vec<(TensorLabel, TensorGauge)>,
    models: i64,
}

/// The gauge families.
pub struct ModelGauges {
    window: Vec<Family<VersionLabel, FloatGauge>>,
    latency: Family<PercentileLabel, FloatGauge>,
    window_start: Family<ModelLabel, FloatGauge>,
    window_end: Family<ModelLabel, FloatGauge>,
    drift_statistic: Family<DriftLabel, FloatGauge>,
    drift_threshold: Family<DriftLabel, FloatGauge>,
    drift_detected: Family<FeatureLabel, Gauge>,
    drift_share: Family<ModelLabel, FloatGauge>,
    dataset_drift: Family<ModelLabel, Gauge>,
    correlation_change: Family<ModelLabel, FloatGauge>,
    parameters_l2_norm: Family<TensorLabel, FloatGauge>,
    parameters_nan: Family<TensorLabel, Gauge>,
    parameters_inf: Family<TensorLabel, Gauge>,
    models: Gauge,
    compute_seconds: FloatGauge,
    stale: AtomicBool,
}

impl ModelGauges {
    /// Registers the families.
    pub fn register(registry: &mut Registry) -> Self {
        let gauges = Self {
            window: WINDOW_METRICS.iter().map(|_| Family::default()).collect(),
            latency: Family::default(),
            window_start: Family::default(),
            window_end: Family::default(),
            drift_statistic: Family::default(),
            drift_threshold: Family::default(),
            drift_detected: Family::default(),
            drift_share: Family::default(),
            dataset_drift: Family::default(),
            correlation_change: Family::default(),
            parameters_l2_norm: Family::default(),
            parameters_nan: Family::default(),
            parameters_inf: Family::default(),
            models: Gauge::default(),
            compute_seconds: FloatGauge::default(),
            stale: AtomicBool::new(true),
        };
        for ((_, name, help), family) in WINDOW_METRICS.iter().zip(&gauges.window) {
            registry.register(*name, *help, family.clone());
        }
        let r = registry;
        r.register(
            WINDOW_LATENCY,
            "Serving latency percentiles over the trailing window",
            gauges.latency.clone(),
        );
        r.register(
            WINDOW_START,
            "Start of the trailing window in event time (inclusive)",
            gauges.window_start.clone(),
        );
        r.register(WINDOW_END, "End of the trailing window in event time (exclusive): the end of the minute of the newest event", gauges.window_end.clone());
        r.register(
            DRIFT_STATISTIC,
            "Drift statistic of the feature over the trailing window, under its method",
            gauges.drift_statistic.clone(),
        );
        r.register(
            DRIFT_THRESHOLD,
            "Threshold the drift statistic is judged against",
            gauges.drift_threshold.clone(),
        );
        r.register(
            DRIFT_DETECTED,
            "Whether the feature drifted over the trailing window",
            gauges.drift_detected.clone(),
        );
        r.register(
            DRIFT_SHARE,
            "Share of judged features that drifted over the trailing window",
            gauges.drift_share.clone(),
        );
        r.register(
            DATASET_DRIFT,
            "Whether the data set drifted (drift share at least 0.5)",
            gauges.dataset_drift.clone(),
        );
        r.register(
            CORRELATION_CHANGE,
            "Largest change of a Pearson correlation against the reference's, over the trailing window",
            gauges.correlation_change.clone(),
        );
        r.register(
            PARAMETERS_L2_NORM,
            "L2 norm of the tensor's finite values at its newest summary",
            gauges.parameters_l2_norm.clone(),
        );
        r.register(
            PARAMETERS_NAN,
            "NaN values in the tensor's newest summary",
            gauges.parameters_nan.clone(),
        );
        r.register(
            PARAMETERS_INF,
            "Infinite values in the tensor's newest summary",
            gauges.parameters_inf.clone(),
        );
        r.register(MODELS, "Models the server holds", gauges.models.clone());
        r.register(
            COMPUTE_SECONDS,
            "Time the last computation of the model gauges took",
            gauges.compute_seconds.clone(),
        );
        gauges
    }

    fn clear(&self) {
        for family in &self.window {
            family.clear();
        }
        self.latency.clear();
        self.window_start.clear();
        self.window_end.clear();
        self.drift_statistic.clear();
        self.drift_threshold.clear();
        self.drift_detected.clear();
        self.drift_share.clear();
        self.dataset_drift.clear();
        self.correlation_change.clear();
        self.parameters_l2_norm.clear();
        self.parameters_nan.clear();
        self.parameters_inf.clear();
    }

    /// Replaces every value by those of `snapshot` (call it inside
    /// [`crate::telemetry::Telemetry::exclusively`]).
    pub fn apply(&self, snapshot: Snapshot, compute_seconds: f64) {
        self.clear();
        for (index, label, value) in snapshot.window {
            self.window[index].get_or_create(&label).set(value);
        }
        for (label, value) in snapshot.latency {
            self.latency.get_or_create(&label).set(value);
        }
        for (label, start, end) in snapshot.bounds {
            self.window_start.get_or_create(&label).set(start);
            self.window_end.get_or_create(&label).set(end);
        }
        for (label, value) in snapshot.drift_statistic {
            self.drift_statistic.get_or_create(&label).set(value);
        }
        for (label, value) in snapshot.drift_threshold {
            self.drift_threshold.get_or_create(&label).set(value);
        }
        for (label, value) in snapshot.drift_detected {
            self.drift_detected.get_or_create(&label).set(value);
        }
        for (label, value) in snapshot.drift_share {
            self.drift_share.get_or_create(&label).set(value);
        }
        for (label, value) in snapshot.dataset_drift {
            self.dataset_drift.get_or_create(&label).set(value);
        }
        for (label, value) in snapshot.correlation_change {
            self.correlation_change.get_or_create(&label).set(value);
        }
        for (label, tensor) in snapshot.tensors {
            if let Some(norm) = tensor.l2_norm {
                self.parameters_l2_norm.get_or_create(&label).set(norm);
            }
            let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            self.parameters_nan
                .get_or_create(&label)
                .set(count(tensor.nan));
            self.parameters_inf
                .get_or_create(&label)
                .set(count(tensor.inf));
        }
        self.models.set(snapshot.models);
        self.compute_seconds.set(compute_seconds);
    }

    /// Whether a model was deleted since this was last asked (and clears the mark).
    pub fn take_stale(&self) -> bool {
        self.stale.swap(false, Ordering::SeqCst)
    }

    /// Drops every model gauge (a model was deleted); the next scrape computes them again.
    pub fn forget_model(&self, _model: &str) {
        self.clear();
        self.stale.store(true, Ordering::SeqCst);
    }
}

impl Snapshot {
    /// A snapshot of `models` models, to be filled.
    pub fn new(models: i64) -> Self {
        Self {
            models,
            ..Self::default()
        }
    }

    /// Notes the trailing window `[from_ms, to_ms)` the gauges of `model` cover.
    pub fn add_bounds(&mut self, model: &str, from_ms: i64, to_ms: i64) {
        self.bounds.push((
            ModelLabel {
                model: model.to_string(),
            },
            from_ms as f64 / 1000.0,
            to_ms as f64 / 1000.0,
        ));
    }

    /// Adds the headline metrics of one version (or all) of a model.
    pub fn add_window_metrics(&mut self, metrics: &Metrics, label: &VersionLabel) {
        for (index, (field, _, _)) in WINDOW_METRICS.iter().enumerate() {
            if let Some(value) = field(metrics) {
                self.window.push((index, label.clone(), value));
            }
        }
        for (ms, percentile) in [
            (metrics.latency_p50, "50"),
            (metrics.latency_p95, "95"),
            (metrics.latency_p99, "99"),
        ] {
            if let Some(ms) = ms {
                self.latency.push((
                    PercentileLabel {
                        model: label.model.clone(),
                        version: label.version.clone(),
                        percentile: percentile.into(),
                    },
                    ms / 1000.0,
                ));
            }
        }
    }

    /// Adds the largest correlation change of a model.
    pub fn add_correlation_change(&mut self, model: &str, change: f64) {
        self.correlation_change.push((
            ModelLabel {
                model: model.into(),
            },
            change,
        ));
    }

    /// Adds the newest summary of each tensor of a model: `newest` holds them newest
    /// first, and only the first [`MAX_TENSOR_SERIES`] tensors get series.
    pub fn add_tensors(&mut self, model: &str, newest: Vec<TensorGauge>) {
        let mut seen = std::collections::HashSet::new();
        for tensor in newest {
            if seen.len() == MAX_TENSOR_SERIES {
                break;
            }
            if !seen.insert(tensor.tensor.clone()) {
                continue;
            }
            let label = TensorLabel {
                model: model.into(),
                tensor: tensor.tensor.clone(),
                version: tensor.version.clone(),
            };
            self.tensors.push((label, tensor));
        }
    }

    /// Adds the drift verdicts of a model.
    pub fn add_drift(&mut self, model: &str, verdicts: &DriftVerdicts) {
        let features = verdicts.features.iter().map(|(n, v)| (n.as_str(), v));
        for (name, verdict) in features.chain(std::iter::once((PREDICTION, &verdicts.prediction))) {
            let label = DriftLabel {
                model: model.into(),
                feature: name.into(),
                method: verdict.method.name().into(),
            };
            if let Some(statistic) = verdict.statistic {
                self.drift_statistic.push((label.clone(), statistic));
            }
            if verdict.threshold.is_finite() {
                self.drift_threshold.push((label, verdict.threshold));
            }
            if let Some(drifted) = verdict.drifted {
                self.drift_detected.push((
                    FeatureLabel {
                        model: model.into(),
                        feature: name.into(),
                    },
                    drifted as i64,
                ));
            }
        }
        let label = ModelLabel {
            model: model.into(),
        };
        if let Some(share) = verdicts.tally.share() {
            self.drift_share.push((label.clone(), share));
        }
        self.dataset_drift
            .push((label, verdicts.tally.dataset_drift() as i64));
    }
}
