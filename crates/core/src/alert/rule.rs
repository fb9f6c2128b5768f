//! Alert rules: the definition a user sends (`PUT /api/v1/rules/{rule}`), read into a
//! [`RuleDefinition`] and validated against the model into a [`Rule`] whose metric,
//! durations and condition are known to make sense.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::schema::{FeatureType, Model};
use crate::time::Duration;

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

/// When a span's value is a problem (validated from a [`ConditionDefinition`]).
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
pub struct AutoCondition {
    /// Where normal is learned.
    pub baseline: Baseline,
    /// Width of the band in standard deviations.
    pub k: f64,
}

/// The width of an automatic threshold's band when none is given.
const DEFAULT_K: f64 = 3.0;

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
    /// `correlation_change`: the largest change of a Pearson correlation against the
    /// reference's (`max_abs_change` of the correlations answer).
    CorrelationChange,
    /// `parameters.nan`: NaN values in the tensor summaries taken in the span.
    ParametersNan,
    /// `parameters.inf`: infinite values in the tensor summaries taken in the span.
    ParametersInf,
    /// `parameters.l2_norm_change.<tensor>`: the relative change of the tensor's L2
    /// norm at its last step taken in the span, from the step before it.
    ParametersNormChange(String),
    /// `fairness.<feature>.<name>`: a between-group fairness metric of a sensitive
    /// feature (from the performance profiles).
    Fairness(String, String),
}

impl MetricRef {
    /// Whether the value comes from feature profiles (drift or quality).
    pub fn needs_features(&self) -> bool {
        !matches!(self, MetricRef::Performance(_) | MetricRef::Fairness(..))
            && !self.is_parameters()
    }

    /// Whether the value comes from the tensor summaries of model internals (judged
    /// on the wall clock: they have no event clock of their own).
    pub fn is_parameters(&self) -> bool {
        matches!(
            self,
            MetricRef::ParametersNan
                | MetricRef::ParametersInf
                | MetricRef::ParametersNormChange(_)
        )
    }
}

/// A rule as sent (`PUT /api/v1/rules/{rule}`, or `[rules.NAME]` in the configuration
/// file): which fields exist and their types. [`Rule::from_definition`] checks it
/// against the model. Absent fields are absent when it is shown back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct RuleDefinition {
    /// The model it watches.
    pub model: String,
    /// The metric, as written (see [`parse_metric`]).
    pub metric: String,
    /// Span length (default `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// Span spacing (default `window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
    /// When the value is a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<ConditionDefinition>,
    /// How long the condition must hold before the alert fires (default `0s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#for: Option<Duration>,
    /// How long a firing alert stays firing after the condition stops holding
    /// (default `2 × every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<Duration>,
    /// Spans with fewer events are not judged (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u64>,
    /// The `severity` label (default `warning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Extra labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Channels notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// The clock spans are judged on (default `wall` for absence rules, else `event`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
    /// Shown as an annotation of the alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `{"<segment feature>": "<value>"}`: the metric of that segment value only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<BTreeMap<String, String>>,
    /// `0.95`: the rule holds only when the metric's whole 95% interval is past the
    /// threshold (metrics with `_lower`/`_upper` and a fixed threshold only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<serde_json::Number>,
}

/// A condition as sent: `{"op", "threshold"}` or `{"auto": {...}}`. Numbers are kept as
/// written, so that a definition is shown back as it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct ConditionDefinition {
    /// The comparison of a fixed threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Op>,
    /// The bound of a fixed threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<serde_json::Number>,
    /// A learned threshold instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<AutoDefinition>,
}

/// The parameters of an automatic threshold, as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct AutoDefinition {
    /// Where normal is learned.
    pub baseline: Baseline,
    /// Width of the band in standard deviations (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<serde_json::Number>,
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
    /// With `confidence`: the bound whose value decides (`<metric>_upper` for `<` and
    /// `<=`, `<metric>_lower` for `>` and `>=`), so the whole interval must be past the
    /// threshold.
    pub judged_on: Option<String>,
    /// With `segment`: the segment feature and the value whose metric is judged.
    pub segment: Option<(String, String)>,
    /// The definition as sent, with `window`, `every` and `clock` filled in: what is
    /// stored and shown.
    pub definition: RuleDefinition,
}

