//! The data-quality answer of API.md from the merged window features of a range, with
//! the reference (when there is one) for out-of-range values and new categories.
//! [`feature_quality`] computes one feature's entry alone.

use crate::answer::finite;
use crate::answer::quality::{CategoricalQuality, FeatureQuality, NumericQuality, QualityAnswer};
use crate::drift::features::{FeatureProfile, WindowFeatures};
use crate::drift::reference::{ReferenceFeature, ReferenceProfile};
use crate::schema::{FeatureSpec, FeatureType, Model};

/// Categories listed in `top`.
pub const TOP_CATEGORIES: usize = 10;

fn present(profile: &FeatureProfile) -> u64 {
    match profile {
        FeatureProfile::Numeric(p) => p.sketch.count(),
        FeatureProfile::Categorical(p) => p.present(),
    }
}

/// The entry of one feature.
fn entry(
    spec: &FeatureSpec,
    reference: Option<&ReferenceProfile>,
    current: &WindowFeatures,
) -> FeatureQuality {
    let profile = current.features.get(&spec.name);
    let reference_feature = reference.and_then(|r| r.features.get(&spec.name));
    // Rows before the feature was added count as missing too.
    let count = current.rows;
    let missing = profile.map_or(0, FeatureProfile::missing)
        + count.saturating_sub(profile.map_or(0, |p| present(p) + p.missing()));
    let missing_share = (count > 0).then(|| missing as f64 / count as f64);
    let type_errors = match profile {
        Some(FeatureProfile::Numeric(p)) => p.type_errors,
        Some(FeatureProfile::Categorical(p)) => p.type_errors,
        None => 0,
    };
    match spec.kind {
        FeatureType::Numeric => {
            let p = match profile {
                Some(FeatureProfile::Numeric(p)) => Some(p),
                _ => None,
            };
            let sketch = p.map(|p| &p.sketch);
            let quantiles = p.map_or_else(
                || vec![None; 5],
                |p| p.quantiles(&[0.05, 0.25, 0.5, 0.75, 0.95]),
            );
            let quantile = |i: usize| quantiles[i].and_then(finite);
            let values = p.map_or(0, |p| p.sketch.count());
            let out_of_range = match (reference, reference_feature) {
                (Some(r), Some(ReferenceFeature::Numeric(numeric))) if numeric.count > 0 => {
                    match p.and_then(|p| p.bins_for(r.generation)) {
                        Some(bins) => {
                            let last = (2 * numeric.edges.len()) as u32;
                            Some(
                                bins.slots
                                    .iter()
                                    .filter(|(s, _)| *s == 0 || *s == last)
                                    .map(|(_, (n, _))| n)
                                    .sum::<u64>(),
                            )
                        }
                        // No value to be out of range; or values not binned against this reference.
                        None if values == 0 => Some(0),
                        None => None,
                    }
                }
                _ => None,
            };
            FeatureQuality::Numeric(NumericQuality {
                count,
                max: sketch.and_then(|s| s.max()).and_then(finite),
                mean: p
                    .filter(|p| p.sketch.count() > 0)
                    .and_then(|p| finite(p.mean)),
                min: sketch.and_then(|s| s.min()).and_then(finite),
                missing,
                missing_share,
                name: spec.name.clone(),
                out_of_range,
                p25: quantile(1),
                p5: quantile(0),
                p50: quantile(2),
                p75: quantile(3),
                p95: quantile(4),
                std: p.and_then(|p| p.std()).and_then(finite),
                kind: FeatureType::Numeric,
                type_errors,
            })
        }
        FeatureType::Categorical => {
            let counts = match profile {
                Some(FeatureProfile::Categorical(p)) => Some(&p.counts),
                _ => None,
            };
            let mut top: Vec<(&String, &u64)> = counts.into_iter().flatten().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let new_categories = match reference_feature {
                Some(ReferenceFeature::Categorical(r)) => Some(
                    counts
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k)
                        .filter(|k| !r.counts.contains_key(*k))
                        .cloned()
                        .collect(),
                ),
                _ => None,
            };
            FeatureQuality::Categorical(CategoricalQuality {
                count,
                distinct: counts.map_or(0, |c| c.len() as u64),
                missing,
                missing_share,
                name: spec.name.clone(),
                new_categories,
                top: top
                    .iter()
                    .take(TOP_CATEGORIES)
                    .map(|(v, n)| ((*v).clone(), **n))
                    .collect(),
                kind: FeatureType::Categorical,
                type_errors,
            })
        }
    }
}

/// One feature's quality alone; `None` when `model` has no feature `name`. Equal to
/// the feature's entry of the quality answer.
pub fn feature_quality(
    model: &Model,
    reference: Option<&ReferenceProfile>,
    current: &WindowFeatures,
    name: &str,
) -> Option<FeatureQuality> {
    let spec = model.features().iter().find(|s| s.name == name)?;
    Some(entry(spec, reference, current))
}

/// The quality answer for the current range (without the range fields, see
/// [`QualityAnswer::in_range`]).
pub fn quality_answer(
    model: &Model,
    reference: Option<&ReferenceProfile>,
    current: &WindowFeatures,
) -> QualityAnswer {
    QualityAnswer {
        features: model
            .features()
            .iter()
            .map(|spec| entry(spec, reference, current))
            .collect(),
        from: None,
        model: None,
        rows: current.rows,
        series: None,
        start: None,
        step: None,
        to: None,
        unknown_features: current.unknown_features,
        version: None,
    }
}
