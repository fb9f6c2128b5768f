//! Silences: label matchers and a time span during which matching alerts send no
//! notification (they still fire, and are listed, as in Alertmanager).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::time::{Timestamp, format_timestamp};

/// Most matchers one silence may have.
const MAX_MATCHERS: usize = 32;

/// A silence as sent (`PUT /api/v1/silences/{id}`, or `[silences.ID]` in the
/// configuration file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct SilenceDefinition {
    /// Label name → value an alert must have, all of them, to be muted.
    pub matchers: BTreeMap<String, String>,
    /// When it starts muting (default: when it is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Timestamp>,
    /// When it stops muting.
    pub ends_at: Timestamp,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

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
    /// Checks a silence's id (the rules of model names).
    pub fn check_id(id: &str) -> Result<(), FieldError> {
        super::check_name(id, "silence", "silence id")
    }

    /// Reads and validates a silence definition sent as JSON; `starts_at` defaults to
    /// `now_ms`.
    pub fn new(id: &str, definition: &Value, now_ms: i64) -> Result<Silence, FieldError> {
        Self::check_id(id)?;
        Self::from_definition(id, crate::definition::from_json(definition)?, now_ms)
    }

    /// Validates a silence definition; `starts_at` defaults to `now_ms`.
    pub fn from_definition(
        id: &str,
        definition: SilenceDefinition,
        now_ms: i64,
    ) -> Result<Silence, FieldError> {
        Self::check_id(id)?;
        let matchers = definition.matchers;
        if matchers.is_empty() {
            return Err(FieldError::new(
                "matchers",
                "expected a non-empty object of label name → value",
            ));
        }
        if matchers.len() > MAX_MATCHERS {
            return Err(FieldError::new(
                "matchers",
                format!("at most {MAX_MATCHERS} matchers"),
            ));
        }
        for (name, value) in &matchers {
            if value.len() > 256 {
                return Err(FieldError::new(
                    format!("matchers.{name}"),
                    "expected a string of at most 256 bytes",
                ));
            }
            if name.is_empty() || name.len() > 64 {
                return Err(FieldError::new("matchers", "label names are 1 to 64 bytes"));
            }
        }
        let starts_at_ms = definition.starts_at.map_or(now_ms, |t| t.0);
        let ends_at_ms = definition.ends_at.0;
        if ends_at_ms <= starts_at_ms {
            return Err(FieldError::new("ends_at", "must be after `starts_at`"));
        }
        let comment = definition.comment.unwrap_or_default();
        if comment.len() > 4096 {
            return Err(FieldError::new(
                "comment",
                "expected a string of at most 4096 bytes",
            ));
        }
        Ok(Silence {
            id: id.to_string(),
            matchers,
            starts_at_ms,
            ends_at_ms,
            comment,
        })
    }

    /// The definition to store: the one sent, with its start filled in (so that a
    /// restart does not move it).
    pub fn definition(&self) -> SilenceDefinition {
        SilenceDefinition {
            matchers: self.matchers.clone(),
            starts_at: Some(Timestamp(self.starts_at_ms)),
            ends_at: Timestamp(self.ends_at_ms),
            comment: (!self.comment.is_empty()).then(|| self.comment.clone()),
        }
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

    #[test]
    fn the_stored_definition_keeps_the_start() {
        let silence = Silence::new(
            "s",
            &json!({"matchers": {"model": "credit"}, "ends_at": "2099-01-01T00:00:00Z", "comment": "upgrade"}),
            1_000,
        )
        .unwrap();
        assert_eq!(silence.starts_at_ms, 1_000);
        let stored: SilenceDefinition =
            serde_json::from_str(&serde_json::to_string(&silence.definition()).unwrap()).unwrap();
        assert_eq!(
            Silence::from_definition("s", stored, 5_000).unwrap(),
            silence
        );
        // As stored before definitions were typed: the start in epoch milliseconds.
        let old = json!({"matchers": {"model": "credit"}, "starts_at": 1000, "ends_at": "2099-01-01T00:00:00Z", "comment": "upgrade"});
        assert_eq!(Silence::new("s", &old, 5_000).unwrap(), silence);
    }
}
