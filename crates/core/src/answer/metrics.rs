//! The metrics of a window ([`Metrics`], what `WindowProfile::metrics` computes) and the
//! answer of `GET /api/v1/models/{model}/metrics` ([`MetricsAnswer`], built by
//! `query::metrics_answer`).

use serde::{Deserialize, Serialize};

use super::present;
use crate::schema::Task;

/// A metric of some tasks only: `None` for the other tasks (absent from the JSON),
/// `Some(None)` where it is undefined (`null`).
pub type TaskMetric = Option<Option<f64>>;

/// The confusion matrix: rows are true classes, columns predicted ones, both in the
/// order of `labels` (the model's declared classes in declared order, then any other
/// seen, sorted as scikit-learn sorts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// The classes.
    pub labels: Vec<String>,
    /// `matrix[true][predicted]` counts.
    pub matrix: Vec<Vec<u64>>,
}

/// The metrics of one window, named as in API.md: the operational ones for every task,
/// and those of the model's task. Undefined metrics are `None` (`null`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Share of labelled classifications that are right.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub accuracy: TaskMetric,
    /// Lower end of the 95% Wilson interval of `accuracy`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub accuracy_lower: TaskMetric,
    /// Upper end of the 95% Wilson interval of `accuracy`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub accuracy_upper: TaskMetric,
    /// Classifiers' confusion matrix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confusion_matrix: Option<ConfusionMatrix>,
    /// Predictions.
    pub count: u64,
    /// Largest CPU use of a telemetry sample, percent of a core (with telemetry).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub cpu_percent_max: TaskMetric,
    /// Mean CPU use over the telemetry samples, percent of a core.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub cpu_percent_mean: TaskMetric,
    /// Crashes (`fatal` log records) per hour of the window (with logs).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub crash_rate: TaskMetric,
    /// `fatal` log records (with logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crashes: Option<u64>,
    /// Share of predictions flagged as failed.
    pub error_rate: Option<f64>,
    /// Lower end of the 95% Wilson interval of `error_rate`.
    pub error_rate_lower: Option<f64>,
    /// Upper end of the 95% Wilson interval of `error_rate`.
    pub error_rate_upper: Option<f64>,
    /// Estimated accuracy (CBPE; needs a reference with labels and scores).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_accuracy: TaskMetric,
    /// Lower end of the 95% bound of `estimated_accuracy`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_accuracy_lower: TaskMetric,
    /// Upper end of the 95% bound of `estimated_accuracy`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_accuracy_upper: TaskMetric,
    /// Estimated F1 (multiclass: macro) (CBPE; needs a reference with labels and scores).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_f1: TaskMetric,
    /// Lower end of the 95% bound of `estimated_f1`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_f1_lower: TaskMetric,
    /// Upper end of the 95% bound of `estimated_f1`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_f1_upper: TaskMetric,
    /// Estimated precision (multiclass: macro) (CBPE; needs a reference with labels and scores).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_precision: TaskMetric,
    /// Lower end of the 95% bound of `estimated_precision`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_precision_lower: TaskMetric,
    /// Upper end of the 95% bound of `estimated_precision`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_precision_upper: TaskMetric,
    /// Estimated recall (multiclass: macro) (CBPE; needs a reference with labels and scores).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_recall: TaskMetric,
    /// Lower end of the 95% bound of `estimated_recall`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_recall_lower: TaskMetric,
    /// Upper end of the 95% bound of `estimated_recall`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_recall_upper: TaskMetric,
    /// Estimated ROC AUC (multiclass: macro, one-vs-rest) (CBPE; needs a reference with labels and scores).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_roc_auc: TaskMetric,
    /// Lower end of the 95% bound of `estimated_roc_auc`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_roc_auc_lower: TaskMetric,
    /// Upper end of the 95% bound of `estimated_roc_auc`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub estimated_roc_auc_upper: TaskMetric,
    /// F1 of the positive class (binary).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub f1: TaskMetric,
    /// Macro-averaged F1 (multiclass).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub f1_macro: TaskMetric,
    /// Support-weighted F1 (multiclass).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub f1_weighted: TaskMetric,
    /// Largest GPU memory in use of a telemetry sample, bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub gpu_memory_bytes_max: TaskMetric,
    /// Mean GPU utilisation over the telemetry samples, a fraction.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub gpu_utilization_mean: TaskMetric,
    /// Distinct instances that sent telemetry (with telemetry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u64>,
    /// `labelled_count / count` (with estimates).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub label_coverage: TaskMetric,
    /// Predictions with a label joined.
    pub labelled_count: u64,
    /// Median serving latency, milliseconds.
    pub latency_p50: Option<f64>,
    /// 95th percentile of the serving latency, milliseconds.
    pub latency_p95: Option<f64>,
    /// 99th percentile of the serving latency, milliseconds.
    pub latency_p99: Option<f64>,
    /// `error` and `fatal` log records (with logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_errors: Option<u64>,
    /// Log loss, natural log (classifiers with scores).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub log_loss: TaskMetric,
    /// `debug` log records (with logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_debug: Option<u64>,
    /// `error` log records (with logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_error: Option<u64>,
    /// `fatal` log records (with logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_fatal: Option<u64>,
    /// `info` log records (with logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_info: Option<u64>,
    /// `trace` log records (with logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_trace: Option<u64>,
    /// `warn` log records (with logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_warn: Option<u64>,
    /// Mean absolute error (regression).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub mae: TaskMetric,
    /// Mean absolute percentage error, a fraction (regression).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub mape: TaskMetric,
    /// Mean of prediction minus label (regression).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub mean_error: TaskMetric,
    /// Largest resident memory of a telemetry sample, bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub memory_bytes_max: TaskMetric,
    /// Precision of the positive class (binary).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub precision: TaskMetric,
    /// Lower end of the 95% Wilson interval of `precision` (binary).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub precision_lower: TaskMetric,
    /// Macro-averaged precision (multiclass).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub precision_macro: TaskMetric,
    /// Upper end of the 95% Wilson interval of `precision` (binary).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub precision_upper: TaskMetric,
    /// Support-weighted precision (multiclass).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub precision_weighted: TaskMetric,
    /// Coefficient of determination (regression).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub r2: TaskMetric,
    /// Recall of the positive class (binary).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub recall: TaskMetric,
    /// Lower end of the 95% Wilson interval of `recall` (binary).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub recall_lower: TaskMetric,
    /// Macro-averaged recall (multiclass).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub recall_macro: TaskMetric,
    /// Upper end of the 95% Wilson interval of `recall` (binary).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub recall_upper: TaskMetric,
    /// Support-weighted recall (multiclass).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub recall_weighted: TaskMetric,
    /// Root mean squared error (regression).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub rmse: TaskMetric,
    /// ROC AUC of the positive class's score (binary).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub roc_auc: TaskMetric,
}

