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

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::alert::rule::{Baseline, Condition, Rule};

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
        if !rule.is_judged(span.count) {
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

/// How many past span values `baseline: history` learns from.
pub const HISTORY_SPANS: usize = 30;
/// Fewer past values than this and a `history` threshold cannot judge yet.
pub const HISTORY_MIN_SPANS: usize = 5;
/// Most judged spans kept open for re-judging per rule; older ones are settled early
/// (bounding the state written per rule and round; 64 spans of `every`).
pub const MAX_OPEN_SPANS: usize = 64;

/// One judged span, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    /// End of the span.
    pub end_ms: i64,
    /// Events in it.
    pub count: u64,
    /// The metric's value; `None` when undefined.
    pub value: Option<f64>,
    /// The verdict for fixed, drift-verdict and reference-learned conditions (the
    /// evaluator computes it); `history` conditions are judged on replay.
    pub holds: Option<bool>,
    /// The band the value was judged against, for learned thresholds.
    pub bounds: Option<(f64, f64)>,
}

/// An alert the evaluator has raised and not yet resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Raised {
    /// Its row in the alert table.
    pub id: i64,
    /// When it started.
    pub starts_at_ms: i64,
}

/// Everything the evaluator keeps per rule between evaluations (stored durably).
///
/// Spans whose late labels may still arrive stay *open*: each evaluation replays the
/// state machine from the *settled* phase over them, so a span that changes (a late
/// label) changes the outcome exactly as if it had been judged with that label in the
/// first place. Spans are settled once the model's newest event time has passed their
/// end by `allowed_lateness + label_lateness` (or when more than [`MAX_OPEN_SPANS`]
/// are open).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// The phase after every settled span.
    pub settled: Phase,
    /// End of the newest settled span.
    pub settled_through_ms: Option<i64>,
    /// Values of the newest judged settled spans, oldest first (for `history`).
    pub history: VecDeque<f64>,
    /// Open spans, by end.
    pub open: BTreeMap<i64, SpanRecord>,
    /// The alert currently raised, if any.
    pub raised: Option<Raised>,
    /// End of the newest span whose transitions have been turned into alerts.
    pub emitted_through_ms: Option<i64>,
    /// Before any span is judged: the end of the first span to judge (the span of the
    /// oldest data that arrived after the rule was created).
    pub first_span_end_ms: Option<i64>,
}

/// The outcome of replaying a rule's open spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// The phase after the newest judged span.
    pub phase: Phase,
    /// Every transition the open spans caused, in order, with the end of the span
    /// that caused it.
    pub transitions: Vec<(i64, Transition)>,
    /// The open spans with the verdicts they were given, by end.
    pub spans: BTreeMap<i64, SpanRecord>,
    /// The newest judged span, with the verdict it was given.
    pub latest: Option<SpanRecord>,
    /// The span in which the alert (if firing) last held, with its verdict.
    pub last_held: Option<SpanRecord>,
}

/// Mean ± k·σ (population σ, as NannyML's standard-deviation thresholds) of `values`.
pub fn band(values: impl IntoIterator<Item = f64>, k: f64) -> Option<(f64, f64)> {
    let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let sigma = variance.sqrt();
    Some((mean - k * sigma, mean + k * sigma))
}

/// Whether `value` is a problem under `condition` judged against `bounds` (for learned
/// thresholds) or its drift verdict (`drifted`).
pub fn condition_holds(
    condition: &Condition,
    value: Option<f64>,
    bounds: Option<(f64, f64)>,
    drifted: Option<bool>,
) -> Option<bool> {
    match condition {
        Condition::DriftVerdict => drifted,
        Condition::Threshold { op, threshold } => value.map(|v| op.holds(v, *threshold)),
        Condition::Auto { .. } => {
            let (value, (lower, upper)) = (value?, bounds?);
            Some(value < lower || value > upper)
        }
    }
}

impl RuleState {
    /// Compact binary encoding (stored per rule).
    pub fn encode(&self) -> Vec<u8> {
        crate::profile::encode_tagged(1, self)
    }

