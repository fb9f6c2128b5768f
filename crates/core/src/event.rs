//! Prediction events and labels: turning untrusted JSON (or CSV rows mapped to
//! JSON) into validated values, one record at a time, with errors that name the field.
//!
//! Validation is in two stages, as in ripgrep's flags: a record is first parsed as a
//! JSON object (syntax), then checked against the model (meaning) into a
//! [`PredictionEvent`] whose fields the rest of the system can trust.

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::non_finite;
use crate::schema::{FeatureType, Model, Task};
use crate::time::{json_type_name, parse_event_timestamp, truncate};

pub use crate::class::{MAX_STRING_LEN, class_from_json, normalize_class_text};
pub use crate::schema::RESERVED_COLUMNS;

/// Longest accepted event id, in bytes.
pub const MAX_ID_LEN: usize = 256;
/// Longest accepted version, in bytes.
pub const MAX_VERSION_LEN: usize = 64;

/// Bounds on the values of an event that the operator may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Longest categorical feature value, in bytes.
    pub max_string_bytes: usize,
    /// How far past the arrival time an event time may be, in ms; `None` for no bound
    /// (offline reports and reference rows have no server clock to measure against).
    pub max_future_ms: Option<i64>,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            max_string_bytes: MAX_STRING_LEN,
            max_future_ms: None,
        }
    }
}
/// The version of events that name none.
pub const DEFAULT_VERSION: &str = "default";

/// A prediction or a label: a class for classifiers, a number for regression.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Target {
    /// A class label, normalised (JSON `1`, `1.0` and `"1"` are all `"1"`).
    Class(String),
    /// A regression value.
    Value(f64),
}

/// The model's confidence in its prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Score {
    /// Binary: P(positive class).
    Positive(f64),
    /// Multiclass: one probability per class, in the order of [`Model::classes`].
    PerClass(Vec<f64>),
}

/// One input value after validation against the feature's type.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValue {
    /// Null or absent.
    Missing,
    /// A numeric feature's value (always finite).
    Number(f64),
    /// A categorical feature's value.
    Category(String),
    /// A value of the wrong type: treated as missing, and counted as a type error.
    TypeError,
}

/// A validated prediction event.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionEvent {
    /// Unique per model.
    pub id: String,
    /// Event time, epoch milliseconds.
    pub timestamp_ms: i64,
    /// Model version.
    pub version: String,
    /// One value per feature of the model, in definition order.
    pub features: Vec<FeatureValue>,
    /// How many keys of `features` the model does not define (they are not stored).
    pub unknown_features: u32,
    /// The output; absent only on a failed request (`error`).
    pub prediction: Option<Target>,
    /// Scores, when the model gives them.
    pub score: Option<Score>,
    /// Ground truth, when already known.
    pub label: Option<Target>,
    /// Serving latency.
    pub latency_ms: Option<f64>,
    /// Whether the model failed on this request.
    pub error: bool,
}

/// A validated late label.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelRecord {
    /// The id of the prediction it belongs to.
    pub id: String,
    /// The ground truth.
    pub label: Target,
}

fn finite_number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|f| f.is_finite())
}

/// Why a `NaN` or `Infinity` token is refused in a field other than a feature.
fn non_finite_refused(token: &str) -> String {
    format!("`{token}` is not a value here (NaN and Infinity count as missing only in features)")
}

/// Parses a target (prediction or label) for `model`.
pub fn target_from_json(model: &Model, value: &Value) -> Result<Target, String> {
    if let Some(token) = non_finite::token(value) {
        return Err(non_finite_refused(token));
    }
    match model.task() {
        Task::Regression => finite_number(value).map(Target::Value).ok_or_else(|| {
            format!(
                "expected a number for a regression model, got {}",
                json_type_name(value)
            )
        }),
        Task::BinaryClassification | Task::MulticlassClassification => {
            let class = class_from_json(value)?;
            if model.classes.binary_search(&class).is_err() {
                return Err(format!(
                    "class `{}` is not one of the model's classes {:?}",
                    truncate(&class, 40),
                    model.classes
                ));
            }
            Ok(Target::Class(class))
        }
    }
}