/// One metric's value, as [`Metrics::entries`] lists them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue<'a> {
    /// A count (`count`, `labelled_count`).
    Count(u64),
    /// A number; `None` where undefined.
    Number(Option<f64>),
    /// The confusion matrix.
    ConfusionMatrix(&'a ConfusionMatrix),
}

impl MetricValue<'_> {
    /// The value as a number (a count too); `None` when undefined or a matrix.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            MetricValue::Count(n) => Some(n as f64),
            MetricValue::Number(x) => x,
            MetricValue::ConfusionMatrix(_) => None,
        }
    }
}

impl Metrics {
    /// Every metric the window has (those of its task), by name, in wire order
    /// (alphabetical).
    pub fn entries(&self) -> Vec<(&'static str, MetricValue<'_>)> {
        use MetricValue::{Count, Number};
        let task = |name: &'static str, metric: TaskMetric| metric.map(|x| (name, Number(x)));
        let count = |name: &'static str, metric: Option<u64>| metric.map(|n| (name, Count(n)));
        [
            task("accuracy", self.accuracy),
            task("accuracy_lower", self.accuracy_lower),
            task("accuracy_upper", self.accuracy_upper),
            self.confusion_matrix
                .as_ref()
                .map(|m| ("confusion_matrix", MetricValue::ConfusionMatrix(m))),
            Some(("count", Count(self.count))),
            task("cpu_percent_max", self.cpu_percent_max),
            task("cpu_percent_mean", self.cpu_percent_mean),
            task("crash_rate", self.crash_rate),
            count("crashes", self.crashes),
            Some(("error_rate", Number(self.error_rate))),
            Some(("error_rate_lower", Number(self.error_rate_lower))),
            Some(("error_rate_upper", Number(self.error_rate_upper))),
            task("estimated_accuracy", self.estimated_accuracy),
            task("estimated_accuracy_lower", self.estimated_accuracy_lower),
            task("estimated_accuracy_upper", self.estimated_accuracy_upper),
            task("estimated_f1", self.estimated_f1),
            task("estimated_f1_lower", self.estimated_f1_lower),
            task("estimated_f1_upper", self.estimated_f1_upper),
            task("estimated_precision", self.estimated_precision),
            task("estimated_precision_lower", self.estimated_precision_lower),
            task("estimated_precision_upper", self.estimated_precision_upper),
            task("estimated_recall", self.estimated_recall),
            task("estimated_recall_lower", self.estimated_recall_lower),
            task("estimated_recall_upper", self.estimated_recall_upper),
            task("estimated_roc_auc", self.estimated_roc_auc),
            task("estimated_roc_auc_lower", self.estimated_roc_auc_lower),
            task("estimated_roc_auc_upper", self.estimated_roc_auc_upper),
            task("f1", self.f1),
            task("f1_macro", self.f1_macro),
            task("f1_weighted", self.f1_weighted),
            task("gpu_memory_bytes_max", self.gpu_memory_bytes_max),
            task("gpu_utilization_mean", self.gpu_utilization_mean),
            count("instances", self.instances),
            task("label_coverage", self.label_coverage),
            Some(("labelled_count", Count(self.labelled_count))),
            Some(("latency_p50", Number(self.latency_p50))),
            Some(("latency_p95", Number(self.latency_p95))),
            Some(("latency_p99", Number(self.latency_p99))),
            count("log_errors", self.log_errors),
            task("log_loss", self.log_loss),
            count("logs_debug", self.logs_debug),
            count("logs_error", self.logs_error),
            count("logs_fatal", self.logs_fatal),
            count("logs_info", self.logs_info),
            count("logs_trace", self.logs_trace),
            count("logs_warn", self.logs_warn),
            task("mae", self.mae),
            task("mape", self.mape),
            task("mean_error", self.mean_error),
            task("memory_bytes_max", self.memory_bytes_max),
            task("precision", self.precision),
            task("precision_lower", self.precision_lower),
            task("precision_macro", self.precision_macro),
            task("precision_upper", self.precision_upper),
            task("precision_weighted", self.precision_weighted),
            task("r2", self.r2),
            task("recall", self.recall),
            task("recall_lower", self.recall_lower),
            task("recall_macro", self.recall_macro),
            task("recall_upper", self.recall_upper),
            task("recall_weighted", self.recall_weighted),
            task("rmse", self.rmse),
            task("roc_auc", self.roc_auc),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Sets `crash_rate` (crashes per hour) for a window `window_ms` long, where the
    /// window has logs; `null` without a known positive length.
    pub fn set_window(&mut self, window_ms: Option<i64>) {
        if let Some(crashes) = self.crashes {
            self.crash_rate = Some(
                window_ms
                    .filter(|ms| *ms > 0)
                    .map(|ms| crashes as f64 * 3_600_000.0 / ms as f64),
            );
        }
    }

    /// Gives a window of a series without telemetry or logs the resource and log
    /// metrics `summary` has: `null` means, zero counts. A series has the same names at
    /// every point.
    pub fn fill_absent_ops(&mut self, summary: &Metrics) {
        if summary.instances.is_some() && self.instances.is_none() {
            self.instances = Some(0);
            for metric in [
                &mut self.cpu_percent_max,
                &mut self.cpu_percent_mean,
                &mut self.gpu_memory_bytes_max,
                &mut self.gpu_utilization_mean,
                &mut self.memory_bytes_max,
            ] {
                *metric = Some(None);
            }
        }
        if summary.crashes.is_some() && self.crashes.is_none() {
            for count in [
                &mut self.crashes,
                &mut self.log_errors,
                &mut self.logs_debug,
                &mut self.logs_error,
                &mut self.logs_fatal,
                &mut self.logs_info,
                &mut self.logs_trace,
                &mut self.logs_warn,
            ] {
                *count = Some(0);
            }
        }
    }

    /// The metric called `name` (as alert rules and the gauges name them); `None` when
    /// the window's task has no such metric.
    pub fn get(&self, name: &str) -> Option<MetricValue<'_>> {
        self.entries()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The number of the metric called `name`; `None` when undefined, a matrix or not
    /// a metric of the task.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(MetricValue::as_f64)
    }
}

/// One step of a metrics series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// The step's metrics.
    pub metrics: Metrics,
    /// Start of the step (RFC 3339).
    pub start: String,
}