    /// Decodes [`RuleState::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::profile::DecodeError> {
        crate::profile::decode_tagged(1, bytes)
    }

    /// Records a judged span (replacing an earlier judgement of the same span).
    pub fn record(&mut self, span: SpanRecord) {
        if self.settled_through_ms.is_none_or(|s| span.end_ms > s) {
            self.open.insert(span.end_ms, span);
        }
    }

    /// End of the newest span judged so far.
    pub fn judged_through_ms(&self) -> Option<i64> {
        self.open
            .keys()
            .next_back()
            .copied()
            .or(self.settled_through_ms)
    }

    /// Replays the machine from the settled phase over the open spans.
    pub fn replay(&self, rule: &Rule) -> Replay {
        let mut phase = self.settled;
        let mut history = self.history.clone();
        let mut replay = Replay::default();
        for span in self.open.values() {
            let span = judge_span(rule, span, &mut history);
            if let Some(transition) = phase.judge(rule, span.judgement()) {
                replay.transitions.push((span.end_ms, transition));
            }
            replay.spans.insert(span.end_ms, span);
            if span.holds == Some(true) && rule.is_judged(span.count) {
                replay.last_held = Some(span);
            }
            replay.latest = Some(span);
        }
        replay.phase = phase;
        replay
    }

    /// Folds the open spans that end at or before `before_ms` (and the oldest beyond
    /// [`MAX_OPEN_SPANS`]) into the settled phase.
    pub fn settle(&mut self, rule: &Rule, before_ms: i64) {
        while let Some((&end, _)) = self.open.first_key_value() {
            if end > before_ms && self.open.len() <= MAX_OPEN_SPANS {
                break;
            }
            let Some((_, span)) = self.open.pop_first() else {
                break;
            };
            let span = judge_span(rule, &span, &mut self.history);
            self.settled.judge(rule, span.judgement());
            self.settled_through_ms = Some(end);
        }
    }
}

/// Gives `span` its verdict (learning `history` thresholds from `history`) and adds
/// its value to `history` when it was judged.
fn judge_span(rule: &Rule, span: &SpanRecord, history: &mut VecDeque<f64>) -> SpanRecord {
    let mut span = *span;
    if let Condition::Auto { auto } = &rule.condition
        && auto.baseline == Baseline::History
    {
        span.bounds = if history.len() >= HISTORY_MIN_SPANS {
            band(history.iter().copied(), auto.k)
        } else {
            None
        };
        span.holds = condition_holds(&rule.condition, span.value, span.bounds, None);
    }
    if rule.is_judged(span.count)
        && let Some(value) = span.value
    {
        history.push_back(value);
        if history.len() > HISTORY_SPANS {
            history.pop_front();
        }
    }
    span
}

