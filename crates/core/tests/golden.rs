//! Golden tests: metrics computed from the checked-in CSV files must equal the values
//! scikit-learn and numpy gave for the same rows (`testdata/golden/gen_metrics.py`),
//! over the whole range, per UTC day, and per version.

use std::path::PathBuf;

use modelwatch_core::offline::OfflineProfiles;
use modelwatch_core::time::{DAY_MS, format_timestamp};
use modelwatch_core::{Model, ModelDefinition};
use serde_json::Value;

#[path = "support/metrics_compare.rs"]
mod metrics_compare;
use metrics_compare::assert_metrics;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden")
}

fn load(task: &str) -> (Model, OfflineProfiles, Value) {
    let dir = golden_dir();
    let schema: ModelDefinition =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{task}.schema.json"))).unwrap())
            .unwrap();
    let model = Model::new("golden", schema).unwrap();
    let csv = std::fs::File::open(dir.join(format!("{task}.csv"))).unwrap();
    let profiles = OfflineProfiles::from_csv(csv, &model, None, 0, |_| {}).unwrap();
    assert!(profiles.rejected.is_empty(), "{:?}", profiles.rejected);
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{task}.expected.json"))).unwrap())
            .unwrap();
    (model, profiles, expected)
}

fn check_task(task: &str) {
    let (model, profiles, expected) = load(task);
    let summary = profiles.merged(None, None).unwrap().summary.metrics(&model);
    assert_metrics(
        &format!("{task} summary"),
        &summary,
        expected["summary"].as_object().unwrap(),
    );

    let daily = profiles.merged(None, Some(DAY_MS)).unwrap().series;
    let expected_days = expected["daily"].as_array().unwrap();
    assert_eq!(daily.len(), expected_days.len(), "{task}: number of days");
    for ((start, profile), want) in daily.iter().zip(expected_days) {
        assert_eq!(format_timestamp(*start), want["start"].as_str().unwrap());
        assert_metrics(
            &format!("{task} day {}", format_timestamp(*start)),
            &profile.metrics(&model),
            want["metrics"].as_object().unwrap(),
        );
    }

    for (version, want) in expected["by_version"].as_object().unwrap() {
        let merged = profiles.merged(Some(version), None).unwrap();
        assert_metrics(
            &format!("{task} version {version}"),
            &merged.summary.metrics(&model),
            want.as_object().unwrap(),
        );
    }
}

#[test]
fn binary_matches_scikit_learn() {
    check_task("binary");
}

#[test]
fn multiclass_matches_scikit_learn() {
    check_task("multiclass");
}

#[test]
fn regression_matches_scikit_learn() {
    check_task("regression");
}

/// Twelve integer classes: the confusion matrix follows the declared (numeric) order, as
/// scikit-learn's does for integer labels, not the text order `0, 1, 10, 11, 2, ...`
/// (`testdata/golden/gen_classes.py`).
#[test]
fn integer_classes_keep_scikit_learn_order() {
    let (model, profiles, expected) = load("classes12");
    let summary = profiles.merged(None, None).unwrap().summary.metrics(&model);
    assert_metrics(
        "classes12 summary",
        &summary,
        expected["summary"].as_object().unwrap(),
    );
}
