//! Per-value state of a window: the metrics of each segment value (`segments` of the
//! definition) and the fairness counts of each group of a sensitive feature. Both are
//! [`BoundedGroups`]: bounded per window, merged exactly in any grouping.
//!
//! - [`bounded`]: the bottom-k map of values.
//! - [`fairness`]: the counts of one group and fairlearn's metrics from them.
//! - [`select`]: the 100 most frequent values of a range, the rest as `(other)`.

pub mod bounded;
pub mod fairness;
pub mod select;

use serde::{Deserialize, Serialize};

pub use bounded::{BoundedGroups, GroupState, MAX_KEPT_VALUES};
pub use fairness::GroupOutcomes;

use crate::event::{FeatureValue, PredictionEvent, Score, Target};
use crate::schema::Model;

/// The group of an event whose value is missing (or of the wrong type).
pub const MISSING_VALUE: &str = "(missing)";
/// The group of every value beyond the most frequent ones (and those a window did not
/// keep apart).
pub const OTHER_VALUE: &str = "(other)";

/// The metrics state of one segment value (the profile module's `SegmentProfile`, a
/// window profile without groups of its own); a trait so this module needs not know it.
pub trait SegmentState: GroupState {
    /// Adds a prediction (and its inline label).
    fn observe_prediction(&mut self, model: &Model, event: &PredictionEvent);
    /// Adds a late label.
    fn observe_label(
        &mut self,
        model: &Model,
        prediction: &Target,
        score: Option<&Score>,
        label: &Target,
    );
}

/// The segments and fairness groups of one window, each keyed by feature name (so a
/// changed definition merges by name, not position).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "S: GroupState + Serialize",
    deserialize = "S: GroupState + Deserialize<'de>"
))]
pub struct WindowGroups<S> {
    /// Segment feature → value → metrics state.
    pub segments: Vec<(String, BoundedGroups<S>)>,
    /// Sensitive feature → group → outcome counts.
    pub fairness: Vec<(String, BoundedGroups<GroupOutcomes>)>,
}

/// The group an event's feature value falls in.
pub fn group_value(value: Option<&FeatureValue>) -> &str {
    match value {
        Some(FeatureValue::Category(text)) => text,
        _ => MISSING_VALUE,
    }
}

fn groups_of<'a, P: GroupState>(
    list: &'a mut Vec<(String, BoundedGroups<P>)>,
    name: &str,
) -> &'a mut BoundedGroups<P> {
    let position = match list.iter().position(|(n, _)| n == name) {
        Some(position) => position,
        None => {
            list.push((name.to_string(), BoundedGroups::default()));
            list.len() - 1
        }
    };
    &mut list[position].1
}

impl<S> Default for WindowGroups<S> {
    fn default() -> Self {
        WindowGroups {
            segments: Vec::new(),
            fairness: Vec::new(),
        }
    }
}

impl<S: SegmentState> WindowGroups<S> {
    /// Whether the window holds no group (a model without segments or sensitive
    /// features).
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty() && self.fairness.is_empty()
    }

    /// Adds a prediction (and its inline label) to its groups.
    pub fn observe_prediction(&mut self, model: &Model, event: &PredictionEvent) {
        for (name, index) in &model.segment_features {
            let value = group_value(event.features.get(*index));
            groups_of(&mut self.segments, name)
                .entry(value)
                .observe_prediction(model, event);
        }
        if let Some(Target::Class(predicted)) = &event.prediction {
            for (name, index) in &model.sensitive_features {
                let value = group_value(event.features.get(*index));
                let outcomes = groups_of(&mut self.fairness, name).entry(value);
                outcomes.observe_prediction(model, predicted);
                if let Some(Target::Class(truth)) = &event.label {
                    outcomes.observe_label(model, predicted, truth);
                }
            }
        }
    }

    /// Adds a late label of a prediction whose features were `features`.
    pub fn observe_label(
        &mut self,
        model: &Model,
        features: &[FeatureValue],
        prediction: &Target,
        score: Option<&Score>,
        label: &Target,
    ) {
        for (name, index) in &model.segment_features {
            let value = group_value(features.get(*index));
            groups_of(&mut self.segments, name)
                .entry(value)
                .observe_label(model, prediction, score, label);
        }
        if let (Target::Class(predicted), Target::Class(truth)) = (prediction, label) {
            for (name, index) in &model.sensitive_features {
                let value = group_value(features.get(*index));
                groups_of(&mut self.fairness, name)
                    .entry(value)
                    .observe_label(model, predicted, truth);
            }
        }
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: &WindowGroups<S>) {
        for (name, groups) in &other.segments {
            groups_of(&mut self.segments, name).merge(groups);
        }
        for (name, groups) in &other.fairness {
            groups_of(&mut self.fairness, name).merge(groups);
        }
    }

    /// The values of segment feature `name` (`None` if the window has none).
    pub fn segment(&self, name: &str) -> Option<&BoundedGroups<S>> {
        self.segments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, g)| g)
    }

    /// The groups of sensitive feature `name` (`None` if the window has none).
    pub fn sensitive(&self, name: &str) -> Option<&BoundedGroups<GroupOutcomes>> {
        self.fairness
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, g)| g)
    }
}
