//! Property tests of drift: statistics from window profiles merged in any grouping
//! equal those from one profile of all the values, and equal the definitions computed
//! directly from the raw values (exactly while the current side keeps its values and
//! the reference has at most 1,000 distinct values; within API.md's tolerances beyond).
//! One feature's drift computed alone equals its entry of the whole answer.

use modelwatch_core::drift::report::drift_answer;
use modelwatch_core::drift::verdict::{drift_verdicts, feature_drift, prediction_drift};
use modelwatch_core::drift::{ReferenceBuilder, WindowFeatures};
use modelwatch_core::event::{PredictionEvent, Target};
use modelwatch_core::{FeatureValue, Model, ModelDefinition};
use proptest::prelude::*;
use serde_json::{Value, json};

fn model() -> Model {
    let definition: ModelDefinition = serde_json::from_value(json!({
        "task": "regression",
        "features": [{"name": "x", "type": "numeric"}, {"name": "c", "type": "categorical"}]
    }))
    .unwrap();
    Model::new("m", definition).unwrap()
}

fn event(x: Option<f64>, c: &str) -> PredictionEvent {
    PredictionEvent {
        id: String::new(),
        timestamp_ms: 0,
        version: "v".into(),
        features: vec![
            x.map_or(FeatureValue::Missing, FeatureValue::Number),
            FeatureValue::Category(c.into()),
        ],
        unknown_features: 0,
        prediction: Some(Target::Value(x.unwrap_or(0.0))),
        score: None,
        label: None,
        latency_ms: None,
        error: false,
    }
}

/// Two-sample KS D and Wasserstein-1 by their definitions, from raw values.
fn raw_ks_wasserstein(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    all.dedup();
    let cdf = |sample: &[f64], x: f64| {
        sample.iter().filter(|v| **v <= x).count() as f64 / sample.len() as f64
    };
    let (mut ks, mut wasserstein) = (0.0f64, 0.0);
    for (i, x) in all.iter().enumerate() {
        let gap = (cdf(a, *x) - cdf(b, *x)).abs();
        ks = ks.max(gap);
        if let Some(next) = all.get(i + 1) {
            wasserstein += gap * (next - x);
        }
    }
    (ks, wasserstein)
}

fn feature<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap()
}

