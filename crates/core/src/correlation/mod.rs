//! Correlations between a model's numeric columns: pairwise-complete co-moments
//! ([`moments`]), a bounded uniform sample of rows for scatter plots ([`sample`]), the
//! columns they cover ([`columns`]) and the answer computed from them ([`matrix`]).
//!
//! [`Correlations`] is the per-window part, kept inside the feature window
//! (`WindowFeatures`) and merged with it; the reference keeps [`CoMoments`] alone.

pub mod columns;
pub mod matrix;
pub mod moments;
pub mod sample;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use columns::{Columns, Limits};
pub use moments::{CoMoments, PairMoments};
pub use sample::{Reservoir, row_key};

use crate::event::PredictionEvent;
use crate::schema::Model;

/// The seed of row keys in stored samples.
pub const KEY_SEED: u64 = 0;

/// Co-moments and the scatter sample of one window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Correlations {
    /// Co-moments of the columns.
    pub moments: CoMoments,
    /// Sampled rows, one value per column of `moments`.
    pub sample: Reservoir,
    /// The columns of the model being observed, worked out at the first event.
    #[serde(skip)]
    plan: Option<Arc<Columns>>,
    #[serde(skip)]
    scratch: Vec<f64>,
}

impl PartialEq for Correlations {
    fn eq(&self, other: &Self) -> bool {
        self.moments == other.moments && self.sample == other.sample
    }
}

impl Correlations {
    /// Correlations read back from their stored parts.
    pub fn from_parts(moments: CoMoments, sample: Reservoir) -> Self {
        Self {
            moments,
            sample,
            ..Self::default()
        }
    }

    /// Takes the columns of `model` (under the limits in force) for the next events,
    /// rearranging what is held if it was built with other columns.
    fn plan(&mut self, model: &Model) -> Arc<Columns> {
        if let Some(plan) = &self.plan {
            return plan.clone();
        }
        let plan = Arc::new(Columns::current(model));
        if self.moments.columns.is_empty() && self.sample.rows.is_empty() {
            self.moments = CoMoments::new(plan.names.clone());
            if self.sample.capacity == 0 {
                self.sample = Reservoir::new(Limits::current().sample_size);
            }
        } else if self.moments.columns != plan.names {
            self.realign(&plan.names);
        }
        self.plan = Some(plan.clone());
        plan
    }

    fn realign(&mut self, columns: &[String]) {
        let positions: Vec<Option<usize>> = columns
            .iter()
            .map(|name| self.moments.columns.iter().position(|c| c == name))
            .collect();
        self.sample = self.sample.reshaped(&positions);
        self.moments = self.moments.reshaped(columns);
    }

    /// The same correlations over `columns` (in that order): columns not held are
    /// empty, columns held but not listed are dropped.
    pub fn aligned_to(&self, columns: &[String]) -> Correlations {
        let mut out = Correlations::from_parts(self.moments.clone(), self.sample.clone());
        if out.moments.columns != columns {
            out.realign(columns);
        }
        out
    }

    /// Adds one event (with its inline label, if any).
    pub fn observe(&mut self, model: &Model, event: &PredictionEvent) {
        let plan = self.plan(model);
        if plan.names.is_empty() {
            return;
        }
        let mut values = std::mem::take(&mut self.scratch);
        plan.values_into(event, &mut values);
        self.moments.observe(&values);
        self.sample
            .offer(row_key(KEY_SEED, &event.id), || values.clone());
        self.scratch = values;
    }

    /// Adds the label of an event observed earlier without one: only the pairs with
    /// the label, and the label in the row's sample entry.
    pub fn observe_late_label(&mut self, model: &Model, event: &PredictionEvent) {
        let plan = self.plan(model);
        let Some(label) = plan.label_index() else {
            return;
        };
        let mut values = std::mem::take(&mut self.scratch);
        plan.values_into(event, &mut values);
        self.moments.observe_column(label, &values);
        let only_label = |values: &[f64]| {
            let mut out = vec![f64::NAN; values.len()];
            out[label] = values[label];
            out
        };
        self.sample
            .fill(row_key(KEY_SEED, &event.id), || only_label(&values));
        self.scratch = values;
    }

    /// Adds everything in `other`; columns are matched by name.
    pub fn merge(&mut self, other: &Correlations) {
        if other.moments.columns.is_empty() {
            return;
        }
        if self.moments.columns.is_empty() && self.sample.rows.is_empty() {
            *self = other.clone();
            self.plan = None;
            return;
        }
        if self.moments.columns == other.moments.columns {
            self.moments.merge(&other.moments);
            self.sample.merge(&other.sample);
            return;
        }
        let mut columns = self.moments.columns.clone();
        columns.extend(
            other
                .moments
                .columns
                .iter()
                .filter(|c| !self.moments.columns.contains(c))
                .cloned(),
        );
        if columns != self.moments.columns {
            self.realign(&columns);
        }
        let positions: Vec<Option<usize>> = columns
            .iter()
            .map(|name| other.moments.columns.iter().position(|c| c == name))
            .collect();
        self.moments.merge(&other.moments.reshaped(&columns));
        self.sample.merge(&other.sample.reshaped(&positions));
        // The next event works its columns out again (see `plan`).
        self.plan = None;
    }

    /// Roughly the bytes held (for cache budgets).
    pub fn approximate_bytes(&self) -> usize {
        let k = self.moments.columns.len();
        self.moments.pairs.len() * 48 + self.sample.rows.len() * (32 + 8 * k)
    }
}
