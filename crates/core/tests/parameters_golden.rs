//! Tensor summaries against numpy: every case of `testdata/parameters/cases.json`
//! (written by `gen_parameters.py` there) is read through the request parser, with its
//! NaN and Infinity tokens, and summarised. The statistics equal numpy's within 1e-9,
//! the histogram's edges and counts equal `numpy.histogram(finite, bins=64)` exactly,
//! and the summary passes the checks a client's summary must pass.

use std::path::PathBuf;

use modelwatch_core::non_finite::replace_tokens;
use modelwatch_core::parameters::{TensorSummary, parse_request};
use serde_json::{Value, json};

fn cases() -> Vec<Value> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/parameters/cases.json");
    let text = std::fs::read_to_string(path).unwrap();
    let parsed: Value = serde_json::from_str(&replace_tokens(&text)).unwrap();
    parsed["cases"].as_array().unwrap().clone()
}

fn close(name: &str, field: &str, got: Option<f64>, expected: &Value) {
    match (got, expected.as_f64()) {
        (None, None) => {}
        (Some(got), Some(expected)) => {
            let tolerance = 1e-9 * expected.abs().max(1.0);
            assert!(
                (got - expected).abs() <= tolerance,
                "{name}.{field}: {got} against numpy's {expected}"
            );
        }
        (got, _) => panic!("{name}.{field}: {got:?} against numpy's {expected}"),
    }
}

#[test]
fn summaries_equal_numpy() {
    let cases = cases();
    assert_eq!(cases.len(), 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let body = json!({"step": 0, "tensors": [{"name": name, "values": case["values"]}]});
        let request = parse_request(&body, 0).unwrap();
        let summary: &TensorSummary = &request.tensors[0].summary;
        let expected = &case["expected"];
        for field in ["count", "zeros", "nan", "inf"] {
            let got = match field {
                "count" => summary.count,
                "zeros" => summary.zeros,
                "nan" => summary.nan,
                _ => summary.inf,
            };
            assert_eq!(Some(got), expected[field].as_u64(), "{name}.{field}");
        }
        close(name, "min", summary.min, &expected["min"]);
        close(name, "max", summary.max, &expected["max"]);
        close(name, "mean", summary.mean, &expected["mean"]);
        close(name, "std", summary.std, &expected["std"]);
        close(name, "l2_norm", summary.l2_norm, &expected["l2_norm"]);
        let edges: Vec<f64> =
            serde_json::from_value(expected["histogram"]["edges"].clone()).unwrap();
        let counts: Vec<u64> =
            serde_json::from_value(expected["histogram"]["counts"].clone()).unwrap();
        assert_eq!(summary.histogram.edges, edges, "{name}: edges");
        assert_eq!(summary.histogram.counts, counts, "{name}: counts");
        summary.check("summary").unwrap();
    }
}
