//! Correlations: the answer against numpy (`testdata/correlations/oracle.py`, missing
//! values pairwise-complete), merging in any grouping equals building at once (proptest),
//! the scatter sample's merge (bound, exactness) and the uniformity of its inclusion
//! probability (a binomial test with fixed seeds), the column cap, and the encodings.

use modelwatch_core::correlation::matrix::correlations_answer;
use modelwatch_core::correlation::sample::{Reservoir, row_key};
use modelwatch_core::correlation::{CoMoments, Columns, Correlations};
use modelwatch_core::drift::WindowFeatures;
use modelwatch_core::event::{PredictionEvent, Score, Target};
use modelwatch_core::{FeatureValue, Model, ModelDefinition};
use proptest::prelude::*;
use serde_json::{Value, json};

/// `|x − y| ≤ 1e-9 · max(1, |y|)`: 1e-9 absolute for values up to 1, relative above
/// (the covariance of a column around 1e6 is about 1e6).
fn close(x: Option<f64>, y: Option<f64>) -> bool {
    match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * y.abs().max(1.0),
        (None, None) => true,
        _ => false,
    }
}

fn oracle() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/correlations/oracle.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rows_of(value: &Value) -> Vec<Vec<f64>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect()
}

fn matrix_of(value: &Value) -> Vec<Vec<Option<f64>>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(Value::as_f64).collect())
        .collect()
}

fn columns(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn assert_matrix(name: &str, ours: &[Vec<Option<f64>>], numpy: &[Vec<Option<f64>>]) {
    for (i, (a, b)) in ours.iter().zip(numpy).enumerate() {
        for (j, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(close(*x, *y), "{name}[{i}][{j}]: ours {x:?}, numpy {y:?}");
        }
    }
    assert_eq!(ours.len(), numpy.len(), "{name}");
}

#[test]
fn the_answer_equals_numpy_pairwise_complete() {
    let oracle = oracle();
    let names: Vec<String> = serde_json::from_value(oracle["columns"].clone()).unwrap();
    // Windows of uneven sizes, merged: the answer must not depend on them.
    let mut merged = Correlations::default();
    for chunk in rows_of(&oracle["rows"]).chunks(37) {
        let mut window = CoMoments::new(names.clone());
        chunk.iter().for_each(|row| window.observe(row));
        merged.merge(&Correlations::from_parts(window, Reservoir::new(10)));
    }
    let mut reference = CoMoments::new(names.clone());
    rows_of(&oracle["reference_rows"])
        .iter()
        .for_each(|row| reference.observe(row));
    let answer = correlations_answer(&merged, Some(&reference), 600, vec![]);
    assert_eq!(answer.features, names);
    assert_matrix(
        "covariance",
        &answer.covariance,
        &matrix_of(&oracle["covariance"]),
    );
    assert_matrix("pearson", &answer.pearson, &matrix_of(&oracle["pearson"]));
    assert_matrix(
        "reference_pearson",
        answer.reference_pearson.as_ref().unwrap(),
        &matrix_of(&oracle["reference_pearson"]),
    );
    assert!(close(
        answer.max_abs_change,
        oracle["max_abs_change"].as_f64()
    ));
    // The constant column has no correlation, the column with one value no covariance.
    assert_eq!(answer.pearson[3][0], None);
    assert_eq!(answer.covariance[4][4], None);
    // Pairs: every pair of two columns once, largest change first, change = now − then.
    assert_eq!(answer.pairs.len(), 15);
    let first = &answer.pairs[0];
    assert_eq!(first.change.map(f64::abs), answer.max_abs_change);
    assert!(close(
        first.change,
        first.pearson.zip(first.reference).map(|(a, b)| a - b)
    ));
    assert!(
        answer
            .pairs
            .windows(2)
            .all(
                |w| w[0].change.map_or(0.0, f64::abs) >= w[1].change.map_or(0.0, f64::abs)
                    || w[1].change.is_none()
            )
    );
}

fn batch(names: &[String], rows: &[Vec<f64>]) -> CoMoments {
    let mut all = CoMoments::new(names.to_vec());
    rows.iter().for_each(|row| all.observe(row));
    all
}

/// Merges the parts as the binary tree given by `order`.
fn merge_tree(mut parts: Vec<CoMoments>, order: &[usize]) -> CoMoments {
    let mut picks = order.iter().cycle();
    while parts.len() > 1 {
        let at = picks.next().unwrap() % (parts.len() - 1);
        let right = parts.remove(at + 1);
        parts[at].merge(&right);
    }
    parts.pop().unwrap()
}

fn value_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(f64::NAN),
        1 => Just(2.5),
        6 => -1e4f64..1e4,
        2 => 1e6f64..1e6 + 10.0,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn merging_in_any_grouping_equals_one_pass(
        rows in prop::collection::vec(prop::collection::vec(value_strategy(), 4), 0..80),
        cuts in prop::collection::vec(0usize..80, 0..8),
        order in prop::collection::vec(0usize..16, 1..8),
    ) {
        let names = columns(&["w", "x", "y", "z"]);
        let all = batch(&names, &rows);
        let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c.min(rows.len())).collect();
        bounds.extend([0, rows.len()]);
        bounds.sort_unstable();
        let parts: Vec<CoMoments> = bounds
            .windows(2)
            .map(|w| batch(&names, &rows[w[0]..w[1]]))
            .collect();
        let merged = merge_tree(parts, &order);
        for i in 0..4 {
            for j in 0..4 {
                let (a, b) = (merged.pair(i, j), all.pair(i, j));
                prop_assert_eq!(a.n, b.n);
                prop_assert!(close(a.covariance(), b.covariance()), "cov {} {}: {:?} {:?}", i, j, a, b);
                prop_assert!(close(a.pearson(), b.pearson()), "pearson {} {}: {:?} {:?}", i, j, a, b);
            }
        }
    }

    #[test]
    fn sample_merges_keep_the_bound_and_equal_the_sample_of_the_union(
        ids in prop::collection::vec(0u32..500, 0..300),
        capacity in 1usize..40,
        cuts in prop::collection::vec(0usize..300, 0..6),
        order in prop::collection::vec(0usize..16, 1..8),
    ) {
        let offer = |ids: &[u32]| {
            let mut sample = Reservoir::new(capacity);
            for id in ids {
                let key = row_key(0, &format!("e{id}"));
                sample.offer(key, || vec![f64::from(*id)]);
            }
            sample
        };
        let all = offer(&ids);
        let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c.min(ids.len())).collect();
        bounds.extend([0, ids.len()]);
        bounds.sort_unstable();
        let mut parts: Vec<Reservoir> = bounds.windows(2).map(|w| offer(&ids[w[0]..w[1]])).collect();
        let mut picks = order.iter().cycle();
        while parts.len() > 1 {
            let at = picks.next().unwrap() % (parts.len() - 1);
            let right = parts.remove(at + 1);
            parts[at].merge(&right);
            prop_assert!(parts[at].rows.len() <= capacity);
        }
        let merged = parts.pop().unwrap();
        prop_assert_eq!(&*merged.normalized(), &*all.normalized());
        prop_assert!(merged.normalized().rows.len() <= capacity);
        prop_assert_eq!(merged.offered, ids.len() as u64);
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        prop_assert_eq!(merged.normalized().rows.len(), distinct.len().min(capacity));
    }
}

