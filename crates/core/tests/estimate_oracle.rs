//! Estimated performance (CBPE) against NannyML 0.13 and the truth, and Wilson intervals
//! against statsmodels: `testdata/estimate/gen_cbpe.py` wrote the data (known
//! probabilities, labels drawn from them, covariate shift over the chunks) and
//! `expected.json`.

use std::path::PathBuf;

use modelwatch_core::drift::{ReferenceBuilder, ReferenceProfile};
use modelwatch_core::estimate::Estimation;
use modelwatch_core::event::{InputLimits, validate_prediction, validate_reference_row};
use modelwatch_core::interval::wilson;
use modelwatch_core::{Model, ModelDefinition, PredictionEvent, WindowProfile};
use serde_json::{Map, Value, json};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/estimate")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap()).unwrap()
}

fn model() -> Model {
    let definition: ModelDefinition = serde_json::from_value(json!({
        "task": "binary_classification", "classes": ["0", "1"],
        "features": [{"name": "x", "type": "numeric"}]
    }))
    .unwrap();
    Model::new("m", definition).unwrap()
}

/// Rows of a CSV as `(chunk, record)`.
fn rows(file: &str) -> Vec<(i64, Map<String, Value>)> {
    let mut reader = csv::Reader::from_path(dir().join(file)).unwrap();
    let headers = reader.headers().unwrap().clone();
    let now = 1_700_000_000_000_i64;
    reader
        .records()
        .enumerate()
        .map(|(i, record)| {
            let record = record.unwrap();
            let field = |name: &str| &record[headers.iter().position(|h| h == name).unwrap()];
            let number = |name: &str| field(name).parse::<f64>().unwrap();
            let chunk = headers
                .iter()
                .position(|h| h == "chunk")
                .map_or(0, |i| record[i].parse().unwrap());
            let mut map = Map::new();
            map.insert("id".into(), json!(format!("r{i}")));
            map.insert("timestamp".into(), json!(now));
            map.insert("features".into(), json!({"x": number("x")}));
            map.insert("prediction".into(), json!(field("prediction")));
            map.insert("score".into(), json!(number("score")));
            map.insert("label".into(), json!(field("label")));
            (chunk, map)
        })
        .collect()
}

fn reference(model: &Model, name: &str) -> ReferenceProfile {
    let mut builder = ReferenceBuilder::new(model);
    for (_, row) in rows(&format!("{name}.reference.csv")) {
        builder.observe(
            model,
            &validate_reference_row(model, row, &InputLimits::default()).unwrap(),
        );
    }
    builder.finish(1).unwrap()
}

/// The chunks' events, labelled.
fn chunks(model: &Model, name: &str) -> Vec<Vec<PredictionEvent>> {
    let mut chunks: Vec<Vec<PredictionEvent>> = Vec::new();
    for (chunk, row) in rows(&format!("{name}.analysis.csv")) {
        let event = validate_prediction(model, &row, 1_700_000_000_000).unwrap();
        if chunks.len() <= chunk as usize {
            chunks.resize(chunk as usize + 1, Vec::new());
        }
        chunks[chunk as usize].push(event);
    }
    chunks
}

fn unlabelled_profile(model: &Model, events: &[PredictionEvent]) -> WindowProfile {
    let mut profile = WindowProfile::default();
    for event in events {
        let mut event = event.clone();
        event.label = None;
        profile.observe_prediction(model, &event);
    }
    profile
}

/// `clear_verdict`: whether calibration clearly helps or not, so the verdict must be
/// NannyML's. On a calibrated reference the two expected calibration errors are a near
/// tie, decided by which rows are held out (NannyML draws them at random, modelwatch
/// takes stratified folds in row order), and the estimates must agree either way.
fn check_scenario(name: &str, clear_verdict: bool) {
    let model = model();
    let expected = expected();
    let scenario = &expected[name];
    let reference = reference(&model, name);
    let estimation: &Estimation = reference.estimation.as_ref().expect("labels and scores");
    if clear_verdict {
        assert_eq!(
            estimation.classes[0].map.is_some(),
            scenario["needs_calibration"].as_bool().unwrap(),
            "{name}: calibration decided as NannyML does"
        );
    }
    for (events, chunk) in chunks(&model, name)
        .iter()
        .zip(scenario["chunks"].as_array().unwrap())
    {
        assert!(events.len() >= 2_000);
        let profile = unlabelled_profile(&model, events);
        let metrics = profile.metrics_estimated(&model, Some(estimation));
        assert_eq!(metrics.label_coverage, Some(Some(0.0)));
        let estimates = [
            ("accuracy", metrics.estimated_accuracy, 0.01),
            ("f1", metrics.estimated_f1, 0.01),
            ("precision", metrics.estimated_precision, 0.01),
            ("recall", metrics.estimated_recall, 0.01),
            ("roc_auc", metrics.estimated_roc_auc, 0.02),
        ];
        for (metric, estimate, tolerance) in estimates {
            let estimate = estimate.flatten().unwrap();
            let nannyml = chunk["nannyml"][metric].as_f64().unwrap();
            assert!(
                (estimate - nannyml).abs() <= tolerance,
                "{name} chunk {}: {metric} {estimate} vs NannyML {nannyml}",
                chunk["chunk"]
            );
        }
        for (metric, estimate) in [
            ("accuracy", metrics.estimated_accuracy),
            ("f1", metrics.estimated_f1),
        ] {
            let estimate = estimate.flatten().unwrap();
            let realised = chunk["realised"][metric].as_f64().unwrap();
            assert!(
                (estimate - realised).abs() <= 0.02,
                "{name} chunk {}: {metric} {estimate} vs realised {realised}",
                chunk["chunk"]
            );
        }
        let (lower, upper) = (
            metrics.estimated_accuracy_lower.flatten().unwrap(),
            metrics.estimated_accuracy_upper.flatten().unwrap(),
        );
        let value = metrics.estimated_accuracy.flatten().unwrap();
        assert!(lower < value && value < upper && upper - lower < 0.05);

        // The late labels land: the estimates become the realised values.
        let mut labelled = profile.clone();
        for event in events {
            labelled.observe_label(
                &model,
                event.prediction.as_ref().unwrap(),
                event.score.as_ref(),
                event.label.as_ref().unwrap(),
            );
        }
        let metrics = labelled.metrics_estimated(&model, Some(estimation));
        assert_eq!(metrics.label_coverage, Some(Some(1.0)));
        for (metric, estimate, realised) in [
            ("accuracy", metrics.estimated_accuracy, metrics.accuracy),
            ("f1", metrics.estimated_f1, metrics.f1),
            ("roc_auc", metrics.estimated_roc_auc, metrics.roc_auc),
        ] {
            let (estimate, realised) = (estimate.flatten().unwrap(), realised.flatten().unwrap());
            assert!(
                (estimate - realised).abs() < 1e-9,
                "{metric}: {estimate} vs {realised}"
            );
            let truth = chunk["realised"][metric].as_f64().unwrap();
            assert!(
                (realised - truth).abs() < 1e-3,
                "{metric}: {realised} vs {truth}"
            );
        }
    }
}

