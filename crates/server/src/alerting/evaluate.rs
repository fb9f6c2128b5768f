//! Judging one rule: which spans are complete or changed, their values from merged
//! window profiles (the same code as the metrics, drift and quality answers, for the one
//! metric or feature the rule reads), and the alert changes that the replay of the
//! rule's open spans implies.

use modelwatch_core::correlation::Columns;
use modelwatch_core::correlation::matrix::max_abs_change;
use std::sync::Arc;

use modelwatch_core::alert::baseline::ReferenceChunks;
use modelwatch_core::alert::state::{band, condition_holds};
use modelwatch_core::alert::{
    Baseline, Clock, Condition, MetricRef, Phase, Raised, Rule, RuleState, SpanRecord, Transition,
};
use modelwatch_core::answer::DriftVerdict;
use modelwatch_core::drift::quality::feature_quality;
use modelwatch_core::drift::verdict::{drift_verdicts, feature_drift, prediction_drift};
use modelwatch_core::drift::{ReferenceProfile, WindowFeatures};
use modelwatch_core::groups::select::{fairness_value, segment_profile};
use modelwatch_core::parameters::diff::relative_change;
use modelwatch_core::time::align_down;
use modelwatch_core::{Granularity, WindowProfile};
use modelwatch_store::{ModelEntry, ParameterFilter, Storage, StoreError};

/// Most spans one rule judges in one round; the rest wait for the next round.
pub const MAX_SPANS_PER_ROUND: usize = 5_000;

/// What the evaluator needs to know of a model.
#[derive(Clone)]
pub struct ModelView {
    /// The model.
    pub entry: Arc<ModelEntry>,
    /// Its reference, if any.
    pub reference: Option<Arc<ReferenceProfile>>,
    /// Its reference chunks, if any (for `baseline: reference`).
    pub chunks: Option<Arc<ReferenceChunks>>,
    /// The newest event time seen.
    pub newest_ms: Option<i64>,
}

/// A change to tell people about.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The alert fired; `span` is the span in which the condition last held.
    Fired {
        /// End of the span in which it fired.
        starts_at_ms: i64,
        /// The span that shows why.
        span: Option<SpanRecord>,
    },
    /// The alert resolved.
    Resolved {
        /// The alert that resolved.
        raised: Raised,
        /// End of the first span in which the condition no longer held.
        ends_at_ms: i64,
        /// The newest judged span.
        span: Option<SpanRecord>,
    },
}

/// The value of a rule's metric over one span, and the drift verdict when it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpanValue {
    /// Events in the span.
    pub count: u64,
    /// The metric; `None` when undefined.
    pub value: Option<f64>,
    /// What the condition is judged on: the value, or with `confidence` the far bound
    /// of its interval.
    pub judged: Option<f64>,
    /// The feature's drift verdict (for `drift.*` and `prediction_drift`).
    pub drifted: Option<bool>,
}