fn values(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
    // Values on a coarse grid make ties common, as in real data.
    prop::collection::vec((-500i32..500).prop_map(|v| v as f64 / 8.0), 1..max_len)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merged_windows_equal_raw_values(
        reference in values(900),
        current in values(600),
        shift in -20.0f64..20.0,
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let model = model();
        let mut builder = ReferenceBuilder::new(&model);
        for (i, x) in reference.iter().enumerate() {
            builder.observe(&model, &event(Some(*x), ["a", "b", "c"][i % 3]));
        }
        let reference_profile = builder.finish(1).unwrap();
        let current: Vec<f64> = current.iter().map(|x| x + shift).collect();
        let events: Vec<PredictionEvent> =
            current.iter().enumerate().map(|(i, x)| event(Some(*x), ["a", "b", "d"][i % 3])).collect();
        let mut whole = WindowFeatures::default();
        for e in &events {
            whole.observe(&model, e, Some(&reference_profile));
        }
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
        bounds.extend([0, events.len()]);
        bounds.sort_unstable();
        let mut merged = WindowFeatures::default();
        for window in bounds.windows(2).rev() {
            let mut part = WindowFeatures::default();
            for e in &events[window[0]..window[1]] {
                part.observe(&model, e, Some(&reference_profile));
            }
            merged.merge(&part);
        }
        let typed = drift_answer(&model, &reference_profile, &merged);
        for name in ["x", "c"] {
            prop_assert_eq!(
                feature_drift(&model, &reference_profile, &merged, name),
                Some(typed.feature(name).unwrap().verdict())
            );
        }
        prop_assert_eq!(
            prediction_drift(&model, &reference_profile, &merged),
            typed.prediction.verdict()
        );
        let verdicts = drift_verdicts(&model, &reference_profile, &merged);
        prop_assert_eq!(verdicts.tally.share(), typed.drift_share);
        prop_assert_eq!(verdicts.tally.judged, typed.features_total);
        let from_whole = serde_json::to_value(drift_answer(&model, &reference_profile, &whole)).unwrap();
        let from_merged = serde_json::to_value(typed).unwrap();
        for name in ["x", "c"] {
            let (a, b) = (feature(&from_whole, name), feature(&from_merged, name));
            prop_assert_eq!(&a["drifted"], &b["drifted"]);
            for (key, va) in a["stats"].as_object().unwrap() {
                let (x, y) = (va.as_f64().unwrap(), b["stats"][key].as_f64().unwrap());
                prop_assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{} {}: {} vs {}", name, key, x, y);
            }
        }
        let (ks, wasserstein) = raw_ks_wasserstein(&reference, &current);
        let stats = &feature(&from_merged, "x")["stats"];
        let got_ks = stats["ks_statistic"].as_f64().unwrap();
        let got_w = stats["wasserstein"].as_f64().unwrap();
        prop_assert!((got_ks - ks).abs() <= 1e-9, "KS {} vs raw {}", got_ks, ks);
        prop_assert!((got_w - wasserstein).abs() <= 1e-9 * wasserstein.max(1.0), "W {} vs raw {}", got_w, wasserstein);
        // The plotted histogram: numpy.histogram's bins over both sides' range, counted
        // from the raw values.
        let distribution = &feature(&from_merged, "x")["distribution"];
        prop_assert_eq!(distribution, &feature(&from_whole, "x")["distribution"]);
        if distribution["kind"] == "histogram" {
            let (lo, hi) = reference.iter().chain(&current).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
            let edges: Vec<f64> = distribution["edges"].as_array().unwrap().iter().map(|e| e.as_f64().unwrap()).collect();
            prop_assert_eq!(edges.len(), 21);
            prop_assert_eq!(edges[0], lo);
            prop_assert_eq!(edges[20], hi);
            let raw_counts = |sample: &[f64]| -> Vec<u64> {
                (0..20).map(|i| sample.iter().filter(|x| **x >= edges[i] && (**x < edges[i + 1] || (i == 19 && **x <= edges[20]))).count() as u64).collect()
            };
            let got = |side: &str| -> Vec<u64> { distribution[side].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect() };
            prop_assert_eq!(got("reference"), raw_counts(&reference));
            prop_assert_eq!(got("current"), raw_counts(&current));
        }
        let bars = &feature(&from_merged, "c")["distribution"];
        let categories: Vec<&str> = bars["categories"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        for (i, name) in categories.iter().enumerate() {
            let raw = |n: usize, names: [&str; 3]| (0..n).filter(|k| names[k % 3] == *name).count() as u64;
            prop_assert_eq!(bars["reference"][i].as_u64().unwrap(), raw(reference.len(), ["a", "b", "c"]));
            prop_assert_eq!(bars["current"][i].as_u64().unwrap(), raw(current.len(), ["a", "b", "d"]));
        }
    }
}

/// A deterministic normal-like sample (sum of uniforms).
fn normal(i: usize, scale: f64, shift: f64) -> f64 {
    let u: f64 = (0..12)
        .map(|k| ((i * 7919 + k * 104_729) % 10_007) as f64 / 10_007.0)
        .sum::<f64>()
        - 6.0;
    shift + scale * u
}

/// Binned (too many current values to keep) statistics against the raw definitions.
fn check_binned(reference: &[f64], current: &[f64]) {
    let model = model();
    let mut builder = ReferenceBuilder::new(&model);
    for x in reference {
        builder.observe(&model, &event(Some(*x), "a"));
    }
    let reference_profile = builder.finish(1).unwrap();
    let mut merged = WindowFeatures::default();
    for chunk in current.chunks(1000) {
        let mut part = WindowFeatures::default();
        for x in chunk {
            part.observe(&model, &event(Some(*x), "a"), Some(&reference_profile));
        }
        merged.merge(&part);
    }
    let answer = serde_json::to_value(drift_answer(&model, &reference_profile, &merged)).unwrap();
    let stats = &feature(&answer, "x")["stats"];
    let (ks, wasserstein) = raw_ks_wasserstein(reference, current);
    let got_ks = stats["ks_statistic"].as_f64().unwrap();
    let got_w = stats["wasserstein"].as_f64().unwrap();
    assert!((got_ks - ks).abs() <= 0.005, "KS {got_ks} vs raw {ks}");
    assert!(
        (got_w - wasserstein).abs() <= 0.01 * wasserstein,
        "W {got_w} vs raw {wasserstein} ({:+.3}%)",
        100.0 * (got_w / wasserstein - 1.0)
    );
}

#[test]
fn binned_no_drift_small_reference_within_tolerance() {
    let reference: Vec<f64> = (0..500).map(|i| normal(i, 1.0, 0.0)).collect();
    let current: Vec<f64> = (0..20_000).map(|i| normal(i + 90_000, 1.0, 0.0)).collect();
    check_binned(&reference, &current);
}

#[test]
fn binned_no_drift_large_reference_within_tolerance() {
    let reference: Vec<f64> = (0..20_000).map(|i| normal(i, 1.0, 0.0)).collect();
    let current: Vec<f64> = (0..20_000).map(|i| normal(i + 90_000, 1.0, 0.0)).collect();
    check_binned(&reference, &current);
}

#[test]
fn binned_statistics_stay_within_api_tolerances() {
    // A large reference and a shifted, wider current side too large to keep exactly.
    let reference: Vec<f64> = (0..20_000).map(|i| normal(i, 1.0, 0.0)).collect();
    let current: Vec<f64> = (0..12_000).map(|i| normal(i + 50_000, 1.3, 0.4)).collect();
    check_binned(&reference, &current);
}

/// A spill that keeps columns in memory, counting what passes through it.
struct CountingSpill {
    columns: std::collections::HashMap<String, Vec<f64>>,
    appended: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl modelwatch_core::drift::reference::ColumnSpill for CountingSpill {
    fn append(&mut self, name: &str, values: &[f64]) -> std::io::Result<()> {
        self.appended
            .fetch_add(values.len(), std::sync::atomic::Ordering::Relaxed);
        self.columns
            .entry(name.to_string())
            .or_default()
            .extend_from_slice(values);
        Ok(())
    }
    fn take(&mut self, name: &str) -> std::io::Result<Vec<f64>> {
        Ok(self.columns.remove(name).unwrap_or_default())
    }
}

#[test]
fn a_spilled_reference_equals_one_held_in_memory() {
    let model = model();
    let rows = modelwatch_core::drift::reference::SPILL_VALUES / 2 + 1000;
    let appended = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut in_memory = ReferenceBuilder::new(&model);
    let mut spilled = ReferenceBuilder::new(&model).with_spill(Box::new(CountingSpill {
        columns: Default::default(),
        appended: appended.clone(),
    }));
    for i in 0..rows {
        // Two numeric columns (x and the regression prediction): past the spill size.
        let e = event(
            Some(normal(i, 3.0, 1.0)),
            if i % 7 == 0 { "a" } else { "b" },
        );
        in_memory.observe(&model, &e);
        spilled.observe(&model, &e);
    }
    assert!(
        appended.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "nothing was spilled"
    );
    assert_eq!(spilled.finish(1).unwrap(), in_memory.finish(1).unwrap());
}