#[test]
fn calibrated_scores_match_nannyml_and_the_truth() {
    check_scenario("calibrated", false);
}

#[test]
fn miscalibrated_scores_are_calibrated_and_match_nannyml_and_the_truth() {
    check_scenario("skewed", true);
}

#[test]
fn merging_windows_in_any_grouping_gives_the_same_estimate() {
    let model = model();
    let reference = reference(&model, "skewed");
    let estimation = reference.estimation.as_ref();
    let events = &chunks(&model, "skewed")[2];
    let whole = unlabelled_profile(&model, events).metrics_estimated(&model, estimation);
    // Groupings of different sizes, merged in different orders and shapes.
    for parts in [2usize, 7, 64, 500] {
        let profiles: Vec<WindowProfile> = events
            .chunks(events.len().div_ceil(parts))
            .map(|part| unlabelled_profile(&model, part))
            .collect();
        let mut forward = WindowProfile::default();
        profiles.iter().for_each(|p| forward.merge(p));
        let mut tree: Vec<WindowProfile> = profiles.iter().rev().cloned().collect();
        while tree.len() > 1 {
            tree = tree
                .chunks(2)
                .map(|pair| {
                    let mut merged = pair[0].clone();
                    if let Some(other) = pair.get(1) {
                        merged.merge(other);
                    }
                    merged
                })
                .collect();
        }
        let decoded = WindowProfile::decode(&tree[0].encode()).unwrap();
        for merged in [&forward, &tree[0], &decoded] {
            let m = merged.metrics_estimated(&model, estimation);
            for name in [
                "estimated_accuracy",
                "estimated_accuracy_lower",
                "estimated_f1",
                "estimated_precision",
                "estimated_recall_upper",
                "estimated_roc_auc",
                "estimated_roc_auc_lower",
            ] {
                let (a, b) = (m.value(name).unwrap(), whole.value(name).unwrap());
                assert!((a - b).abs() < 1e-9, "{parts} parts: {name} {a} vs {b}");
            }
        }
    }
}

#[test]
fn wilson_equals_statsmodels() {
    for case in expected()["wilson"].as_array().unwrap() {
        let (count, nobs) = (
            case["count"].as_u64().unwrap(),
            case["nobs"].as_u64().unwrap(),
        );
        let (lower, upper) = wilson(count, nobs).unwrap();
        let (want_lower, want_upper) = (
            case["lower"].as_f64().unwrap(),
            case["upper"].as_f64().unwrap(),
        );
        assert!(
            (lower - want_lower).abs() < 1e-12,
            "{count}/{nobs}: {lower} vs {want_lower}"
        );
        assert!(
            (upper - want_upper).abs() < 1e-12,
            "{count}/{nobs}: {upper} vs {want_upper}"
        );
    }
}

#[test]
fn a_reference_without_labels_gives_no_estimation_and_old_encodings_still_read() {
    let model = model();
    let mut builder = ReferenceBuilder::new(&model);
    for (_, mut row) in rows("calibrated.reference.csv").into_iter().take(100) {
        row.remove("label");
        builder.observe(
            &model,
            &validate_reference_row(&model, row, &InputLimits::default()).unwrap(),
        );
    }
    let profile = builder.finish(1).unwrap();
    assert!(profile.estimation.is_none());
    let metrics = WindowProfile::default().metrics_estimated(&model, None);
    assert_eq!(metrics.estimated_accuracy, None);
    let with = reference(&model, "calibrated");
    assert_eq!(ReferenceProfile::decode(&with.encode()).unwrap(), with);
}
