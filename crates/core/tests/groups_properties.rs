//! Segments and fairness groups: merging window profiles in any grouping and order
//! equals building them at once (values beyond the bound included), a segment's
//! metrics equal those of the filtered events, the encoding round-trips, and the
//! fairness answer equals fairlearn 0.15 on `testdata/fairness` (planted bias).

use modelwatch_core::answer::{AnswerRange, Metrics};
use modelwatch_core::event::{PredictionEvent, Score, Target};
use modelwatch_core::groups::select::{fairness_answer, segment_answer};
use modelwatch_core::groups::{MAX_KEPT_VALUES, OTHER_VALUE};
use modelwatch_core::query::merge_windows;
use modelwatch_core::{FeatureValue, Model, ModelDefinition, WindowProfile};
use proptest::prelude::*;
use serde_json::{Value, json};

fn model() -> Model {
    let definition: ModelDefinition = serde_json::from_value(json!({
        "task": "binary_classification",
        "features": [
            {"name": "region", "type": "categorical"},
            {"name": "plan", "type": "categorical"},
            {"name": "gender", "type": "categorical", "sensitive": true},
        ],
        "segments": ["region", "plan"],
    }))
    .unwrap();
    Model::new("m", definition).unwrap()
}

/// `(region, plan, gender, prediction, label, score, labelled)`; regions run far past
/// the bound so that `(other)` is exercised.
type Seed = (u16, u8, u8, bool, bool, u16, bool);

fn event(seed: Seed) -> PredictionEvent {
    let (region, plan, gender, p, l, s, labelled) = seed;
    let category = |text: String| FeatureValue::Category(text);
    PredictionEvent {
        id: String::new(),
        timestamp_ms: 0,
        version: "v".into(),
        features: vec![
            category(format!("r{}", region % 400)),
            if plan % 5 == 0 {
                FeatureValue::Missing
            } else {
                category(format!("p{}", plan % 3))
            },
            category(["f", "m", "x"][gender as usize % 3].to_string()),
        ],
        unknown_features: 0,
        prediction: Some(Target::Class((p as u8).to_string())),
        score: Some(Score::Positive(s as f64 / u16::MAX as f64)),
        label: labelled.then(|| Target::Class((l as u8).to_string())),
        latency_ms: Some(s as f64 / 100.0),
        error: false,
    }
}

fn build(model: &Model, events: &[PredictionEvent]) -> WindowProfile {
    let mut profile = WindowProfile::default();
    for e in events {
        profile.observe_prediction(model, e);
    }
    profile
}

/// Counts compare exactly; sums (log loss) within rounding.
fn assert_close(left: &Metrics, right: &Metrics) {
    let (left, right) = (
        serde_json::to_value(left).unwrap(),
        serde_json::to_value(right).unwrap(),
    );
    for (name, a) in left.as_object().unwrap() {
        let b = &right[name];
        match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{name}"),
            _ => assert_eq!(a, b, "{name}"),
        }
    }
}

fn segment_metrics(
    model: &Model,
    profile: &WindowProfile,
    segment: &str,
) -> Vec<(String, Metrics)> {
    let merged = merge_windows([(0, profile.clone())], None, None, None).unwrap();
    segment_answer(model, segment, &merged, AnswerRange::default(), None, None)
        .groups
        .into_iter()
        .map(|g| (g.value, g.summary))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merge_in_any_grouping_equals_batch(
        seeds in prop::collection::vec(any::<Seed>(), 0..700),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        reverse in any::<bool>(),
    ) {
        let model = model();
        let events: Vec<_> = seeds.into_iter().map(event).collect();
        let batch = build(&model, &events);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(events.len() + 1)).collect();
        cuts.extend([0, events.len()]);
        cuts.sort();
        let mut parts: Vec<WindowProfile> =
            cuts.windows(2).map(|w| build(&model, &events[w[0]..w[1]])).collect();
        if reverse {
            parts.reverse();
        }
        // Pairwise, as a tree: another grouping than left to right.
        while parts.len() > 1 {
            let mut next = Vec::new();
            for pair in parts.chunks(2) {
                let mut merged = pair[0].clone();
                if let Some(right) = pair.get(1) {
                    merged.merge(right);
                }
                next.push(merged);
            }
            parts = next;
        }
        let merged = parts.pop().unwrap_or_default();
        // Counts and the kept values are exact.
        for (segment, groups) in &batch.groups.segments {
            let other = merged.groups.segment(segment).unwrap();
            let values: Vec<_> = groups.values().map(|(v, p)| (v, p.0.count)).collect();
            let merged_values: Vec<_> = other.values().map(|(v, p)| (v, p.0.count)).collect();
            prop_assert_eq!(values, merged_values);
            prop_assert_eq!(groups.other().0.count, other.other().0.count);
            prop_assert!(groups.values().count() <= MAX_KEPT_VALUES);
        }
        prop_assert_eq!(&batch.groups.fairness, &merged.groups.fairness);
        for segment in ["region", "plan"] {
            let (a, b) = (segment_metrics(&model, &batch, segment), segment_metrics(&model, &merged, segment));
            prop_assert_eq!(a.len(), b.len());
            for ((va, ma), (vb, mb)) in a.iter().zip(&b) {
                prop_assert_eq!(va, vb);
                assert_close(ma, mb);
            }
        }
        // The stored form reads back to the same state.
        let decoded = WindowProfile::decode(&batch.encode()).unwrap();
        prop_assert_eq!(&decoded, &batch);
    }
}

