//! Mergeable performance profiles: the exact counts and sums from which
//! scikit-learn's classification and regression metrics are computed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::answer::metrics::{ConfusionMatrix, Metrics};
use crate::event::{Score, Target};
use crate::interval::wilson;
use crate::schema::{Model, Task};
use crate::sketch::ScoreHistogram;

/// Machine epsilon of f64: scikit-learn clips probabilities to `[eps, 1 − eps]` in
/// `log_loss`, and floors `|y|` at it in `mean_absolute_percentage_error`.
const EPS: f64 = f64::EPSILON;

/// Confusion counts, log-loss sums and the score histogram of a classifier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassificationProfile {
    /// true class → predicted class → count.
    pub confusion: BTreeMap<String, BTreeMap<String, u64>>,
    /// Scores of labelled binary predictions, by true class (for ROC AUC).
    pub scores: ScoreHistogram,
    /// Σ −ln p(true class) over labelled predictions that carry a score.
    pub log_loss_sum: f64,
    /// How many labelled predictions carry a score.
    pub log_loss_count: u64,
}

/// Error sums of a regressor, with Welford moments of the label for R².
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegressionProfile {
    /// Labelled predictions.
    pub n: u64,
    /// Σ (prediction − label).
    pub sum_error: f64,
    /// Σ |prediction − label|.
    pub sum_abs_error: f64,
    /// Σ (prediction − label)².
    pub sum_sq_error: f64,
    /// Σ |prediction − label| / max(|label|, eps).
    pub sum_abs_pct_error: f64,
    /// Mean of the labels.
    pub label_mean: f64,
    /// Σ (label − mean)².
    pub label_m2: f64,
}

impl ClassificationProfile {
    /// Adds one labelled prediction.
    pub fn observe(&mut self, model: &Model, predicted: &str, truth: &str, score: Option<&Score>) {
        // Look up before inserting, so the common case allocates nothing.
        let row = match self.confusion.get_mut(truth) {
            Some(row) => row,
            None => self.confusion.entry(truth.to_string()).or_default(),
        };
        match row.get_mut(predicted) {
            Some(n) => *n += 1,
            None => {
                row.insert(predicted.to_string(), 1);
            }
        }
        let p_true = match score {
            Some(Score::Positive(p)) => {
                let positive = model.positive_class.as_deref() == Some(truth);
                self.scores.insert(*p, positive);
                Some(if positive { *p } else { 1.0 - *p })
            }
            Some(Score::PerClass(probabilities)) => model
                .classes
                .binary_search_by(|c| c.as_str().cmp(truth))
                .ok()
                .map(|i| probabilities[i]),
            None => None,
        };
        if let Some(p) = p_true {
            self.log_loss_sum -= p.clamp(EPS, 1.0 - EPS).ln();
            self.log_loss_count += 1;
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &ClassificationProfile) {
        for (truth, other_row) in &other.confusion {
            let row = self.confusion.entry(truth.clone()).or_default();
            for (predicted, n) in other_row {
                *row.entry(predicted.clone()).or_insert(0) += n;
            }
        }
        self.scores.merge(&other.scores);
        self.log_loss_sum += other.log_loss_sum;
        self.log_loss_count += other.log_loss_count;
    }
}

impl RegressionProfile {
    /// Adds one labelled prediction.
    pub fn observe(&mut self, predicted: f64, truth: f64) {
        let error = predicted - truth;
        self.n += 1;
        self.sum_error += error;
        self.sum_abs_error += error.abs();
        self.sum_sq_error += error * error;
        self.sum_abs_pct_error += error.abs() / truth.abs().max(EPS);
        let delta = truth - self.label_mean;
        self.label_mean += delta / self.n as f64;
        self.label_m2 += delta * (truth - self.label_mean);
    }