/// Each of N rows is kept with probability k/N. Over T seeds (each seed gives other row
/// keys) row i is kept C_i ~ Binomial(T, k/N) times: mean T·k/N, standard deviation
/// σ = √(T·(k/N)·(1 − k/N)). For a uniform sampler P(|C_i − mean| > 5σ) < 6e-7 per
/// row (normal approximation; T·p = 1,000 is large), so below 1e-4 for the 200 rows
/// together. The rows are split over 4 windows of unequal sizes that are merged, so the
/// test covers the merge. A sampler that favoured one window (e.g. keeping k/4 rows of
/// each) would put the 20 rows of the small window at 4× their share, far past 5σ.
#[test]
fn every_row_is_kept_with_the_same_probability() {
    const ROWS: usize = 200;
    const KEPT: usize = 20;
    const SEEDS: u64 = 10_000;
    let windows = [0..20, 20..70, 70..150, 150..200];
    let mut counts = [0u64; ROWS];
    for seed in 0..SEEDS {
        let mut merged = Reservoir::default();
        for window in windows.clone() {
            let mut sample = Reservoir::new(KEPT);
            for row in window {
                sample.offer(row_key(seed, &format!("row-{row}")), || vec![row as f64]);
            }
            merged.merge(&sample);
        }
        let merged = merged.normalized();
        assert_eq!(merged.rows.len(), KEPT);
        for row in &merged.rows {
            counts[row.values[0] as usize] += 1;
        }
    }
    let p = KEPT as f64 / ROWS as f64;
    let mean = SEEDS as f64 * p;
    let sigma = (SEEDS as f64 * p * (1.0 - p)).sqrt();
    for (row, count) in counts.iter().enumerate() {
        let z = (*count as f64 - mean) / sigma;
        assert!(
            z.abs() < 5.0,
            "row {row} kept {count} times, expected {mean} ± {sigma}"
        );
    }
    // The small window's rows together: 20 rows, mean 20·T·p, σ √20 times larger at most.
    let small: u64 = counts[..20].iter().sum();
    let small_z = (small as f64 - 20.0 * mean) / (20.0f64.sqrt() * sigma);
    assert!(
        small_z.abs() < 5.0,
        "the small window: {small} (z = {small_z})"
    );
}