fn probability(value: &Value) -> Result<f64, String> {
    if let Some(token) = non_finite::token(value) {
        return Err(format!("`{token}` is not a probability in [0, 1]"));
    }
    match finite_number(value) {
        Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Some(p) => Err(format!("{p} is not a probability in [0, 1]")),
        None => Err(format!(
            "expected a probability in [0, 1], got {}",
            json_type_name(value)
        )),
    }
}

/// The probabilities of a `predict_proba` row, one per class in the order of the
/// model's definition (`clf.classes_`).
fn per_class_row(model: &Model, row: &[Value]) -> Result<Vec<f64>, String> {
    let defined = &model.definition.classes;
    if row.len() != defined.len() {
        return Err(format!(
            "an array of scores has one probability per class, in the order of `classes` {defined:?}: expected {}, got {}",
            defined.len(),
            row.len()
        ));
    }
    let mut per_class = vec![0.0; model.classes.len()];
    for (i, (class, p)) in defined.iter().zip(row).enumerate() {
        let index = model
            .classes
            .binary_search(class)
            .map_err(|_| format!("class `{class}` is not one of the model's classes"))?;
        per_class[index] = probability(p).map_err(|e| format!("[{i}] ({class}): {e}"))?;
    }
    Ok(per_class)
}

fn score_from_json(model: &Model, value: &Value) -> Result<Score, String> {
    match (model.task(), value) {
        (Task::Regression, _) => Err("a regression model takes no score".into()),
        (Task::BinaryClassification, Value::Array(row)) => {
            let per_class = per_class_row(model, row)?;
            let positive = model.positive_class.as_deref().unwrap_or("1");
            let index = model
                .classes
                .binary_search_by(|c| c.as_str().cmp(positive))
                .map_err(|_| format!("the positive class `{positive}` is not a class"))?;
            Ok(Score::Positive(per_class[index]))
        }
        (Task::MulticlassClassification, Value::Array(row)) => {
            let per_class = per_class_row(model, row)?;
            if per_class.iter().sum::<f64>() <= 0.0 {
                return Err("the probabilities sum to 0".into());
            }
            Ok(Score::PerClass(per_class))
        }
        (Task::BinaryClassification, Value::Object(map)) => {
            let positive = model.positive_class.as_deref().unwrap_or("1");
            let p = map
                .iter()
                .find(|(key, _)| normalize_class_text(key) == positive)
                .map(|(_, p)| p)
                .ok_or_else(|| format!("has no probability for the positive class `{positive}`"))?;
            Ok(Score::Positive(probability(p)?))
        }
        (Task::BinaryClassification, other) => Ok(Score::Positive(probability(other)?)),
        (Task::MulticlassClassification, Value::Object(map)) => {
            let mut per_class = vec![0.0; model.classes.len()];
            for (key, p) in map {
                let class = normalize_class_text(key);
                let index = model.classes.binary_search(&class).map_err(|_| {
                    format!(
                        "class `{}` is not one of the model's classes",
                        truncate(key, 40)
                    )
                })?;
                per_class[index] = probability(p).map_err(|e| format!("{key}: {e}"))?;
            }
            if per_class.iter().sum::<f64>() <= 0.0 {
                return Err("the probabilities sum to 0".into());
            }
            Ok(Score::PerClass(per_class))
        }
        (Task::MulticlassClassification, other) => Err(format!(
            "expected an object of class → probability, or an array of probabilities in the order of `classes`, got {}",
            json_type_name(other)
        )),
    }
}

