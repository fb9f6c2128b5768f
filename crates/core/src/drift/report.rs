//! The drift and data-quality answers of API.md, built from a reference profile and
//! the merged window features of a range: the default method per feature (Evidently's
//! defaults), per-feature overrides from the model definition, verdicts and the
//! dataset-level summary.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::drift::distribution::distribution;
use crate::drift::features::{FeatureProfile, WindowFeatures};
use crate::drift::reference::{PREDICTION, ReferenceFeature, ReferenceProfile, SCORE};
use crate::drift::stats::{
    CategoricalStats, NumericStats, categorical_feature_stats, categorical_stats, finite,
    numeric_as_categories, numeric_stats, numeric_stats_exact,
};
use crate::schema::{FeatureType, Model};

/// Reference sizes up to this use the small-sample tests (KS, chi-squared).
pub const SMALL_REFERENCE_ROWS: u64 = 1000;
/// `dataset_drift` when at least this share of features drifted.
pub const DATASET_DRIFT_SHARE: f64 = 0.5;

/// A drift method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov; the statistic is the p-value.
    Ks,
    /// Chi-squared contingency test; the statistic is the p-value.
    Chi2,
    /// Normalised Wasserstein distance.
    WassersteinNorm,
    /// Jensen–Shannon distance.
    JensenShannon,
    /// Population stability index.
    Psi,
}

impl Method {
    /// Every method, by name.
    pub const ALL: [(&'static str, Method); 5] = [
        ("ks", Method::Ks),
        ("chi2", Method::Chi2),
        ("wasserstein_norm", Method::WassersteinNorm),
        ("jensen_shannon", Method::JensenShannon),
        ("psi", Method::Psi),
    ];

    /// Parses a method name.
    pub fn parse(name: &str) -> Option<Method> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The method's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("", |(n, _)| n)
    }

    /// The default threshold.
    pub fn default_threshold(self) -> f64 {
        match self {
            Method::Ks | Method::Chi2 => 0.05,
            Method::WassersteinNorm | Method::JensenShannon | Method::Psi => 0.1,
        }
    }

    /// Whether the statistic is a p-value (drift when *below* the threshold).
    pub fn is_p_value(self) -> bool {
        matches!(self, Method::Ks | Method::Chi2)
    }

    /// Whether the method applies to numeric values only.
    pub fn numeric_only(self) -> bool {
        matches!(self, Method::Ks | Method::WassersteinNorm)
    }
}

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

fn numeric_json(stats: &NumericStats) -> Value {
    json!({
        "ks_statistic": finite(stats.ks_statistic),
        "ks_p_value": finite(stats.ks_p_value),
        "wasserstein": finite(stats.wasserstein),
        "wasserstein_norm": finite(stats.wasserstein_norm),
        "psi": finite(stats.psi),
        "jensen_shannon": finite(stats.jensen_shannon),
    })
}

fn categorical_json(stats: &CategoricalStats) -> Value {
    json!({
        "chi2_statistic": finite(stats.chi2_statistic),
        "chi2_p_value": finite(stats.chi2_p_value),
        "psi": finite(stats.psi),
        "jensen_shannon": finite(stats.jensen_shannon),
        "new_categories": stats.new_categories.len(),
    })
}

