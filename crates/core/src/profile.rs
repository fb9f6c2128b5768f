//! The window profile: everything modelwatch keeps about one model version over one
//! window of event time, in bounded memory, with an exact `merge`.
//!
//! A profile is built from events ([`WindowProfile::observe_prediction`]) and late
//! labels ([`WindowProfile::observe_label`]); profiles of adjacent windows, of several
//! versions or of several server nodes combine with [`WindowProfile::merge`], which is
//! associative and commutative. Counts, the confusion matrix and sketch buckets merge
//! exactly; floating-point sums merge up to rounding.

use serde::{Deserialize, Serialize};

use crate::answer::metrics::Metrics;
use crate::estimate::scores::UnlabelledScores;
use crate::estimate::{Estimation, cbpe};
use crate::event::{PredictionEvent, Score, Target};
use crate::groups::{GroupState, SegmentState, WindowGroups};
use crate::interval::wilson;
use crate::ops::{LogLevel, LogProfile, UsageProfile};
use crate::performance::{
    ClassificationProfile, RegressionProfile, classification_metrics, observe_outcome,
    regression_metrics,
};
use crate::schema::{Model, Task};
use crate::sketch::LatencySketch;

/// Format tag written before every encoded profile, so a future layout can be told apart.
/// Encoding 4 is encoding 3 followed by the resource use and the logs of the window;
/// encoding 3 is encoding 2 followed by the unlabelled scores of estimation. Encodings 3
/// and 2 are still read (with no resource use or logs, and no unlabelled scores).
const ENCODING_VERSION: u8 = 4;
/// Encoding 4 followed by the window's groups (segments, fairness): written only when
/// the window has groups, so a model without them stores what it stored before.
const ENCODING_WITH_GROUPS: u8 = 5;
/// The layout before resource use and logs.
const ENCODING_WITHOUT_OPERATIONS: u8 = 3;
/// The layout before estimated performance.
const ENCODING_WITHOUT_ESTIMATION: u8 = 2;

/// Aggregates of one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowProfile {
    /// Predictions received.
    pub count: u64,
    /// Predictions flagged as failed.
    pub error_count: u64,
    /// Predictions with a label joined (inline or late) and an output to compare it with.
    pub labelled_count: u64,
    /// Serving latencies.
    pub latency: LatencySketch,
    /// Classifier outcomes.
    pub classification: ClassificationProfile,
    /// Regressor outcomes.
    pub regression: RegressionProfile,
    /// Scores of predictions without a label yet (estimated performance). Encoded after
    /// the other fields (see [`WindowProfile::encode`]).
    #[serde(skip)]
    pub unlabelled: UnlabelledScores,
    /// Resource use of the serving instances (`POST .../telemetry`). Encoded after the
    /// unlabelled scores.
    #[serde(skip)]
    pub usage: UsageProfile,
    /// Log records by level and template (`POST .../logs`). Encoded after the resource use.
    #[serde(skip)]
    pub logs: LogProfile,
    /// Per segment value and per sensitive group (see [`crate::groups`]). Encoded last.
    #[serde(skip)]
    pub groups: WindowGroups<SegmentProfile>,
}

/// The profile of one segment value: a window profile whose own groups stay empty,
/// stored with its unlabelled scores (estimated performance per segment).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentProfile(pub WindowProfile);

impl GroupState for SegmentProfile {
    fn merge_from(&mut self, other: &Self) {
        self.0.merge(&other.0);
    }
}

impl SegmentState for SegmentProfile {
    fn observe_prediction(&mut self, model: &Model, event: &PredictionEvent) {
        self.0.observe_ungrouped(model, event);
    }

    fn observe_label(
        &mut self,
        model: &Model,
        prediction: &Target,
        score: Option<&Score>,
        label: &Target,
    ) {
        self.0.observe_label(model, prediction, score, label);
    }
}

impl Serialize for SegmentProfile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.0, &self.0.unlabelled).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SegmentProfile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (mut profile, unlabelled): (WindowProfile, UnlabelledScores) =
            Deserialize::deserialize(deserializer)?;
        profile.unlabelled = unlabelled;
        Ok(SegmentProfile(profile))
    }
}

