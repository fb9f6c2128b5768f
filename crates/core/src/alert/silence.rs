//! Silences: label matchers and a time span during which matching alerts send no
//! notification (they still fire, and are listed, as in Alertmanager).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::FieldError;
use crate::time::{format_timestamp, parse_timestamp_json};

/// Most matchers one silence may have.
const MAX_MATCHERS: usize = 32;

/// A validated silence.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// Its id (the path segment of `PUT /api/v1/silences/{id}`).
    pub id: String,
    /// Label name → value an alert must have, all of them, to be muted.
    pub matchers: BTreeMap<String, String>,
    /// When it starts muting (epoch ms, wall clock).
    pub starts_at_ms: i64,
    /// When it stops muting.
    pub ends_at_ms: i64,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// Validates a silence definition; `starts_at` defaults to `now_ms`.
    pub fn new(id: &str, definition: &Value, now_ms: i64) -> Result<Silence, FieldError> {
        crate::schema::validate_model_name(id).map_err(|e| {
            FieldError::new("silence", e.message.replace("model name", "silence id"))
        })?;
        let object = definition
            .as_object()
            .ok_or_else(|| FieldError::new("body", "expected a JSON object"))?;
        if let Some(unknown) = object
            .keys()
            .find(|k| !["matchers", "starts_at", "ends_at", "comment"].contains(&k.as_str()))
        {
            return Err(FieldError::new(unknown.as_str(), "unknown field"));
        }
        let matchers_json = object
            .get("matchers")
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                FieldError::new(
                    "matchers",
                    "expected a non-empty object of label name → value",
                )
            })?;
        if matchers_json.len() > MAX_MATCHERS {
            return Err(FieldError::new(
                "matchers",
                format!("at most {MAX_MATCHERS} matchers"),
            ));
        }
        let mut matchers = BTreeMap::new();
        for (name, value) in matchers_json {
            let value = value.as_str().filter(|v| v.len() <= 256).ok_or_else(|| {
                FieldError::new(
                    format!("matchers.{name}"),
                    "expected a string of at most 256 bytes",
                )
            })?;
            if name.is_empty() || name.len() > 64 {
                return Err(FieldError::new("matchers", "label names are 1 to 64 bytes"));
            }
            matchers.insert(name.clone(), value.to_string());
        }
        let time = |key: &str| -> Result<Option<i64>, FieldError> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => parse_timestamp_json(value)
                    .map(Some)
                    .map_err(|e| FieldError::new(key, e)),
            }
        };
        let starts_at_ms = time("starts_at")?.unwrap_or(now_ms);
        let ends_at_ms =
            time("ends_at")?.ok_or_else(|| FieldError::new("ends_at", "is required"))?;
        if ends_at_ms <= starts_at_ms {
            return Err(FieldError::new("ends_at", "must be after `starts_at`"));
        }
        let comment = match object.get("comment") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) if text.len() <= 4096 => text.clone(),
            Some(_) => {
                return Err(FieldError::new(
                    "comment",
                    "expected a string of at most 4096 bytes",
                ));
            }
        };
        Ok(Silence {
            id: id.to_string(),
            matchers,
            starts_at_ms,
            ends_at_ms,
            comment,
        })
    }

    /// Whether it mutes at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.starts_at_ms <= now_ms && now_ms < self.ends_at_ms
    }

    /// Whether an alert with `labels` is muted by it at `now_ms`.
    pub fn mutes(&self, labels: &BTreeMap<String, String>, now_ms: i64) -> bool {
        self.is_active(now_ms)
            && self
                .matchers
                .iter()
                .all(|(name, value)| labels.get(name) == Some(value))
    }

    /// The silence as JSON (`GET`).
    pub fn to_json(&self, now_ms: i64) -> Value {
        serde_json::json!({
            "id": self.id,
            "matchers": self.matchers,
            "starts_at": format_timestamp(self.starts_at_ms),
            "ends_at": format_timestamp(self.ends_at_ms),
            "comment": self.comment,
            "active": self.is_active(now_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn mutes_matching_alerts_only_while_active() {
        let silence = Silence::new(
            "maintenance",
            &json!({"matchers": {"model": "credit"}, "starts_at": 1000, "ends_at": 2000}),
            0,
        )
        .unwrap();
        let credit = labels(&[("model", "credit"), ("alertname", "low-accuracy")]);
        let fraud = labels(&[("model", "fraud")]);
        assert!(silence.mutes(&credit, 1000));
        assert!(silence.mutes(&credit, 1999));
        assert!(!silence.mutes(&credit, 999));
        assert!(!silence.mutes(&credit, 2000));
        assert!(!silence.mutes(&fraud, 1500));
    }

    #[test]
    fn every_matcher_must_match() {
        let silence = Silence::new(
            "s",
            &json!({"matchers": {"model": "credit", "severity": "critical"}, "ends_at": 10}),
            0,
        )
        .unwrap();
        assert!(!silence.mutes(&labels(&[("model", "credit")]), 5));
        assert!(silence.mutes(&labels(&[("model", "credit"), ("severity", "critical")]), 5));
    }

    #[test]
    fn validation_names_the_field() {
        let field = |body: Value| Silence::new("s", &body, 0).unwrap_err().field;
        assert_eq!(field(json!({"ends_at": 10})), "matchers");
        assert_eq!(field(json!({"matchers": {}, "ends_at": 10})), "matchers");
        assert_eq!(
            field(json!({"matchers": {"model": 1}, "ends_at": 10})),
            "matchers.model"
        );
        assert_eq!(field(json!({"matchers": {"model": "a"}})), "ends_at");
        assert_eq!(
            field(json!({"matchers": {"model": "a"}, "ends_at": "soon"})),
            "ends_at"
        );
        assert_eq!(
            field(json!({"matchers": {"model": "a"}, "starts_at": 20, "ends_at": 10})),
            "ends_at"
        );
        assert_eq!(
            field(json!({"matchers": {"model": "a"}, "ends_at": 10, "until": 1})),
            "until"
        );
        assert_eq!(
            Silence::new("../x", &json!({}), 0).unwrap_err().field,
            "silence"
        );
    }
}
