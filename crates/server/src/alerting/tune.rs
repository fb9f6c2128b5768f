//! Tuning a rule to a budget of alerts per week, by backtest: one parameter is varied
//! over candidate values, each candidate rule is run over the stored spans (their
//! values are read once; only the state machine runs again), and the most sensitive
//! candidate whose alerts per week stay at or under the target is proposed.
//!
//! - **Parameter.** `threshold` for a fixed threshold, `k` for an automatic one, `for`
//!   for a drift verdict; a request may name another that applies (`for` always does).
//! - **Candidates.** `threshold`: the current value and up to [`MAX_VALUE_CANDIDATES`]
//!   values spread evenly by rank over the distinct judged span values (min and max
//!   included), so every distinct outcome the data can give is near one of them. `k`:
//!   [`K_CANDIDATES`] and the current value. `for`: 0 to [`MAX_FOR_SPANS`] spans of
//!   `every`, and the current value.
//! - **Order and choice.** Candidates are listed from the most sensitive (lowest `k`,
//!   shortest `for`, the threshold nearest to firing: highest for `<`/`<=`, lowest for
//!   `>`/`>=`) to the least. The first whose alerts per week ≤ target is proposed;
//!   when none is, the one with the fewest alerts (the least sensitive among equals),
//!   with `met: false`. Alert counts need not fall monotonically (a looser rule can
//!   merge two alerts into one), which is why every candidate is run.

use modelwatch_core::FieldError;
use modelwatch_core::Model;
use modelwatch_core::alert::{Condition, Op, Rule, RuleDefinition};
use modelwatch_core::time::{Duration, format_duration};
use serde_json::{Number, Value, json};

use super::backtest::{Setup, per_week, simulate};
use super::evaluate::SpanValue;

/// Most threshold candidates taken from the data (the current one is added).
pub const MAX_VALUE_CANDIDATES: usize = 20;
/// The `k` candidates (the current one is added).
pub const K_CANDIDATES: [f64; 12] = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 10.0];
/// Longest `for` tried, in spans of `every`.
pub const MAX_FOR_SPANS: i64 = 12;

/// The parameter a tune varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parameter {
    /// The fixed threshold.
    Threshold,
    /// The width of an automatic band.
    K,
    /// How long the condition must hold.
    For,
}

impl Parameter {
    /// The name in requests and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Parameter::Threshold => "threshold",
            Parameter::K => "k",
            Parameter::For => "for",
        }
    }

    /// The parameter a request names (`field` for the error), or the rule's default.
    pub fn choose(rule: &Rule, named: Option<&str>, field: &str) -> Result<Self, FieldError> {
        let default = match rule.condition {
            Condition::Threshold { .. } => Parameter::Threshold,
            Condition::Auto { .. } => Parameter::K,
            Condition::DriftVerdict => Parameter::For,
        };
        let chosen = match named {
            None => return Ok(default),
            Some("threshold") => Parameter::Threshold,
            Some("k") => Parameter::K,
            Some("for") => Parameter::For,
            Some(_) => {
                return Err(FieldError::new(field, "expected threshold, k or for"));
            }
        };
        if chosen != Parameter::For && chosen != default {
            return Err(FieldError::new(
                field,
                format!(
                    "this rule's condition has no `{}`; it can tune `{}` or `for`",
                    chosen.as_str(),
                    default.as_str()
                ),
            ));
        }
        Ok(chosen)
    }
}

/// One candidate value and what it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The value (ms for `for`).
    pub value: f64,
    /// Alerts started in the range.
    pub alerts: usize,
    /// Alerts per week.
    pub alerts_per_week: f64,
    /// Flaps.
    pub flaps: usize,
}

/// What the search proposes.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The parameter varied.
    pub parameter: Parameter,
    /// Its value in the rule as sent.
    pub current: f64,
    /// The proposed value.
    pub proposed: f64,
    /// Whether the proposed value meets the target.
    pub met: bool,
    /// The proposed rule's definition.
    pub definition: RuleDefinition,
    /// Every candidate, most sensitive first.
    pub candidates: Vec<Candidate>,
}

impl Proposal {
    fn shown(&self, value: f64) -> Value {
        match self.parameter {
            Parameter::For => json!(format_duration(value as i64)),
            _ => json!(value),
        }
    }

