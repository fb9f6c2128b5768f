//! Model definitions: the task, the classes and the features of a watched model,
//! their validation, and the rules for changing a definition that already has data.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::geo::Geo;
use crate::time::Duration;

/// Column and key names with a meaning of their own; every other CSV column is a feature.
pub const RESERVED_COLUMNS: &[&str] = &[
    "id",
    "timestamp",
    "version",
    "features",
    "prediction",
    "score",
    "label",
    "latency_ms",
    "error",
];

/// Longest accepted model name.
pub const MAX_MODEL_NAME_LEN: usize = 64;

/// Checks the name of a rule, channel or silence (the rules of model names); the error
/// is on `field` and calls it a `noun`.
pub fn validate_resource_name(name: &str, field: &str, noun: &str) -> Result<(), FieldError> {
    validate_model_name(name)
        .map_err(|e| FieldError::new(field, e.message.replace("model name", noun)))
}

/// Checks a model name against `[a-z0-9][a-z0-9_.-]{0,63}`.
pub fn validate_model_name(name: &str) -> Result<(), FieldError> {
    let bytes = name.as_bytes();
    let valid_first = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let valid_rest = bytes[1.min(bytes.len())..]
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'));
    if valid_first && valid_rest && bytes.len() <= MAX_MODEL_NAME_LEN {
        Ok(())
    } else {
        Err(FieldError::new(
            "model",
            format!(
                "`{}` is not a valid model name: use 1 to 64 of a-z, 0-9, `_`, `.`, `-`, starting with a letter or digit",
                crate::time::truncate(name, 80)
            ),
        ))
    }
}

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Two classes, one of them positive; scores are P(positive).
    BinaryClassification,
    /// Three or more classes (or two, without a positive class); scores are per class.
    MulticlassClassification,
    /// A real-valued target.
    Regression,
}

impl Task {
    /// Whether predictions and labels are class labels.
    pub fn is_classification(self) -> bool {
        !matches!(self, Task::Regression)
    }

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::BinaryClassification => "binary_classification",
            Task::MulticlassClassification => "multiclass_classification",
            Task::Regression => "regression",
        }
    }
}

/// The kind of values a feature takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureType {
    /// Real numbers.
    Numeric,
    /// Strings or booleans, compared as strings.
    Categorical,
}

/// One input of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// The key of the feature in `features`.
    pub name: String,
    /// Numeric or categorical.
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// Personal data: stored only as a keyed hash, never in plain text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pii: bool,
    /// Drift method for this feature, overriding the default selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_method: Option<String>,
    /// Drift threshold for this feature, overriding the method's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_threshold: Option<f64>,
    /// What a categorical feature's values name on a map (`"country"`: ISO 3166-1
    /// alpha-2 codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<Geo>,
    /// A protected attribute: fairness metrics are kept per value (binary classifiers,
    /// categorical features).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// A model definition as sent by the user (`PUT /api/v1/models/{model}`, or the
/// schema file of the offline report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDefinition {
    /// What the model predicts.
    pub task: Task,
    /// The positive class of a binary classifier (default `"1"`); a string, a number or
    /// a boolean, normalised as labels are.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "class_label::optional"
    )]
    pub positive_class: Option<String>,
    /// The classes of a classifier: strings, numbers or booleans (`clf.classes_`),
    /// normalised as labels are.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "class_label::list"
    )]
    pub classes: Vec<String>,
    /// The inputs.
    #[serde(default)]
    pub features: Vec<FeatureSpec>,
    /// How long after a window ends late data is still expected (default `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_lateness: Option<Duration>,
    /// How long after a span is first judged late labels may still change its verdict
    /// (default `1d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_lateness: Option<Duration>,
    /// Categorical features whose values split the metrics (`?segment=`, rules with a
    /// `segment`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
}

/// Class labels of a definition given as JSON strings, numbers or booleans.
mod class_label {
    use serde::{Deserialize, Deserializer, de::Error};
    use serde_json::Value;

    fn one<E: Error>(value: &Value) -> Result<String, E> {
        match value {
            // Strings are checked with the rest of the definition, naming the class.
            Value::String(text) => Ok(text.clone()),
            other => crate::class::class_from_json(other).map_err(E::custom),
        }
    }