/// The value of `rule`'s metric over `[end − window, end)`, from merged profiles.
pub fn span_value(
    store: &dyn Storage,
    rule: &Rule,
    view: &ModelView,
    end_ms: i64,
) -> Result<SpanValue, StoreError> {
    let start = end_ms - rule.window_ms;
    if rule.metric.is_parameters() {
        return parameters_value(store, rule, view.entry.id, start, end_ms);
    }
    let granularity = Granularity::for_query(None, Some(start), Some(end_ms));
    let model = &view.entry.model;
    let mut performance = WindowProfile::default();
    for (_, profile) in
        store.load_profiles(view.entry.id, granularity, Some(start), Some(end_ms), None)?
    {
        performance.merge(&profile);
    }
    if let Some((segment, value)) = &rule.segment {
        performance = segment_profile(&performance, segment, value);
    }
    let count = match &rule.metric {
        MetricRef::Performance(name) => modelwatch_core::profile::judged_count(&performance, name),
        _ => performance.count,
    };
    let mut span = SpanValue {
        count,
        value: None,
        judged: None,
        drifted: None,
    };
    if let MetricRef::Performance(name) = &rule.metric {
        let estimation = view.reference.as_ref().and_then(|r| r.estimation.as_ref());
        let mut metrics = performance.metrics_estimated(model, estimation);
        metrics.set_window(Some(rule.window_ms));
        span.value = metrics.value(name);
        span.judged = match &rule.judged_on {
            Some(bound) => metrics.value(bound),
            None => span.value,
        };
        return Ok(span);
    }
    if let MetricRef::Fairness(feature, name) = &rule.metric {
        span.value = fairness_value(&performance, feature, name);
        span.judged = span.value;
        return Ok(span);
    }
    let mut features = WindowFeatures::default();
    for (_, profile) in
        store.load_features(view.entry.id, granularity, Some(start), Some(end_ms), None)?
    {
        features.merge(&profile);
    }
    let reference = view.reference.as_deref();
    let judged = |v: Option<DriftVerdict>| (v.and_then(|v| v.statistic), v.and_then(|v| v.drifted));
    match &rule.metric {
        MetricRef::Performance(_) => {}
        MetricRef::DriftShare => {
            span.value = reference.and_then(|r| drift_verdicts(model, r, &features).tally.share());
        }
        MetricRef::Drift(feature) => {
            (span.value, span.drifted) =
                judged(reference.and_then(|r| feature_drift(model, r, &features, feature)));
        }
        MetricRef::PredictionDrift => {
            (span.value, span.drifted) =
                judged(reference.map(|r| prediction_drift(model, r, &features)));
        }
        MetricRef::CorrelationChange => {
            span.value = reference
                .filter(|r| !r.correlations.columns.is_empty())
                .and_then(|r| {
                    let current = features
                        .correlations
                        .aligned_to(&Columns::current(model).names);
                    max_abs_change(&current.moments, &r.correlations)
                });
        }
        MetricRef::MissingShare(feature) => {
            span.value = feature_quality(model, reference, &features, feature)
                .and_then(|f| f.missing_share());
        }
        MetricRef::NewCategories(feature) => {
            span.value = feature_quality(model, reference, &features, feature)
                .and_then(|f| f.new_categories().map(|new| new.len() as f64));
        }
        MetricRef::ParametersNan
        | MetricRef::ParametersInf
        | MetricRef::ParametersNormChange(_)
        | MetricRef::Fairness(..) => {}
    }
    span.judged = span.value;
    Ok(span)
}

/// Most tensor summaries one span of a `parameters.*` rule reads.
const MAX_SUMMARIES_PER_SPAN: usize = 100_000;

/// A `parameters.*` metric over `[start, end)`: its count is the tensor summaries taken
/// in the span. `nan` and `inf` add up over them; `l2_norm_change.<tensor>` compares the
/// tensor's last step in the span with the step before it (of the same version).
fn parameters_value(
    store: &dyn Storage,
    rule: &Rule,
    model_id: i64,
    start: i64,
    end_ms: i64,
) -> Result<SpanValue, StoreError> {
    let tensor = match &rule.metric {
        MetricRef::ParametersNormChange(tensor) => Some(tensor.clone()),
        _ => None,
    };
    let in_span = ParameterFilter {
        tensor: tensor.clone(),
        from_ms: Some(start),
        to_ms: Some(end_ms),
        ..ParameterFilter::default()
    };
    let rows = store.load_parameters(model_id, &in_span, MAX_SUMMARIES_PER_SPAN)?;
    let mut span = SpanValue {
        count: rows.len() as u64,
        value: None,
        judged: None,
        drifted: None,
    };
    if rows.is_empty() {
        return Ok(span);
    }
    span.value = match &rule.metric {
        MetricRef::ParametersNan => Some(rows.iter().map(|r| r.summary.nan as f64).sum()),
        MetricRef::ParametersInf => Some(rows.iter().map(|r| r.summary.inf as f64).sum()),
        _ => {
            let last = rows
                .iter()
                .max_by_key(|r| (r.timestamp_ms, r.step))
                .expect("rows is not empty");
            let before = ParameterFilter {
                version: Some(last.version.clone()),
                tensor,
                to_step: last.step.checked_sub(1),
                last_step_only: true,
                ..ParameterFilter::default()
            };
            if last.step == 0 {
                None
            } else {
                store
                    .load_parameters(model_id, &before, 1)?
                    .first()
                    .and_then(|previous| {
                        relative_change(previous.summary.l2_norm, last.summary.l2_norm)
                    })
            }
        }
    };
    // Parameters metrics have no interval: the value is what is judged.
    span.judged = span.value;
    Ok(span)
}

