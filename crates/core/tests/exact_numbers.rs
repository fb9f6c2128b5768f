//! Every input path reads a number to the same double: the one its shortest decimal form
//! names. JSON array, NDJSON, CSV, reference rows in JSON or CSV and labels are checked
//! here bit for bit on 10,000 random doubles (the config file is checked in the CLI's
//! `config` tests). Before `serde_json`'s `float_roundtrip`, about one double in ten came
//! out of JSON one ulp off, so a window holding exactly the reference's values drifted.

use modelwatch_core::body::{BodyFormat, split_records};
use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::event::{
    FeatureValue, InputLimits, Target, validate_label, validate_prediction, validate_reference_row,
};
use modelwatch_core::{Model, ModelDefinition};
use serde_json::json;

const VALUES: usize = 10_000;

/// SplitMix64: a fixed, dependency-free source of bits.
struct Bits(u64);

impl Bits {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Finite doubles of every kind: any bit pattern, uniform in (-1, 1), and values of
/// everyday magnitudes, where the 1-ulp misreadings were seen.
fn random_doubles() -> Vec<f64> {
    let mut bits = Bits(12);
    let mut out = vec![-0.10436552421115437, 0.1, 1e-300, 5e-324, f64::MAX, -0.0];
    while out.len() < VALUES {
        let raw = bits.next();
        let value = match raw % 3 {
            0 => f64::from_bits(bits.next()),
            1 => (bits.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0,
            _ => ((bits.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e4,
        };
        if value.is_finite() {
            out.push(value);
        }
    }
    out
}

/// The shortest decimal form that reads back as `value` (Rust's `Display` and
/// `LowerExp` both give the shortest digits; alternate between them).
fn shortest(value: f64, index: usize) -> String {
    if index.is_multiple_of(2) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

fn regression_model() -> Model {
    let definition: ModelDefinition = serde_json::from_value(json!({
        "task": "regression",
        "features": [{"name": "x", "type": "numeric"}]
    }))
    .unwrap();
    Model::new("m", definition).unwrap()
}

fn feature(event_features: &[FeatureValue]) -> f64 {
    match event_features[0] {
        FeatureValue::Number(f) => f,
        ref other => panic!("expected a number, got {other:?}"),
    }
}

fn assert_same_bits(path: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{path}: count");
    let wrong: Vec<_> = got
        .iter()
        .zip(want)
        .filter(|(g, w)| g.to_bits() != w.to_bits() && !(**g == 0.0 && **w == 0.0))
        .map(|(g, w)| format!("{w:e} read as {g:e}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "{path}: {} of {} differ, e.g. {:?}",
        wrong.len(),
        want.len(),
        &wrong[..wrong.len().min(3)]
    );
}

fn json_records(values: &[f64]) -> Vec<String> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let v = shortest(*v, i);
            format!(
                r#"{{"id":"e{i}","timestamp":"2024-03-11T00:00:00Z","prediction":{v},"features":{{"x":{v}}}}}"#
            )
        })
        .collect()
}

fn csv_body(values: &[f64]) -> String {
    let mut text = String::from("id,timestamp,prediction,x\n");
    for (i, v) in values.iter().enumerate() {
        let v = shortest(*v, i);
        text.push_str(&format!("e{i},2024-03-11T00:00:00Z,{v},{v}\n"));
    }
    text
}

#[test]
fn json_array_ndjson_and_csv_read_every_double_exactly() {
    let model = regression_model();
    let values = random_doubles();
    let records = json_records(&values);
    let bodies = [
        (
            "JSON array",
            format!("[{}]", records.join(",")),
            BodyFormat::Json,
        ),
        ("NDJSON", records.join("\n"), BodyFormat::Ndjson),
    ];
    for (path, body, format) in bodies {
        let mut features = Vec::new();
        let mut predictions = Vec::new();
        for record in split_records(body.as_bytes(), format).unwrap() {
            let event = validate_prediction(&model, &record.unwrap(), 0).unwrap();
            features.push(feature(&event.features));
            match event.prediction {
                Some(Target::Value(f)) => predictions.push(f),
                other => panic!("{path}: prediction {other:?}"),
            }
        }
        assert_same_bits(&format!("{path} feature"), &features, &values);
        assert_same_bits(&format!("{path} prediction"), &predictions, &values);
    }
    let csv = csv_body(&values);
    let features: Vec<f64> = CsvRecords::new(csv.as_bytes(), &model)
        .unwrap()
        .map(|(_, record)| {
            feature(
                &validate_prediction(&model, &record.unwrap(), 0)
                    .unwrap()
                    .features,
            )
        })
        .collect();
    assert_same_bits("CSV feature", &features, &values);
}

#[test]
fn reference_rows_in_json_and_csv_read_every_double_exactly() {
    let model = regression_model();
    let values = random_doubles();
    let limits = InputLimits::default();
    let records = json_records(&values);
    let from_json: Vec<f64> = split_records(
        format!("[{}]", records.join(",")).as_bytes(),
        BodyFormat::Json,
    )
    .unwrap()
    .into_iter()
    .map(|r| {
        feature(
            &validate_reference_row(&model, r.unwrap(), &limits)
                .unwrap()
                .features,
        )
    })
    .collect();
    assert_same_bits("reference JSON", &from_json, &values);
    let csv = csv_body(&values);
    let from_csv: Vec<f64> = CsvRecords::new(csv.as_bytes(), &model)
        .unwrap()
        .map(|(_, r)| {
            feature(
                &validate_reference_row(&model, r.unwrap(), &limits)
                    .unwrap()
                    .features,
            )
        })
        .collect();
    assert_same_bits("reference CSV", &from_csv, &values);
}

#[test]
fn labels_read_every_double_exactly() {
    let model = regression_model();
    let values = random_doubles();
    let body: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!(r#"{{"id":"e{i}","label":{}}}"#, shortest(*v, i)))
        .collect();
    let labels: Vec<f64> = split_records(body.join("\n").as_bytes(), BodyFormat::Ndjson)
        .unwrap()
        .into_iter()
        .map(
            |r| match validate_label(&model, &r.unwrap()).unwrap().label {
                Target::Value(f) => f,
                other => panic!("label {other:?}"),
            },
        )
        .collect();
    assert_same_bits("labels", &labels, &values);
}
