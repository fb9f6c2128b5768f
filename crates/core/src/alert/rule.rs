//! Alert rules: the definition a user sends (`PUT /api/v1/rules/{rule}`), validated
//! against the model into a [`Rule`] whose metric, durations and condition are known
//! to make sense.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::schema::{FeatureType, Model};
use crate::time::parse_duration;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Less,
    /// `<=`
    #[serde(rename = "<=")]
    LessOrEqual,
    /// `>`
    #[serde(rename = ">")]
    Greater,
    /// `>=`
    #[serde(rename = ">=")]
    GreaterOrEqual,
}

impl Op {
    /// Whether `value op threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Less => value < threshold,
            Op::LessOrEqual => value <= threshold,
            Op::Greater => value > threshold,
            Op::GreaterOrEqual => value >= threshold,
        }
    }
}

/// Where an automatic threshold learns what is normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The metric on chunks of the reference data set.
    Reference,
    /// The metric on the model's own past spans.
    History,
}

/// When a span's value is a problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    /// A fixed threshold.
    Threshold {
        /// The comparison.
        op: Op,
        /// The bound.
        threshold: f64,
    },
    /// Outside the baseline's mean ± k·σ.
    Auto {
        /// The learned bounds.
        auto: AutoCondition,
    },
    /// The drift verdict of the feature under its method (the default for `drift.*`).
    DriftVerdict,
}

/// The parameters of an automatic threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoCondition {
    /// Where normal is learned.
    pub baseline: Baseline,
    /// Width of the band in standard deviations.
    #[serde(default = "default_k")]
    pub k: f64,
}

fn default_k() -> f64 {
    3.0
}

/// Which clock a rule's spans are judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// The model's event time: a span is judged once the newest event time has passed
    /// its end by `allowed_lateness` (replays raise the alerts of their time).
    Event,
    /// The wall clock: a span is judged once the wall clock has passed its end by
    /// `allowed_lateness`, data or not. The default for absence rules (`count` with
    /// `<` or `<=`), which must fire when a model goes quiet.
    Wall,
}

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricRef {
    /// A metric of the metrics answer (`accuracy`, `latency_p95`, `count`, …).
    Performance(String),
    /// `drift_share`: the share of features that drifted.
    DriftShare,
    /// `drift.<feature>`: that feature's drift statistic.
    Drift(String),
    /// `missing_share.<feature>`.
    MissingShare(String),
    /// `new_categories.<feature>`.
    NewCategories(String),
    /// `prediction_drift`: the prediction's drift statistic.
    PredictionDrift,
}

impl MetricRef {
    /// Whether the value comes from feature profiles (drift or quality).
    pub fn needs_features(&self) -> bool {
        !matches!(self, MetricRef::Performance(_))
    }
}

/// A validated alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule's name (the alert's `alertname`).
    pub name: String,
    /// The model it watches.
    pub model: String,
    /// The metric, parsed.
    pub metric: MetricRef,
    /// The metric as written.
    pub metric_name: String,
    /// Span length.
    pub window_ms: i64,
    /// Span spacing: spans end at multiples of it.
    pub every_ms: i64,
    /// When the value is a problem.
    pub condition: Condition,
    /// How long the condition must hold before the alert fires.
    pub for_ms: i64,
    /// How long a firing alert stays firing after the condition stops holding (damping
    /// against flapping).
    pub keep_firing_for_ms: i64,
    /// Spans with fewer events are not judged.
    pub min_count: u64,
    /// `severity` label.
    pub severity: String,
    /// Extra labels.
    pub labels: BTreeMap<String, String>,
    /// Channels notified.
    pub channels: Vec<String>,
    /// The clock spans are judged on.
    pub clock: Clock,
    /// The definition as sent (with defaults filled in), for `GET`.
    pub definition: Value,
}

fn duration_field(
    object: &serde_json::Map<String, Value>,
    key: &str,
    default: Option<&str>,
) -> Result<i64, FieldError> {
    match object.get(key) {
        None | Some(Value::Null) => match default {
            Some(d) => Ok(parse_duration(d).unwrap_or(0)),
            None => Err(FieldError::new(key, "is required")),
        },
        Some(Value::String(text)) => parse_duration(text).map_err(|e| FieldError::new(key, e)),
        Some(_) => Err(FieldError::new(key, "expected a duration such as \"1h\"")),
    }
}

fn feature_metric(model: &Model, prefix: &str, feature: &str) -> Result<String, FieldError> {
    if model.feature_index(feature).is_none() {
        return Err(FieldError::new(
            "metric",
            format!(
                "`{prefix}.{feature}`: model `{}` has no feature `{feature}`",
                model.name
            ),
        ));
    }
    Ok(feature.to_string())
}

