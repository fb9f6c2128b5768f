//! Feature quantiles (`p5` … `p95` of the quality answer) against numpy
//! (`testdata/quantiles/gen_quantiles.py`): on skewed, integer and heavily tied data,
//! each window profiled apart and the windows merged, as a query over many windows does.
//! Each answer must lie between numpy's quantiles at `q − 0.005` and `q + 0.005` (API.md's
//! rank guarantee), and equal numpy's exactly up to 4,096 values.

use std::path::PathBuf;

use modelwatch_core::drift::WindowFeatures;
use modelwatch_core::drift::quality::quality_answer;
use modelwatch_core::event::{FeatureValue, PredictionEvent, Target};
use modelwatch_core::{Model, ModelDefinition};
use serde_json::{Value, json};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/quantiles")
}

fn model() -> Model {
    let definition: ModelDefinition = serde_json::from_value(json!({
        "task": "regression", "features": [{"name": "x", "type": "numeric"}]
    }))
    .unwrap();
    Model::new("m", definition).unwrap()
}

/// The quality answer's `p*` of `x` after profiling `values` in windows of `window` values
/// and merging them.
fn quantiles(values: &[f64], window: usize) -> Vec<f64> {
    let model = model();
    let mut merged = WindowFeatures::default();
    for chunk in values.chunks(window) {
        let mut part = WindowFeatures::default();
        for v in chunk {
            let event = PredictionEvent {
                id: String::new(),
                timestamp_ms: 0,
                version: "v".into(),
                features: vec![FeatureValue::Number(*v)],
                unknown_features: 0,
                prediction: Some(Target::Value(0.0)),
                score: None,
                label: None,
                latency_ms: None,
                error: false,
            };
            part.observe(&model, &event, None);
        }
        merged.merge(&part);
    }
    let answer = serde_json::to_value(quality_answer(&model, None, &merged)).unwrap();
    let x = answer["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "x")
        .unwrap()
        .clone();
    ["p5", "p25", "p50", "p75", "p95"]
        .iter()
        .map(|k| x[k].as_f64().unwrap())
        .collect()
}

fn check(name: &str, window: usize) {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir().join("expected.json")).unwrap()).unwrap();
    let entry = &expected["sets"][name];
    let text = std::fs::read_to_string(dir().join(format!("{name}.csv"))).unwrap();
    let values: Vec<f64> = text.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(Some(values.len() as u64), entry["count"].as_u64());
    let got = quantiles(&values, window);
    for (value, want) in got.iter().zip(entry["quantiles"].as_array().unwrap()) {
        let (q, exact) = (want["q"].as_f64().unwrap(), want["exact"].as_f64().unwrap());
        if values.len() <= 4096 {
            assert_eq!(*value, exact, "{name} q={q}: numpy says {exact}");
        } else {
            let (low, high) = (
                want["low"].as_f64().unwrap(),
                want["high"].as_f64().unwrap(),
            );
            assert!(
                low <= *value && *value <= high,
                "{name} q={q} (windows of {window}): {value} outside numpy's [{low}, {high}]"
            );
        }
    }
}

#[test]
fn skewed_values_within_the_rank_guarantee() {
    check("skewed", 600);
    check("skewed", 20_000);
}

#[test]
fn integer_values_within_the_rank_guarantee() {
    check("integers", 250);
    check("integers", 7_000);
}

#[test]
fn heavily_tied_values_within_the_rank_guarantee() {
    check("ties", 400);
    check("ties", 30_000);
}

#[test]
fn small_integer_samples_are_exact_as_numpy() {
    // 3,000 values over 30 windows: 4 is 4, never 3.99.
    check("small_integers", 100);
}
