//! Estimated performance without labels (CBPE): the calibration decided on the
//! reference ([`calibration`]), the mergeable per-window state of unlabelled scores
//! ([`scores`]) and the estimates with their 95% bounds ([`cbpe`]).

pub mod calibration;
pub mod cbpe;
pub mod scores;

use serde::{Deserialize, Serialize};

use crate::event::{PredictionEvent, Score, Target};
use crate::schema::{Model, Task};
pub use calibration::{ClassCalibration, IsotonicMap};
pub use scores::UnlabelledScores;

/// Fewest labelled, scored reference rows for an estimation (NannyML's ECE needs two
/// bins of two rows, and ten held-out parts).
pub const MIN_ROWS: usize = 20;

/// What a reference with labels and scores gives for estimation: the calibration of
/// each class (binary: the positive class; multiclass: every class, in the model's
/// sorted order, one-vs-rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimation {
    /// Per class.
    pub classes: Vec<ClassCalibration>,
}

/// Collects the reference's `(score, label)` pairs row by row.
#[derive(Debug, Default)]
pub struct EstimationBuilder {
    /// The classes estimated (binary: the positive class).
    classes: Vec<String>,
    /// Per class: `(score of the class, whether the label is the class)`.
    pairs: Vec<Vec<(f64, bool)>>,
}

impl EstimationBuilder {
    /// A builder for `model` (nothing is collected for a regressor).
    pub fn new(model: &Model) -> Self {
        let classes = match model.task() {
            Task::BinaryClassification => {
                vec![model.positive_class.clone().unwrap_or_else(|| "1".into())]
            }
            Task::MulticlassClassification => model.classes.clone(),
            Task::Regression => Vec::new(),
        };
        Self {
            classes,
            pairs: Vec::new(),
        }
    }

    /// Adds one reference row (rows without a label or a score are left out).
    pub fn observe(&mut self, model: &Model, event: &PredictionEvent) {
        let (Some(Target::Class(label)), Some(score)) = (&event.label, &event.score) else {
            return;
        };
        match (model.task(), score) {
            (Task::BinaryClassification, Score::Positive(p)) => {
                let positive = model.positive_class.as_deref().unwrap_or("1");
                if self.pairs.is_empty() {
                    self.pairs.push(Vec::new());
                }
                self.pairs[0].push((*p, label == positive));
            }
            (Task::MulticlassClassification, Score::PerClass(probabilities))
                if probabilities.len() == model.classes.len() =>
            {
                if self.pairs.is_empty() {
                    self.pairs.resize(probabilities.len(), Vec::new());
                }
                for (k, (class, p)) in model.classes.iter().zip(probabilities).enumerate() {
                    self.pairs[k].push((*p, label == class));
                }
            }
            _ => {}
        }
    }

    /// The calibrations, or `None` when the reference has fewer than [`MIN_ROWS`]
    /// labelled, scored rows.
    pub fn finish(self) -> Option<Estimation> {
        if self.pairs.first().is_none_or(|p| p.len() < MIN_ROWS) {
            return None;
        }
        Some(Estimation {
            classes: self
                .classes
                .iter()
                .zip(&self.pairs)
                .map(|(class, pairs)| ClassCalibration::decide(class, pairs))
                .collect(),
        })
    }
}