/// Parses a metric name for `model`.
pub fn parse_metric(model: &Model, metric: &str) -> Result<MetricRef, FieldError> {
    if let Some(feature) = metric.strip_prefix("drift.") {
        return Ok(MetricRef::Drift(feature_metric(model, "drift", feature)?));
    }
    if let Some(feature) = metric.strip_prefix("missing_share.") {
        return Ok(MetricRef::MissingShare(feature_metric(
            model,
            "missing_share",
            feature,
        )?));
    }
    if let Some(feature) = metric.strip_prefix("new_categories.") {
        let name = feature_metric(model, "new_categories", feature)?;
        if model.features()[model.feature_index(&name).unwrap_or(0)].kind
            != FeatureType::Categorical
        {
            return Err(FieldError::new(
                "metric",
                format!("`{metric}`: `{name}` is not categorical"),
            ));
        }
        return Ok(MetricRef::NewCategories(name));
    }
    match metric {
        "drift_share" => Ok(MetricRef::DriftShare),
        "prediction_drift" => Ok(MetricRef::PredictionDrift),
        name if name != "confusion_matrix"
            && crate::profile::metric_names(model.task()).contains(&name) =>
        {
            Ok(MetricRef::Performance(name.to_string()))
        }
        other => Err(FieldError::new(
            "metric",
            format!(
                "unknown metric `{}` for a {} model (use one of {}, drift_share, prediction_drift, drift.<feature>, missing_share.<feature>, new_categories.<feature>)",
                crate::time::truncate(other, 60),
                model.task().as_str(),
                crate::profile::metric_names(model.task())
                    .iter()
                    .filter(|n| **n != "confusion_matrix")
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn parse_condition(metric: &MetricRef, value: Option<&Value>) -> Result<Condition, FieldError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return match metric {
            MetricRef::Drift(_) | MetricRef::PredictionDrift => Ok(Condition::DriftVerdict),
            _ => Err(FieldError::new("condition", "is required for this metric")),
        };
    };
    let object = value
        .as_object()
        .ok_or_else(|| FieldError::new("condition", "expected an object"))?;
    if let Some(auto) = object.get("auto") {
        if object.len() > 1 {
            return Err(FieldError::new(
                "condition",
                "`auto` takes no `op` or `threshold`",
            ));
        }
        let auto: AutoCondition = serde_json::from_value(auto.clone())
            .map_err(|e| FieldError::new("condition.auto", e.to_string()))?;
        if !(auto.k.is_finite() && auto.k > 0.0) {
            return Err(FieldError::new(
                "condition.auto.k",
                "must be a positive number",
            ));
        }
        return Ok(Condition::Auto { auto });
    }
    for key in object.keys() {
        if key != "op" && key != "threshold" {
            return Err(FieldError::new(
                format!("condition.{key}"),
                "unknown field (use op and threshold, or auto)",
            ));
        }
    }
    let op: Op = serde_json::from_value(object.get("op").cloned().unwrap_or(Value::Null))
        .map_err(|_| FieldError::new("condition.op", "expected one of <, <=, >, >="))?;
    let threshold = object
        .get("threshold")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite())
        .ok_or_else(|| FieldError::new("condition.threshold", "expected a finite number"))?;
    Ok(Condition::Threshold { op, threshold })
}

const MAX_LABELS: usize = 32;

impl Rule {
    /// Validates a rule definition (`definition`) named `name` against `model`.
    pub fn new(name: &str, definition: &Value, model: &Model) -> Result<Rule, FieldError> {
        crate::schema::validate_model_name(name)
            .map_err(|e| FieldError::new("rule", e.message.replace("model name", "rule name")))?;
        let object = definition
            .as_object()
            .ok_or_else(|| FieldError::new("body", "expected a JSON object"))?;
        const KNOWN: [&str; 13] = [
            "clock",
            "model",
            "metric",
            "window",
            "every",
            "condition",
            "for",
            "keep_firing_for",
            "min_count",
            "severity",
            "labels",
            "channels",
            "description",
        ];
        if let Some(unknown) = object.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(FieldError::new(unknown.as_str(), "unknown field"));
        }
        let metric_name = object
            .get("metric")
            .and_then(Value::as_str)
            .ok_or_else(|| FieldError::new("metric", "is required (a metric name)"))?
            .to_string();
        let metric = parse_metric(model, &metric_name)?;
        let window_ms = duration_field(object, "window", Some("1h"))?;
        if window_ms < crate::time::MINUTE_MS || window_ms % crate::time::MINUTE_MS != 0 {
            return Err(FieldError::new(
                "window",
                "must be a whole number of minutes, at least 1m",
            ));
        }
        let every_ms = match object.get("every") {
            None | Some(Value::Null) => window_ms,
            Some(_) => duration_field(object, "every", None)?,
        };
        if every_ms < crate::time::MINUTE_MS || every_ms % crate::time::MINUTE_MS != 0 {
            return Err(FieldError::new(
                "every",
                "must be a whole number of minutes, at least 1m",
            ));
        }
        let for_ms = duration_field(object, "for", Some("0s"))?;
        let keep_firing_for_ms = match object.get("keep_firing_for") {
            None | Some(Value::Null) => 2 * every_ms,
            Some(_) => duration_field(object, "keep_firing_for", None)?,
        };
        let min_count = match object.get("min_count") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| FieldError::new("min_count", "expected a whole number ≥ 0"))?,
        };
        let severity = match object.get("severity") {
            None | Some(Value::Null) => "warning".to_string(),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => s.clone(),
            Some(_) => {
                return Err(FieldError::new(
                    "severity",
                    "expected a short string such as \"critical\"",
                ));
            }
        };
        let mut labels = BTreeMap::new();
        if let Some(value) = object.get("labels").filter(|v| !v.is_null()) {
            let map = value
                .as_object()
                .ok_or_else(|| FieldError::new("labels", "expected an object of strings"))?;
            if map.len() > MAX_LABELS {
                return Err(FieldError::new(
                    "labels",
                    format!("at most {MAX_LABELS} labels"),
                ));
            }
            for (key, value) in map {
                let valid_key = !key.is_empty()
                    && key.len() <= 64
                    && key
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid_key || ["alertname", "model", "severity"].contains(&key.as_str()) {
                    return Err(FieldError::new(
                        format!("labels.{key}"),
                        "must match [a-zA-Z_][a-zA-Z0-9_]* and not be alertname, model or severity",
                    ));
                }
                let text = value.as_str().filter(|s| s.len() <= 256).ok_or_else(|| {
                    FieldError::new(
                        format!("labels.{key}"),
                        "expected a string of at most 256 bytes",
                    )
                })?;
                labels.insert(key.clone(), text.to_string());
            }
        }
        let channels = match object.get("channels") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        FieldError::new(format!("channels[{i}]"), "expected a channel name")
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(FieldError::new(
                    "channels",
                    "expected an array of channel names",
                ));
            }
        };
        let condition = parse_condition(&metric, object.get("condition"))?;
        if let Condition::Auto { auto } = &condition
            && auto.baseline == Baseline::Reference
            && !matches!(metric, MetricRef::Performance(_))
        {
            return Err(FieldError::new(
                "condition.auto.baseline",
                "`reference` learns from reference chunks and works for performance metrics only; use `history` for drift and quality metrics",
            ));
        }
        if condition == Condition::DriftVerdict
            && !matches!(metric, MetricRef::Drift(_) | MetricRef::PredictionDrift)
        {
            return Err(FieldError::new("condition", "is required for this metric"));
        }
        let absence = metric == MetricRef::Performance("count".into())
            && matches!(
                condition,
                Condition::Threshold {
                    op: Op::Less | Op::LessOrEqual,
                    ..
                }
            );
        let clock = match object.get("clock") {
            None | Some(Value::Null) => {
                if absence {
                    Clock::Wall
                } else {
                    Clock::Event
                }
            }
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|_| FieldError::new("clock", "expected \"event\" or \"wall\""))?,
        };
        let mut definition = definition.clone();
        definition["window"] = Value::String(crate::time::format_duration(window_ms));
        definition["every"] = Value::String(crate::time::format_duration(every_ms));
        definition["clock"] = serde_json::to_value(clock).unwrap_or(Value::Null);
        Ok(Rule {
            name: name.to_string(),
            model: model.name.clone(),
            metric,
            metric_name,
            window_ms,
            every_ms,
            condition,
            for_ms,
            keep_firing_for_ms,
            min_count,
            severity,
            labels,
            channels,
            clock,
            definition,
        })
    }

    /// Whether a span of `count` events is judged: spans below `min_count` are not,
    /// except for rules on `count` itself, whose value is the count.
    pub fn is_judged(&self, count: u64) -> bool {
        count >= self.min_count || self.metric == MetricRef::Performance("count".into())
    }

    /// The labels every alert of this rule carries.
    pub fn alert_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.insert("alertname".into(), self.name.clone());
        labels.insert("model".into(), self.model.clone());
        labels.insert("severity".into(), self.severity.clone());
        labels
    }
}
