//! The alert state machine, judged in event time, one completed span at a time.
//!
//! - A span is judged only when it holds at least `min_count` events and its value is
//!   defined; otherwise the state does not move.
//! - While the condition holds the alert is *pending*; once it has held for `for`
//!   (measured between span ends) it *fires*, with `starts_at` = the end of that span.
//! - A firing alert resolves only when the condition has not held for
//!   `keep_firing_for` (default two spans), with `ends_at` = the end of the first span
//!   in which it no longer held. A condition that flips at every span therefore keeps
//!   one alert firing instead of sending a notification per flip.
//!
//! The machine is a pure function of the sequence of span verdicts, so replaying last
//! month's data raises the same alerts the live run did.

use serde::{Deserialize, Serialize};

use crate::alert::rule::Rule;

/// Where an alert is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    /// Nothing wrong.
    #[default]
    Inactive,
    /// The condition holds, but not yet for `for`.
    Pending {
        /// End of the first span in which it held.
        since_ms: i64,
    },
    /// Firing.
    Firing {
        /// End of the span in which it fired.
        starts_at_ms: i64,
        /// End of the last span in which the condition held.
        last_held_ms: i64,
        /// End of the first span, since the last one that held, in which it did not.
        first_clear_ms: Option<i64>,
    },
}

/// A change worth telling someone about.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Transition {
    /// The alert fired.
    Fired {
        /// End of the span in which it fired.
        starts_at_ms: i64,
    },
    /// The alert resolved.
    Resolved {
        /// When it had fired.
        starts_at_ms: i64,
        /// End of the first span in which the condition no longer held.
        ends_at_ms: i64,
    },
}

/// One completed span, judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// End of the span.
    pub end_ms: i64,
    /// Events in the span.
    pub count: u64,
    /// Whether the condition held; `None` when the value is undefined.
    pub holds: Option<bool>,
}

impl Phase {
    /// Moves the machine by one span; returns the transition it caused, if any.
    pub fn judge(&mut self, rule: &Rule, span: Judgement) -> Option<Transition> {
        if span.count < rule.min_count {
            return None;
        }
        let holds = span.holds?;
        let end = span.end_ms;
        match (*self, holds) {
            (Phase::Inactive, true) => {
                *self = Phase::Pending { since_ms: end };
                self.fire_if_due(rule, end)
            }
            (Phase::Pending { .. }, true) => self.fire_if_due(rule, end),
            (Phase::Pending { .. }, false) => {
                *self = Phase::Inactive;
                None
            }
            (Phase::Inactive, false) => None,
            (Phase::Firing { starts_at_ms, .. }, true) => {
                *self = Phase::Firing {
                    starts_at_ms,
                    last_held_ms: end,
                    first_clear_ms: None,
                };
                None
            }
            (
                Phase::Firing {
                    starts_at_ms,
                    last_held_ms,
                    first_clear_ms,
                },
                false,
            ) => {
                let first_clear = first_clear_ms.unwrap_or(end);
                if end - last_held_ms >= rule.keep_firing_for_ms {
                    *self = Phase::Inactive;
                    Some(Transition::Resolved {
                        starts_at_ms,
                        ends_at_ms: first_clear,
                    })
                } else {
                    *self = Phase::Firing {
                        starts_at_ms,
                        last_held_ms,
                        first_clear_ms: Some(first_clear),
                    };
                    None
                }
            }
        }
    }

    fn fire_if_due(&mut self, rule: &Rule, end: i64) -> Option<Transition> {
        let Phase::Pending { since_ms } = *self else {
            return None;
        };
        // The first span counts as the condition holding for one span already.
        if end - since_ms + rule.every_ms >= rule.for_ms {
            *self = Phase::Firing {
                starts_at_ms: end,
                last_held_ms: end,
                first_clear_ms: None,
            };
            Some(Transition::Fired { starts_at_ms: end })
        } else {
            None
        }
    }