/// The metrics of a segment value equal those of the events filtered to that value
/// (built as a model without segments), over a range of several windows.
#[test]
fn a_segment_equals_the_filtered_events() {
    let model = model();
    let plain = Model::new(
        "m",
        serde_json::from_value(json!({
            "task": "binary_classification",
            "features": [
                {"name": "region", "type": "categorical"},
                {"name": "plan", "type": "categorical"},
                {"name": "gender", "type": "categorical"},
            ],
        }))
        .unwrap(),
    )
    .unwrap();
    let events: Vec<PredictionEvent> = (0..3000u32)
        .map(|i| {
            let x = i.wrapping_mul(2_654_435_761);
            event((
                (x % 7) as u16,
                (x >> 8) as u8,
                (x >> 16) as u8,
                x % 3 == 0,
                x % 5 < 2,
                (x >> 4) as u16,
                i % 4 != 0,
            ))
        })
        .collect();
    // Ten windows, merged as a query merges them.
    let windows: Vec<(i64, WindowProfile)> = events
        .chunks(300)
        .enumerate()
        .map(|(i, chunk)| (i as i64 * 60_000, build(&model, chunk)))
        .collect();
    let merged = merge_windows(windows, Some(120_000), None, None).unwrap();
    let answer = segment_answer(
        &model,
        "plan",
        &merged,
        AnswerRange::default(),
        Some(120_000),
        None,
    );
    let values: Vec<&str> = answer.groups.iter().map(|g| g.value.as_str()).collect();
    let mut expected_values = vec!["p1", "p2", "p0", "(missing)"];
    expected_values
        .sort_by_key(|v| std::cmp::Reverse(events.iter().filter(|e| group_of(e, 1) == *v).count()));
    assert_eq!(values, expected_values);
    for group in &answer.groups {
        let filtered: Vec<PredictionEvent> = events
            .iter()
            .filter(|e| group_of(e, 1) == group.value)
            .cloned()
            .collect();
        let alone = build(&plain, &filtered);
        assert_close(&group.summary, &alone.metrics(&plain));
        let series = group.series.as_ref().unwrap();
        assert_eq!(series.len(), 5);
        let first_step = build(
            &plain,
            &events[..600]
                .iter()
                .filter(|e| group_of(e, 1) == group.value)
                .cloned()
                .collect::<Vec<_>>(),
        );
        assert_close(&series[0].metrics, &first_step.metrics(&plain));
    }
}

fn group_of(event: &PredictionEvent, index: usize) -> String {
    match &event.features[index] {
        FeatureValue::Category(text) => text.clone(),
        _ => "(missing)".to_string(),
    }
}

/// Beyond the 100 most frequent values, the rest are `(other)`, whose metrics equal
/// those of the events of every other value.
#[test]
fn values_past_the_hundred_most_frequent_are_other() {
    let model = model();
    // Region r{i} appears i + 1 times: r0..r149, so the top 100 are r149 down to r50.
    let events: Vec<PredictionEvent> = (0..150u16)
        .flat_map(|i| (0..=i).map(move |k| event((i, 1, 0, k % 2 == 0, k % 3 == 0, k, true))))
        .collect();
    let profile = build(&model, &events);
    let groups = segment_metrics(&model, &profile, "region");
    assert_eq!(groups.len(), 101);
    assert_eq!(groups[0].0, "r149");
    assert_eq!(groups[99].0, "r50");
    assert_eq!(groups[100].0, OTHER_VALUE);
    let other_count: u64 = (0..50u64).map(|i| i + 1).sum();
    assert_eq!(groups[100].1.count, other_count);
}