/// Why an encoded profile could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are empty or from an unknown layout.
    #[error("unknown profile encoding {0:?}")]
    UnknownEncoding(Option<u8>),
    /// The bytes do not decode.
    #[error("corrupt profile: {0}")]
    Corrupt(#[from] postcard::Error),
}

/// A layout tag byte, then the value in postcard: the stored form of every profile.
pub fn encode_tagged<T: Serialize>(tag: u8, value: &T) -> Vec<u8> {
    let mut bytes = vec![tag];
    // Serialising plain data to a Vec cannot fail.
    bytes.extend(postcard::to_stdvec(value).unwrap_or_default());
    bytes
}

/// Reads what [`encode_tagged`] wrote with the same tag.
pub fn decode_tagged<T: serde::de::DeserializeOwned>(
    tag: u8,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    match bytes.split_first() {
        Some((found, rest)) if *found == tag => Ok(postcard::from_bytes(rest)?),
        other => Err(DecodeError::UnknownEncoding(other.map(|(v, _)| *v))),
    }
}

impl WindowProfile {
    /// Adds a prediction (and its inline label, if any), to its groups too.
    pub fn observe_prediction(&mut self, model: &Model, event: &PredictionEvent) {
        self.observe_ungrouped(model, event);
        if !(model.segment_features.is_empty() && model.sensitive_features.is_empty()) {
            self.groups.observe_prediction(model, event);
        }
    }

    /// Adds a prediction to the profile's own counts only (a segment's profile).
    pub fn observe_ungrouped(&mut self, model: &Model, event: &PredictionEvent) {
        self.count += 1;
        self.error_count += event.error as u64;
        if let Some(latency) = event.latency_ms {
            self.latency.insert(latency);
        }
        match (&event.prediction, &event.label, &event.score) {
            (Some(prediction), Some(label), _) => {
                self.observe_outcome(model, prediction, event.score.as_ref(), label)
            }
            (Some(prediction), None, Some(score)) => {
                self.unlabelled.observe(model, prediction, score, 1)
            }
            _ => {}
        }
    }

    /// Adds a label joined to an earlier prediction with this output and score (which
    /// was observed without it: it leaves the unlabelled scores).
    pub fn observe_label(
        &mut self,
        model: &Model,
        prediction: &Target,
        score: Option<&Score>,
        label: &Target,
    ) {
        if let Some(score) = score {
            self.unlabelled.observe(model, prediction, score, -1);
        }
        self.observe_outcome(model, prediction, score, label);
    }

    /// [`Self::observe_label`], and the label in the groups of the prediction's
    /// `features` (as stored with it).
    pub fn observe_label_grouped(
        &mut self,
        model: &Model,
        features: &[crate::event::FeatureValue],
        prediction: &Target,
        score: Option<&Score>,
        label: &Target,
    ) {
        self.observe_label(model, prediction, score, label);
        if !(model.segment_features.is_empty() && model.sensitive_features.is_empty()) {
            self.groups
                .observe_label(model, features, prediction, score, label);
        }
    }

    fn observe_outcome(
        &mut self,
        model: &Model,
        prediction: &Target,
        score: Option<&Score>,
        label: &Target,
    ) {
        if observe_outcome(
            model,
            &mut self.classification,
            &mut self.regression,
            prediction,
            label,
            score,
        ) {
            self.labelled_count += 1;
        }
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: &WindowProfile) {
        self.count += other.count;
        self.error_count += other.error_count;
        self.labelled_count += other.labelled_count;
        self.latency.merge(&other.latency);
        self.classification.merge(&other.classification);
        self.regression.merge(&other.regression);
        self.unlabelled.merge(&other.unlabelled);
        self.usage.merge(&other.usage);
        self.logs.merge(&other.logs);
        if !other.groups.is_empty() {
            self.groups.merge(&other.groups);
        }
    }

    /// A compact binary encoding for the store: the fields of encoding 2, then the
    /// unlabelled scores, the resource use and the logs, then (encoding 5, only when
    /// there are any) the groups.
    pub fn encode(&self) -> Vec<u8> {
        let tag = if self.groups.is_empty() {
            ENCODING_VERSION
        } else {
            ENCODING_WITH_GROUPS
        };
        let mut bytes = encode_tagged(tag, self);
        bytes.extend(postcard::to_stdvec(&self.unlabelled).unwrap_or_default());
        bytes.extend(postcard::to_stdvec(&self.usage).unwrap_or_default());
        bytes.extend(postcard::to_stdvec(&self.logs).unwrap_or_default());
        if !self.groups.is_empty() {
            bytes.extend(postcard::to_stdvec(&self.groups).unwrap_or_default());
        }
        bytes
    }

