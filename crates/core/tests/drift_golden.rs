//! Golden drift and quality tests: statistics computed from the checked-in reference
//! and current CSV files must equal scipy's (`testdata/drift/gen_drift.py`) within
//! API.md's tolerances, and the verdicts must be the same. One feature's drift and
//! quality computed alone equal their entries of the whole answers, and the typed
//! answers read back from their JSON unchanged.

use std::path::PathBuf;

use modelwatch_core::answer::{DriftAnswer, QualityAnswer};
use modelwatch_core::drift::quality::{feature_quality, quality_answer};
use modelwatch_core::drift::report::drift_answer;
use modelwatch_core::drift::verdict::{drift_verdicts, feature_drift, prediction_drift};
use modelwatch_core::offline::{OfflineProfiles, reference_from_csv};
use modelwatch_core::{Model, ModelDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[path = "support/drift_compare.rs"]
mod drift_compare;
use drift_compare::check_answers;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/drift")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

/// Drift and quality answers for a data set, and scipy's expectations.
fn answers(set: &str) -> (Value, Value, Value) {
    let definition: ModelDefinition =
        serde_json::from_slice(&read(&format!("{set}.schema.json"))).unwrap();
    let model = Model::new("golden", definition).unwrap();
    let reference_csv = read(&format!("{set}.reference.csv"));
    let reference = reference_from_csv(reference_csv.as_slice(), &model, 1).unwrap();
    assert!(reference.rejected.is_empty(), "{:?}", reference.rejected);
    let reference = reference.profile;
    let current_csv = read(&format!("{set}.current.csv"));
    let current =
        OfflineProfiles::from_csv(current_csv.as_slice(), &model, Some(&reference), 0, |_| {})
            .unwrap();
    assert!(current.rejected.is_empty(), "{:?}", current.rejected);
    let features = current.merged_features();
    let expected: Value = serde_json::from_slice(&read(&format!("{set}.expected.json"))).unwrap();
    let drift = drift_answer(&model, &reference, &features);
    let quality = quality_answer(&model, Some(&reference), &features);
    for spec in model.features() {
        let name = spec.name.as_str();
        assert_eq!(
            feature_drift(&model, &reference, &features, name),
            Some(drift.feature(name).unwrap().verdict()),
            "{set}: {name}"
        );
        assert_eq!(
            feature_quality(&model, Some(&reference), &features, name).as_ref(),
            quality.feature(name),
            "{set}: {name}"
        );
    }
    assert_eq!(
        feature_drift(&model, &reference, &features, "no such feature"),
        None
    );
    assert_eq!(
        prediction_drift(&model, &reference, &features),
        drift.prediction.verdict()
    );
    let verdicts = drift_verdicts(&model, &reference, &features);
    assert_eq!(verdicts.tally.share(), drift.drift_share);
    assert_eq!(verdicts.tally.dataset_drift(), drift.dataset_drift);
    assert_eq!(verdicts.tally.drifted, drift.drifted_features);
    assert_reads_back::<DriftAnswer>(&drift);
    assert_reads_back::<QualityAnswer>(&quality);
    (
        serde_json::to_value(drift).unwrap(),
        serde_json::to_value(quality).unwrap(),
        expected,
    )
}

/// The answer serializes in wire order (a sorted map's), and its JSON reads back into
/// the type and writes the same JSON again (floats parsed as a `Value` parses them:
/// serde_json's default parsing may differ from the written float by one ulp).
fn assert_reads_back<T: Serialize + DeserializeOwned>(answer: &T) {
    let text = serde_json::to_string(answer).unwrap();
    assert_eq!(text, serde_json::to_value(answer).unwrap().to_string());
    let typed: T = serde_json::from_str(&text).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&typed).unwrap(), value.to_string());
}

fn check(set: &str) {
    let (drift, quality, expected) = answers(set);
    check_answers(set, &drift, &quality, &expected);
}

#[test]
fn large_reference_matches_scipy() {
    check("large");
}

#[test]
fn small_reference_matches_scipy() {
    check("small");
}

#[test]
fn tiny_sample_matches_scipy() {
    check("tiny");
}

#[test]
fn empty_current_has_no_verdicts() {
    check("empty");
}