/// The late-label path puts a label in the groups of the prediction's features.
#[test]
fn late_labels_land_in_their_groups() {
    let model = model();
    let events: Vec<PredictionEvent> = (0..500u32)
        .map(|i| {
            event((
                (i % 3) as u16,
                (i % 4) as u8 + 1,
                (i % 2) as u8,
                i % 3 == 0,
                i % 2 == 0,
                i as u16,
                true,
            ))
        })
        .collect();
    let inline = build(&model, &events);
    let mut late = WindowProfile::default();
    for e in &events {
        let mut unlabelled = e.clone();
        unlabelled.label = None;
        late.observe_prediction(&model, &unlabelled);
    }
    for e in &events {
        late.observe_label_grouped(
            &model,
            &e.features,
            e.prediction.as_ref().unwrap(),
            e.score.as_ref(),
            e.label.as_ref().unwrap(),
        );
    }
    assert_eq!(late.groups.fairness, inline.groups.fairness);
    for segment in ["region", "plan"] {
        let (a, b) = (
            segment_metrics(&model, &inline, segment),
            segment_metrics(&model, &late, segment),
        );
        for ((va, ma), (vb, mb)) in a.iter().zip(&b) {
            assert_eq!(va, vb);
            assert_eq!(ma.accuracy, mb.accuracy);
            assert_eq!(ma.confusion_matrix, mb.confusion_matrix);
        }
    }
}

/// fairlearn 0.15 on the planted-bias rows of `testdata/fairness` (oracle.py).
#[test]
fn fairness_equals_fairlearn() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fairness");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("expected.json")).unwrap())
            .unwrap();
    assert_eq!(expected["fairlearn"], "0.15.0");
    let rows = std::fs::read_to_string(root.join("rows.csv")).unwrap();
    let model = model();
    // Three windows; half the labels arrive late.
    let mut windows: Vec<(i64, WindowProfile)> = (0..3)
        .map(|i| (i * 60_000, WindowProfile::default()))
        .collect();
    for (i, line) in rows.lines().skip(1).enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let event = PredictionEvent {
            id: String::new(),
            timestamp_ms: 0,
            version: "v".into(),
            features: vec![
                FeatureValue::Missing,
                FeatureValue::Missing,
                FeatureValue::Category(fields[0].to_string()),
            ],
            unknown_features: 0,
            prediction: Some(Target::Class(fields[2].to_string())),
            score: None,
            label: (i % 2 == 0).then(|| Target::Class(fields[1].to_string())),
            latency_ms: None,
            error: false,
        };
        let window = &mut windows[i % 3].1;
        window.observe_prediction(&model, &event);
        if i % 2 == 1 {
            window.observe_label_grouped(
                &model,
                &event.features,
                event.prediction.as_ref().unwrap(),
                None,
                &Target::Class(fields[1].to_string()),
            );
        }
    }
    let merged = merge_windows(windows, None, None, None).unwrap();
    let answer = fairness_answer("gender", &merged, AnswerRange::default(), None);
    let close = |got: Option<f64>, want: &Value| {
        let want = want.as_f64().unwrap();
        let got = got.unwrap();
        assert!((got - want).abs() <= 1e-9, "{got} vs {want}");
    };
    let metrics = &answer.summary.metrics;
    close(
        metrics.demographic_parity_difference,
        &expected["demographic_parity_difference"],
    );
    close(
        metrics.demographic_parity_ratio,
        &expected["demographic_parity_ratio"],
    );
    close(
        metrics.equalized_odds_difference,
        &expected["equalized_odds_difference"],
    );
    close(
        metrics.equal_opportunity_difference,
        &expected["equal_opportunity_difference"],
    );
    assert_eq!(answer.summary.groups.len(), 3);
    for group in &answer.summary.groups {
        let want = &expected["groups"][&group.value];
        close(group.selection_rate, &want["selection_rate"]);
        close(group.true_positive_rate, &want["true_positive_rate"]);
        close(group.false_positive_rate, &want["false_positive_rate"]);
    }
    // The planted bias breaks the four-fifths rule.
    assert!(metrics.demographic_parity_ratio.unwrap() < 0.8);
}
