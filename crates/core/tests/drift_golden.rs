//! Golden drift and quality tests: statistics computed from the checked-in reference
//! and current CSV files must equal scipy's (`testdata/drift/gen_drift.py`) within
//! API.md's tolerances, and the verdicts must be the same.

use std::path::PathBuf;

use modelwatch_core::drift::report::{drift_answer, quality_answer};
use modelwatch_core::offline::{OfflineProfiles, reference_from_csv};
use modelwatch_core::{Model, ModelDefinition};
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
    let features = current.merged_features(None);
    let expected: Value = serde_json::from_slice(&read(&format!("{set}.expected.json"))).unwrap();
    (
        drift_answer(&model, &reference, &features),
        quality_answer(&model, Some(&reference), &features),
        expected,
    )
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