    /// Adds every sum of `other` (Chan et al.'s parallel update for the moments).
    pub fn merge(&mut self, other: &RegressionProfile) {
        if other.n == 0 {
            return;
        }
        let n = self.n + other.n;
        let delta = other.label_mean - self.label_mean;
        self.label_m2 +=
            other.label_m2 + delta * delta * (self.n as f64 * other.n as f64) / n as f64;
        self.label_mean += delta * other.n as f64 / n as f64;
        self.n = n;
        self.sum_error += other.sum_error;
        self.sum_abs_error += other.sum_abs_error;
        self.sum_sq_error += other.sum_sq_error;
        self.sum_abs_pct_error += other.sum_abs_pct_error;
    }
}

/// Records one labelled outcome in whichever profile fits the model's task.
pub fn observe_outcome(
    model: &Model,
    classification: &mut ClassificationProfile,
    regression: &mut RegressionProfile,
    prediction: &Target,
    label: &Target,
    score: Option<&Score>,
) -> bool {
    match (prediction, label) {
        (Target::Class(p), Target::Class(t)) if model.task().is_classification() => {
            classification.observe(model, p, t, score);
            true
        }
        (Target::Value(p), Target::Value(t)) if model.task() == Task::Regression => {
            regression.observe(*p, *t);
            true
        }
        _ => false,
    }
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    // scikit-learn's zero_division=0.
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

fn f1(precision: f64, recall: f64) -> f64 {
    ratio(2.0 * precision * recall, precision + recall)
}

/// A metric of the task: present, `None` (`null`) unless finite.
fn number(x: Option<f64>) -> Option<Option<f64>> {
    Some(x.filter(|f| f.is_finite()))
}

/// Sorts class labels as scikit-learn does: numerically when every label is a number
/// (`2` before `10`), else as text.
pub fn sort_like_scikit_learn(labels: &mut Vec<&str>) {
    let numbers: Option<Vec<f64>> = labels
        .iter()
        .map(|l| l.parse::<f64>().ok().filter(|f| f.is_finite()))
        .collect();
    if numbers.is_some() {
        labels.sort_by(|a, b| {
            let (x, y) = (a.parse::<f64>().unwrap(), b.parse::<f64>().unwrap());
            x.total_cmp(&y).then_with(|| a.cmp(b))
        });
    } else {
        labels.sort_unstable();
    }
    labels.dedup();
}

/// The confusion matrix's classes: the model's declared `classes` in their declared
/// order, then any other class `seen` (in stored data only), sorted as scikit-learn does.
fn matrix_order<'a>(model: &'a Model, mut seen: Vec<&'a str>) -> Vec<&'a str> {
    let declared: Vec<&str> = model
        .definition
        .classes
        .iter()
        .map(String::as_str)
        .collect();
    seen.retain(|c| !declared.contains(c));
    sort_like_scikit_learn(&mut seen);
    declared.into_iter().chain(seen).collect()
}

/// Classification metrics, named as in API.md, into `out`.
pub fn classification_metrics(model: &Model, profile: &ClassificationProfile, out: &mut Metrics) {
    let total: u64 = profile.confusion.values().flat_map(BTreeMap::values).sum();
    // Classes for the confusion matrix: the model's, plus any seen.
    let mut matrix_classes: Vec<&str> = Vec::new();
    // Classes for averaged metrics: those present in y_true ∪ y_pred (scikit-learn's default).
    let mut present: Vec<&str> = Vec::new();
    for (t, row) in &profile.confusion {
        for p in row.keys() {
            matrix_classes.extend([t.as_str(), p.as_str()]);
            present.extend([t.as_str(), p.as_str()]);
        }
    }
    let matrix_classes = matrix_order(model, matrix_classes);
    present.sort_unstable();
    present.dedup();
    let cell = |t: &str, p: &str| -> u64 {
        profile
            .confusion
            .get(t)
            .and_then(|row| row.get(p))
            .copied()
            .unwrap_or(0)
    };
    let correct: u64 = present.iter().map(|c| cell(c, c)).sum();
    let defined = total > 0;
    out.accuracy = number(defined.then(|| correct as f64 / total as f64));
    let interval = |successes: f64, trials: f64| {
        let bounds = wilson(successes as u64, trials as u64);
        (number(bounds.map(|b| b.0)), number(bounds.map(|b| b.1)))
    };
    (out.accuracy_lower, out.accuracy_upper) = interval(correct as f64, total as f64);

    // Per-class true positives, predicted counts and true counts.
    let per_class: Vec<(f64, f64, f64)> = present
        .iter()
        .map(|c| {
            let tp = cell(c, c) as f64;
            let predicted: u64 = profile
                .confusion
                .values()
                .filter_map(|row| row.get(*c))
                .sum();
            let actual: u64 = profile
                .confusion
                .get(*c)
                .map_or(0, |row| row.values().sum());
            (tp, predicted as f64, actual as f64)
        })
        .collect();
    match model.task() {
        Task::BinaryClassification => {
            let positive = model.positive_class.as_deref().unwrap_or("1");
            let (tp, predicted, actual) = present
                .iter()
                .position(|c| *c == positive)
                .map(|i| per_class[i])
                .unwrap_or((0.0, 0.0, 0.0));
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, actual);
            out.precision = number(defined.then_some(precision));
            out.recall = number(defined.then_some(recall));
            out.f1 = number(defined.then(|| f1(precision, recall)));
            (out.precision_lower, out.precision_upper) = interval(tp, predicted);
            (out.recall_lower, out.recall_upper) = interval(tp, actual);
            out.roc_auc = number(profile.scores.roc_auc());
        }
        _ => {
            let k = per_class.len() as f64;
            let (mut p_macro, mut r_macro, mut f_macro) = (0.0, 0.0, 0.0);
            let (mut p_weighted, mut r_weighted, mut f_weighted) = (0.0, 0.0, 0.0);
            for (tp, predicted, actual) in &per_class {
                let precision = ratio(*tp, *predicted);
                let recall = ratio(*tp, *actual);
                let f = f1(precision, recall);
                p_macro += precision / k;
                r_macro += recall / k;
                f_macro += f / k;
                let weight = actual / total as f64;
                p_weighted += precision * weight;
                r_weighted += recall * weight;
                f_weighted += f * weight;
            }
            out.precision_macro = number(defined.then_some(p_macro));
            out.recall_macro = number(defined.then_some(r_macro));
            out.f1_macro = number(defined.then_some(f_macro));
            out.precision_weighted = number(defined.then_some(p_weighted));
            out.recall_weighted = number(defined.then_some(r_weighted));
            out.f1_weighted = number(defined.then_some(f_weighted));
        }
    }
    out.log_loss = number(
        (profile.log_loss_count > 0).then(|| profile.log_loss_sum / profile.log_loss_count as f64),
    );
    let matrix: Vec<Vec<u64>> = matrix_classes
        .iter()
        .map(|t| matrix_classes.iter().map(|p| cell(t, p)).collect())
        .collect();
    out.confusion_matrix = Some(ConfusionMatrix {
        labels: matrix_classes.iter().map(|c| c.to_string()).collect(),
        matrix,
    });
}

/// Regression metrics, named as in API.md, into `out`.
pub fn regression_metrics(profile: &RegressionProfile, out: &mut Metrics) {
    let n = profile.n as f64;
    let defined = profile.n > 0;
    out.mae = number(defined.then(|| profile.sum_abs_error / n));
    out.rmse = number(defined.then(|| (profile.sum_sq_error / n).sqrt()));
    out.mape = number(defined.then(|| profile.sum_abs_pct_error / n));
    out.mean_error = number(defined.then(|| profile.sum_error / n));
    // scikit-learn: R² is undefined below two samples; with constant labels it is
    // 1.0 for a perfect fit and 0.0 otherwise (force_finite=True).
    let r2 = (profile.n >= 2).then(|| {
        if profile.label_m2 == 0.0 {
            if profile.sum_sq_error == 0.0 {
                1.0
            } else {
                0.0
            }
        } else {
            1.0 - profile.sum_sq_error / profile.label_m2
        }
    });
    out.r2 = number(r2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelDefinition;

    #[test]
    fn labels_sort_numerically_only_when_all_are_numbers() {
        let mut numbers = vec!["10", "2", "-1", "0.5", "2"];
        sort_like_scikit_learn(&mut numbers);
        assert_eq!(numbers, ["-1", "0.5", "2", "10"]);
        let mut mixed = vec!["10", "2", "cat"];
        sort_like_scikit_learn(&mut mixed);
        assert_eq!(mixed, ["10", "2", "cat"]);
    }

    #[test]
    fn the_matrix_follows_the_declared_class_order() {
        let definition: ModelDefinition = serde_json::from_value(serde_json::json!({
            "task": "multiclass_classification", "classes": ["dog", "bird", "cat"]
        }))
        .unwrap();
        let model = Model::new("m", definition).unwrap();
        let mut profile = ClassificationProfile::default();
        profile
            .confusion
            .entry("cat".into())
            .or_default()
            .insert("dog".into(), 2);
        profile
            .confusion
            .entry("bird".into())
            .or_default()
            .insert("bird".into(), 1);
        let mut out = Metrics::default();
        classification_metrics(&model, &profile, &mut out);
        let matrix = out.confusion_matrix.unwrap();
        assert_eq!(matrix.labels, ["dog", "bird", "cat"]);
        assert_eq!(matrix.matrix, [[0, 0, 0], [0, 1, 0], [2, 0, 0]]);
    }
}