fn feature_value(
    kind: FeatureType,
    value: &Value,
    max_string_bytes: usize,
) -> Result<FeatureValue, String> {
    if non_finite::token(value).is_some() {
        return Ok(FeatureValue::Missing);
    }
    Ok(match (kind, value) {
        (_, Value::Null) => FeatureValue::Missing,
        (FeatureType::Numeric, Value::Number(_)) => match finite_number(value) {
            Some(f) => FeatureValue::Number(f),
            None => FeatureValue::TypeError,
        },
        (FeatureType::Numeric, _) => FeatureValue::TypeError,
        (FeatureType::Categorical, Value::String(s)) => {
            if s.len() > max_string_bytes {
                return Err(format!(
                    "a categorical value is at most {max_string_bytes} bytes (limits.max_string_bytes)"
                ));
            }
            FeatureValue::Category(s.clone())
        }
        (FeatureType::Categorical, Value::Bool(_) | Value::Number(_)) => {
            FeatureValue::Category(class_from_json(value)?)
        }
        (FeatureType::Categorical, _) => FeatureValue::TypeError,
    })
}

pub(crate) fn bounded_string(value: &Value, max: usize, what: &str) -> Result<String, String> {
    match value {
        Value::String(s) if s.is_empty() => Err(format!("{what} must not be empty")),
        Value::String(s) if s.len() > max => Err(format!("{what} is at most {max} bytes")),
        Value::String(s) if s.chars().any(char::is_control) => {
            Err(format!("{what} must not contain control characters"))
        }
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("expected a string, got {}", json_type_name(other))),
    }
}

/// Validates one prediction record (a JSON object) for `model`; `arrival_ms` is the
/// event time of a record that gives none. The default [`InputLimits`] apply.
pub fn validate_prediction(
    model: &Model,
    record: &Map<String, Value>,
    arrival_ms: i64,
) -> Result<PredictionEvent, FieldError> {
    validate_prediction_within(model, record, arrival_ms, &InputLimits::default())
}

/// [`validate_prediction`] with the operator's [`InputLimits`].
pub fn validate_prediction_within(
    model: &Model,
    record: &Map<String, Value>,
    arrival_ms: i64,
    limits: &InputLimits,
) -> Result<PredictionEvent, FieldError> {
    let mut event = PredictionEvent {
        id: String::new(),
        timestamp_ms: arrival_ms,
        version: DEFAULT_VERSION.to_string(),
        features: vec![FeatureValue::Missing; model.features().len()],
        unknown_features: 0,
        prediction: None,
        score: None,
        label: None,
        latency_ms: None,
        error: false,
    };
    let mut has_id = false;
    let mut prediction_value = None;
    let mut score_value = None;
    for (key, value) in record {
        let field_error = |message: String| FieldError::new(key.as_str(), message);
        if let Some(token) = non_finite::token(value) {
            match key.as_str() {
                // An operational value not measured is missing, as `null` is.
                "latency_ms" | "error" => continue,
                "prediction" | "score" | "label" | "id" | "timestamp" | "version" | "features" => {
                    return Err(field_error(non_finite_refused(token)));
                }
                _ => {}
            }
        }
        match key.as_str() {
            "id" => {
                event.id = bounded_string(value, MAX_ID_LEN, "an id").map_err(field_error)?;
                has_id = true;
            }
            "timestamp" => {
                if !value.is_null() {
                    event.timestamp_ms = parse_event_timestamp(value).map_err(field_error)?;
                    check_not_too_far_ahead(event.timestamp_ms, arrival_ms, limits)
                        .map_err(field_error)?;
                }
            }
            "version" => {
                if !value.is_null() {
                    event.version =
                        bounded_string(value, MAX_VERSION_LEN, "a version").map_err(field_error)?;
                }
            }
            "features" => match value {
                Value::Null => {}
                Value::Object(features) => {
                    for (name, value) in features {
                        match model.feature_index(name) {
                            Some(index) => {
                                event.features[index] = feature_value(
                                    model.features()[index].kind,
                                    value,
                                    limits.max_string_bytes,
                                )
                                .map_err(|e| FieldError::new(format!("features.{name}"), e))?;
                            }
                            None => event.unknown_features += 1,
                        }
                    }
                }
                other => {
                    return Err(field_error(format!(
                        "expected an object of feature name → value, got {}",
                        json_type_name(other)
                    )));
                }
            },
            "prediction" => prediction_value = Some(value),
            "score" => score_value = Some(value),
            "label" => {
                if !value.is_null() {
                    event.label = Some(target_from_json(model, value).map_err(field_error)?);
                }
            }
            "latency_ms" => match value {
                Value::Null => {}
                _ => match finite_number(value) {
                    Some(ms) if ms >= 0.0 => event.latency_ms = Some(ms),
                    Some(ms) => return Err(field_error(format!("{ms} is negative"))),
                    None => {
                        return Err(field_error(format!(
                            "expected a number >= 0, got {}",
                            json_type_name(value)
                        )));
                    }
                },
            },
            "error" => {
                event.error = match value {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::String(s) => !s.is_empty(),
                    other => {
                        return Err(field_error(format!(
                            "expected a boolean or an error message, got {}",
                            json_type_name(other)
                        )));
                    }
                }
            }
            _ => {
                return Err(field_error(format!(
                    "unknown field `{}` (features go inside `features`)",
                    truncate(key, 40)
                )));
            }
        }
    }
    if !has_id {
        return Err(FieldError::new("id", "is required"));
    }
    match prediction_value {
        Some(value) if !value.is_null() => {
            event.prediction =
                Some(target_from_json(model, value).map_err(|e| FieldError::new("prediction", e))?);
        }
        _ if event.error => {}
        _ => {
            return Err(FieldError::new(
                "prediction",
                "is required (it may be left out only when `error` is set)",
            ));
        }
    }
    if let Some(value) = score_value
        && !value.is_null()
    {
        event.score = Some(score_from_json(model, value).map_err(|e| FieldError::new("score", e))?);
    }
    Ok(event)
}