impl SpanRecord {
    fn judgement(&self) -> Judgement {
        Judgement {
            end_ms: self.end_ms,
            count: self.count,
            holds: self.holds,
        }
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

    fn span(hour: i64, value: f64, threshold: f64) -> SpanRecord {
        SpanRecord {
            end_ms: hour * HOUR_MS,
            count: 100,
            value: Some(value),
            holds: Some(value < threshold),
            bounds: None,
        }
    }

    #[test]
    fn a_late_label_rejudges_an_open_span_into_an_alert() {
        let rule = rule(json!({"keep_firing_for": "0s"}));
        let mut state = RuleState::default();
        state.record(span(1, 0.9, 0.7));
        state.record(span(2, 0.8, 0.7));
        assert_eq!(state.replay(&rule).phase, Phase::Inactive);
        // Late labels arrive for span 1: accuracy drops to 0.6. Re-judged, it fires
        // at the end of span 1, and span 2 (still fine) resolves it.
        state.record(span(1, 0.6, 0.7));
        let replay = state.replay(&rule);
        let transitions: Vec<Transition> = replay.transitions.iter().map(|(_, t)| *t).collect();
        assert_eq!(
            transitions,
            [
                Transition::Fired {
                    starts_at_ms: HOUR_MS
                },
                Transition::Resolved {
                    starts_at_ms: HOUR_MS,
                    ends_at_ms: 2 * HOUR_MS
                }
            ]
        );
        assert_eq!(replay.transitions[1].0, 2 * HOUR_MS);
        assert_eq!(replay.last_held.unwrap().value, Some(0.6));
    }

    #[test]
    fn settled_spans_no_longer_change_and_replay_continues_from_them() {
        let rule = rule(json!({}));
        let mut state = RuleState::default();
        state.record(span(1, 0.5, 0.7));
        state.record(span(2, 0.9, 0.7));
        state.settle(&rule, HOUR_MS);
        assert_eq!(state.settled_through_ms, Some(HOUR_MS));
        assert!(state.settled.is_firing());
        // A change to a settled span is ignored; open spans replay from the settled phase.
        state.record(span(1, 0.9, 0.7));
        assert_eq!(state.open.len(), 1);
        assert!(state.replay(&rule).phase.is_firing());
        assert_eq!(state.judged_through_ms(), Some(2 * HOUR_MS));
    }

    #[test]
    fn history_thresholds_learn_mean_and_k_sigma_from_past_spans() {
        let rule = rule(
            json!({"condition": {"auto": {"baseline": "history", "k": 3}}, "keep_firing_for": "0s"}),
        );
        let mut state = RuleState::default();
        // Ten spans alternating 0.80 / 0.82: mean 0.81, population σ 0.01.
        for hour in 1..=10 {
            let value = if hour % 2 == 0 { 0.82 } else { 0.80 };
            state.record(SpanRecord {
                end_ms: hour * HOUR_MS,
                count: 100,
                value: Some(value),
                holds: None,
                bounds: None,
            });
        }
        assert!(state.replay(&rule).transitions.is_empty());
        state.record(SpanRecord {
            end_ms: 11 * HOUR_MS,
            count: 100,
            value: Some(0.77),
            holds: None,
            bounds: None,
        });
        let replay = state.replay(&rule);
        assert_eq!(
            replay.transitions,
            [(
                11 * HOUR_MS,
                Transition::Fired {
                    starts_at_ms: 11 * HOUR_MS
                }
            )]
        );
        let (lower, upper) = replay.latest.unwrap().bounds.unwrap();
        assert!(
            (lower - 0.78).abs() < 1e-12 && (upper - 0.84).abs() < 1e-12,
            "{lower} {upper}"
        );
        // Too little history: not judged.
        let mut young = RuleState::default();
        young.record(SpanRecord {
            end_ms: HOUR_MS,
            count: 100,
            value: Some(0.1),
            holds: None,
            bounds: None,
        });
        assert_eq!(young.replay(&rule).latest.unwrap().holds, None);
    }

    #[test]
    fn band_is_mean_plus_minus_k_population_sigma() {
        // numpy: mean([1, 2, 3, 4]) = 2.5, std = 1.118033988749895
        let (lower, upper) = band([1.0, 2.0, 3.0, 4.0], 2.0).unwrap();
        assert!((lower - (2.5 - 2.0 * 1.118033988749895)).abs() < 1e-12);
        assert!((upper - (2.5 + 2.0 * 1.118033988749895)).abs() < 1e-12);
        assert_eq!(band([], 3.0), None);
    }

    #[test]
    fn count_rules_judge_empty_spans() {
        let model = Model::new(
            "m",
            serde_json::from_value::<ModelDefinition>(json!({"task": "regression"})).unwrap(),
        )
        .unwrap();
        let absence = Rule::new("quiet", &json!({"model": "m", "metric": "count", "window": "10m", "condition": {"op": "<", "threshold": 1}}), &model).unwrap();
        assert_eq!(absence.clock, crate::alert::Clock::Wall);
        let mut phase = Phase::default();
        assert_eq!(
            phase.judge(
                &absence,
                Judgement {
                    end_ms: 600_000,
                    count: 0,
                    holds: Some(true)
                }
            ),
            Some(Transition::Fired {
                starts_at_ms: 600_000
            })
        );
    }
}
