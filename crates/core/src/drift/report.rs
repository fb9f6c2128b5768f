//! The drift answer of API.md, built from a reference profile and the merged window
//! features of a range: every column judged ([`super::verdict`]), with all its
//! statistics and its distribution, and the dataset-level summary.

use crate::answer::drift::{
    CategoricalDriftStats, DriftAnswer, DriftStats, DriftTally, FeatureDrift, NumericDriftStats,
};
use crate::answer::finite;
use crate::drift::distribution::distribution;
use crate::drift::features::WindowFeatures;
use crate::drift::reference::ReferenceProfile;
use crate::drift::stats::{CategoricalStats, NumericStats};
use crate::drift::verdict::{Column, judge};
use crate::schema::{FeatureType, Model};

fn numeric_stats(stats: &NumericStats) -> NumericDriftStats {
    NumericDriftStats {
        jensen_shannon: finite(stats.jensen_shannon),
        ks_p_value: finite(stats.ks_p_value),
        ks_statistic: finite(stats.ks_statistic),
        psi: finite(stats.psi),
        wasserstein: finite(stats.wasserstein),
        wasserstein_norm: finite(stats.wasserstein_norm),
    }
}

fn categorical_stats(stats: &CategoricalStats) -> CategoricalDriftStats {
    CategoricalDriftStats {
        chi2_p_value: finite(stats.chi2_p_value),
        chi2_statistic: finite(stats.chi2_statistic),
        jensen_shannon: finite(stats.jensen_shannon),
        new_categories: stats.new_categories.len() as u64,
        psi: finite(stats.psi),
    }
}

/// One column's entry of the drift answer.
fn entry(column: Column, reference: &ReferenceProfile, current: &WindowFeatures) -> FeatureDrift {
    let profile = current.features.get(column.name);
    let judged = judge(column, reference, profile);
    let is_numeric = column.kind == FeatureType::Numeric;
    let stats = match (is_numeric, &judged.numeric, &judged.categorical) {
        (true, Some(n), _) => Some(DriftStats::Numeric(numeric_stats(n))),
        (false, _, Some(c)) => Some(DriftStats::Categorical(categorical_stats(c))),
        _ => None,
    };
    let verdict = judged.verdict;
    FeatureDrift {
        categorical_stats: judged
            .categorical
            .as_ref()
            .filter(|_| is_numeric)
            .map(categorical_stats),
        current_count: judged
            .numeric
            .as_ref()
            .map(|s| s.current_count)
            .or(judged.categorical.as_ref().map(|s| s.current_count))
            .unwrap_or(0),
        distribution: distribution(
            reference.features.get(column.name),
            profile,
            reference.generation,
        ),
        drifted: verdict.drifted,
        method: verdict.method,
        name: column.name.to_string(),
        stale_values: (judged.stale > 0).then_some(judged.stale),
        statistic: verdict.statistic,
        stats,
        threshold: verdict.threshold,
        kind: column.kind,
    }
}

/// The drift answer (without the range fields, see [`DriftAnswer::in_range`]).
pub fn drift_answer(
    model: &Model,
    reference: &ReferenceProfile,
    current: &WindowFeatures,
) -> DriftAnswer {
    let mut tally = DriftTally::default();
    let features: Vec<FeatureDrift> = Column::features(model)
        .map(|column| {
            let entry = entry(column, reference, current);
            tally.add(entry.drifted);
            entry
        })
        .collect();
    DriftAnswer {
        current_count: current.rows,
        dataset_drift: tally.dataset_drift(),
        drift_share: tally.share(),
        drifted_features: tally.drifted,
        features,
        features_total: tally.judged,
        from: None,
        model: None,
        prediction: entry(Column::prediction(model), reference, current),
        reference_count: reference.rows,
        score: Column::score(model).map(|column| entry(column, reference, current)),
        series: None,
        start: None,
        step: None,
        to: None,
        version: None,
    }
}
