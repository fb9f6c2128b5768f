//! Property tests: a profile built from merged parts, grouped and ordered in any
//! way, equals the profile built from all the events at once.

use modelwatch_core::answer::Metrics;
use modelwatch_core::event::{PredictionEvent, Score, Target};
use modelwatch_core::{FeatureValue, Model, ModelDefinition, WindowProfile};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn model(task: &str) -> Model {
    let definition: ModelDefinition = serde_json::from_value(match task {
        "binary" => json!({"task": "binary_classification"}),
        "multiclass" => json!({"task": "multiclass_classification", "classes": ["a", "b", "c"]}),
        _ => json!({"task": "regression"}),
    })
    .unwrap();
    Model::new("m", definition).unwrap()
}

fn event(model: &Model, seed: (u8, u8, u16, u16, bool, bool)) -> PredictionEvent {
    let (p, l, s, latency, labelled, error) = seed;
    let (prediction, label, score) = match model.task() {
        modelwatch_core::Task::BinaryClassification => (
            Target::Class((p % 2).to_string()),
            Target::Class((l % 2).to_string()),
            Some(Score::Positive(s as f64 / u16::MAX as f64)),
        ),
        modelwatch_core::Task::MulticlassClassification => {
            let classes = ["a", "b", "c"];
            let raw = [
                s as f64 + 1.0,
                latency as f64 + 1.0,
                (p as f64 + 1.0) * 100.0,
            ];
            let total: f64 = raw.iter().sum();
            (
                Target::Class(classes[p as usize % 3].into()),
                Target::Class(classes[l as usize % 3].into()),
                Some(Score::PerClass(raw.iter().map(|r| r / total).collect())),
            )
        }
        modelwatch_core::Task::Regression => (
            Target::Value(p as f64 * 3.5 - 100.0),
            Target::Value(l as f64 * 2.0 - 50.0 + s as f64 / 1000.0),
            None,
        ),
    };
    PredictionEvent {
        id: String::new(),
        timestamp_ms: 0,
        version: "v".into(),
        features: vec![FeatureValue::Missing; 0],
        unknown_features: 0,
        prediction: Some(prediction),
        score,
        label: labelled.then_some(label),
        latency_ms: (latency % 7 != 0).then_some(latency as f64 / 10.0),
        error,
    }
}

fn assert_close(left: &Metrics, right: &Metrics) {
    let (left, right) = (
        serde_json::to_value(left).unwrap(),
        serde_json::to_value(right).unwrap(),
    );
    let (left, right): (&Map<String, Value>, &Map<String, Value>) =
        (left.as_object().unwrap(), right.as_object().unwrap());
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        right.keys().collect::<Vec<_>>()
    );
    for (name, a) in left {
        let b = &right[name];
        match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                "{name}: {x} vs {y}"
            ),
            _ => assert_eq!(a, b, "{name}"),
        }
    }
}

fn seeds() -> impl Strategy<Value = Vec<(u8, u8, u16, u16, bool, bool)>> {
    prop::collection::vec(any::<(u8, u8, u16, u16, bool, bool)>(), 0..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn merge_in_any_grouping_equals_batch(
        task in prop::sample::select(vec!["binary", "multiclass", "regression"]),
        seeds in seeds(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        order in any::<u64>(),
    ) {
        let model = model(task);
        let events: Vec<_> = seeds.into_iter().map(|s| event(&model, s)).collect();
        let mut batch = WindowProfile::default();
        for e in &events {
            batch.observe_prediction(&model, e);
        }
        // Split at random points, build each part, merge the parts in a shuffled order.
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
        bounds.extend([0, events.len()]);
        bounds.sort_unstable();
        let mut parts: Vec<WindowProfile> = bounds
            .windows(2)
            .map(|w| {
                let mut part = WindowProfile::default();
                for e in &events[w[0]..w[1]] {
                    part.observe_prediction(&model, e);
                }
                part
            })
            .collect();
        let len = parts.len();
        for i in 0..len {
            parts.swap(i, (order as usize).wrapping_mul(i + 7) % len);
        }
        // Merge as a tree (pairwise) rather than left to right, to vary the grouping.
        while parts.len() > 1 {
            let right = parts.pop().unwrap();
            let left = parts.pop().unwrap();
            let mut merged = left;
            merged.merge(&right);
            parts.insert(0, merged);
        }
        let merged = parts.pop().unwrap_or_default();
        prop_assert_eq!(merged.count, batch.count);
        prop_assert_eq!(merged.labelled_count, batch.labelled_count);
        prop_assert_eq!(&merged.classification.confusion, &batch.classification.confusion);
        prop_assert_eq!(&merged.classification.scores, &batch.classification.scores);
        prop_assert_eq!(&merged.latency.quantile(0.99), &batch.latency.quantile(0.99));
        assert_close(&merged.metrics(&model), &batch.metrics(&model));
        // Encoding round-trips.
        prop_assert_eq!(WindowProfile::decode(&merged.encode()).unwrap(), merged);
    }

    #[test]
    fn late_labels_equal_inline_labels(seeds in seeds()) {
        let model = model("binary");
        let events: Vec<_> = seeds.into_iter().map(|s| event(&model, s)).collect();
        let mut inline = WindowProfile::default();
        let mut late = WindowProfile::default();
        for e in &events {
            inline.observe_prediction(&model, e);
            let mut unlabelled = e.clone();
            unlabelled.label = None;
            late.observe_prediction(&model, &unlabelled);
        }
        for e in events.iter().rev() {
            if let (Some(p), Some(l)) = (&e.prediction, &e.label) {
                late.observe_label(&model, p, e.score.as_ref(), l);
            }
        }
        assert_close(&late.metrics(&model), &inline.metrics(&model));
    }
}

#[test]
fn corrupt_encodings_are_errors() {
    assert!(WindowProfile::decode(&[]).is_err());
    assert!(WindowProfile::decode(&[9, 1, 2]).is_err());
    assert!(WindowProfile::decode(&[2, 0xff, 0xff, 0xff]).is_err());
}
