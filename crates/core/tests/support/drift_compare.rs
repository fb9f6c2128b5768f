//! Comparing drift and quality answers with scipy's golden values, within API.md's
//! tolerances. Shared by the core golden tests and the HTTP tests (`#[path]`).

#![allow(dead_code)]

use serde_json::Value;

pub fn close(context: &str, name: &str, got: &Value, want: &Value) {
    let (Some(g), Some(w)) = (got.as_f64(), want.as_f64()) else {
        assert_eq!(got, want, "{context} {name}");
        return;
    };
    let ok = match name {
        // API.md: within 0.005.
        "ks_statistic" => (g - w).abs() <= 0.005,
        // The p-value follows D; on the log scale it must agree closely.
        "ks_p_value" => (g - w).abs() <= 0.01 || (g.ln() - w.ln()).abs() <= 0.1 * w.ln().abs(),
        // API.md: within 1% relative.
        "wasserstein" | "wasserstein_norm" => (g - w).abs() <= 0.01 * w.abs() + 1e-12,
        // Sketch quantiles: within 1% relative, or 1e-3 near zero.
        "p5" | "p25" | "p50" | "p75" | "p95" => (g - w).abs() <= 0.01 * w.abs() + 1e-3,
        // Everything else is computed exactly.
        _ => (g - w).abs() <= 1e-9 * w.abs().max(1e-300) + 1e-15,
    };
    assert!(ok, "{context} {name}: {g} vs scipy {w}");
}

const API_STATS: [&str; 9] = [
    "ks_statistic",
    "ks_p_value",
    "wasserstein",
    "wasserstein_norm",
    "psi",
    "jensen_shannon",
    "chi2_statistic",
    "chi2_p_value",
    "new_categories",
];

pub fn check_entry(context: &str, got: &Value, want: &Value) {
    for key in ["method", "threshold", "drifted"] {
        assert_eq!(got[key], want[key], "{context} {key}");
    }
    let statistic_name = match want["method"].as_str().unwrap() {
        "ks" => "ks_p_value",
        "chi2" => "chi2_p_value",
        other => other,
    };
    close(
        context,
        statistic_name,
        &got["statistic"],
        &want["statistic"],
    );
    for part in ["stats", "categorical_stats"] {
        match want[part].as_object() {
            Some(stats) => {
                // The generator also writes debugging values (bins, counts); compare API.md's.
                for (name, value) in stats
                    .iter()
                    .filter(|(name, _)| API_STATS.contains(&name.as_str()))
                {
                    {
                        close(&format!("{context} {part}"), name, &got[part][name], value);
                    }
                }
            }
            None => assert!(got[part].is_null(), "{context} {part}: {}", got[part]),
        }
    }
}

/// Checks a drift answer and a quality answer against a data set's expectations.
pub fn check_answers(set: &str, drift: &Value, quality: &Value, expected: &Value) {
    for key in [
        "reference_count",
        "current_count",
        "drifted_features",
        "features_total",
        "dataset_drift",
    ] {
        assert_eq!(drift[key], expected[key], "{set} {key}");
    }
    close(
        set,
        "drift_share",
        &drift["drift_share"],
        &expected["drift_share"],
    );
    let features = drift["features"].as_array().unwrap();
    assert_eq!(
        features.len(),
        expected["features"].as_object().unwrap().len()
    );
    for entry in features {
        let name = entry["name"].as_str().unwrap();
        check_entry(&format!("{set} {name}"), entry, &expected["features"][name]);
    }
    check_entry(
        &format!("{set} prediction"),
        &drift["prediction"],
        &expected["prediction"],
    );
    check_entry(&format!("{set} score"), &drift["score"], &expected["score"]);
    for entry in quality["features"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        for (key, want) in expected["quality"][name].as_object().unwrap() {
            if key == "type" {
                continue;
            }
            if want.is_number() || want.is_null() {
                close(&format!("{set} quality {name}"), key, &entry[key], want);
            } else {
                assert_eq!(&entry[key], want, "{set} quality {name} {key}");
            }
        }
    }
}
