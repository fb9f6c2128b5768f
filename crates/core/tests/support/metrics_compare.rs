//! Comparing a metrics object with scikit-learn's golden values, within API.md's
//! tolerances. Shared by the golden tests, the frozen-fixture tests and the HTTP tests
//! (`#[path]`).

#![allow(dead_code)]

use serde_json::{Map, Value};

/// Asserts that every metric of `expected` is in `actual` (a metrics object, typed or
/// JSON), equal (counts, confusion matrix) or within tolerance (ROC AUC 0.001, latency
/// quantiles 1% relative, the rest 1e-9 relative).
pub fn assert_metrics(
    context: &str,
    actual: &impl serde::Serialize,
    expected: &Map<String, Value>,
) {
    let actual = serde_json::to_value(actual).unwrap();
    let actual = actual
        .as_object()
        .unwrap_or_else(|| panic!("{context}: metrics are not an object: {actual}"));
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