fn model(definition: Value) -> Model {
    let definition: ModelDefinition = serde_json::from_value(definition).unwrap();
    Model::new("m", definition).unwrap()
}

#[test]
fn the_cap_keeps_the_outputs_and_the_first_features() {
    let binary = model(json!({"task": "binary_classification", "features": [
        {"name": "f1", "type": "numeric"}, {"name": "g", "type": "categorical"},
        {"name": "f2", "type": "numeric"}, {"name": "f3", "type": "numeric"}]}));
    let capped = Columns::of(&binary, 3);
    assert_eq!(capped.names, columns(&["f1", "f2", "score"]));
    assert_eq!(capped.left_out, columns(&["f3"]));
    assert_eq!(
        Columns::of(&binary, 64).names,
        columns(&["f1", "f2", "f3", "score"])
    );
    let regression = model(json!({"task": "regression", "features": [
        {"name": "f1", "type": "numeric"}]}));
    assert_eq!(
        Columns::of(&regression, 64).names,
        columns(&["f1", "prediction", "label"])
    );
    assert_eq!(Columns::of(&regression, 2).left_out, columns(&["f1"]));
    assert_eq!(
        Columns::of(&regression, 64).names[1],
        modelwatch_core::drift::reference::PREDICTION
    );
    assert_eq!(
        Columns::of(&binary, 64).names[3],
        modelwatch_core::drift::reference::SCORE
    );
}

fn regression_event(id: &str, x: f64, prediction: f64, label: Option<f64>) -> PredictionEvent {
    PredictionEvent {
        id: id.into(),
        timestamp_ms: 0,
        version: "v".into(),
        features: vec![FeatureValue::Number(x)],
        unknown_features: 0,
        prediction: Some(Target::Value(prediction)),
        score: None::<Score>,
        label: label.map(Target::Value),
        latency_ms: None,
        error: false,
    }
}

#[test]
fn a_late_label_gives_what_an_inline_label_gives() {
    let model =
        model(json!({"task": "regression", "features": [{"name": "x", "type": "numeric"}]}));
    let rows = [
        (1.0, 2.0, 3.5),
        (2.0, 2.5, 5.0),
        (4.0, 1.0, 9.0),
        (7.0, 0.5, 1.0),
    ];
    let mut inline = WindowFeatures::default();
    let mut late = WindowFeatures::default();
    let mut labels = WindowFeatures::default();
    for (i, (x, prediction, label)) in rows.iter().enumerate() {
        let id = format!("e{i}");
        inline.observe(
            &model,
            &regression_event(&id, *x, *prediction, Some(*label)),
            None,
        );
        late.observe(&model, &regression_event(&id, *x, *prediction, None), None);
        labels.observe_late_label(
            &model,
            &regression_event(&id, *x, *prediction, Some(*label)),
        );
    }
    late.merge(&labels);
    let (a, b) = (&inline.correlations, &late.correlations);
    for i in 0..3 {
        for j in 0..3 {
            assert!(close(
                a.moments.pair(i, j).pearson(),
                b.moments.pair(i, j).pearson()
            ));
            assert_eq!(a.moments.pair(i, j).n, b.moments.pair(i, j).n);
        }
    }
    // The label reached the sampled rows too.
    assert_eq!(a.sample, b.sample);
    assert!(
        b.sample
            .normalized()
            .rows
            .iter()
            .all(|row| !row.values[2].is_nan())
    );
}

#[test]
fn the_feature_window_keeps_its_correlations_through_the_store() {
    let model =
        model(json!({"task": "regression", "features": [{"name": "x", "type": "numeric"}]}));
    let mut window = WindowFeatures::default();
    for i in 0..50 {
        let x = f64::from(i);
        window.observe(
            &model,
            &regression_event(&format!("e{i}"), x, x * 0.5, Some(x * x)),
            None,
        );
    }
    let decoded = WindowFeatures::decode(&window.encode()).unwrap();
    assert_eq!(decoded, window);
    assert_eq!(decoded.correlations.moments.pair(0, 2).n, 50);
    // Encoding 2 (before correlations) is still read, with none.
    let old = modelwatch_core::profile::encode_tagged(2, &window);
    let read = WindowFeatures::decode(&old).unwrap();
    assert_eq!(read.rows, 50);
    assert!(read.correlations.moments.columns.is_empty());
}