    pub fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
        let values = Vec::<Value>::deserialize(deserializer)?;
        values.iter().map(one).collect()
    }

    pub fn optional<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        match Option::<Value>::deserialize(deserializer)? {
            None | Some(Value::Null) => Ok(None),
            Some(value) => one(&value).map(Some),
        }
    }
}

/// Limits applied to a model definition.
pub const MAX_FEATURES: usize = 1_000;
/// Longest accepted feature name or class label in a definition.
pub const MAX_NAME_LEN: usize = 256;
/// Most classes of a classifier.
pub const MAX_CLASSES: usize = 1_000;
/// Most segment features of a model (each multiplies the per-window performance state).
pub const MAX_SEGMENTS: usize = 8;
/// Most sensitive features of a model.
pub const MAX_SENSITIVE: usize = 8;

/// A validated model definition with the lookups the hot path needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The model's name.
    pub name: String,
    /// The definition as validated (with defaults filled in).
    pub definition: ModelDefinition,
    /// Classes, sorted (empty for regression).
    pub classes: Vec<String>,
    /// The positive class (binary only).
    pub positive_class: Option<String>,
    /// Allowed lateness in milliseconds.
    pub allowed_lateness_ms: i64,
    /// Label lateness in milliseconds.
    pub label_lateness_ms: i64,
    /// `(name, feature index)` of each segment feature, in definition order.
    pub segment_features: Vec<(String, usize)>,
    /// `(name, feature index)` of each sensitive feature, in definition order.
    pub sensitive_features: Vec<(String, usize)>,
}

