//! Criterion benchmarks of the ingest and query hot paths of the core.
//!
//! `cargo bench -p modelwatch-core` — figures are recorded in docs/PERFORMANCE.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modelwatch_core::body::{BodyFormat, split_records};
use modelwatch_core::event::validate_prediction;
use modelwatch_core::query::merge_windows;
use modelwatch_core::{Model, ModelDefinition, WindowProfile};
use serde_json::{Value, json};

fn model() -> Model {
    let mut features: Vec<Value> = (0..20)
        .map(|i| json!({"name": format!("n{i}"), "type": "numeric"}))
        .collect();
    features.extend((0..5).map(|i| json!({"name": format!("c{i}"), "type": "categorical"})));
    let definition: ModelDefinition =
        serde_json::from_value(json!({"task": "binary_classification", "features": features}))
            .unwrap();
    Model::new("bench", definition).unwrap()
}

fn ndjson(events: usize) -> String {
    let mut body = String::new();
    for n in 0..events {
        let mut features = serde_json::Map::new();
        for i in 0..20 {
            features.insert(
                format!("n{i}"),
                json!(((n * 31 + i * 7) % 1000) as f64 * 1.37),
            );
        }
        for i in 0..5 {
            features.insert(format!("c{i}"), json!(format!("cat{}", (n + i) % 12)));
        }
        let score = (n * 2_654_435_761 % 1000) as f64 / 1000.0;
        body.push_str(
            &json!({"id": format!("r-{n}"), "timestamp": 1_710_115_200_000_i64 + n as i64 * 1000,
                    "prediction": if score >= 0.5 { "1" } else { "0" }, "score": score,
                    "label": if n % 3 == 0 { "1" } else { "0" }, "latency_ms": 5.0 + (n % 97) as f64 * 0.37,
                    "features": features})
            .to_string(),
        );
        body.push('\n');
    }
    body
}

fn ingest(c: &mut Criterion) {
    let model = model();
    let body = ndjson(1000);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("split_and_validate_1000_events", |b| {
        b.iter(|| {
            let records = split_records(black_box(body.as_bytes()), BodyFormat::Ndjson).unwrap();
            records
                .into_iter()
                .map(|r| validate_prediction(&model, &r.unwrap(), 0).unwrap())
                .collect::<Vec<_>>()
        })
    });
    let events: Vec<_> = split_records(body.as_bytes(), BodyFormat::Ndjson)
        .unwrap()
        .into_iter()
        .map(|r| validate_prediction(&model, &r.unwrap(), 0).unwrap())
        .collect();
    group.bench_function("profile_observe_1000_events", |b| {
        b.iter(|| {
            let mut profile = WindowProfile::default();
            for event in &events {
                profile.observe_prediction(&model, black_box(event));
            }
            profile
        })
    });
    group.finish();
}

fn query(c: &mut Criterion) {
    let model = model();
    let body = ndjson(2000);
    let events: Vec<_> = split_records(body.as_bytes(), BodyFormat::Ndjson)
        .unwrap()
        .into_iter()
        .map(|r| validate_prediction(&model, &r.unwrap(), 0).unwrap())
        .collect();
    let mut hourly = WindowProfile::default();
    for event in &events {
        hourly.observe_prediction(&model, event);
    }
    let encoded = hourly.encode();
    let mut group = c.benchmark_group("query");
    group.bench_function("decode_profile", |b| {
        b.iter(|| WindowProfile::decode(black_box(&encoded)).unwrap())
    });
    // A 30-day query at step=1h: 720 hourly profiles merged into a series and summary.
    let windows: Vec<(i64, WindowProfile)> =
        (0..720).map(|h| (h * 3_600_000, hourly.clone())).collect();
    group.bench_function("merge_720_hourly_profiles_and_compute_metrics", |b| {
        b.iter(|| {
            let merged = merge_windows(windows.clone(), Some(3_600_000), None, None).unwrap();
            let series: Vec<_> = merged
                .series
                .iter()
                .map(|(_, p)| p.metrics(&model))
                .collect();
            (merged.summary.metrics(&model), series)
        })
    });
    group.finish();
}

criterion_group!(benches, ingest, query);
criterion_main!(benches);
