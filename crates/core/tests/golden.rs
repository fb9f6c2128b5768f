//! Golden tests: metrics computed from the checked-in CSV files must equal the values
//! scikit-learn and numpy gave for the same rows (`testdata/golden/gen_metrics.py`),
//! over the whole range, per UTC day, and per version.

use std::path::PathBuf;

use modelwatch_core::answer::Metrics;
use modelwatch_core::offline::OfflineProfiles;
use modelwatch_core::time::{DAY_MS, format_timestamp};
use modelwatch_core::{Model, ModelDefinition};
use serde_json::{Map, Value};

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

/// Compares one metrics object with scikit-learn's, within API.md's tolerances.
fn assert_metrics(context: &str, actual: &Metrics, expected: &Map<String, Value>) {
    let actual = serde_json::to_value(actual).unwrap();
    let actual = actual.as_object().unwrap();
    for (name, want) in expected {
        let got = actual
            .get(name)
            .unwrap_or_else(|| panic!("{context}: no metric {name}"));
        match name.as_str() {
            "count" | "labelled_count" | "confusion_matrix" => {
                assert_eq!(got, want, "{context}: {name}")
            }
            _ => {
                let (got, want) = (got.as_f64().unwrap(), want.as_f64().unwrap());
                let tolerance = match name.as_str() {
                    "roc_auc" => 0.001,
                    n if n.starts_with("latency_") => 0.01 * want.abs(),
                    _ => 1e-9 * want.abs().max(1.0),
                };
                assert!(
                    (got - want).abs() <= tolerance,
                    "{context}: {name} = {got}, scikit-learn says {want}"
                );
            }
        }
    }
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