    /// Reads what [`Self::encode`] wrote, or encodings 3 and 2.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes.split_first() {
            Some((&ENCODING_VERSION, rest)) => {
                let (mut profile, rest): (WindowProfile, _) = postcard::take_from_bytes(rest)?;
                let (unlabelled, rest) = postcard::take_from_bytes(rest)?;
                let (usage, rest) = postcard::take_from_bytes(rest)?;
                profile.unlabelled = unlabelled;
                profile.usage = usage;
                profile.logs = postcard::from_bytes(rest)?;
                Ok(profile)
            }
            Some((&ENCODING_WITHOUT_OPERATIONS, rest)) => {
                let (mut profile, rest): (WindowProfile, _) = postcard::take_from_bytes(rest)?;
                profile.unlabelled = postcard::from_bytes(rest)?;
                Ok(profile)
            }
            Some((&ENCODING_WITH_GROUPS, rest)) => {
                let (mut profile, rest): (WindowProfile, _) = postcard::take_from_bytes(rest)?;
                let (unlabelled, rest) = postcard::take_from_bytes(rest)?;
                let (usage, rest) = postcard::take_from_bytes(rest)?;
                let (logs, rest) = postcard::take_from_bytes(rest)?;
                profile.unlabelled = unlabelled;
                profile.usage = usage;
                profile.logs = logs;
                profile.groups = postcard::from_bytes(rest)?;
                Ok(profile)
            }
            _ => decode_tagged(ENCODING_WITHOUT_ESTIMATION, bytes),
        }
    }

    /// The metrics of API.md for `model`'s task: `None` (`null`) where a metric is
    /// undefined. No estimates: see [`Self::metrics_estimated`].
    pub fn metrics(&self, model: &Model) -> Metrics {
        self.metrics_estimated(model, None)
    }

    /// The metrics, with the estimated ones (CBPE) when the model's reference gave an
    /// `estimation`.
    pub fn metrics_estimated(&self, model: &Model, estimation: Option<&Estimation>) -> Metrics {
        let latency = |q: f64| self.latency.quantile(q).filter(|v| v.is_finite());
        let mut out = Metrics {
            count: self.count,
            labelled_count: self.labelled_count,
            error_rate: (self.count > 0).then(|| self.error_count as f64 / self.count as f64),
            latency_p50: latency(0.5),
            latency_p95: latency(0.95),
            latency_p99: latency(0.99),
            ..Metrics::default()
        };
        match model.task() {
            Task::BinaryClassification | Task::MulticlassClassification => {
                classification_metrics(model, &self.classification, &mut out)
            }
            Task::Regression => regression_metrics(&self.regression, &mut out),
        }
        self.operations_metrics(&mut out);
        if let Some((lower, upper)) = wilson(self.error_count, self.count) {
            (out.error_rate_lower, out.error_rate_upper) = (Some(lower), Some(upper));
        }
        if let Some(estimation) = estimation
            && model.task().is_classification()
        {
            let realised_roc_auc = out.roc_auc.flatten();
            cbpe::estimated_metrics(
                model,
                estimation,
                &self.classification,
                &self.unlabelled,
                realised_roc_auc,
                &mut out,
            );
        }
        out
    }
}

impl WindowProfile {
    /// The resource and log metrics, where the window has telemetry or logs (absent
    /// otherwise); `crash_rate` needs the window's length ([`Metrics::set_window`]).
    fn operations_metrics(&self, out: &mut Metrics) {
        let usage = &self.usage;
        if !usage.is_empty() {
            out.cpu_percent_max = Some(usage.cpu_percent.maximum());
            out.cpu_percent_mean = Some(usage.cpu_percent.mean());
            out.memory_bytes_max = Some(usage.memory_bytes.maximum());
            out.gpu_utilization_mean = Some(usage.gpu_utilization.mean());
            out.gpu_memory_bytes_max = Some(usage.gpu_memory_bytes.maximum());
            out.instances = Some(usage.instances.count());
        }
        let logs = &self.logs;
        if !logs.is_empty() {
            out.log_errors = Some(logs.errors());
            out.crashes = Some(logs.crashes());
            out.crash_rate = Some(None);
            out.logs_trace = Some(logs.count(LogLevel::Trace));
            out.logs_debug = Some(logs.count(LogLevel::Debug));
            out.logs_info = Some(logs.count(LogLevel::Info));
            out.logs_warn = Some(logs.count(LogLevel::Warn));
            out.logs_error = Some(logs.count(LogLevel::Error));
            out.logs_fatal = Some(logs.count(LogLevel::Fatal));
        }
    }
}

