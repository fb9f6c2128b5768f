//! Frozen fixtures: profile blobs written by older code (`testdata/frozen/`, see its
//! README) must still decode, to the values the golden data sets say they hold.
//!
//! A change of any stored layout has to keep these passing: give the new layout a new
//! tag byte and keep a reader for the old one. Never regenerate the blobs to make this
//! test pass.

use std::path::PathBuf;

use modelwatch_core::alert::baseline::ReferenceChunks;
use modelwatch_core::drift::quality::quality_answer;
use modelwatch_core::drift::reference::ReferenceFeature;
use modelwatch_core::drift::report::drift_answer;
use modelwatch_core::drift::{ReferenceProfile, WindowFeatures};
use modelwatch_core::{Model, ModelDefinition, WindowProfile};
use serde_json::Value;

#[path = "support/drift_compare.rs"]
mod drift_compare;
#[path = "support/metrics_compare.rs"]
mod metrics_compare;

fn testdata(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path)
}

fn read(path: &str) -> Vec<u8> {
    let path = testdata(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &str) -> Value {
    serde_json::from_slice(&read(path)).unwrap()
}

fn model(schema: &str) -> Model {
    Model::new(
        "frozen",
        serde_json::from_slice::<ModelDefinition>(&read(schema)).unwrap(),
    )
    .unwrap()
}

/// A frozen window profile of every golden row gives scikit-learn's summary metrics.
fn check_window_profile(task: &str) {
    let model = model(&format!("golden/{task}.schema.json"));
    let profile = WindowProfile::decode(&read(&format!("frozen/window-profile-{task}.bin")))
        .unwrap_or_else(|e| panic!("{task}: {e}"));
    let expected = json(&format!("golden/{task}.expected.json"));
    let summary = expected["summary"].as_object().unwrap();
    assert_eq!(Some(profile.count), summary["count"].as_u64(), "{task}");
    assert_eq!(
        Some(profile.labelled_count),
        summary["labelled_count"].as_u64(),
        "{task}"
    );
    let errors = summary["error_rate"].as_f64().unwrap() * profile.count as f64;
    assert_eq!(profile.error_count, errors.round() as u64, "{task}");
    metrics_compare::assert_metrics(&format!("frozen {task}"), &profile.metrics(&model), summary);
}

#[test]
fn frozen_binary_window_profile_decodes_to_the_golden_metrics() {
    check_window_profile("binary");
}

#[test]
fn frozen_multiclass_window_profile_decodes_to_the_golden_metrics() {
    check_window_profile("multiclass");
}

#[test]
fn frozen_regression_window_profile_decodes_to_the_golden_metrics() {
    check_window_profile("regression");
}

fn frozen_reference() -> ReferenceProfile {
    ReferenceProfile::decode(&read("frozen/reference-profile-small.bin")).unwrap()
}

#[test]
fn frozen_reference_profile_decodes_to_the_reference_rows() {
    let reference = frozen_reference();
    let expected = json("drift/small.expected.json");
    assert_eq!(reference.generation, 1);
    assert_eq!(Some(reference.rows), expected["reference_count"].as_u64());
    let features = expected["features"].as_object().unwrap();
    // The 12 features, `prediction` and `score`.
    assert_eq!(reference.features.len(), features.len() + 2);
    let pseudo = [
        ("prediction", &expected["prediction"]),
        ("score", &expected["score"]),
    ];
    for (name, want) in features
        .iter()
        .map(|(name, want)| (name.as_str(), want))
        .chain(pseudo)
    {
        let non_missing = want["reference_non_missing"].as_u64().unwrap();
        match &reference.features[name] {
            ReferenceFeature::Numeric(numeric) => {
                assert_eq!(want["type"], "numeric", "{name}");
                assert_eq!(numeric.count, non_missing, "{name}");
                assert_eq!(numeric.count + numeric.missing, reference.rows, "{name}");
                let distinct = want["reference_distinct"].as_u64().unwrap() as usize;
                let few = numeric.few_values.as_ref().map(Vec::len);
                assert_eq!(few, (distinct <= 5).then_some(distinct), "{name}");
                assert_eq!(numeric.slots.len(), 2 * numeric.edges.len() + 1, "{name}");
                let slotted: u64 = numeric.slots.iter().map(|(n, _)| n).sum();
                assert_eq!(slotted, numeric.count, "{name}");
                // numpy's decile edges (to the last bits: some differ from numpy's by
                // an ulp) and counts, where scipy computed them.
                if let Some(stats) = want["stats"].as_object() {
                    let edges: Vec<f64> = stats["bin_edges"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap())
                        .collect();
                    assert_eq!(numeric.decile_edges.len(), edges.len(), "{name}");
                    for (got, want) in numeric.decile_edges.iter().zip(&edges) {
                        assert!(
                            (got - want).abs() <= 1e-12 * want.abs(),
                            "{name}: {got} {want}"
                        );
                    }
                    let counts: Vec<u64> = stats["reference_bin_counts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_u64().unwrap())
                        .collect();
                    assert_eq!(numeric.decile_counts, counts, "{name}");
                }
            }
            ReferenceFeature::Categorical(categorical) => {
                assert_eq!(want["type"], "categorical", "{name}");
                assert_eq!(categorical.count, non_missing, "{name}");
                assert_eq!(categorical.counts.values().sum::<u64>(), non_missing);
                if let Some(stats) = want["stats"].as_object() {
                    let categories = stats["categories"].as_array().unwrap();
                    let counts = stats["reference_counts"].as_array().unwrap();
                    for (category, count) in categories.iter().zip(counts) {
                        let stored = categorical.counts.get(category.as_str().unwrap());
                        assert_eq!(
                            stored.copied().unwrap_or(0),
                            count.as_u64().unwrap(),
                            "{name} {category}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn frozen_window_features_give_scipys_drift_and_quality() {
    let model = model("drift/small.schema.json");
    let reference = frozen_reference();
    let features = WindowFeatures::decode(&read("frozen/window-features-small.bin")).unwrap();
    let expected = json("drift/small.expected.json");
    assert_eq!(Some(features.rows), expected["current_count"].as_u64());
    assert_eq!(features.unknown_features, 0);
    drift_compare::check_answers(
        "frozen small",
        &serde_json::to_value(drift_answer(&model, &reference, &features)).unwrap(),
        &serde_json::to_value(quality_answer(&model, Some(&reference), &features)).unwrap(),
        &expected,
    );
}

/// Accuracy of consecutive 100-row chunks of the golden binary CSV, counted here from
/// the raw rows (labelled rows only, as scikit-learn does).
fn chunk_accuracies_from_csv() -> Vec<f64> {
    let csv = read("golden/binary.csv");
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (prediction, label) = (column("prediction"), column("label"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    rows.chunks_exact(100)
        .map(|chunk| {
            let labelled: Vec<_> = chunk
                .iter()
                .filter(|r| !r[label].is_empty() && !r[prediction].is_empty())
                .collect();
            let correct = labelled
                .iter()
                .filter(|r| r[label] == r[prediction])
                .count();
            correct as f64 / labelled.len() as f64
        })
        .collect()
}

#[test]
fn frozen_reference_chunks_decode_to_the_chunks_of_the_rows() {
    let model = model("golden/binary.schema.json");
    let chunks = ReferenceChunks::decode(&read("frozen/reference-chunks-binary.bin")).unwrap();
    // 596 rows: five full chunks of 100, and 96 rows in the chunk being filled.
    assert_eq!(chunks.chunk_rows, 100);
    assert_eq!(chunks.chunks.len(), 5);
    assert!(chunks.chunks.iter().all(|c| c.count == 100));
    let expected = chunk_accuracies_from_csv();
    assert_eq!(expected.len(), 5);
    let values = chunks.metric_values(&model, "accuracy", 100).unwrap();
    assert_eq!(values.len(), expected.len());
    for (got, want) in values.iter().zip(&expected) {
        assert!((got - want).abs() < 1e-12, "chunk accuracy {got} vs {want}");
    }
}
