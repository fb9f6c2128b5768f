//! The answers per group of a range: the [`MAX_GROUPS`] most frequent values of the
//! merged range (most predictions first, ties by value), every other value folded
//! into `(other)`, and the same values in every step of the series.
//!
//! The choice is made once, on the whole range, so a value is in the answer for every
//! step or for none, and `(other)` of each step is everything in the step that is not a
//! chosen value (what the step's window folded, plus the values left out).

use super::OTHER_VALUE;
use super::bounded::{BoundedGroups, GroupState};
use super::fairness::{GroupOutcomes, fairness_metrics};
use crate::answer::AnswerRange;
use crate::answer::fairness::{FairnessAnswer, FairnessPoint};
use crate::answer::metrics::SeriesPoint;
use crate::answer::segments::{SegmentAnswer, SegmentGroup};
use crate::estimate::Estimation;
use crate::profile::{SegmentProfile, WindowProfile};
use crate::query::Merged;
use crate::schema::Model;
use crate::time::{format_duration, format_timestamp};

/// Most values an answer lists apart; the rest are `(other)`.
pub const MAX_GROUPS: usize = 100;

/// The chosen values of `groups`, by `count` descending then value.
fn chosen<P: GroupState>(groups: &BoundedGroups<P>, count: impl Fn(&P) -> u64) -> Vec<String> {
    let mut values: Vec<(u64, &str)> = groups.values().map(|(v, p)| (count(p), v)).collect();
    values.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    values
        .into_iter()
        .take(MAX_GROUPS)
        .map(|(_, v)| v.to_string())
        .collect()
}

/// `groups` split into the chosen values (empty state where absent) and `(other)`.
fn split<P: GroupState>(groups: Option<&BoundedGroups<P>>, chosen: &[String]) -> (Vec<P>, P) {
    let Some(groups) = groups else {
        return (vec![P::default(); chosen.len()], P::default());
    };
    let picked = chosen
        .iter()
        .map(|v| groups.get(v).cloned().unwrap_or_default())
        .collect();
    let mut other = groups.other().clone();
    for (value, state) in groups.values() {
        if !chosen.iter().any(|c| c == value) {
            other.merge_from(state);
        }
    }
    (picked, other)
}

/// The metrics per value of segment feature `segment` over `merged`.
pub fn segment_answer(
    model: &Model,
    segment: &str,
    merged: &Merged,
    range: AnswerRange,
    step_ms: Option<i64>,
    estimation: Option<&Estimation>,
) -> SegmentAnswer {
    fn of<'p>(
        profile: &'p WindowProfile,
        segment: &str,
    ) -> Option<&'p BoundedGroups<SegmentProfile>> {
        profile.groups.segment(segment)
    }
    let summary_groups = of(&merged.summary, segment);
    let chosen = summary_groups.map_or_else(Vec::new, |g| chosen(g, |p| p.0.count));
    let (summaries, other) = split(summary_groups, &chosen);
    let show_other = other.0.count > 0;
    let mut groups: Vec<SegmentGroup> = chosen
        .iter()
        .zip(summaries)
        .map(|(value, profile)| SegmentGroup {
            series: step_ms.map(|_| Vec::new()),
            summary: profile.0.metrics_estimated(model, estimation),
            value: value.clone(),
        })
        .collect();
    if show_other {
        groups.push(SegmentGroup {
            series: step_ms.map(|_| Vec::new()),
            summary: other.0.metrics_estimated(model, estimation),
            value: OTHER_VALUE.to_string(),
        });
    }
    if step_ms.is_some() {
        for (start, profile) in &merged.series {
            let (picked, other) = split::<SegmentProfile>(of(profile, segment), &chosen);
            let states = picked.into_iter().chain(show_other.then_some(other));
            for (group, state) in groups.iter_mut().zip(states) {
                if let Some(series) = group.series.as_mut() {
                    series.push(SeriesPoint {
                        metrics: state.0.metrics_estimated(model, estimation),
                        start: format_timestamp(*start),
                    });
                }
            }
        }
    }
    SegmentAnswer {
        from: range.from,
        groups,
        model: range.model,
        segment: segment.to_string(),
        step: step_ms.map(format_duration),
        task: model.task(),
        to: range.to,
        version: range.version,
    }
}

/// The groups and metrics of one span, for the chosen values.
fn fairness_point(
    groups: Option<&BoundedGroups<GroupOutcomes>>,
    chosen: &[String],
    start: Option<String>,
) -> FairnessPoint {
    let (picked, other) = split(groups, chosen);
    let mut entries: Vec<_> = chosen
        .iter()
        .zip(picked)
        .filter(|(_, outcomes)| outcomes.count > 0 || outcomes.labelled() > 0)
        .map(|(value, outcomes)| outcomes.group(value))
        .collect();
    if other.count > 0 || other.labelled() > 0 {
        entries.push(other.group(OTHER_VALUE));
    }
    FairnessPoint {
        metrics: fairness_metrics(&entries),
        groups: entries,
        start,
    }
}

/// The fairness of sensitive feature `feature` over `merged`.
pub fn fairness_answer(
    feature: &str,
    merged: &Merged,
    range: AnswerRange,
    step_ms: Option<i64>,
) -> FairnessAnswer {
    fn of<'p>(
        profile: &'p WindowProfile,
        feature: &str,
    ) -> Option<&'p BoundedGroups<GroupOutcomes>> {
        profile.groups.sensitive(feature)
    }
    let summary_groups = of(&merged.summary, feature);
    let chosen = summary_groups.map_or_else(Vec::new, |g| chosen(g, |o| o.count));
    FairnessAnswer {
        feature: feature.to_string(),
        from: range.from,
        model: range.model,
        series: step_ms.map(|_| {
            merged
                .series
                .iter()
                .map(|(start, profile)| {
                    fairness_point(
                        of(profile, feature),
                        &chosen,
                        Some(format_timestamp(*start)),
                    )
                })
                .collect()
        }),
        step: step_ms.map(format_duration),
        summary: fairness_point(summary_groups, &chosen, None),
        to: range.to,
        version: range.version,
    }
}

/// The value of `fairness.<feature>.<name>` over a merged profile (rules).
pub fn fairness_value(profile: &WindowProfile, feature: &str, name: &str) -> Option<f64> {
    let groups = profile.groups.sensitive(feature);
    let chosen = groups.map_or_else(Vec::new, |g| chosen(g, |o| o.count));
    fairness_point(groups, &chosen, None).metrics.value(name)
}

/// The profile of `value` of segment feature `segment` in `profile` (rules with a
/// `segment`): empty when the value is not there; `(other)` is everything not kept.
pub fn segment_profile(profile: &WindowProfile, segment: &str, value: &str) -> WindowProfile {
    let Some(groups) = profile.groups.segment(segment) else {
        return WindowProfile::default();
    };
    if value == OTHER_VALUE {
        return groups.other().0.clone();
    }
    groups.get(value).map(|p| p.0.clone()).unwrap_or_default()
}