/// Turns a span's value into a record with its verdict (bounds learned from the
/// reference when the rule asks for them; `history` is judged on replay).
pub fn record(rule: &Rule, view: &ModelView, end_ms: i64, value: SpanValue) -> SpanRecord {
    let bounds = match (&rule.condition, &rule.metric) {
        (Condition::Auto { auto }, MetricRef::Performance(name))
            if auto.baseline == Baseline::Reference =>
        {
            view.chunks
                .as_ref()
                .and_then(|chunks| chunks.metric_values(&view.entry.model, name, value.count))
                .and_then(|values| band(values, auto.k))
        }
        _ => None,
    };
    SpanRecord {
        end_ms,
        count: value.count,
        value: value.value,
        holds: condition_holds(&rule.condition, value.judged, bounds, value.drifted),
        bounds,
    }
}

/// How far a rule's clock has gone: spans ending at or before it are complete.
pub fn horizon(rule: &Rule, view: &ModelView, now_ms: i64) -> Option<i64> {
    let lateness = view.entry.model.allowed_lateness_ms;
    match rule.clock {
        Clock::Event => view.newest_ms.map(|newest| newest - lateness),
        Clock::Wall => Some(now_ms - lateness),
    }
}

/// Where data lies: the start of the first window holding events in `[from, to)`.
pub type DataLookup<'a> = dyn FnMut(i64, i64) -> Result<Option<i64>, StoreError> + 'a;

/// The first span end at or after `end` (aligned to `every`) and at or before `last`
/// whose span holds data; with no `data` lookup, simply `end`. Each step jumps past
/// the next window with data, so the cost follows the data, never the empty time
/// between (an event far ahead of the rest cannot make a rule walk every minute).
pub fn next_span_end(
    rule: &Rule,
    mut end: i64,
    last: i64,
    data: &mut Option<&mut DataLookup<'_>>,
) -> Result<Option<i64>, StoreError> {
    loop {
        if end > last {
            return Ok(None);
        }
        let Some(data) = data.as_deref_mut() else {
            return Ok(Some(end));
        };
        match data(end - rule.window_ms, last)? {
            None => return Ok(None),
            Some(start) if start < end => return Ok(Some(end)),
            // The spans ending from `end` up to `start` hold nothing: skip them.
            Some(start) => end = align_down(start, rule.every_ms) + rule.every_ms,
        }
    }
}

/// Whether a span without events can move `rule`'s state: it can only when such a
/// span is judged (count rules, `min_count: 0`), so only then is empty time walked.
pub fn judges_empty_spans(rule: &Rule) -> bool {
    rule.is_judged(0)
}

