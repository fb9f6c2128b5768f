//! Fuzzing on the stable toolchain: every parser that sees untrusted input gets
//! arbitrary input from proptest and must return (an error, or a value), never panic
//! or hang. `PROPTEST_CASES` raises the number of cases for a longer run by hand.

use modelwatch_core::alert::Rule;
use modelwatch_core::body::{BodyFormat, split_records};
use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::drift::{ReferenceProfile, WindowFeatures};
use modelwatch_core::event::{validate_label, validate_prediction};
use modelwatch_core::time::{parse_duration, parse_timestamp_str};
use modelwatch_core::{Model, ModelDefinition, WindowProfile};
use proptest::prelude::*;
use serde_json::{Value, json};

fn model() -> Model {
    let definition: ModelDefinition = serde_json::from_value(json!({
        "task": "multiclass_classification", "classes": ["a", "b", "c"],
        "features": [{"name": "x", "type": "numeric"}, {"name": "c", "type": "categorical"}]
    }))
    .unwrap();
    Model::new("m", definition).unwrap()
}

/// Arbitrary JSON, biased towards the keys and shapes events use.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9.:TZ+-]{0,30}".prop_map(Value::String),
        Just(json!("2024-03-11T00:00:00Z")),
        Just(json!("a")),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let key = prop_oneof![
            Just("id".to_string()),
            Just("timestamp".to_string()),
            Just("prediction".to_string()),
            Just("label".to_string()),
            Just("score".to_string()),
            Just("features".to_string()),
            Just("latency_ms".to_string()),
            Just("error".to_string()),
            Just("version".to_string()),
            Just("x".to_string()),
            Just("c".to_string()),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for format in [BodyFormat::Json, BodyFormat::Ndjson] {
            let _ = split_records(&bytes, format);
        }
    }

    #[test]
    fn events_and_labels_never_panic(value in json_value()) {
        let model = model();
        if let Value::Object(record) = &value {
            match validate_prediction(&model, record, 0) {
                Ok(event) => prop_assert!(!event.id.is_empty()),
                Err(e) => prop_assert!(!e.message.is_empty()),
            }
            let _ = validate_label(&model, record);
        }
        let body = serde_json::to_vec(&value).unwrap();
        let _ = split_records(&body, BodyFormat::Json);
    }

    #[test]
    fn csv_never_panics_and_ends(bytes in prop::collection::vec(prop_oneof![Just(b','), Just(b'\n'), Just(b'"'), any::<u8>()], 0..400)) {
        let model = model();
        let mut input = b"id,prediction,x,c,score_a\n".to_vec();
        input.extend(bytes);
        if let Ok(records) = CsvRecords::new(input.as_slice(), &model) {
            for (_, record) in records.take(10_000) {
                if let Ok(record) = record {
                    let _ = validate_prediction(&model, &record, 0);
                }
            }
        }
    }

    #[test]
    fn durations_and_timestamps_never_panic(text in "\\PC{0,40}") {
        let _ = parse_duration(&text);
        let _ = parse_timestamp_str(&text);
    }

    #[test]
    fn profile_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = WindowProfile::decode(&bytes);
        let _ = WindowFeatures::decode(&bytes);
        let _ = ReferenceProfile::decode(&bytes);
        let mut tagged = vec![1u8];
        tagged.extend(&bytes);
        let _ = WindowFeatures::decode(&tagged);
        let _ = ReferenceProfile::decode(&tagged);
        tagged[0] = 2;
        let _ = WindowProfile::decode(&tagged);
    }

    #[test]
    fn rules_never_panic(value in json_value()) {
        let _ = Rule::new("r", &value, &model());
    }

    #[test]
    fn rules_channels_and_silences_with_their_own_keys_never_panic(
        metric in prop_oneof![Just("accuracy".to_string()), Just("count".to_string()), Just("drift.x".to_string()), Just("new_categories.c".to_string()), Just("missing_share.x".to_string()), "[a-z_.]{0,12}"],
        duration in prop_oneof![Just("1m".to_string()), Just("0s".to_string()), "[0-9]{0,20}[smhdw]?"],
        op in prop_oneof![Just("<".to_string()), Just(">=".to_string()), "[<>=!]{0,3}"],
        threshold in json_value(),
        kind in prop_oneof![Just("webhook".to_string()), Just("email".to_string()), Just("slack".to_string()), Just("alertmanager".to_string()), "[a-z]{0,8}"],
        url in prop_oneof![Just("http://127.0.0.1:9/x".to_string()), Just("smtp://h:70000".to_string()), "\\PC{0,30}"],
        time in json_value(),
    ) {
        let rule = json!({"model": "m", "metric": metric, "window": duration, "every": duration, "for": duration,
                          "condition": {"op": op, "threshold": threshold}, "min_count": threshold});
        let _ = Rule::new("r", &rule, &model());
        let auto = json!({"model": "m", "metric": metric, "condition": {"auto": {"baseline": "history", "k": threshold}}});
        let _ = Rule::new("r", &auto, &model());
        let channel = json!({"type": kind, "url": url, "smtp": url, "from": url, "to": [url], "group_wait": duration});
        let _ = modelwatch_core::alert::Channel::new("c", &channel);
        let silence = json!({"matchers": {"model": url}, "starts_at": time, "ends_at": threshold});
        let _ = modelwatch_core::alert::Silence::new("s", &silence, 0);
    }

    #[test]
    fn alert_state_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut tagged = vec![1u8];
        tagged.extend(&bytes);
        let _ = modelwatch_core::alert::RuleState::decode(&tagged);
        let _ = modelwatch_core::alert::baseline::ReferenceChunks::decode(&tagged);
    }
}