/// The answer of `GET /api/v1/models/{model}/metrics?from&to&step&version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsAnswer {
    /// Start of the range (see [`super::AnswerRange::from`]).
    pub from: Option<String>,
    /// The model.
    pub model: String,
    /// One point per step, with a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<SeriesPoint>>,
    /// The step (a duration such as `1d`), with a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The whole range.
    pub summary: Metrics,
    /// The model's task.
    pub task: Task,
    /// End of the range, exclusive.
    pub to: Option<String>,
    /// The version queried; `None` for all.
    pub version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_the_wire_order_and_presence() {
        let metrics = Metrics {
            accuracy: Some(Some(0.5)),
            confusion_matrix: Some(ConfusionMatrix::default()),
            roc_auc: Some(None),
            latency_p50: Some(3.0),
            ..Metrics::default()
        };
        let wire = serde_json::to_value(&metrics).unwrap();
        let keys: Vec<&str> = wire
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let names: Vec<&str> = metrics.entries().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, keys);
        assert_eq!(
            serde_json::to_string(&metrics).unwrap(),
            serde_json::to_string(&wire).unwrap()
        );
        assert_eq!(metrics.value("roc_auc"), None);
        assert_eq!(metrics.get("roc_auc"), Some(MetricValue::Number(None)));
        assert_eq!(metrics.get("rmse"), None);
        assert_eq!(metrics.value("count"), Some(0.0));
        let back: Metrics = serde_json::from_value(wire).unwrap();
        assert_eq!(back, metrics);
    }
}