/// One feature's drift entry and whether it drifted (`None`: no verdict).
fn feature_drift(
    name: &str,
    kind: FeatureType,
    overrides: (Option<&str>, Option<f64>),
    reference: &ReferenceProfile,
    current: Option<&FeatureProfile>,
) -> (Value, Option<bool>) {
    let mut entry = Map::new();
    entry.insert("name".into(), json!(name));
    entry.insert(
        "type".into(),
        json!(match kind {
            FeatureType::Numeric => "numeric",
            FeatureType::Categorical => "categorical",
        }),
    );
    let (mut numeric, mut categorical, mut many_values, mut stale) = (None, None, false, 0);
    match (reference.features.get(name), current) {
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
            } else if overrides.0 == Some("chi2") {
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
    let is_numeric = kind == FeatureType::Numeric;
    let method = overrides
        .0
        .and_then(Method::parse)
        .unwrap_or_else(|| default_method(reference.rows, is_numeric && many_values));
    let threshold = overrides.1.unwrap_or_else(|| method.default_threshold());
    let statistic = match method {
        Method::Ks => numeric.as_ref().map(|s| s.ks_p_value),
        Method::WassersteinNorm => numeric.as_ref().map(|s| s.wasserstein_norm),
        Method::Chi2 => categorical.as_ref().map(|s| s.chi2_p_value),
        Method::JensenShannon => {
            if is_numeric && many_values {
                numeric.as_ref().map(|s| s.jensen_shannon)
            } else {
                categorical.as_ref().map(|s| s.jensen_shannon)
            }
        }
        Method::Psi => {
            if is_numeric && many_values {
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
    entry.insert("method".into(), json!(method.name()));
    entry.insert("statistic".into(), statistic.map_or(Value::Null, finite));
    entry.insert("threshold".into(), json!(threshold));
    entry.insert("drifted".into(), drifted.map_or(Value::Null, Value::Bool));
    entry.insert(
        "current_count".into(),
        json!(
            numeric
                .as_ref()
                .map(|s| s.current_count)
                .or(categorical.as_ref().map(|s| s.current_count))
                .unwrap_or(0)
        ),
    );
    let stats = match (is_numeric, &numeric, &categorical) {
        (true, Some(n), _) => numeric_json(n),
        (false, _, Some(c)) => categorical_json(c),
        _ => Value::Null,
    };
    entry.insert("stats".into(), stats);
    if is_numeric && let Some(c) = &categorical {
        entry.insert("categorical_stats".into(), categorical_json(c));
    }
    if stale > 0 {
        entry.insert("stale_values".into(), json!(stale));
    }
    entry.insert(
        "distribution".into(),
        distribution(reference.features.get(name), current, reference.generation),
    );
    (Value::Object(entry), drifted)
}

/// The drift answer (without the range fields the caller adds).
pub fn drift_answer(
    model: &Model,
    reference: &ReferenceProfile,
    current: &WindowFeatures,
) -> Value {
    let mut features = Vec::new();
    let (mut judged, mut drifted) = (0u64, 0u64);
    for spec in model.features() {
        let (entry, verdict) = feature_drift(
            &spec.name,
            spec.kind,
            (spec.drift_method.as_deref(), spec.drift_threshold),
            reference,
            current.features.get(&spec.name),
        );
        if let Some(verdict) = verdict {
            judged += 1;
            drifted += verdict as u64;
        }
        features.push(entry);
    }
    // Features by drift: drifted first, then by statistic strength.
    let prediction_kind = if model.task().is_classification() {
        FeatureType::Categorical
    } else {
        FeatureType::Numeric
    };
    let (prediction, _) = feature_drift(
        PREDICTION,
        prediction_kind,
        (None, None),
        reference,
        current.features.get(PREDICTION),
    );
    let mut answer = json!({
        "reference_count": reference.rows,
        "current_count": current.rows,
        "dataset_drift": judged > 0 && drifted as f64 / judged as f64 >= DATASET_DRIFT_SHARE,
        "drifted_features": drifted,
        "features_total": judged,
        "drift_share": if judged > 0 { json!(drifted as f64 / judged as f64) } else { Value::Null },
        "features": features,
        "prediction": prediction,
    });
    if model.task() == crate::schema::Task::BinaryClassification {
        let (score, _) = feature_drift(
            SCORE,
            FeatureType::Numeric,
            (None, None),
            reference,
            current.features.get(SCORE),
        );
        answer["score"] = score;
    }
    answer
}

/// The quality answer for the current range (`reference` for out-of-range values and
/// new categories).
pub fn quality_answer(
    model: &Model,
    reference: Option<&ReferenceProfile>,
    current: &WindowFeatures,
) -> Value {
    let mut features = Vec::new();
    for spec in model.features() {
        let profile = current.features.get(&spec.name);
        let reference_feature = reference.and_then(|r| r.features.get(&spec.name));
        let missing = profile.map_or(0, FeatureProfile::missing);
        // Rows before the feature was added count as missing too.
        let count = current.rows;
        let missing =
            missing + count.saturating_sub(profile.map_or(0, |p| present(p) + p.missing()));
        let mut entry = json!({
            "name": spec.name,
            "type": match spec.kind { FeatureType::Numeric => "numeric", FeatureType::Categorical => "categorical" },
            "count": count,
            "missing": missing,
            "missing_share": if count > 0 { json!(missing as f64 / count as f64) } else { Value::Null },
            "type_errors": match profile {
                Some(FeatureProfile::Numeric(p)) => p.type_errors,
                Some(FeatureProfile::Categorical(p)) => p.type_errors,
                None => 0,
            },
        });
        match (spec.kind, profile) {
            (FeatureType::Numeric, profile) => {
                let p = match profile {
                    Some(FeatureProfile::Numeric(p)) => Some(p),
                    _ => None,
                };
                let sketch = p.map(|p| &p.sketch);
                let quantile = |q: f64| {
                    sketch
                        .and_then(|s| s.quantile(q))
                        .map_or(Value::Null, finite)
                };
                entry["min"] = sketch.and_then(|s| s.min()).map_or(Value::Null, finite);
                entry["max"] = sketch.and_then(|s| s.max()).map_or(Value::Null, finite);
                entry["mean"] = p
                    .filter(|p| p.sketch.count() > 0)
                    .map_or(Value::Null, |p| finite(p.mean));
                entry["std"] = p.and_then(|p| p.std()).map_or(Value::Null, finite);
                for (name, q) in [
                    ("p5", 0.05),
                    ("p25", 0.25),
                    ("p50", 0.5),
                    ("p75", 0.75),
                    ("p95", 0.95),
                ] {
                    entry[name] = quantile(q);
                }
                let values = p.map_or(0, |p| p.sketch.count());
                entry["out_of_range"] = match (reference, reference_feature) {
                    (Some(r), Some(ReferenceFeature::Numeric(numeric))) if numeric.count > 0 => {
                        match p.and_then(|p| p.bins_for(r.generation)) {
                            Some(bins) => {
                                let last = (2 * numeric.edges.len()) as u32;
                                json!(
                                    bins.slots
                                        .iter()
                                        .filter(|(s, _)| *s == 0 || *s == last)
                                        .map(|(_, (n, _))| n)
                                        .sum::<u64>()
                                )
                            }
                            // No value to be out of range; or values not binned against this reference.
                            None if values == 0 => json!(0),
                            None => Value::Null,
                        }
                    }
                    _ => Value::Null,
                };
            }
            (FeatureType::Categorical, profile) => {
                let counts = match profile {
                    Some(FeatureProfile::Categorical(p)) => p.counts.clone(),
                    _ => BTreeMap::new(),
                };
                let mut top: Vec<(&String, &u64)> = counts.iter().collect();
                top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
                entry["distinct"] = json!(counts.len());
                entry["top"] = top.iter().take(10).map(|(v, n)| json!([v, n])).collect();
                entry["new_categories"] = match reference_feature {
                    Some(ReferenceFeature::Categorical(r)) => counts
                        .keys()
                        .filter(|k| !r.counts.contains_key(*k))
                        .map(|k| json!(k))
                        .collect(),
                    _ => Value::Null,
                };
            }
        }
        features.push(entry);
    }
    json!({
        "rows": current.rows,
        "unknown_features": current.unknown_features,
        "features": features,
    })
}

fn present(profile: &FeatureProfile) -> u64 {
    match profile {
        FeatureProfile::Numeric(p) => p.sketch.count(),
        FeatureProfile::Categorical(p) => p.present(),
    }
}

/// Checks a feature's drift settings against its type.
pub fn check_method(kind: FeatureType, method: &str) -> Result<(), String> {
    match Method::parse(method) {
        None => Err(format!(
            "unknown drift method `{method}` (use one of {})",
            Method::ALL
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(m) if m.numeric_only() && kind == FeatureType::Categorical => {
            Err(format!("`{method}` applies to numeric features only"))
        }
        Some(_) => Ok(()),
    }
}
