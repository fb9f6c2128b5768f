//! Judging one column (a feature, the prediction or the score) against the reference:
//! the default method per feature (Evidently's defaults), per-feature overrides from the
//! model definition, the statistics and the verdict. [`feature_drift`] judges one
//! feature alone; the drift answer ([`super::report`]) judges every column the same way
//! and adds the distributions.

use crate::answer::drift::{DriftTally, DriftVerdict, DriftVerdicts};
use crate::answer::method::Method;
use crate::drift::features::{FeatureProfile, WindowFeatures};
use crate::drift::reference::{PREDICTION, ReferenceFeature, ReferenceProfile, SCORE};
use crate::drift::stats::{
    CategoricalStats, NumericStats, categorical_feature_stats, categorical_stats,
    numeric_as_categories, numeric_stats, numeric_stats_exact,
};
use crate::schema::{FeatureType, Model, Task};

/// Reference sizes up to this use the small-sample tests (KS, chi-squared).
pub const SMALL_REFERENCE_ROWS: u64 = 1000;

/// The method Evidently's defaults choose (API.md): small references get KS for
/// numeric features with more than five distinct values, chi-squared otherwise; larger
/// references get the normalised Wasserstein distance or Jensen–Shannon.
pub fn default_method(reference_rows: u64, numeric_many_values: bool) -> Method {
    match (reference_rows <= SMALL_REFERENCE_ROWS, numeric_many_values) {
        (true, true) => Method::Ks,
        (true, false) => Method::Chi2,
        (false, true) => Method::WassersteinNorm,
        (false, false) => Method::JensenShannon,
    }
}

/// A column to judge: its name, type and the model's overrides of method and threshold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column<'a> {
    pub name: &'a str,
    pub kind: FeatureType,
    pub method: Option<&'a str>,
    pub threshold: Option<f64>,
}

impl<'a> Column<'a> {
    /// Every feature of `model`, in its order.
    pub fn features(model: &'a Model) -> impl Iterator<Item = Column<'a>> {
        model.features().iter().map(|spec| Column {
            name: &spec.name,
            kind: spec.kind,
            method: spec.drift_method.as_deref(),
            threshold: spec.drift_threshold,
        })
    }

    /// The model's prediction: categorical for classifiers, numeric for regressors.
    pub fn prediction(model: &Model) -> Column<'static> {
        Column {
            name: PREDICTION,
            kind: if model.task().is_classification() {
                FeatureType::Categorical
            } else {
                FeatureType::Numeric
            },
            method: None,
            threshold: None,
        }
    }

    /// The positive class's score, for a binary classifier.
    pub fn score(model: &Model) -> Option<Column<'static>> {
        (model.task() == Task::BinaryClassification).then_some(Column {
            name: SCORE,
            kind: FeatureType::Numeric,
            method: None,
            threshold: None,
        })
    }
}

/// What judging a column found: every statistic of its type and the verdict.
pub(crate) struct Judged {
    /// Numeric statistics (numeric columns with current values binned).
    pub numeric: Option<NumericStats>,
    /// Statistics of the values as categories.
    pub categorical: Option<CategoricalStats>,
    /// Current values binned against an earlier reference, or not binned.
    pub stale: u64,
    /// The verdict under the column's method.
    pub verdict: DriftVerdict,
}

