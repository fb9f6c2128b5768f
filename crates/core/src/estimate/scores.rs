//! [`UnlabelledScores`]: the per-window state of estimated performance. For each class
//! (binary: the positive class; multiclass: every class, one-vs-rest), the scores of
//! the predictions that have no label yet, in [`BINS`] equal bins, split by whether the
//! prediction was that class: per bin a count and a sum of scores.
//!
//! The calibration map is applied when a window is read, not when it is written, so a
//! new reference recalibrates every stored window at once and no window holds numbers
//! of an older calibration. A bin's calibrated probability is the map at the mean
//! score of its predictions, which is exact wherever the (piecewise linear) map is
//! linear over the bin. A label arriving later takes its prediction out again, so the
//! counts of a delta may be negative; merging is addition, associative and commutative.

use serde::{Deserialize, Serialize};

use crate::event::{Score, Target};
use crate::schema::{Model, Task};

/// Number of equal-width score bins.
pub const BINS: u32 = 1024;

/// One occupied bin: predictions and Σ score, for "predicted another class" (index 0)
/// and "predicted this class" (index 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreBin {
    /// Predictions in the bin.
    pub count: [i64; 2],
    /// Σ score of those predictions.
    pub sum: [f64; 2],
}

/// The bins of one class's scores, sorted by bin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// `(bin, counts)`, sorted by bin; bins that went back to zero stay.
    pub bins: Vec<(u16, ScoreBin)>,
}

/// Scores of unlabelled predictions, per class, by class index (binary: one entry).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnlabelledScores {
    /// Per class (the model's sorted classes for multiclass, the positive class for
    /// binary); empty until a scored prediction arrives.
    pub classes: Vec<ClassScores>,
}

fn bin_of(score: f64) -> u16 {
    ((score.clamp(0.0, 1.0) * BINS as f64) as u32).min(BINS - 1) as u16
}

impl ClassScores {
    fn add(&mut self, score: f64, predicted_this: bool, sign: i64) {
        let bin = bin_of(score);
        let slot = match self.bins.binary_search_by_key(&bin, |(b, _)| *b) {
            Ok(i) => &mut self.bins[i].1,
            Err(i) => {
                self.bins.insert(i, (bin, ScoreBin::default()));
                &mut self.bins[i].1
            }
        };
        slot.count[predicted_this as usize] += sign;
        slot.sum[predicted_this as usize] += sign as f64 * score;
    }

    fn merge(&mut self, other: &ClassScores) {
        crate::sketch::merge_sorted(&mut self.bins, &other.bins, |x, y| ScoreBin {
            count: [x.count[0] + y.count[0], x.count[1] + y.count[1]],
            sum: [x.sum[0] + y.sum[0], x.sum[1] + y.sum[1]],
        });
    }
}

impl UnlabelledScores {
    /// Adds (`sign` 1) or takes out (`sign` −1, when its label arrives) one prediction.
    /// Predictions without a score, or of a class the model does not declare, are not
    /// estimated.
    pub fn observe(&mut self, model: &Model, prediction: &Target, score: &Score, sign: i64) {
        let Target::Class(predicted) = prediction else {
            return;
        };
        match (model.task(), score) {
            (Task::BinaryClassification, Score::Positive(p)) => {
                let positive = model.positive_class.as_deref().unwrap_or("1");
                if self.classes.is_empty() {
                    self.classes.push(ClassScores::default());
                }
                self.classes[0].add(*p, predicted == positive, sign);
            }
            (Task::MulticlassClassification, Score::PerClass(probabilities))
                if probabilities.len() == model.classes.len() =>
            {
                if self.classes.len() < probabilities.len() {
                    self.classes
                        .resize(probabilities.len(), ClassScores::default());
                }
                for (k, (class, p)) in model.classes.iter().zip(probabilities).enumerate() {
                    self.classes[k].add(*p, predicted == class, sign);
                }
            }
            _ => {}
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &UnlabelledScores) {
        if self.classes.len() < other.classes.len() {
            self.classes
                .resize(other.classes.len(), ClassScores::default());
        }
        for (mine, theirs) in self.classes.iter_mut().zip(&other.classes) {
            mine.merge(theirs);
        }
    }

    /// Occupied bins over all classes (a measure of the size).
    pub fn len(&self) -> usize {
        self.classes.iter().map(|c| c.bins.len()).sum()
    }

    /// Whether nothing was observed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