/// The segment of a rule: one segment feature of the model and one value (`(other)`
/// included); `*` (one alert per value) is refused for now.
fn parse_segment(
    model: &Model,
    segment: Option<&BTreeMap<String, String>>,
    metric: &MetricRef,
    condition: &Condition,
) -> Result<Option<(String, String)>, FieldError> {
    let Some(segment) = segment else {
        return Ok(None);
    };
    let mut entries = segment.iter();
    let (Some((feature, value)), None) = (entries.next(), entries.next()) else {
        return Err(FieldError::new(
            "segment",
            "expected one segment feature and its value, such as {\"region\": \"north\"}",
        ));
    };
    let field = format!("segment.{}", crate::time::truncate(feature, 80));
    if !model.segment_features.iter().any(|(n, _)| n == feature) {
        return Err(FieldError::new(
            field,
            format!(
                "`{}` is not a segment of model `{}` (declare it in the definition's `segments`)",
                crate::time::truncate(feature, 80),
                model.name
            ),
        ));
    }
    if value == "*" {
        return Err(FieldError::new(
            field,
            "`*` (one alert per value) is not supported yet: write one rule per value",
        ));
    }
    if value.is_empty() || value.len() > crate::schema::MAX_NAME_LEN {
        return Err(FieldError::new(field, "the value must be 1 to 256 bytes"));
    }
    if !matches!(metric, MetricRef::Performance(_)) {
        return Err(FieldError::new(
            "segment",
            "a segment applies to the metrics of the metrics answer only (drift, quality, fairness and parameters are not kept per segment value)",
        ));
    }
    if let Condition::Auto { auto } = condition
        && auto.baseline == Baseline::Reference
    {
        return Err(FieldError::new(
            "condition.auto.baseline",
            "`reference` chunks are not kept per segment value; use `history`",
        ));
    }
    Ok(Some((feature.clone(), value.clone())))
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
    if let Some(tensor) = metric.strip_prefix("parameters.l2_norm_change.") {
        if tensor.is_empty() || tensor.len() > crate::parameters::request::MAX_TENSOR_NAME_LEN {
            return Err(FieldError::new(
                "metric",
                "`parameters.l2_norm_change.<tensor>` needs a tensor name of 1 to 256 bytes",
            ));
        }
        return Ok(MetricRef::ParametersNormChange(tensor.to_string()));
    }
    if let Some(rest) = metric.strip_prefix("fairness.") {
        return parse_fairness(model, rest);
    }
    match metric {
        "parameters.nan" => Ok(MetricRef::ParametersNan),
        "parameters.inf" => Ok(MetricRef::ParametersInf),
        "drift_share" => Ok(MetricRef::DriftShare),
        "prediction_drift" => Ok(MetricRef::PredictionDrift),
        "correlation_change" => Ok(MetricRef::CorrelationChange),
        name if name != "confusion_matrix"
            && (crate::profile::metric_names(model.task()).contains(&name)
                || crate::profile::OPERATIONS_METRICS.contains(&name)) =>
        {
            Ok(MetricRef::Performance(name.to_string()))
        }
        other => Err(FieldError::new(
            "metric",
            format!(
                "unknown metric `{}` for a {} model (use one of {}, drift_share, prediction_drift, correlation_change, drift.<feature>, missing_share.<feature>, new_categories.<feature>, parameters.nan, parameters.inf, parameters.l2_norm_change.<tensor>)",
                crate::time::truncate(other, 60),
                model.task().as_str(),
                crate::profile::metric_names(model.task())
                    .iter()
                    .chain(&crate::profile::OPERATIONS_METRICS)
                    .filter(|n| **n != "confusion_matrix")
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// `<feature>.<name>` of a `fairness.` metric: a sensitive feature and one of the four
/// between-group metrics.
fn parse_fairness(model: &Model, rest: &str) -> Result<MetricRef, FieldError> {
    let names = crate::groups::fairness::FAIRNESS_METRIC_NAMES;
    let Some((feature, name)) = rest.rsplit_once('.') else {
        return Err(FieldError::new(
            "metric",
            format!(
                "expected `fairness.<feature>.<name>` with a name among {}",
                names.join(", ")
            ),
        ));
    };
    if !model.sensitive_features.iter().any(|(n, _)| n == feature) {
        return Err(FieldError::new(
            "metric",
            format!(
                "`fairness.{}`: `{}` is not a sensitive feature of model `{}` (mark it `\"sensitive\": true`)",
                crate::time::truncate(rest, 80),
                crate::time::truncate(feature, 80),
                model.name
            ),
        ));
    }
    if !names.contains(&name) {
        return Err(FieldError::new(
            "metric",
            format!(
                "unknown fairness metric `{}` (use one of {})",
                crate::time::truncate(name, 60),
                names.join(", ")
            ),
        ));
    }
    Ok(MetricRef::Fairness(feature.to_string(), name.to_string()))
}

/// The bound a rule with `confidence` is judged on (see [`Rule::judged_on`]).
fn confidence_bound(
    model: &Model,
    definition: &RuleDefinition,
    condition: &Condition,
) -> Result<Option<String>, FieldError> {
    let Some(confidence) = &definition.confidence else {
        return Ok(None);
    };
    if confidence.as_f64() != Some(0.95) {
        return Err(FieldError::new(
            "confidence",
            "only 0.95 is supported (the metrics' intervals are 95% intervals)",
        ));
    }
    let Condition::Threshold { op, .. } = condition else {
        return Err(FieldError::new(
            "confidence",
            "needs a fixed threshold (`op` and `threshold`)",
        ));
    };
    let side = match op {
        Op::Less | Op::LessOrEqual => "upper",
        Op::Greater | Op::GreaterOrEqual => "lower",
    };
    let bound = format!("{}_{side}", definition.metric);
    if !crate::profile::metric_names(model.task()).contains(&bound.as_str()) {
        return Err(FieldError::new(
            "confidence",
            format!(
                "`{}` has no interval (accuracy, precision, recall, error_rate and the estimated_* metrics have)",
                crate::time::truncate(&definition.metric, 60)
            ),
        ));
    }
    Ok(Some(bound))
}

fn parse_condition(
    metric: &MetricRef,
    condition: Option<&ConditionDefinition>,
) -> Result<Condition, FieldError> {
    let Some(condition) = condition else {
        return match metric {
            MetricRef::Drift(_) | MetricRef::PredictionDrift => Ok(Condition::DriftVerdict),
            _ => Err(FieldError::new("condition", "is required for this metric")),
        };
    };
    if let Some(auto) = &condition.auto {
        if condition.op.is_some() || condition.threshold.is_some() {
            return Err(FieldError::new(
                "condition",
                "`auto` takes no `op` or `threshold`",
            ));
        }
        let k = match &auto.k {
            None => DEFAULT_K,
            Some(k) => k
                .as_f64()
                .filter(|k| k.is_finite() && *k > 0.0)
                .ok_or_else(|| FieldError::new("condition.auto.k", "must be a positive number"))?,
        };
        return Ok(Condition::Auto {
            auto: AutoCondition {
                baseline: auto.baseline,
                k,
            },
        });
    }
    let op = condition.op.ok_or_else(|| {
        FieldError::new(
            "condition.op",
            "is required: one of <, <=, >, >= (or use auto)",
        )
    })?;
    let threshold = condition
        .threshold
        .as_ref()
        .and_then(serde_json::Number::as_f64)
        .filter(|t| t.is_finite())
        .ok_or_else(|| FieldError::new("condition.threshold", "is required: a finite number"))?;
    Ok(Condition::Threshold { op, threshold })
}

/// Checks a span length or spacing: whole minutes, at least one.
fn whole_minutes(field: &str, ms: i64) -> Result<i64, FieldError> {
    if ms < crate::time::MINUTE_MS || ms % crate::time::MINUTE_MS != 0 {
        return Err(FieldError::new(
            field,
            "must be a whole number of minutes, at least 1m",
        ));
    }
    Ok(ms)
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), FieldError> {
    if labels.len() > MAX_LABELS {
        return Err(FieldError::new(
            "labels",
            format!("at most {MAX_LABELS} labels"),
        ));
    }
    for (key, value) in labels {
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
        if value.len() > 256 {
            return Err(FieldError::new(
                format!("labels.{key}"),
                "expected a string of at most 256 bytes",
            ));
        }
    }
    Ok(())
}

const MAX_LABELS: usize = 32;

impl Rule {
    /// Checks a rule's name (the rules of model names).
    pub fn check_name(name: &str) -> Result<(), FieldError> {
        crate::schema::validate_resource_name(name, "rule", "rule name")
    }

    /// Reads and validates a rule definition sent as JSON (`definition`), named `name`,
    /// against `model`.
    pub fn new(name: &str, definition: &Value, model: &Model) -> Result<Rule, FieldError> {
        Self::check_name(name)?;
        Self::from_definition(name, crate::definition::from_json(definition)?, model)
    }

    /// Validates a rule definition named `name` against `model`.
    pub fn from_definition(
        name: &str,
        mut definition: RuleDefinition,
        model: &Model,
    ) -> Result<Rule, FieldError> {
        Self::check_name(name)?;
        let metric = parse_metric(model, &definition.metric)?;
        let window_ms = whole_minutes(
            "window",
            definition
                .window
                .as_ref()
                .map_or(crate::time::HOUR_MS, Duration::ms),
        )?;
        let every_ms = whole_minutes(
            "every",
            definition.every.as_ref().map_or(window_ms, Duration::ms),
        )?;
        let for_ms = definition.r#for.as_ref().map_or(0, Duration::ms);
        let keep_firing_for_ms = definition
            .keep_firing_for
            .as_ref()
            .map_or(2 * every_ms, Duration::ms);
        let severity = definition
            .severity
            .clone()
            .unwrap_or_else(|| "warning".to_string());
        if severity.is_empty() || severity.len() > 64 {
            return Err(FieldError::new(
                "severity",
                "expected a short string such as \"critical\"",
            ));
        }
        let labels = definition.labels.clone().unwrap_or_default();
        check_labels(&labels)?;
        let condition = parse_condition(&metric, definition.condition.as_ref())?;
        if let Condition::Auto { auto } = &condition
            && auto.baseline == Baseline::Reference
            && !matches!(metric, MetricRef::Performance(_))
        {
            return Err(FieldError::new(
                "condition.auto.baseline",
                "`reference` learns from reference chunks and works for performance metrics only; use `history` for drift and quality metrics",
            ));
        }
        let absence = metric == MetricRef::Performance("count".into())
            && matches!(
                condition,
                Condition::Threshold {
                    op: Op::Less | Op::LessOrEqual,
                    ..
                }
            );
        if metric.is_parameters() && definition.clock == Some(Clock::Event) {
            return Err(FieldError::new(
                "clock",
                "parameters metrics are judged on the wall clock (tensor summaries have no event clock)",
            ));
        }
        let judged_on = confidence_bound(model, &definition, &condition)?;
        let segment = parse_segment(model, definition.segment.as_ref(), &metric, &condition)?;
        let clock = definition
            .clock
            .unwrap_or(if absence || metric.is_parameters() {
                Clock::Wall
            } else {
                Clock::Event
            });
        definition.window = Some(Duration::from_ms(window_ms));
        definition.every = Some(Duration::from_ms(every_ms));
        definition.clock = Some(clock);
        Ok(Rule {
            name: name.to_string(),
            model: model.name.clone(),
            metric,
            metric_name: definition.metric.clone(),
            window_ms,
            every_ms,
            condition,
            for_ms,
            keep_firing_for_ms,
            min_count: definition.min_count.unwrap_or(1),
            severity,
            labels,
            channels: definition.channels.clone().unwrap_or_default(),
            clock,
            judged_on,
            segment,
            definition,
        })
    }

    /// The rule as `GET` shows it: its definition and its name.
    pub fn to_json(&self) -> Value {
        let mut body = serde_json::to_value(&self.definition).unwrap_or_default();
        body["name"] = Value::String(self.name.clone());
        body
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ModelDefinition;
    use serde_json::json;

    fn model() -> Model {
        let definition: ModelDefinition = serde_json::from_value(json!({
            "task": "binary_classification",
            "features": [{"name": "income", "type": "numeric"}, {"name": "region", "type": "categorical"}]
        }))
        .unwrap();
        Model::new("credit", definition).unwrap()
    }

    #[test]
    fn confidence_judges_the_far_bound_of_the_interval() {
        let model = model();
        let rule = |extra: Value| {
            let mut body = json!({"model": "credit", "metric": "accuracy",
                                  "condition": {"op": "<", "threshold": 0.7}});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            Rule::new("r", &body, &model)
        };
        assert_eq!(rule(json!({})).unwrap().judged_on, None);
        let below = rule(json!({"confidence": 0.95})).unwrap();
        assert_eq!(below.judged_on.as_deref(), Some("accuracy_upper"));
        assert_eq!(below.to_json()["confidence"], json!(0.95));
        let above = rule(json!({"confidence": 0.95, "metric": "estimated_f1",
                                "condition": {"op": ">=", "threshold": 0.2}}))
        .unwrap();
        assert_eq!(above.judged_on.as_deref(), Some("estimated_f1_lower"));
        for (extra, message) in [
            (json!({"confidence": 0.9}), "only 0.95"),
            (
                json!({"confidence": 0.95, "metric": "roc_auc"}),
                "no interval",
            ),
            (
                json!({"confidence": 0.95, "condition": {"auto": {"baseline": "history"}}}),
                "fixed threshold",
            ),
        ] {
            let error = rule(extra).unwrap_err();
            assert_eq!(error.field, "confidence");
            assert!(error.message.contains(message), "{}", error.message);
        }
    }

    fn field(definition: Value) -> String {
        Rule::new("r", &definition, &model()).unwrap_err().field
    }

    #[test]
    fn parameters_metrics_are_judged_on_the_wall_clock() {
        let condition = json!({"op": ">", "threshold": 0});
        let rule = Rule::new(
            "r",
            &json!({"model": "credit", "metric": "parameters.l2_norm_change.dense/kernel",
                    "condition": condition}),
            &model(),
        )
        .unwrap();
        assert_eq!(
            rule.metric,
            MetricRef::ParametersNormChange("dense/kernel".into())
        );
        assert_eq!(rule.clock, Clock::Wall);
        assert!(!rule.metric.needs_features());
        let nan = json!({"model": "credit", "metric": "parameters.nan", "condition": condition});
        assert_eq!(
            Rule::new("r", &nan, &model()).unwrap().metric,
            MetricRef::ParametersNan
        );
        assert_eq!(
            field(json!({"model": "credit", "metric": "parameters.inf",
                         "condition": condition, "clock": "event"})),
            "clock"
        );
        assert_eq!(
            field(
                json!({"model": "credit", "metric": "parameters.l2_norm_change.",
                         "condition": condition})
            ),
            "metric"
        );
    }

    #[test]
    fn unknown_fields_are_refused_by_their_path() {
        let error = Rule::new(
            "r",
            &json!({"model": "credit", "metric": "count", "colour": "red"}),
            &model(),
        )
        .unwrap_err();
        assert_eq!(error.field, "colour");
        assert!(error.message.contains("unknown field `colour`"), "{error}");
        assert_eq!(
            field(json!({"model": "credit", "metric": "count",
                         "condition": {"op": "<", "threshold": 1, "unit": "%"}})),
            "condition.unit"
        );
        assert_eq!(
            field(json!({"model": "credit", "metric": "accuracy",
                         "condition": {"auto": {"baseline": "history", "sigma": 2}}})),
            "condition.auto.sigma"
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let rule = |extra: Value| {
            let mut body = json!({"model": "credit", "metric": "accuracy",
                                  "condition": {"op": "<", "threshold": 0.7}});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        for (extra, expected) in [
            (json!({"window": "5 parsecs"}), "window"),
            (json!({"every": 5}), "every"),
            (json!({"for": "soon"}), "for"),
            (json!({"keep_firing_for": "1y"}), "keep_firing_for"),
            (json!({"min_count": -1}), "min_count"),
            (
                json!({"condition": {"op": "<", "threshold": "high"}}),
                "condition.threshold",
            ),
            (json!({"condition": {"op": "<"}}), "condition.threshold"),
            (json!({"condition": {"threshold": 1}}), "condition.op"),
            (
                json!({"condition": {"auto": {"baseline": "history", "k": 0}}}),
                "condition.auto.k",
            ),
            (
                json!({"condition": {"auto": {"baseline": "history"}, "op": "<"}}),
                "condition",
            ),
            (json!({"channels": ["ops", 7]}), "channels[1]"),
            (json!({"labels": {"team": 7}}), "labels.team"),
            (json!({"labels": {"1team": "x"}}), "labels.1team"),
            (json!({"severity": ""}), "severity"),
            (json!({"clock": "sundial"}), "clock"),
            (json!({"description": ["a"]}), "description"),
        ] {
            assert_eq!(field(rule(extra.clone())), expected, "{extra}");
        }
        let error = Rule::new("r", &rule(json!({"window": "5 parsecs"})), &model()).unwrap_err();
        assert!(error.message.contains("5 parsecs"), "{error}");
        assert_eq!(
            field(json!({"metric": "accuracy"})),
            "model",
            "a missing field is named"
        );
        assert_eq!(field(json!(["credit", "accuracy"])), "body");
    }

    #[test]
    fn the_definition_is_shown_as_sent_with_the_spans_and_clock_filled_in() {
        let sent = json!({"model": "credit", "metric": "count", "window": "60m",
                          "condition": {"op": "<", "threshold": 1}, "for": "0s",
                          "keep_firing_for": "90s", "labels": {"team": "risk"},
                          "description": "quiet"});
        let rule = Rule::new("quiet", &sent, &model()).unwrap();
        assert_eq!((rule.window_ms, rule.every_ms), (3_600_000, 3_600_000));
        assert_eq!((rule.for_ms, rule.keep_firing_for_ms), (0, 90_000));
        let shown = rule.to_json();
        // Keys in order, numbers and durations as written; window canonical, as today.
        assert_eq!(
            shown.to_string(),
            r#"{"clock":"wall","condition":{"op":"<","threshold":1},"description":"quiet","every":"1h","for":"0s","keep_firing_for":"90s","labels":{"team":"risk"},"metric":"count","model":"credit","name":"quiet","window":"1h"}"#
        );
        // What is shown, sent again, is the same rule.
        let mut again = shown.clone();
        again.as_object_mut().unwrap().remove("name");
        let round_trip = Rule::new("quiet", &again, &model()).unwrap();
        assert_eq!(round_trip, rule);
        assert_eq!(round_trip.to_json(), shown);
        // And so is what is stored.
        let stored: RuleDefinition =
            serde_json::from_str(&serde_json::to_string(&rule.definition).unwrap()).unwrap();
        assert_eq!(
            Rule::from_definition("quiet", stored, &model()).unwrap(),
            rule
        );
    }

    #[test]
    fn an_automatic_threshold_keeps_its_numbers_as_written() {
        let rule = Rule::new(
            "r",
            &json!({"model": "credit", "metric": "accuracy",
                    "condition": {"auto": {"baseline": "reference", "k": 2}}}),
            &model(),
        )
        .unwrap();
        assert_eq!(
            rule.condition,
            Condition::Auto {
                auto: AutoCondition {
                    baseline: Baseline::Reference,
                    k: 2.0
                }
            }
        );
        assert_eq!(
            rule.to_json()["condition"].to_string(),
            r#"{"auto":{"baseline":"reference","k":2}}"#
        );
        let default = Rule::new(
            "r",
            &json!({"model": "credit", "metric": "accuracy",
                    "condition": {"auto": {"baseline": "history"}}}),
            &model(),
        )
        .unwrap();
        assert_eq!(
            default.condition,
            Condition::Auto {
                auto: AutoCondition {
                    baseline: Baseline::History,
                    k: 3.0
                }
            }
        );
    }
}
