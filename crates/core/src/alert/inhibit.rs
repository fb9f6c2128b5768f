//! Inhibition, with Alertmanager's meaning: while an alert matching a rule's
//! `source_matchers` fires, alerts matching its `target_matchers` that have the same
//! values for every label in `equal` are not notified (a `critical` alert mutes the
//! `warning` of the same model). An alert never inhibits itself, and an alert that
//! matches both sides is not inhibited by another that does too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::matcher::{Matcher, all_match, parse_all};
use crate::error::FieldError;

/// An inhibition rule as sent (an item of `inhibit_rules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct InhibitDefinition {
    /// What a muting alert matches.
    pub source_matchers: Vec<String>,
    /// What a muted alert matches.
    pub target_matchers: Vec<String>,
    /// Labels whose values must be the same in both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equal: Option<Vec<String>>,
}

/// A validated inhibition rule.
#[derive(Debug, Clone, PartialEq)]
pub struct InhibitRule {
    /// What a muting alert matches.
    pub source: Vec<Matcher>,
    /// What a muted alert matches.
    pub target: Vec<Matcher>,
    /// Labels whose values must be the same in both.
    pub equal: Vec<String>,
}

/// A firing alert that may inhibit others: its fingerprint and labels.
pub type Firing<'a> = (&'a str, &'a BTreeMap<String, String>);

impl InhibitRule {
    /// Validates a definition; errors name fields under `field`.
    pub fn new(definition: &InhibitDefinition, field: &str) -> Result<Self, FieldError> {
        let source = parse_all(
            &definition.source_matchers,
            &format!("{field}.source_matchers"),
        )?;
        let target = parse_all(
            &definition.target_matchers,
            &format!("{field}.target_matchers"),
        )?;
        if source.is_empty() {
            return Err(FieldError::new(
                format!("{field}.source_matchers"),
                "expected at least one matcher (an empty list would let any alert mute)",
            ));
        }
        if target.is_empty() {
            return Err(FieldError::new(
                format!("{field}.target_matchers"),
                "expected at least one matcher",
            ));
        }
        let equal = definition.equal.clone().unwrap_or_default();
        if equal.len() > 32 {
            return Err(FieldError::new(
                format!("{field}.equal"),
                "at most 32 label names",
            ));
        }
        if let Some(i) = equal.iter().position(|l| l.is_empty() || l.len() > 64) {
            return Err(FieldError::new(
                format!("{field}.equal[{i}]"),
                "expected a label name",
            ));
        }
        Ok(Self {
            source,
            target,
            equal,
        })
    }

    /// Whether the alert `(fingerprint, labels)` is muted by one of `firing`.
    pub fn inhibits(&self, target: Firing<'_>, firing: &[Firing<'_>]) -> bool {
        let (fingerprint, labels) = target;
        if !all_match(&self.target, labels) {
            return false;
        }
        let two_sided = all_match(&self.source, labels);
        firing.iter().any(|(source_fp, source)| {
            *source_fp != fingerprint
                && all_match(&self.source, source)
                && !(two_sided && all_match(&self.target, source))
                && self.equal.iter().all(|l| source.get(l) == labels.get(l))
        })
    }
}

/// The index of the first rule of `rules` that mutes `target`, if any.
pub fn inhibited_by(
    rules: &[InhibitRule],
    target: Firing<'_>,
    firing: &[Firing<'_>],
) -> Option<usize> {
    rules.iter().position(|rule| rule.inhibits(target, firing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn critical_mutes_warning() -> InhibitRule {
        InhibitRule::new(
            &InhibitDefinition {
                source_matchers: vec!["severity=critical".into()],
                target_matchers: vec!["severity=warning".into()],
                equal: Some(vec!["model".into()]),
            },
            "inhibit_rules[0]",
        )
        .unwrap()
    }

    #[test]
    fn a_critical_alert_mutes_the_warning_of_the_same_model_only() {
        let rule = critical_mutes_warning();
        let critical = labels(&[("severity", "critical"), ("model", "credit")]);
        let warning = labels(&[("severity", "warning"), ("model", "credit")]);
        let other = labels(&[("severity", "warning"), ("model", "fraud")]);
        let firing = [("c", &critical)];
        assert!(rule.inhibits(("w", &warning), &firing));
        assert!(!rule.inhibits(("o", &other), &firing));
        // Nothing critical fires: nothing is muted.
        assert!(!rule.inhibits(("w", &warning), &[("w", &warning)]));
        // The source is never muted by its own rule.
        assert!(!rule.inhibits(("c", &critical), &firing));
    }

    #[test]
    fn an_alert_does_not_inhibit_itself_nor_a_two_sided_peer() {
        let rule = InhibitRule::new(
            &InhibitDefinition {
                source_matchers: vec!["team=risk".into()],
                target_matchers: vec!["team=risk".into()],
                equal: None,
            },
            "r",
        )
        .unwrap();
        let a = labels(&[("team", "risk"), ("alertname", "a")]);
        let b = labels(&[("team", "risk"), ("alertname", "b")]);
        assert!(!rule.inhibits(("a", &a), &[("a", &a)]));
        assert!(!rule.inhibits(("a", &a), &[("a", &a), ("b", &b)]));
    }

    #[test]
    fn bad_rules_name_their_field() {
        let error = |source: &[&str], target: &[&str]| {
            InhibitRule::new(
                &InhibitDefinition {
                    source_matchers: source.iter().map(|s| s.to_string()).collect(),
                    target_matchers: target.iter().map(|s| s.to_string()).collect(),
                    equal: None,
                },
                "inhibit_rules[1]",
            )
            .unwrap_err()
            .field
        };
        assert_eq!(error(&[], &["a=b"]), "inhibit_rules[1].source_matchers");
        assert_eq!(
            error(&["a=b", "c=~("], &["a=b"]),
            "inhibit_rules[1].source_matchers[1]"
        );
        assert_eq!(error(&["a=b"], &[]), "inhibit_rules[1].target_matchers");
    }
}