/// Judges `column` against `reference`, from its merged current profile.
pub(crate) fn judge(
    column: Column,
    reference: &ReferenceProfile,
    current: Option<&FeatureProfile>,
) -> Judged {
    let (mut numeric, mut categorical, mut many_values, mut stale) = (None, None, false, 0);
    match (reference.features.get(column.name), current) {
        (Some(ReferenceFeature::Numeric(r)), Some(FeatureProfile::Numeric(c))) => {
            many_values = r.few_values.is_none();
            if let Some(bins) = c.bins_for(reference.generation) {
                numeric = match &c.exact {
                    Some(values) => numeric_stats_exact(r, values, bins),
                    None => numeric_stats(r, bins),
                };
            }
            stale = c.unbinned
                + c.bins
                    .as_ref()
                    .filter(|b| b.generation != reference.generation)
                    .map_or(0, |b| b.slots.iter().map(|(_, (n, _))| n).sum());
            if r.few_values.is_some() {
                categorical = numeric_as_categories(r, c, reference.generation)
                    .and_then(|(rc, cc)| categorical_stats(&rc, &cc));
            } else if column.method == Some("chi2") {
                // chi2 asked for on a many-valued numeric feature: test the decile bins.
                categorical = c.bins_for(reference.generation).and_then(|bins| {
                    let bin = |i: usize| format!("decile {i}");
                    let reference_counts = r
                        .decile_counts
                        .iter()
                        .enumerate()
                        .map(|(i, n)| (bin(i), *n))
                        .collect();
                    let current_counts = bins
                        .deciles
                        .iter()
                        .enumerate()
                        .map(|(i, n)| (bin(i), *n))
                        .collect();
                    categorical_stats(&reference_counts, &current_counts)
                });
            }
        }
        (Some(ReferenceFeature::Numeric(r)), None) => many_values = r.few_values.is_none(),
        (Some(ReferenceFeature::Categorical(r)), Some(FeatureProfile::Categorical(c))) => {
            categorical = categorical_feature_stats(r, c);
        }
        _ => {}
    }
    let as_numbers = column.kind == FeatureType::Numeric && many_values;
    let method = column
        .method
        .and_then(Method::parse)
        .unwrap_or_else(|| default_method(reference.rows, as_numbers));
    let threshold = column
        .threshold
        .unwrap_or_else(|| method.default_threshold());
    let statistic = match method {
        Method::Ks => numeric.as_ref().map(|s| s.ks_p_value),
        Method::WassersteinNorm => numeric.as_ref().map(|s| s.wasserstein_norm),
        Method::Chi2 => categorical.as_ref().map(|s| s.chi2_p_value),
        Method::JensenShannon => {
            if as_numbers {
                numeric.as_ref().map(|s| s.jensen_shannon)
            } else {
                categorical.as_ref().map(|s| s.jensen_shannon)
            }
        }
        Method::Psi => {
            if as_numbers {
                numeric.as_ref().map(|s| s.psi)
            } else {
                categorical.as_ref().map(|s| s.psi)
            }
        }
    }
    .filter(|s| s.is_finite());
    let drifted = statistic.map(|s| {
        if method.is_p_value() {
            s < threshold
        } else {
            s >= threshold
        }
    });
    Judged {
        numeric,
        categorical,
        stale,
        verdict: DriftVerdict {
            method,
            statistic,
            threshold,
            drifted,
        },
    }
}

/// One feature's drift alone (statistic, threshold, verdict), without the other
/// features or any distribution; `None` when `model` has no feature `name`. Equal to
/// the feature's entry of the drift answer.
pub fn feature_drift(
    model: &Model,
    reference: &ReferenceProfile,
    current: &WindowFeatures,
    name: &str,
) -> Option<DriftVerdict> {
    let column = Column::features(model).find(|c| c.name == name)?;
    Some(judge(column, reference, current.features.get(name)).verdict)
}

/// The drift of the model's prediction alone.
pub fn prediction_drift(
    model: &Model,
    reference: &ReferenceProfile,
    current: &WindowFeatures,
) -> DriftVerdict {
    judge(
        Column::prediction(model),
        reference,
        current.features.get(PREDICTION),
    )
    .verdict
}

/// Every feature's verdict and the prediction's, without distributions.
pub fn drift_verdicts(
    model: &Model,
    reference: &ReferenceProfile,
    current: &WindowFeatures,
) -> DriftVerdicts {
    let mut tally = DriftTally::default();
    let features = Column::features(model)
        .map(|column| {
            let verdict = judge(column, reference, current.features.get(column.name)).verdict;
            tally.add(verdict.drifted);
            (column.name.to_string(), verdict)
        })
        .collect();
    DriftVerdicts {
        features,
        prediction: prediction_drift(model, reference, current),
        tally,
    }
}
