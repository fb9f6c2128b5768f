//! Confidence-based performance estimation (CBPE, as NannyML 0.13 defines it) of a
//! window: the expected confusion counts of its unlabelled predictions from their
//! calibrated probabilities, added to the realised counts of its labelled ones.
//!
//! With no label, the estimates are NannyML's CBPE; as labels arrive they replace their
//! predictions' expectations, and with every prediction labelled the estimates are the
//! realised metrics. The 95% bounds are those of the realised metric if the calibration
//! holds: each unlabelled outcome is a Bernoulli of its calibrated probability, so the
//! expected true positives have variance Σ p(1 − p); precision, recall and F1 take it
//! through the delta method, ROC AUC through Hanley and McNeil's standard error on the
//! expected numbers of positives and negatives.

use crate::answer::metrics::Metrics;
use crate::estimate::Estimation;
use crate::estimate::scores::UnlabelledScores;
use crate::interval::Z_95;
use crate::performance::ClassificationProfile;
use crate::schema::{Model, Task};

/// One estimate with its bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Estimate {
    value: f64,
    variance: f64,
}

impl Estimate {
    fn bounds(self) -> (Option<f64>, Option<f64>, Option<f64>) {
        let half = Z_95 * self.variance.max(0.0).sqrt();
        let finite = |x: f64| x.is_finite().then_some(x);
        (
            finite(self.value),
            finite((self.value - half).max(0.0)),
            finite((self.value + half).min(1.0)),
        )
    }
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    // scikit-learn's zero_division=0.
    if denominator <= 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

/// The expected counts of one class, one-vs-rest.
#[derive(Debug, Clone, Copy, Default)]
struct ClassCounts {
    /// Expected true positives (realised + expected), and the variance of the expected part.
    tp: f64,
    tp_variance: f64,
    /// Predictions of this class (known exactly).
    predicted: f64,
    /// Expected false negatives, and their variance.
    fn_: f64,
    fn_variance: f64,
}

impl ClassCounts {
    fn precision(&self) -> Estimate {
        Estimate {
            value: ratio(self.tp, self.predicted),
            variance: ratio(self.tp_variance, self.predicted * self.predicted),
        }
    }

    fn recall(&self) -> Estimate {
        let (a, b) = (self.tp, self.fn_);
        let d = (a + b).powi(4);
        Estimate {
            value: ratio(a, a + b),
            variance: ratio(b * b * self.tp_variance + a * a * self.fn_variance, d),
        }
    }