/// Moves the feature columns of a flat row (`df.to_json(orient="records")`: no
/// `features` object, features at the top level as CSV columns are) into `features`.
/// A row with a `features` object is left as it is.
fn nest_flat_row(record: &mut Map<String, Value>) {
    if record.contains_key("features") {
        return;
    }
    let columns: Vec<String> = record
        .keys()
        .filter(|key| !RESERVED_COLUMNS.contains(&key.as_str()))
        .cloned()
        .collect();
    if columns.is_empty() {
        return;
    }
    let mut features = Map::new();
    for column in columns {
        if let Some(value) = record.remove(&column) {
            features.insert(column, value);
        }
    }
    record.insert("features".into(), Value::Object(features));
}

/// Refuses an event time more than `limits.max_future_ms` past the arrival time: one
/// such time would move the model's event clock (its watermark) far ahead of its data.
pub(crate) fn check_not_too_far_ahead(
    timestamp_ms: i64,
    arrival_ms: i64,
    limits: &InputLimits,
) -> Result<(), String> {
    match limits.max_future_ms {
        Some(max) if timestamp_ms > arrival_ms.saturating_add(max) => Err(format!(
            "more than {} ahead of the server's clock (limits.max_event_future)",
            crate::time::format_duration(max)
        )),
        _ => Ok(()),
    }
}

/// Validates one row of a reference data set: an event whose `id` and `prediction`
/// may be left out (a training set has neither). A row may be flat, its feature
/// columns at the top level, or nested in `features`.
pub fn validate_reference_row(
    model: &Model,
    mut record: Map<String, Value>,
    limits: &InputLimits,
) -> Result<PredictionEvent, FieldError> {
    nest_flat_row(&mut record);
    // A training set's timestamps are history, not measured against the server's clock.
    let limits = &InputLimits {
        max_future_ms: None,
        ..*limits
    };
    if !record.contains_key("id") {
        record.insert("id".into(), Value::String("reference".into()));
    }
    if !record.contains_key("prediction") || record["prediction"].is_null() {
        // No output: validate as a failed request would be, then clear the flag.
        record.insert("error".into(), Value::Bool(true));
        let mut event = validate_prediction_within(model, &record, 0, limits)?;
        event.error = false;
        return Ok(event);
    }
    validate_prediction_within(model, &record, 0, limits)
}