    /// Whether the alert is firing.
    pub fn is_firing(&self) -> bool {
        matches!(self, Phase::Firing { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Model, ModelDefinition};
    use crate::time::HOUR_MS;
    use serde_json::json;

    fn rule(extra: serde_json::Value) -> Rule {
        let model = Model::new(
            "credit",
            serde_json::from_value::<ModelDefinition>(json!({"task": "binary_classification"}))
                .unwrap(),
        )
        .unwrap();
        let mut definition = json!({"model": "credit", "metric": "accuracy", "window": "1h", "every": "1h",
                                    "condition": {"op": "<", "threshold": 0.7}});
        for (k, v) in extra.as_object().unwrap() {
            definition[k] = v.clone();
        }
        Rule::new("low-accuracy", &definition, &model).unwrap()
    }

    /// Runs the machine over span verdicts (one per hour), returning the transitions.
    fn run(rule: &Rule, verdicts: &[(u64, Option<bool>)]) -> Vec<Transition> {
        let mut phase = Phase::default();
        verdicts
            .iter()
            .enumerate()
            .filter_map(|(i, (count, holds))| {
                phase.judge(
                    rule,
                    Judgement {
                        end_ms: (i as i64 + 1) * HOUR_MS,
                        count: *count,
                        holds: *holds,
                    },
                )
            })
            .collect()
    }

    const T: (u64, Option<bool>) = (100, Some(true));
    const F: (u64, Option<bool>) = (100, Some(false));

    #[test]
    fn fires_at_the_end_of_the_first_span_and_resolves() {
        let rule = rule(json!({"keep_firing_for": "0s"}));
        assert_eq!(
            run(&rule, &[F, T, T, F, F]),
            [
                Transition::Fired {
                    starts_at_ms: 2 * HOUR_MS
                },
                Transition::Resolved {
                    starts_at_ms: 2 * HOUR_MS,
                    ends_at_ms: 4 * HOUR_MS
                },
            ]
        );
    }

    #[test]
    fn pending_until_for_has_passed() {
        let rule = rule(json!({"for": "2h", "keep_firing_for": "0s"}));
        // Holds from span 1: fires at the end of span 2, once it has held for 2h.
        assert_eq!(
            run(&rule, &[T, T, T, T]),
            [Transition::Fired {
                starts_at_ms: 2 * HOUR_MS
            }]
        );
        // Interrupted before `for`: never fires.
        assert!(run(&rule, &[T, F, T, F, T, F]).is_empty());
    }

    #[test]
    fn refires_after_a_resolve() {
        let rule = rule(json!({"keep_firing_for": "0s"}));
        let transitions = run(&rule, &[T, F, T]);
        assert_eq!(transitions.len(), 3);
        assert_eq!(
            transitions[2],
            Transition::Fired {
                starts_at_ms: 3 * HOUR_MS
            }
        );
    }

    #[test]
    fn flapping_keeps_one_alert_firing() {
        // Default damping: two spans without the condition before resolving.
        let rule = rule(json!({}));
        let flapping = [T, F, T, F, T, F, T, F];
        assert_eq!(
            run(&rule, &flapping),
            [Transition::Fired {
                starts_at_ms: HOUR_MS
            }]
        );
        // It resolves once the condition stays away, with ends_at the first clear span.
        let mut settled = flapping.to_vec();
        settled.extend([F, F]);
        assert_eq!(
            run(&rule, &settled),
            [
                Transition::Fired {
                    starts_at_ms: HOUR_MS
                },
                Transition::Resolved {
                    starts_at_ms: HOUR_MS,
                    ends_at_ms: 8 * HOUR_MS
                },
            ]
        );
    }

    #[test]
    fn small_or_undefined_spans_are_not_judged() {
        let rule = rule(json!({"min_count": 50, "keep_firing_for": "0s"}));
        // Too few events, or no value (no labels yet): the state does not move.
        assert!(run(&rule, &[(10, Some(true)), (100, None), F]).is_empty());
        assert_eq!(
            run(&rule, &[T, (10, Some(false)), (100, None), F]),
            [
                Transition::Fired {
                    starts_at_ms: HOUR_MS
                },
                Transition::Resolved {
                    starts_at_ms: HOUR_MS,
                    ends_at_ms: 4 * HOUR_MS
                },
            ]
        );
    }

    #[test]
    fn a_late_label_that_flips_a_span_is_seen_on_replay() {
        // Judged live, span 2 looked fine; a late label made it bad. Replaying the
        // sequence (which the evaluator does while spans are within their lateness)
        // gives the alert the live run should have raised.
        let rule = rule(json!({"keep_firing_for": "0s"}));
        assert!(run(&rule, &[F, F]).is_empty());
        assert_eq!(
            run(&rule, &[F, T]),
            [Transition::Fired {
                starts_at_ms: 2 * HOUR_MS
            }]
        );
    }
}