/// The resource and log metrics every model has (with telemetry or logs); rules accept
/// them, and the number a rule's `min_count` compares is then the samples (resource
/// metrics) or the log records (log metrics) of the span.
pub const OPERATIONS_METRICS: [&str; 15] = [
    "cpu_percent_mean",
    "cpu_percent_max",
    "memory_bytes_max",
    "gpu_utilization_mean",
    "gpu_memory_bytes_max",
    "instances",
    "log_errors",
    "crashes",
    "crash_rate",
    "logs_trace",
    "logs_debug",
    "logs_info",
    "logs_warn",
    "logs_error",
    "logs_fatal",
];

/// What a rule's `min_count` counts in `profile` for `metric`: telemetry samples for a
/// resource metric, log records for a log metric, predictions otherwise.
pub fn judged_count(profile: &WindowProfile, metric: &str) -> u64 {
    match OPERATIONS_METRICS.iter().position(|m| *m == metric) {
        Some(at) if at < 6 => profile.usage.samples,
        Some(_) => profile.logs.total(),
        None => profile.count,
    }
}

/// The names of the metrics a model of `task` has (all of them numeric except
/// `confusion_matrix`); the alert rules accept these.
pub fn metric_names(task: Task) -> &'static [&'static str] {
    match task {
        Task::BinaryClassification => &[
            "count",
            "labelled_count",
            "error_rate",
            "error_rate_lower",
            "error_rate_upper",
            "latency_p50",
            "latency_p95",
            "latency_p99",
            "accuracy",
            "accuracy_lower",
            "accuracy_upper",
            "precision",
            "precision_lower",
            "precision_upper",
            "recall",
            "recall_lower",
            "recall_upper",
            "f1",
            "roc_auc",
            "log_loss",
            "estimated_accuracy",
            "estimated_accuracy_lower",
            "estimated_accuracy_upper",
            "estimated_precision",
            "estimated_precision_lower",
            "estimated_precision_upper",
            "estimated_recall",
            "estimated_recall_lower",
            "estimated_recall_upper",
            "estimated_f1",
            "estimated_f1_lower",
            "estimated_f1_upper",
            "estimated_roc_auc",
            "estimated_roc_auc_lower",
            "estimated_roc_auc_upper",
            "label_coverage",
            "confusion_matrix",
        ],
        Task::MulticlassClassification => &[
            "count",
            "labelled_count",
            "error_rate",
            "error_rate_lower",
            "error_rate_upper",
            "latency_p50",
            "latency_p95",
            "latency_p99",
            "accuracy",
            "accuracy_lower",
            "accuracy_upper",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "precision_weighted",
            "recall_weighted",
            "f1_weighted",
            "log_loss",
            "estimated_accuracy",
            "estimated_accuracy_lower",
            "estimated_accuracy_upper",
            "estimated_precision",
            "estimated_precision_lower",
            "estimated_precision_upper",
            "estimated_recall",
            "estimated_recall_lower",
            "estimated_recall_upper",
            "estimated_f1",
            "estimated_f1_lower",
            "estimated_f1_upper",
            "estimated_roc_auc",
            "estimated_roc_auc_lower",
            "estimated_roc_auc_upper",
            "label_coverage",
            "confusion_matrix",
        ],
        Task::Regression => &[
            "count",
            "labelled_count",
            "error_rate",
            "error_rate_lower",
            "error_rate_upper",
            "latency_p50",
            "latency_p95",
            "latency_p99",
            "mae",
            "rmse",
            "mape",
            "r2",
            "mean_error",
        ],
    }
}