    fn f1(&self) -> Estimate {
        let (a, b) = (self.tp, self.fn_);
        let denominator = self.predicted + a + b;
        let (da, db) = (
            ratio(2.0 * (self.predicted + b), denominator * denominator),
            ratio(-2.0 * a, denominator * denominator),
        );
        Estimate {
            value: ratio(2.0 * a, denominator),
            variance: da * da * self.tp_variance + db * db * self.fn_variance,
        }
    }
}

/// Predictions of about the same raw score: (mean raw score, expected positives,
/// expected negatives).
type Group = (f64, f64, f64);

/// NannyML 0.13's estimated ROC AUC (`estimate_roc_auc`): predictions ranked by raw
/// score, each moving the curve up by its calibrated probability and right by one minus
/// it, from (0, 0) to (1, 1); the area by trapezoids. Over groups in ascending order
/// that is Σ positives × (negatives below + ½ own negatives) / (P × N), exact for a
/// group whose predictions share one probability; with Hanley and McNeil's variance at
/// P expected positives and N expected negatives.
fn roc_auc(mut groups: Vec<Group>) -> Option<Estimate> {
    groups.retain(|g| g.1 + g.2 > 0.0);
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives: f64 = groups.iter().map(|g| g.1).sum();
    let negatives: f64 = groups.iter().map(|g| g.2).sum();
    if positives <= 0.0 || negatives <= 0.0 {
        return None;
    }
    let mut negatives_below = 0.0;
    let mut wins = 0.0;
    for (_, p, n) in &groups {
        wins += p * (negatives_below + 0.5 * n);
        negatives_below += n;
    }
    let auc = wins / (positives * negatives);
    let q1 = auc / (2.0 - auc);
    let q2 = 2.0 * auc * auc / (1.0 + auc);
    let variance = (auc * (1.0 - auc)
        + (positives - 1.0).max(0.0) * (q1 - auc * auc)
        + (negatives - 1.0).max(0.0) * (q2 - auc * auc))
        / (positives * negatives);
    Some(Estimate {
        value: auc,
        variance,
    })
}

/// The estimated metrics of a window into `out`: `estimated_*` with bounds and
/// `label_coverage`.
pub fn estimated_metrics(
    model: &Model,
    estimation: &Estimation,
    realised: &ClassificationProfile,
    unlabelled: &UnlabelledScores,
    realised_roc_auc: Option<f64>,
    out: &mut Metrics,
) {
    let classes: Vec<&str> = match model.task() {
        Task::BinaryClassification => vec![model.positive_class.as_deref().unwrap_or("1")],
        Task::MulticlassClassification => model.classes.iter().map(String::as_str).collect(),
        Task::Regression => return,
    };
    out.label_coverage =
        Some((out.count > 0).then(|| out.labelled_count as f64 / out.count as f64));
    let cell = |t: &str, p: &str| -> f64 {
        realised
            .confusion
            .get(t)
            .and_then(|row| row.get(p))
            .copied()
            .unwrap_or(0) as f64
    };
    let labelled: f64 = realised
        .confusion
        .values()
        .flat_map(|row| row.values())
        .sum::<u64>() as f64;
    let mut counts = Vec::with_capacity(classes.len());
    let mut auc_groups = Vec::with_capacity(classes.len());
    let mut unlabelled_total = 0.0;
    for (k, class) in classes.iter().enumerate() {
        let tp_realised = cell(class, class);
        let predicted_realised: f64 = realised
            .confusion
            .values()
            .filter_map(|row| row.get(*class))
            .sum::<u64>() as f64;
        let actual_realised: f64 = realised
            .confusion
            .get(*class)
            .map_or(0, |row| row.values().sum::<u64>()) as f64;
        let mut c = ClassCounts {
            tp: tp_realised,
            predicted: predicted_realised,
            fn_: actual_realised - tp_realised,
            ..ClassCounts::default()
        };
        let calibration = estimation.classes.iter().find(|cal| cal.class == *class);
        let mut groups: Vec<Group> = Vec::new();
        let mut class_total = 0.0;
        if let Some(scores) = unlabelled.classes.get(k) {
            for (_, bin) in &scores.bins {
                for this in [false, true] {
                    let n = bin.count[this as usize] as f64;
                    if n <= 0.0 {
                        continue;
                    }
                    let mean = bin.sum[this as usize] / n;
                    let p = calibration
                        .map_or(mean, |cal| cal.apply(mean))
                        .clamp(0.0, 1.0);
                    class_total += n;
                    groups.push((mean, n * p, n * (1.0 - p)));
                    if this {
                        c.tp += n * p;
                        c.tp_variance += n * p * (1.0 - p);
                        c.predicted += n;
                    } else {
                        c.fn_ += n * p;
                        c.fn_variance += n * p * (1.0 - p);
                    }
                }
            }
        }
        unlabelled_total = f64::max(unlabelled_total, class_total);
        counts.push(c);
        auc_groups.push((groups, class_total));
    }
    let total = labelled + unlabelled_total;
    if total <= 0.0 {
        return;
    }
    let k = counts.len() as f64;
    let (accuracy, precision, recall, f1) = match model.task() {
        Task::BinaryClassification => {
            let c = counts[0];
            // Correct = TP + TN; TN = negatives predicted − FN, so its variance is FN's.
            let predicted_negative = total - c.predicted;
            let correct = c.tp + (predicted_negative - c.fn_);
            let accuracy = Estimate {
                value: correct / total,
                variance: (c.tp_variance + c.fn_variance) / (total * total),
            };
            (accuracy, c.precision(), c.recall(), c.f1())
        }
        _ => {
            let correct: f64 = counts.iter().map(|c| c.tp).sum();
            let variance: f64 = counts.iter().map(|c| c.tp_variance).sum();
            let accuracy = Estimate {
                value: correct / total,
                variance: variance / (total * total),
            };
            let macro_of = |f: fn(&ClassCounts) -> Estimate| {
                let parts: Vec<Estimate> = counts.iter().map(f).collect();
                Estimate {
                    value: parts.iter().map(|e| e.value).sum::<f64>() / k,
                    variance: parts.iter().map(|e| e.variance).sum::<f64>() / (k * k),
                }
            };
            (
                accuracy,
                macro_of(ClassCounts::precision),
                macro_of(ClassCounts::recall),
                macro_of(ClassCounts::f1),
            )
        }
    };
    let set = |e: Estimate| {
        let (v, l, u) = e.bounds();
        (Some(v), Some(l), Some(u))
    };
    (
        out.estimated_accuracy,
        out.estimated_accuracy_lower,
        out.estimated_accuracy_upper,
    ) = set(accuracy);
    (
        out.estimated_precision,
        out.estimated_precision_lower,
        out.estimated_precision_upper,
    ) = set(precision);
    (
        out.estimated_recall,
        out.estimated_recall_lower,
        out.estimated_recall_upper,
    ) = set(recall);
    (
        out.estimated_f1,
        out.estimated_f1_lower,
        out.estimated_f1_upper,
    ) = set(f1);
    let auc = if auc_groups.iter().all(|(_, n)| *n <= 0.0) {
        // Every scored prediction is labelled: the estimate is what was realised.
        realised_roc_auc.map(|value| Estimate {
            value,
            variance: 0.0,
        })
    } else {
        let parts: Option<Vec<Estimate>> =
            auc_groups.into_iter().map(|(g, _)| roc_auc(g)).collect();
        parts.map(|parts| Estimate {
            value: parts.iter().map(|e| e.value).sum::<f64>() / k,
            variance: parts.iter().map(|e| e.variance).sum::<f64>() / (k * k),
        })
    };
    (
        out.estimated_roc_auc,
        out.estimated_roc_auc_lower,
        out.estimated_roc_auc_upper,
    ) = match auc {
        Some(e) => set(e),
        None => (Some(None), Some(None), Some(None)),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_as_nannyml_hand_worked() {
        // nannyml 0.13 estimate_roc_auc(p, p) for p = [0.2, 0.6, 0.9]: the points
        // (0, 0), (0.1/1.3, 0.9/1.7), (0.5/1.3, 1.5/1.7), (1, 1) by trapezoids.
        let groups = vec![(0.6, 0.6, 0.4), (0.2, 0.2, 0.8), (0.9, 0.9, 0.1)];
        let auc = roc_auc(groups).unwrap().value;
        let (p, n) = (1.7, 1.3);
        let points = [
            (0.0, 0.0),
            (0.1 / n, 0.9 / p),
            (0.5 / n, 1.5 / p),
            (1.0, 1.0),
        ];
        let expected: f64 = points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum();
        assert!((auc - expected).abs() < 1e-12, "{auc} vs {expected}");
    }
}