impl Model {
    /// Validates `definition` for the model called `name`.
    pub fn new(name: &str, mut definition: ModelDefinition) -> Result<Self, FieldError> {
        validate_model_name(name)?;
        if definition.features.len() > MAX_FEATURES {
            return Err(FieldError::new(
                "features",
                format!("at most {MAX_FEATURES} features are allowed"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, feature) in definition.features.iter().enumerate() {
            let field = format!("features[{i}].name");
            if feature.name.is_empty() || feature.name.len() > MAX_NAME_LEN {
                return Err(FieldError::new(
                    field,
                    format!("must be 1 to {MAX_NAME_LEN} bytes"),
                ));
            }
            if feature.name.chars().any(char::is_control) {
                return Err(FieldError::new(
                    field,
                    "must not contain control characters",
                ));
            }
            if RESERVED_COLUMNS.contains(&feature.name.as_str()) {
                return Err(FieldError::new(
                    field,
                    format!("`{}` is a reserved column name", feature.name),
                ));
            }
            if !seen.insert(feature.name.as_str()) {
                return Err(FieldError::new(
                    field,
                    format!("feature `{}` is defined twice", feature.name),
                ));
            }
            if feature.pii && feature.kind == FeatureType::Numeric {
                return Err(FieldError::new(
                    format!("features[{i}].pii"),
                    "only categorical features can be marked pii (their values are stored as keyed hashes); drop or bucket numeric personal data",
                ));
            }
            if feature.geo.is_some() && (feature.kind != FeatureType::Categorical || feature.pii) {
                return Err(FieldError::new(
                    format!("features[{i}].geo"),
                    "only a categorical feature that is not pii can be drawn on a map (its values are ISO 3166-1 alpha-2 country codes)",
                ));
            }
            if let Some(method) = &feature.drift_method {
                check_method(feature.kind, method)
                    .map_err(|e| FieldError::new(format!("features[{i}].drift_method"), e))?;
            }
            if let Some(threshold) = feature.drift_threshold
                && !(threshold.is_finite() && threshold >= 0.0)
            {
                return Err(FieldError::new(
                    format!("features[{i}].drift_threshold"),
                    "must be a finite number >= 0",
                ));
            }
        }
        let allowed_lateness_ms = definition
            .allowed_lateness
            .as_ref()
            .map_or(5 * crate::time::MINUTE_MS, Duration::ms);
        let label_lateness_ms = definition
            .label_lateness
            .as_ref()
            .map_or(crate::time::DAY_MS, Duration::ms);
        let mut classes = Vec::new();
        let mut positive_class = None;
        match definition.task {
            Task::Regression => {
                if !definition.classes.is_empty() {
                    return Err(FieldError::new(
                        "classes",
                        "a regression model has no classes",
                    ));
                }
                if definition.positive_class.is_some() {
                    return Err(FieldError::new(
                        "positive_class",
                        "a regression model has no positive class",
                    ));
                }
            }
            Task::BinaryClassification | Task::MulticlassClassification => {
                if definition.task == Task::BinaryClassification && definition.classes.is_empty() {
                    definition.classes = vec!["0".into(), "1".into()];
                }
                // Class labels are compared as strings after the same normalisation
                // events get (`"1.0"` is class `"1"`).
                for class in definition.classes.iter_mut() {
                    *class = crate::class::normalize_class_text(class);
                }
                if let Some(positive) = definition.positive_class.as_mut() {
                    *positive = crate::class::normalize_class_text(positive);
                }
                classes = definition.classes.clone();
                for (i, class) in classes.iter().enumerate() {
                    if class.is_empty() || class.len() > MAX_NAME_LEN {
                        return Err(FieldError::new(
                            format!("classes[{i}]"),
                            format!("must be 1 to {MAX_NAME_LEN} bytes"),
                        ));
                    }
                }
                classes.sort();
                let before = classes.len();
                classes.dedup();
                if classes.len() != before {
                    return Err(FieldError::new("classes", "a class is listed twice"));
                }
                if classes.len() > MAX_CLASSES {
                    return Err(FieldError::new(
                        "classes",
                        format!("at most {MAX_CLASSES} classes are allowed"),
                    ));
                }
                if definition.task == Task::BinaryClassification {
                    if classes.len() != 2 {
                        return Err(FieldError::new(
                            "classes",
                            "a binary classifier has exactly two classes",
                        ));
                    }
                    if definition.positive_class.is_none() && !classes.iter().any(|c| c == "1") {
                        return Err(FieldError::new(
                            "positive_class",
                            format!(
                                "classes are [{}]: set positive_class (it defaults to `1`, which is not one of them)",
                                definition.classes.join(", ")
                            ),
                        ));
                    }
                    let positive = definition
                        .positive_class
                        .get_or_insert_with(|| "1".to_string())
                        .clone();
                    if !classes.contains(&positive) {
                        return Err(FieldError::new(
                            "positive_class",
                            format!("`{positive}` is not one of the classes {classes:?}"),
                        ));
                    }
                    positive_class = Some(positive);
                } else {
                    if classes.len() < 2 {
                        return Err(FieldError::new(
                            "classes",
                            "a multiclass classifier needs at least two classes",
                        ));
                    }
                    if definition.positive_class.is_some() {
                        return Err(FieldError::new(
                            "positive_class",
                            "only a binary classifier has a positive class",
                        ));
                    }
                }
            }
        }
        let (segment_features, sensitive_features) = check_groupings(&definition)?;
        Ok(Self {
            name: name.to_string(),
            definition,
            classes,
            positive_class,
            allowed_lateness_ms,
            label_lateness_ms,
            segment_features,
            sensitive_features,
        })
    }

    /// The task.
    pub fn task(&self) -> Task {
        self.definition.task
    }

    /// The features, in definition order.
    pub fn features(&self) -> &[FeatureSpec] {
        &self.definition.features
    }

    /// Index of a feature by name.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.definition.features.iter().position(|f| f.name == name)
    }

    /// Checks that `self` may replace `old` on a model that may already hold data:
    /// features may be added (and their drift settings changed), but the task, a
    /// feature's type and the classes may not change, and no feature may be removed.
    pub fn check_update_from(&self, old: &Model) -> Result<(), FieldError> {
        if self.task() != old.task() {
            return Err(FieldError::new(
                "task",
                format!(
                    "cannot change the task from {} to {}",
                    old.task().as_str(),
                    self.task().as_str()
                ),
            ));
        }
        if self.positive_class != old.positive_class {
            return Err(FieldError::new(
                "positive_class",
                "cannot change the positive class of a model that exists",
            ));
        }
        for class in &old.classes {
            if !self.classes.contains(class) {
                return Err(FieldError::new(
                    "classes",
                    format!("cannot remove class `{class}` from a model that exists"),
                ));
            }
        }
        for old_feature in old.features() {
            match self.feature_index(&old_feature.name) {
                None => {
                    return Err(FieldError::new(
                        "features",
                        format!(
                            "cannot remove feature `{}` from a model that exists",
                            old_feature.name
                        ),
                    ));
                }
                Some(i) => {
                    let new_feature = &self.features()[i];
                    if new_feature.kind != old_feature.kind {
                        return Err(FieldError::new(
                            format!("features[{i}].type"),
                            format!("cannot change the type of feature `{}`", old_feature.name),
                        ));
                    }
                    if new_feature.pii != old_feature.pii {
                        return Err(FieldError::new(
                            format!("features[{i}].pii"),
                            format!("cannot change `pii` of feature `{}`", old_feature.name),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// `(name, index)` pairs of the segment and sensitive features, each checked: a segment
/// names a categorical feature once; a sensitive feature is categorical, of a binary
/// classifier.
type Groupings = (Vec<(String, usize)>, Vec<(String, usize)>);

fn check_groupings(definition: &ModelDefinition) -> Result<Groupings, FieldError> {
    if definition.segments.len() > MAX_SEGMENTS {
        return Err(FieldError::new(
            "segments",
            format!("at most {MAX_SEGMENTS} segment features are allowed"),
        ));
    }
    let mut segments: Vec<(String, usize)> = Vec::new();
    for (i, name) in definition.segments.iter().enumerate() {
        let field = format!("segments[{i}]");
        let Some(index) = definition.features.iter().position(|f| &f.name == name) else {
            return Err(FieldError::new(
                field,
                format!(
                    "`{}` is not a feature of the model",
                    crate::time::truncate(name, 80)
                ),
            ));
        };
        if definition.features[index].kind != FeatureType::Categorical {
            return Err(FieldError::new(
                field,
                format!("`{name}` is numeric: only categorical features can be segments"),
            ));
        }
        if segments.iter().any(|(seen, _)| seen == name) {
            return Err(FieldError::new(field, format!("`{name}` is listed twice")));
        }
        segments.push((name.clone(), index));
    }
    let mut sensitive = Vec::new();
    for (i, feature) in definition.features.iter().enumerate() {
        if !feature.sensitive {
            continue;
        }
        let field = format!("features[{i}].sensitive");
        if feature.kind != FeatureType::Categorical {
            return Err(FieldError::new(
                field,
                "only categorical features can be sensitive (bucket a numeric attribute into groups)",
            ));
        }
        if definition.task != Task::BinaryClassification {
            return Err(FieldError::new(
                field,
                "fairness metrics are defined for binary classifiers only",
            ));
        }
        sensitive.push((feature.name.clone(), i));
    }
    if sensitive.len() > MAX_SENSITIVE {
        return Err(FieldError::new(
            "features",
            format!("at most {MAX_SENSITIVE} features can be sensitive"),
        ));
    }
    Ok((segments, sensitive))
}

/// Checks a feature's drift settings against its type.
pub fn check_method(kind: FeatureType, method: &str) -> Result<(), String> {
    match crate::answer::method::Method::parse(method) {
        None => Err(format!(
            "unknown drift method `{method}` (use one of {})",
            crate::answer::method::Method::ALL
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(m) if m.numeric_only() && kind == FeatureType::Categorical => {
            Err(format!("`{method}` applies to numeric features only"))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(json: &str) -> ModelDefinition {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn model_names() {
        for good in ["credit", "a", "m-1.2_x", &"a".repeat(64)] {
            assert!(validate_model_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Credit", "-a", "a/b", "..", "a b", &"a".repeat(65), "é"] {
            assert!(validate_model_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn binary_defaults() {
        let model = Model::new("m", definition(r#"{"task": "binary_classification"}"#)).unwrap();
        assert_eq!(model.classes, ["0", "1"]);
        assert_eq!(model.positive_class.as_deref(), Some("1"));
        assert_eq!(model.allowed_lateness_ms, 300_000);
    }

    #[test]
    fn classes_are_normalised_like_events() {
        let model = Model::new(
            "m",
            definition(r#"{"task": "binary_classification", "classes": ["0.0", "1.0"], "positive_class": "1.0"}"#),
        )
        .unwrap();
        assert_eq!(model.classes, ["0", "1"]);
        assert_eq!(model.positive_class.as_deref(), Some("1"));
    }

    #[test]
    fn classes_may_be_numbers() {
        let model = Model::new(
            "m",
            definition(r#"{"task": "multiclass_classification", "classes": [0, 1.0, "2", true]}"#),
        )
        .unwrap();
        assert_eq!(model.definition.classes, ["0", "1", "2", "true"]);
        let binary = Model::new(
            "m",
            definition(
                r#"{"task": "binary_classification", "classes": [3, 7], "positive_class": 7.0}"#,
            ),
        )
        .unwrap();
        assert_eq!(binary.positive_class.as_deref(), Some("7"));
        assert!(
            serde_json::from_str::<ModelDefinition>(r#"{"task": "regression", "classes": [[1]]}"#)
                .is_err()
        );
    }

    #[test]
    fn a_binary_model_without_class_1_names_its_classes() {
        let err = Model::new(
            "m",
            definition(r#"{"task": "binary_classification", "classes": ["malignant", "benign"]}"#),
        )
        .unwrap_err();
        assert_eq!(err.field, "positive_class");
        assert!(
            err.message
                .starts_with("classes are [malignant, benign]: set positive_class"),
            "{}",
            err.message
        );
    }

    #[test]
    fn rejects_bad_definitions() {
        let cases = [
            (
                r#"{"task": "binary_classification", "classes": ["a","b","c"]}"#,
                "classes",
            ),
            (
                r#"{"task": "binary_classification", "classes": ["a","b"]}"#,
                "positive_class",
            ),
            (
                r#"{"task": "multiclass_classification", "classes": ["a"]}"#,
                "classes",
            ),
            (r#"{"task": "regression", "classes": ["a"]}"#, "classes"),
            (
                r#"{"task": "regression", "features": [{"name":"x","type":"numeric"},{"name":"x","type":"numeric"}]}"#,
                "features[1].name",
            ),
            (
                r#"{"task": "regression", "features": [{"name":"label","type":"numeric"}]}"#,
                "features[0].name",
            ),
        ];
        for (json, field) in cases {
            let err = Model::new("m", definition(json)).unwrap_err();
            assert_eq!(err.field, field, "{json}");
        }
        assert!(serde_json::from_str::<ModelDefinition>(r#"{"task": "ranking"}"#).is_err());
        // A duration is checked as it is read.
        let lateness = serde_json::from_str::<ModelDefinition>(
            r#"{"task": "regression", "allowed_lateness": "5 parsecs"}"#,
        )
        .unwrap_err();
        assert!(lateness.to_string().contains("5 parsecs"), "{lateness}");
        assert!(
            serde_json::from_str::<ModelDefinition>(r#"{"task": "regression", "x": 1}"#).is_err()
        );
    }

    #[test]
    fn schema_evolution() {
        let old = Model::new(
            "m",
            definition(r#"{"task": "regression", "features": [{"name":"x","type":"numeric"}]}"#),
        )
        .unwrap();
        let added = Model::new(
            "m",
            definition(
                r#"{"task": "regression", "features": [{"name":"x","type":"numeric"},{"name":"y","type":"categorical"}]}"#,
            ),
        )
        .unwrap();
        assert!(added.check_update_from(&old).is_ok());
        let retyped = Model::new(
            "m",
            definition(
                r#"{"task": "regression", "features": [{"name":"x","type":"categorical"}]}"#,
            ),
        )
        .unwrap();
        assert_eq!(
            retyped.check_update_from(&old).unwrap_err().field,
            "features[0].type"
        );
        let retasked = Model::new("m", definition(r#"{"task": "binary_classification"}"#)).unwrap();
        assert_eq!(retasked.check_update_from(&old).unwrap_err().field, "task");
    }
}