/// The spans of `rule` to judge now: those completed since the last judged one, and
/// open ones that overlap `changed` (late data or labels). The second value tells
/// whether more remain for a later round. With a `data` lookup, spans that hold no
/// events are left out (see [`judges_empty_spans`] for when that is allowed).
pub fn spans_to_judge(
    rule: &Rule,
    state: &RuleState,
    horizon_ms: i64,
    changed: Option<(i64, i64)>,
    mut data: Option<&mut DataLookup<'_>>,
) -> Result<(Vec<i64>, bool), StoreError> {
    let every = rule.every_ms;
    let last_complete = align_down(horizon_ms, every);
    let first_new = match (state.judged_through_ms(), rule.clock) {
        (Some(judged), Clock::Event) => judged + every,
        // On the wall clock, spans missed while the server was down are not judged
        // after the fact: only the newest complete one.
        (Some(judged), Clock::Wall) => (judged + every).max(last_complete),
        (None, Clock::Event) => {
            let changed_first = changed.map(|(oldest, _)| align_down(oldest, every) + every);
            match (state.first_span_end_ms, changed_first) {
                (Some(a), Some(b)) => a.min(b),
                // A rule defined over data already stored judges the newest complete
                // span at once, as Prometheus evaluates a new rule on current data.
                (a, b) => a.or(b).unwrap_or(last_complete),
            }
        }
        (None, Clock::Wall) => last_complete,
    };
    let mut ends = Vec::new();
    if let Some((oldest, newest)) = changed {
        // Complete, still open spans that hold changed data (settled ones no longer
        // change, so a label for old data does not walk through them).
        let mut end = align_down(oldest, every) + every;
        if let Some(settled) = state.settled_through_ms {
            end = end.max(settled + every);
        }
        let last_changed = (first_new - every).min(align_down(newest + rule.window_ms, every));
        while ends.len() < MAX_SPANS_PER_ROUND {
            let Some(found) = next_span_end(rule, end, last_changed, &mut data)? else {
                break;
            };
            ends.push(found);
            end = found + every;
        }
    }
    // Wall-clock rules judge one new span a round (and count rules, which judge empty
    // spans, are wall-clock by default): only event-clock rules skip empty time.
    let mut data = if rule.clock == Clock::Event {
        data
    } else {
        None
    };
    let mut end = first_new;
    loop {
        let Some(found) = next_span_end(rule, end, last_complete, &mut data)? else {
            return Ok((ends, false));
        };
        if ends.len() >= MAX_SPANS_PER_ROUND {
            return Ok((ends, true));
        }
        ends.push(found);
        end = found + every;
    }
}