/// Validates one label record: `{"id": ..., "label": ...}`.
pub fn validate_label(
    model: &Model,
    record: &Map<String, Value>,
) -> Result<LabelRecord, FieldError> {
    let mut id = None;
    let mut label = None;
    for (key, value) in record {
        if let Some(token) = non_finite::token(value)
            && matches!(key.as_str(), "id" | "label")
        {
            return Err(FieldError::new(key.as_str(), non_finite_refused(token)));
        }
        match key.as_str() {
            "id" => {
                id = Some(
                    bounded_string(value, MAX_ID_LEN, "an id")
                        .map_err(|e| FieldError::new("id", e))?,
                )
            }
            "label" => {
                label =
                    Some(target_from_json(model, value).map_err(|e| FieldError::new("label", e))?)
            }
            _ => {
                return Err(FieldError::new(
                    key.as_str(),
                    format!(
                        "unknown field `{}` (a label has `id` and `label`)",
                        truncate(key, 40)
                    ),
                ));
            }
        }
    }
    Ok(LabelRecord {
        id: id.ok_or_else(|| FieldError::new("id", "is required"))?,
        label: label.ok_or_else(|| FieldError::new("label", "is required"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ModelDefinition;
    use serde_json::json;

    fn binary() -> Model {
        let definition: ModelDefinition = serde_json::from_value(json!({
            "task": "binary_classification",
            "features": [{"name": "income", "type": "numeric"}, {"name": "region", "type": "categorical"}]
        }))
        .unwrap();
        Model::new("credit", definition).unwrap()
    }

    fn record(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn class_labels_normalise() {
        assert_eq!(class_from_json(&json!(1)), Ok("1".into()));
        assert_eq!(class_from_json(&json!(1.0)), Ok("1".into()));
        assert_eq!(class_from_json(&json!("1")), Ok("1".into()));
        assert_eq!(class_from_json(&json!("1.00")), Ok("1".into()));
        assert_eq!(class_from_json(&json!(1.5)), Ok("1.5".into()));
        assert_eq!(class_from_json(&json!(true)), Ok("true".into()));
        assert_eq!(normalize_class_text("1.0x"), "1.0x");
        assert!(class_from_json(&json!([1])).is_err());
    }

    #[test]
    fn validates_a_full_event() {
        let event = validate_prediction(
            &binary(),
            &record(json!({
                "id": "a", "timestamp": "2024-03-11T00:00:00Z", "version": "v2",
                "features": {"income": 5.5, "region": "north", "extra": 1},
                "prediction": 1.0, "score": 0.8, "label": "0", "latency_ms": 12.5, "error": false
            })),
            0,
        )
        .unwrap();
        assert_eq!(event.timestamp_ms, 1_710_115_200_000);
        assert_eq!(event.version, "v2");
        assert_eq!(
            event.features,
            vec![
                FeatureValue::Number(5.5),
                FeatureValue::Category("north".into())
            ]
        );
        assert_eq!(event.unknown_features, 1);
        assert_eq!(event.prediction, Some(Target::Class("1".into())));
        assert_eq!(event.score, Some(Score::Positive(0.8)));
        assert_eq!(event.label, Some(Target::Class("0".into())));
    }

    #[test]
    fn wrong_feature_types_do_not_reject() {
        let event = validate_prediction(
            &binary(),
            &record(
                json!({"id": "a", "prediction": 0, "features": {"income": "high", "region": [1]}}),
            ),
            7,
        )
        .unwrap();
        assert_eq!(
            event.features,
            vec![FeatureValue::TypeError, FeatureValue::TypeError]
        );
        assert_eq!(event.timestamp_ms, 7);
        assert_eq!(event.version, DEFAULT_VERSION);
    }

    #[test]
    fn rejections_name_the_field() {
        let cases = [
            (json!({"prediction": 1}), "id"),
            (json!({"id": 5, "prediction": 1}), "id"),
            (json!({"id": "", "prediction": 1}), "id"),
            (json!({"id": "a"}), "prediction"),
            (json!({"id": "a", "prediction": 2}), "prediction"),
            (json!({"id": "a", "prediction": 1, "score": 1.5}), "score"),
            (
                json!({"id": "a", "prediction": 1, "score": "high"}),
                "score",
            ),
            (json!({"id": "a", "prediction": 1, "label": "yes"}), "label"),
            (
                json!({"id": "a", "prediction": 1, "latency_ms": -1}),
                "latency_ms",
            ),
            (
                json!({"id": "a", "prediction": 1, "timestamp": "soon"}),
                "timestamp",
            ),
            (json!({"id": "a", "prediction": 1, "error": 3}), "error"),
            (
                json!({"id": "a", "prediction": 1, "features": [1]}),
                "features",
            ),
            (
                json!({"id": "a", "prediction": 1, "colour": "red"}),
                "colour",
            ),
            (
                json!({"id": "a", "prediction": 1, "version": "x".repeat(65)}),
                "version",
            ),
        ];
        for (value, field) in cases {
            let err = validate_prediction(&binary(), &record(value.clone()), 0).unwrap_err();
            assert_eq!(err.field, field, "{value}");
        }
    }

    #[test]
    fn an_event_time_beyond_the_future_bound_is_rejected_with_its_reason() {
        let day = 86_400_000;
        let limits = InputLimits {
            max_future_ms: Some(day),
            ..InputLimits::default()
        };
        // Arrival 2024-03-11T00:00:00Z; the bound reaches 2024-03-12T00:00:00Z exactly.
        let arrival = 1_710_115_200_000;
        let at = |ts: &str| record(json!({"id": "a", "prediction": 1, "timestamp": ts}));
        let edge =
            validate_prediction_within(&binary(), &at("2024-03-12T00:00:00Z"), arrival, &limits);
        assert_eq!(edge.unwrap().timestamp_ms, arrival + day);
        let err = validate_prediction_within(
            &binary(),
            &at("2024-03-12T00:00:00.001Z"),
            arrival,
            &limits,
        )
        .unwrap_err();
        assert_eq!(err.field, "timestamp");
        assert!(err.to_string().contains("more than 1d ahead"), "{err}");
        let err =
            validate_prediction_within(&binary(), &at("9999-12-31T23:59:00Z"), arrival, &limits)
                .unwrap_err();
        assert_eq!(err.field, "timestamp");
        // Reference rows are history: the bound does not apply to them.
        let row = validate_reference_row(&binary(), at("9999-12-31T23:59:00Z"), &limits).unwrap();
        assert_eq!(row.timestamp_ms, 253_402_300_740_000);
    }

    #[test]
    fn an_error_needs_no_prediction() {
        let event = validate_prediction(
            &binary(),
            &record(json!({"id": "a", "error": "timeout"})),
            0,
        )
        .unwrap();
        assert!(event.error);
        assert_eq!(event.prediction, None);
    }

    #[test]
    fn multiclass_scores_follow_sorted_classes() {
        let definition: ModelDefinition = serde_json::from_value(json!({
            "task": "multiclass_classification", "classes": ["dog", "cat", "bird"]
        }))
        .unwrap();
        let model = Model::new("m", definition).unwrap();
        let event = validate_prediction(
            &model,
            &record(json!({"id": "a", "prediction": "cat", "score": {"cat": 0.7, "dog": 0.3}})),
            0,
        )
        .unwrap();
        assert_eq!(event.score, Some(Score::PerClass(vec![0.0, 0.7, 0.3])));
        let err = validate_prediction(
            &model,
            &record(json!({"id": "a", "prediction": "cat", "score": {"cow": 1.0}})),
            0,
        )
        .unwrap_err();
        assert_eq!(err.field, "score");
    }

    fn parsed(body: &str) -> Map<String, Value> {
        let mut records =
            crate::body::split_records(body.as_bytes(), crate::body::BodyFormat::Json).unwrap();
        records.remove(0).unwrap()
    }

    #[test]
    fn non_finite_tokens_are_missing_in_features_only() {
        let event = validate_prediction(
            &binary(),
            &parsed(r#"{"id": "a", "prediction": 1, "latency_ms": NaN, "features": {"income": NaN, "region": -Infinity}}"#),
            0,
        )
        .unwrap();
        assert_eq!(
            event.features,
            vec![FeatureValue::Missing, FeatureValue::Missing]
        );
        assert_eq!(event.latency_ms, None);
        for (body, field) in [
            (r#"{"id": "a", "prediction": NaN}"#, "prediction"),
            (
                r#"{"id": "a", "prediction": 1, "score": Infinity}"#,
                "score",
            ),
            (r#"{"id": "a", "prediction": 1, "label": NaN}"#, "label"),
            (
                r#"{"id": "a", "prediction": 1, "timestamp": NaN}"#,
                "timestamp",
            ),
        ] {
            let err = validate_prediction(&binary(), &parsed(body), 0).unwrap_err();
            assert_eq!(err.field, field, "{body}");
            assert!(err.message.contains("is not"), "{}", err.message);
        }
        let err = validate_label(&binary(), &parsed(r#"{"id": "a", "label": NaN}"#)).unwrap_err();
        assert_eq!(err.field, "label");
        assert!(err.message.starts_with("`NaN` is not"), "{}", err.message);
    }

    #[test]
    fn epoch_seconds_are_refused_naming_the_unit() {
        let err = validate_prediction(
            &binary(),
            &record(json!({"id": "a", "prediction": 1, "timestamp": 1_710_151_200})),
            0,
        )
        .unwrap_err();
        assert_eq!(err.field, "timestamp");
        assert!(
            err.message.contains("looks like epoch seconds"),
            "{}",
            err.message
        );
    }

    #[test]
    fn scores_may_be_predict_proba_rows() {
        let definition: ModelDefinition = serde_json::from_value(json!({
            "task": "multiclass_classification", "classes": ["dog", "cat", "bird"]
        }))
        .unwrap();
        let model = Model::new("m", definition).unwrap();
        let event = validate_prediction(
            &model,
            &record(json!({"id": "a", "prediction": "cat", "score": [0.2, 0.7, 0.1]})),
            0,
        )
        .unwrap();
        // Stored in sorted class order: bird, cat, dog.
        assert_eq!(event.score, Some(Score::PerClass(vec![0.1, 0.7, 0.2])));
        let short = validate_prediction(
            &model,
            &record(json!({"id": "a", "prediction": "cat", "score": [0.2, 0.8]})),
            0,
        )
        .unwrap_err();
        assert_eq!(short.field, "score");
        assert!(
            short.message.contains("expected 3, got 2"),
            "{}",
            short.message
        );
        let binary_row = validate_prediction(
            &binary(),
            &record(json!({"id": "a", "prediction": 1, "score": [0.25, 0.75]})),
            0,
        )
        .unwrap();
        assert_eq!(binary_row.score, Some(Score::Positive(0.75)));
    }

    #[test]
    fn reference_rows_may_be_flat() {
        let flat = validate_reference_row(
            &binary(),
            record(json!({"income": 3.5, "region": "north", "label": 1})),
            &InputLimits::default(),
        )
        .unwrap();
        assert_eq!(
            flat.features,
            vec![
                FeatureValue::Number(3.5),
                FeatureValue::Category("north".into())
            ]
        );
        assert_eq!(flat.label, Some(Target::Class("1".into())));
        let mixed = validate_reference_row(
            &binary(),
            record(json!({"income": 3.5, "features": {"region": "north"}})),
            &InputLimits::default(),
        )
        .unwrap_err();
        assert_eq!(mixed.field, "income");
    }

    #[test]
    fn labels() {
        let label = validate_label(&binary(), &record(json!({"id": "a", "label": 1}))).unwrap();
        assert_eq!(label.label, Target::Class("1".into()));
        assert_eq!(
            validate_label(&binary(), &record(json!({"id": "a"})))
                .unwrap_err()
                .field,
            "label"
        );
        assert_eq!(
            validate_label(&binary(), &record(json!({"id": "a", "label": 1, "x": 1})))
                .unwrap_err()
                .field,
            "x"
        );
    }
}