    /// The answer's `tune` object.
    pub fn to_json(&self, target: f64) -> Value {
        json!({
            "target_alerts_per_week": target,
            "parameter": self.parameter.as_str(),
            "current": self.shown(self.current),
            "proposed": self.shown(self.proposed),
            "met": self.met,
            "rule": self.definition,
            "candidates": self.candidates.iter().map(|c| json!({
                "value": self.shown(c.value),
                "alerts": c.alerts,
                "alerts_per_week": c.alerts_per_week,
                "flaps": c.flaps,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The current value of `parameter` in `rule`.
fn current(rule: &Rule, parameter: Parameter) -> f64 {
    match (parameter, &rule.condition) {
        (Parameter::Threshold, Condition::Threshold { threshold, .. }) => *threshold,
        (Parameter::K, Condition::Auto { auto }) => auto.k,
        _ => rule.for_ms as f64,
    }
}

/// Candidate values, most sensitive first.
fn candidates(rule: &Rule, parameter: Parameter, values: &[(i64, SpanValue)]) -> Vec<f64> {
    let mut list: Vec<f64> = match parameter {
        Parameter::K => K_CANDIDATES.to_vec(),
        Parameter::For => (0..=MAX_FOR_SPANS)
            .map(|n| (n * rule.every_ms) as f64)
            .collect(),
        Parameter::Threshold => {
            let mut judged: Vec<f64> = values
                .iter()
                .filter(|(_, v)| rule.is_judged(v.count))
                .filter_map(|(_, v)| v.judged)
                .filter(|v| v.is_finite())
                .collect();
            judged.sort_by(f64::total_cmp);
            judged.dedup();
            spread(&judged, MAX_VALUE_CANDIDATES)
        }
    };
    list.push(current(rule, parameter));
    list.sort_by(f64::total_cmp);
    list.dedup();
    let loosest_last = match (&rule.condition, parameter) {
        (Condition::Threshold { op, .. }, Parameter::Threshold) => {
            matches!(op, Op::Less | Op::LessOrEqual)
        }
        _ => false,
    };
    if loosest_last {
        list.reverse();
    }
    list
}

/// Up to `most` of `sorted`, spread evenly by rank, first and last included.
fn spread(sorted: &[f64], most: usize) -> Vec<f64> {
    if sorted.len() <= most {
        return sorted.to_vec();
    }
    (0..most)
        .map(|i| sorted[i * (sorted.len() - 1) / (most - 1)])
        .collect()
}

/// `definition` with `parameter` set to `value`.
fn with_value(
    definition: &RuleDefinition,
    parameter: Parameter,
    value: f64,
) -> Option<RuleDefinition> {
    let mut definition = definition.clone();
    match parameter {
        Parameter::For => definition.r#for = Some(Duration::from_ms(value as i64)),
        Parameter::Threshold => {
            definition.condition.as_mut()?.threshold = Some(Number::from_f64(value)?);
        }
        Parameter::K => {
            definition.condition.as_mut()?.auto.as_mut()?.k = Some(Number::from_f64(value)?);
        }
    }
    Some(definition)
}

/// Searches `parameter`'s candidates for the most sensitive rule that would have
/// raised at most `target` alerts per week over `[from, to)`.
pub fn tune(
    setup: &Setup<'_>,
    model: &Model,
    values: &[(i64, SpanValue)],
    (from_ms, to_ms): (i64, i64),
    parameter: Parameter,
    target: f64,
) -> Proposal {
    let rule = setup.rule;
    let mut tried = Vec::new();
    for value in candidates(rule, parameter, values) {
        let Some(candidate) = with_value(&rule.definition, parameter, value)
            .and_then(|d| Rule::from_definition(&rule.name, d, model).ok())
        else {
            continue;
        };
        let outcome = simulate(
            &Setup {
                rule: &candidate,
                ..*setup
            },
            values,
            to_ms,
            false,
            false,
        );
        tried.push((
            Candidate {
                value,
                alerts: outcome.alerts.len(),
                alerts_per_week: per_week(outcome.alerts.len(), from_ms, to_ms),
                flaps: outcome.flaps,
            },
            candidate.definition,
        ));
    }
    let meets = tried.iter().position(|(c, _)| c.alerts_per_week <= target);
    let chosen = meets.or_else(|| {
        // The fewest alerts; among equals the last (least sensitive).
        (0..tried.len()).min_by_key(|i| (tried[*i].0.alerts, std::cmp::Reverse(*i)))
    });
    let (proposed, definition) = match chosen {
        Some(i) => (tried[i].0.value, tried[i].1.clone()),
        None => (current(rule, parameter), rule.definition.clone()),
    };
    Proposal {
        parameter,
        current: current(rule, parameter),
        proposed,
        met: meets.is_some(),
        definition,
        candidates: tried.into_iter().map(|(c, _)| c).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_keeps_the_ends_and_steps_evenly_by_rank() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let picked = spread(&values, 5);
        // Ranks 0, 24, 49, 74, 99: i × 99 / 4, rounded down.
        assert_eq!(picked, [0.0, 24.0, 49.0, 74.0, 99.0]);
        assert_eq!(spread(&values[..3], 5), [0.0, 1.0, 2.0]);
    }
}