/// Judges `rule`'s due spans into `state` and returns the alert changes, in order.
pub fn evaluate(
    store: &dyn Storage,
    rule: &Rule,
    view: &ModelView,
    state: &mut RuleState,
    changed: Option<(i64, i64)>,
    now_ms: i64,
) -> Result<(Vec<Change>, bool), StoreError> {
    let Some(horizon_ms) = horizon(rule, view, now_ms) else {
        return Ok((Vec::new(), false));
    };
    let mut changes = Vec::new();
    if rule.clock == Clock::Event
        && state
            .judged_through_ms()
            .is_some_and(|judged| judged > align_down(horizon_ms, rule.every_ms))
    {
        // Judged past the model's event clock: the clock was moved back (an outlier's
        // watermark recovered at start). Start again from the clock as it is now.
        changes.extend(restart(state, horizon_ms));
    }
    let model_id = view.entry.id;
    let mut lookup = |from: i64, to: i64| store.first_window_with_data(model_id, from, to);
    let data: Option<&mut DataLookup<'_>> = if judges_empty_spans(rule) {
        None
    } else {
        Some(&mut lookup)
    };
    let (ends, more) = spans_to_judge(rule, state, horizon_ms, changed, data)?;
    if state.judged_through_ms().is_none() && rule.clock == Clock::Event {
        // Nothing complete yet: remember where judging starts.
        let first = changed.map(|(oldest, _)| align_down(oldest, rule.every_ms) + rule.every_ms);
        state.first_span_end_ms = match (state.first_span_end_ms, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    if ends.is_empty() && state.open.is_empty() {
        return Ok((changes, more));
    }
    let mut values = Vec::with_capacity(ends.len());
    for end in ends {
        values.push((end, span_value(store, rule, view, end)?));
    }
    changes.extend(judge(rule, view, state, values, horizon_ms));
    Ok((changes, more))
}

/// Records the judged `values` (span end, value) into `state`, replays it into alert
/// changes and settles what is older than the model's label lateness at `horizon_ms`:
/// the pure part of [`evaluate`], which the rule backtest runs span by span.
pub fn judge(
    rule: &Rule,
    view: &ModelView,
    state: &mut RuleState,
    values: impl IntoIterator<Item = (i64, SpanValue)>,
    horizon_ms: i64,
) -> Vec<Change> {
    for (end, value) in values {
        state.record(record(rule, view, end, value));
    }
    let changes = reconcile(rule, state);
    state.settle(rule, horizon_ms - view.entry.model.label_lateness_ms);
    changes
}

/// Forgets a rule's judged spans (resolving its raised alert at `horizon_ms`), so
/// that it judges again from its model's event clock.
fn restart(state: &mut RuleState, horizon_ms: i64) -> Option<Change> {
    let raised = state.raised;
    *state = RuleState::default();
    raised.map(|raised| Change::Resolved {
        raised,
        ends_at_ms: horizon_ms.max(raised.starts_at_ms),
        span: None,
    })
}

/// Replays the open spans and turns what happened since the last round into changes,
/// keeping `state.raised` in step with the replayed phase.
pub fn reconcile(rule: &Rule, state: &mut RuleState) -> Vec<Change> {
    let replay = state.replay(rule);
    let mut changes = Vec::new();
    let emitted_through = state.emitted_through_ms.unwrap_or(i64::MIN);
    for (at, transition) in &replay.transitions {
        if *at <= emitted_through {
            continue;
        }
        match (*transition, state.raised) {
            (Transition::Fired { starts_at_ms }, None) => {
                changes.push(Change::Fired {
                    starts_at_ms,
                    span: replay.spans.get(at).copied(),
                });
                state.raised = Some(Raised {
                    id: 0,
                    starts_at_ms,
                });
            }
            (Transition::Resolved { ends_at_ms, .. }, Some(raised)) => {
                changes.push(Change::Resolved {
                    raised,
                    ends_at_ms,
                    span: replay.spans.get(at).copied(),
                });
                state.raised = None;
            }
            _ => {}
        }
    }
    // A span judged again (late labels) can change the past: follow the replayed phase.
    match (replay.phase, state.raised) {
        (Phase::Firing { starts_at_ms, .. }, None) => {
            changes.push(Change::Fired {
                starts_at_ms,
                span: replay.last_held,
            });
            state.raised = Some(Raised {
                id: 0,
                starts_at_ms,
            });
        }
        (Phase::Inactive | Phase::Pending { .. }, Some(raised)) => {
            let ends_at_ms = replay.latest.map_or(raised.starts_at_ms, |s| s.end_ms);
            changes.push(Change::Resolved {
                raised,
                ends_at_ms,
                span: replay.latest,
            });
            state.raised = None;
        }
        _ => {}
    }
    if let Some(latest) = replay.latest {
        state.emitted_through_ms = Some(latest.end_ms);
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelwatch_core::{Model, ModelDefinition};
    use serde_json::json;

    const DAY: i64 = 86_400_000;

    fn daily_rule() -> Rule {
        let definition: ModelDefinition =
            serde_json::from_value(json!({"task": "regression"})).unwrap();
        let model = Model::new("m", definition).unwrap();
        let body = json!({"model": "m", "metric": "count", "window": "1d", "every": "1d",
            "condition": {"op": ">", "threshold": 10}});
        Rule::new("r", &body, &model).unwrap()
    }

    #[test]
    fn a_rule_defined_over_stored_data_judges_the_newest_complete_span_at_once() {
        let rule = daily_rule();
        // Data up to the middle of day 5: days 1 to 4 are complete; only day 4 is judged.
        let (ends, more) =
            spans_to_judge(&rule, &RuleState::default(), 4 * DAY + DAY / 2, None, None).unwrap();
        assert_eq!((ends, more), (vec![4 * DAY], false));
    }

    #[test]
    fn a_rule_defined_before_a_replay_judges_every_replayed_span() {
        let rule = daily_rule();
        // Six days arrive in one request after the rule: the changed range starts on day 0.
        let (ends, _) = spans_to_judge(
            &rule,
            &RuleState::default(),
            6 * DAY + 1,
            Some((0, 6 * DAY + 1)),
            None,
        )
        .unwrap();
        assert_eq!(ends, (1..=6).map(|d| d * DAY).collect::<Vec<_>>());
    }

    const MINUTE: i64 = 60_000;

    fn minute_accuracy_rule() -> Rule {
        let definition: ModelDefinition = serde_json::from_value(
            json!({"task": "binary_classification", "allowed_lateness": "0s"}),
        )
        .unwrap();
        let model = Model::new("m", definition).unwrap();
        let body = json!({"model": "m", "metric": "accuracy", "window": "1m", "every": "1m",
            "clock": "event", "condition": {"op": "<", "threshold": 0.5}});
        Rule::new("r", &body, &model).unwrap()
    }

    /// Minute windows holding data, as the store's lookup would answer.
    fn data_at(minutes: &[i64]) -> impl FnMut(i64, i64) -> Result<Option<i64>, StoreError> + use<> {
        let minutes = minutes.to_vec();
        move |from, to| {
            Ok(minutes
                .iter()
                .copied()
                .filter(|m| *m >= from && *m < to)
                .min())
        }
    }

    #[test]
    fn an_event_far_ahead_judges_only_the_spans_that_hold_data() {
        let rule = minute_accuracy_rule();
        assert!(!judges_empty_spans(&rule));
        let mut state = RuleState::default();
        state.record(SpanRecord {
            end_ms: 10 * MINUTE,
            count: 1,
            value: Some(1.0),
            holds: Some(false),
            bounds: None,
        });
        // One event at 9999-12-31T23:59:00Z, real data two minutes later than judged.
        let far = 253_402_300_740_000;
        let mut data = data_at(&[11 * MINUTE, 12 * MINUTE, far]);
        let (ends, more) = spans_to_judge(
            &rule,
            &state,
            far + MINUTE,
            Some((11 * MINUTE, far)),
            Some(&mut data),
        )
        .unwrap();
        // Three spans, not the 5,000 of empty minutes per round before.
        assert_eq!(
            ends,
            vec![11 * MINUTE + MINUTE, 12 * MINUTE + MINUTE, far + MINUTE]
        );
        assert!(!more);
        // Without the lookup (every span judged), the same call walks empty minutes.
        let (walked, more) = spans_to_judge(&rule, &state, far + MINUTE, None, None).unwrap();
        assert_eq!((walked.len(), more), (MAX_SPANS_PER_ROUND, true));
    }

    #[test]
    fn spans_skipped_for_emptiness_are_exactly_the_empty_ones() {
        // Property against a walk of every span: with every=2m and window=5m, a span
        // holds data iff some data minute lies in [end − 5m, end).
        let definition: ModelDefinition =
            serde_json::from_value(json!({"task": "regression"})).unwrap();
        let model = Model::new("m", definition).unwrap();
        let body = json!({"model": "m", "metric": "mae", "window": "5m", "every": "2m",
            "clock": "event", "condition": {"op": ">", "threshold": 1}});
        let rule = Rule::new("r", &body, &model).unwrap();
        let minutes: Vec<i64> = [3, 4, 17, 40, 41, 90].iter().map(|m| m * MINUTE).collect();
        let state = RuleState {
            first_span_end_ms: Some(2 * MINUTE),
            ..RuleState::default()
        };
        let (all, _) = spans_to_judge(&rule, &state, 120 * MINUTE, None, None).unwrap();
        let expected: Vec<i64> = all
            .into_iter()
            .filter(|end| minutes.iter().any(|m| *m >= end - 5 * MINUTE && m < end))
            .collect();
        let mut data = data_at(&minutes);
        let (ends, _) = spans_to_judge(&rule, &state, 120 * MINUTE, None, Some(&mut data)).unwrap();
        assert_eq!(ends, expected);
        assert!(!ends.is_empty());
    }

    #[test]
    fn a_rule_judged_past_its_model_clock_restarts_and_resolves_its_alert() {
        let mut state = RuleState {
            raised: Some(Raised {
                id: 7,
                starts_at_ms: 5 * MINUTE,
            }),
            settled_through_ms: Some(253_402_300_800_000),
            ..RuleState::default()
        };
        let change = restart(&mut state, 20 * MINUTE);
        assert_eq!(state, RuleState::default());
        assert!(matches!(
            change,
            Some(Change::Resolved { raised: Raised { id: 7, .. }, ends_at_ms, .. }) if ends_at_ms == 20 * MINUTE
        ));
    }
}
